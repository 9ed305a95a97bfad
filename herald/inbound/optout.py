"""Opt-out keywords: a reply saying only "STOP" (or ARRÊT, DISISCRIVI, ABMELDEN, BAJA, …).

Matching ignores case and accents. The subject counts when, once "Re:"-style prefixes are
removed, it is exactly a keyword; the body counts when its first word is a keyword and the
reply is short (a sentence that merely starts with "End" or "Fin" is not an opt-out).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

DEFAULT_OPTOUT_KEYWORDS: tuple[str, ...] = (
    # English
    "stop", "end", "cancel", "unsubscribe", "quit", "stop all", "remove", "opt out", "optout",
    # French
    "arrêt", "arret", "arrêter", "fin", "annuler", "désabonner", "désabonnement",
    "désinscrire", "désinscription",
    # Italian
    "disiscrivi", "disiscrizione", "cancella", "cancellami", "basta", "annulla", "rimuovi",
    # German
    "stopp", "abmelden", "abbestellen", "austragen", "ende", "kündigen",
    # Spanish
    "baja", "darme de baja", "cancelar", "alto", "parar", "anular", "desuscribir",
    # Arabic
    "توقف", "إلغاء", "الغاء", "إلغاء الاشتراك",
)  # fmt: skip
MAX_OPTOUT_WORDS = 8  # beyond that, a reply starting with a keyword is a sentence, not a command
_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|rif|r|tr|wg|fw|fwd|antw|antwort|rép|rep|res|ynt|رد)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Lower case, accents removed, punctuation turned into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+", " ", bare).split())


def _keywords(keywords: Iterable[str]) -> set[str]:
    return {normalize(k) for k in keywords if normalize(k)}


def optout_keyword(subject: str, reply_text: str, keywords: Iterable[str]) -> str | None:
    """The opt-out keyword the subject or reply names, or None.

    ``keywords`` is the configured list (``DEFAULT_OPTOUT_KEYWORDS`` by default).
    """
    wanted = _keywords(keywords)
    bare_subject = normalize(_PREFIX.sub("", subject))
    if bare_subject in wanted:
        return bare_subject
    words = normalize(reply_text).split()
    if not words or len(words) > MAX_OPTOUT_WORDS:
        return None
    for size in (3, 2, 1):  # the longest keyword first: "darme de baja" before "baja"
        head = " ".join(words[:size])
        if len(words) >= size and head in wanted:
            return head
    return None
