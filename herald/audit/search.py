"""The words of an audit event that the history's search box finds (pure: no database).

Both the writer (``record``) and the reader (``queries.history``) cut text into words here, so that
what is indexed and what is searched for always agree.
"""

from __future__ import annotations

import re

MAX_WORD_LENGTH = 64  # the column's size; longer "words" are ids or hashes, kept by their start
MAX_WORDS = 40  # an event's who/action/object text is short; this bounds a pathological name

_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits; "_", "@", ".", "-" separate


def words(text: str) -> list[str]:
    """The distinct lower-case words of ``text``, in order of first appearance.

    ``"alice@example.com (API token CRM)"`` gives ``["alice", "example", "com", "api", "token",
    "crm"]``; a search for ``alice@example.com`` is cut the same way and matches all three parts.
    """
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.casefold()):
        seen.setdefault(match.group()[:MAX_WORD_LENGTH], None)
        if len(seen) >= MAX_WORDS:
            break
    return list(seen)


def event_words(actor_label: str, action: str, object_type: str, object_repr: str) -> list[str]:
    """The words an event is found by: who did it, what, to which kind of object and which one."""
    return words(" ".join((actor_label, action, object_type, object_repr)))
