"""Separating the new text of a reply from the quoted history and the signature below it.

The reply is everything above the first sign of quoted history:

- a quote header: "On … wrote:", "Le … a écrit :", "Il giorno … ha scritto:", "Am … schrieb …:",
  "El … escribió:", "Em … escreveu:", "Op … schreef …:", "W dniu … napisał(a):", "… пишет:", and
  the same split over two or three lines as clients wrap them;
- an Outlook separator ("-----Original Message-----" in many languages, a line of underscores)
  or header block ("From: … Sent: … To: … Subject: …", "De : … Envoyé : …", "Von: … Gesendet: …");
- a forwarded-message banner, or a block of "> " quoted lines;

then signatures are cut: "-- " (RFC 3676), "Sent from my iPhone" and the other mobile and webmail
signatures, mailing-list footers.
"""

from __future__ import annotations

import re

MAX_HEADER_LINES = 4  # a wrapped quote header spans at most this many lines

# "wrote:" in the languages clients write it in, optionally followed by the sender on the line.
_WROTE = (
    r"wrote|writes|a écrit|a ecrit|ha scritto|schrieb|escribió|escribio|escreveu|schreef|"
    r"skrev|kirjoitti|napisał\(a\)|napisał|napisala|napisała|пишет|написал\(а\)|написал|"  # noqa: RUF001
    r"написала|napsal|írta|yazdı|έγραψε|kirjutas|rašė|rakstīja|写道|寫道|a scris|"  # noqa: RUF001
    r"كتب|wrote on"
)
_START = (
    r"(?:(?:on|le|il|am|el|em|op|den|på|w dniu|dne|dnia|в|el día|il giorno|sent)(?!\w)"
    r"|\d{1,4}[./-])"
)
_QUOTE_HEADER = re.compile(
    r"^[\s>-]*(?:"
    # "On <date>, <who> wrote:" and its translations: a starting word, then "wrote" near the end
    + _START
    + r".{0,300}?(?:"
    + _WROTE
    + r")(?!\w).{0,80}?:"
    # the same without the colon, as Zoho writes it ("---- On <date> <who> wrote ----")
    r"|(?=.*\d)" + _START + r".{0,300}?(?:" + _WROTE + r")\s*-*"
    # "<who> <address> schrieb am <date>:", "<date> skrev <who>:", "<date> <who> <address>:"
    r"|(?=.*[\d@]).{0,300}?(?<!\w)(?:" + _WROTE + r")(?!\w).{0,100}?:"
    r"|.{0,200}<\s*[^>@\s]+@[^>\s]+>\s*:"
    r")\s*$",
    re.IGNORECASE | re.DOTALL,
)
MAX_WRAPPED_LINE = 80  # a quote header wrapped over several lines has short lines
_SEPARATOR = re.compile(
    r"^\s*(?:[-=_*]{2,}\s*)?(?:"
    r"original message|original-nachricht|ursprüngliche nachricht|message d'origine|"
    r"message original|messaggio originale|mensaje original|mensagem original|"
    r"oorspronkelijk bericht|originalmeddelelse|oprindelig meddelelse|originalmeldingen|"
    r"opprinnelig melding|ursprungligt meddelande|alkuperäinen viesti|wiadomość oryginalna|"
    r"исходное сообщение|původní zpráva|forwarded message|message transféré|"
    r"weitergeleitete nachricht|messaggio inoltrato|mensaje reenviado|doorgestuurd bericht|"
    r"videresendt meddelelse|reply message|reply above this line|"
    r"begin forwarded message|début du message réexpédié|inizio messaggio inoltrato"
    r")\s*:?\s*(?:[-=_*]{2,})?\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_DASHES_ONLY = re.compile(r"^\s*-{5,}\s*$")
# The first line of an Outlook-style header block, in many languages, optionally in *bold*.
_FROM_FIELD = re.compile(
    r"^\s*[*>]?\s*\**(?:from|de|von|da|van|od|fra|från|lähettäjä|от|feladó|kimden|"
    r"发件人|寄件者|差出人|من)\s*\**\s*:\s*\**\s*\S",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*[*>]?\s*\**(?:sent|date|to|subject|cc|envoyé|date d'envoi|à|objet|gesendet|datum|an|"
    r"betreff|inviato|data|a|oggetto|enviado|fecha|para|asunto|assunto|verzonden|aan|"
    r"onderwerp|wysłano|temat|do|sendt|til|emne|skickat|till|ämne|lähetetty|vastaanottaja|"
    r"aihe|отправлено|кому|тема|дата|elküldve|címzett|tárgy|gönderilme|konu|kime|"
    r"发送时间|收件人|主题|日付|件名|宛先|تاريخ|إلى|الموضوع|التاريخ)\s*\**\s*:",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^\s*--\s*$|^\s*-- \S.*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*[(<\[]*\s*(?:"
    r"sent (from|with|via|by|using) .{0,80}|"
    r"sent from my .*|get outlook for .*|"
    r"envoyé (de|depuis|avec) .*|envoye (de|depuis) .*|"
    r"inviato da .*|enviado (desde|de|con) .*|gesendet (von|mit) .*|von meinem .* gesendet.*|"
    r"diese nachricht wurde von .* gesendet.*|verzonden (met|vanaf|vanuit) .*|"
    r"verstuurd (vanaf|met) .*|skickat från .*|sendt fra .*|lähetetty .*|"
    r"отправлено (с|из) .*|wysłane z .*|"  # noqa: RUF001
    r"從我的 .* 傳送|从我的.*发送|iphoneから送信|"
    r"someone from mobile|from my iphone.*|sent via mobile|"
    r"\(?sent from a phone\)?|<<sent by .*>>|sent by .*"
    r")\s*[)>\]]*\s*$",
    re.IGNORECASE,
)
_LIST_FOOTER = re.compile(r"^\s*_{2,}\s*$")
_QUOTED = re.compile(r"^\s*>")


def _joined(lines: list[str], index: int, count: int) -> str:
    return " ".join(line.strip() for line in lines[index : index + count])


def _is_quote_header(lines: list[str], index: int) -> int:
    """How many lines the quote header starting at ``index`` spans (0 if there is none)."""
    first = lines[index].strip()
    if not first or len(first) > 400:
        return 0
    for count in range(1, MAX_HEADER_LINES + 1):
        if index + count > len(lines):
            break
        last = lines[index + count - 1]
        if count > 1 and (not last.strip() or len(lines[index + count - 2]) > MAX_WRAPPED_LINE):
            break
        if _QUOTE_HEADER.match(_joined(lines, index, count)):
            return count
    return 0


def _is_header_block(lines: list[str], index: int) -> bool:
    """An Outlook-style "From: … / Sent: … / To: …" block starts at ``index``."""
    if not _FROM_FIELD.match(lines[index]):
        return False
    fields = 0
    for line in lines[index + 1 : index + 8]:
        if not line.strip():
            continue
        if _HEADER_FIELD.match(line):
            fields += 1
            if fields >= 1:
                return True
    # A single "From:" line directly followed by quoted text or nothing is still a header.
    return False


def _quote_start(lines: list[str]) -> int | None:
    """Index of the first line of quoted history, or None when there is none."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if (
            _SEPARATOR.match(stripped)
            or _UNDERSCORES.match(stripped)
            or _is_header_block(lines, index)
        ):
            return index
        span = _is_quote_header(lines, index)
        if span:
            # A wrapped header may have swallowed the last line of the reply above it.
            first = index
            while (
                span > 1
                and lines[first].rstrip().endswith((".", "!", "?"))
                and _is_quote_header(lines, first + 1) == span - 1
            ):
                first += 1
                span -= 1
            return first
        if _DASHES_ONLY.match(stripped) and index + 1 < len(lines):
            following = next((x for x in lines[index + 1 : index + 3] if x.strip()), "")
            if _FROM_FIELD.match(following) or _HEADER_FIELD.match(following):
                return index
        if _QUOTED.match(line) and any(x.strip() and not _QUOTED.match(x) for x in lines[:index]):
            return index
    return None


def _signature_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            return index
        if _LIST_FOOTER.match(line):
            return index
    return None


def _after_leading_history(lines: list[str]) -> int | None:
    """When a body starts with quoted history (a forward, a top quote), where the new text starts.

    The leading quote header or forwarded-message block is skipped, with the "> " lines below it.
    """
    index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if index is None:
        return None
    span = _is_quote_header(lines, index)
    if span:
        index += span
    elif _SEPARATOR.match(lines[index].strip()) or _is_header_block(lines, index):
        index += 1
        while index < len(lines) and lines[index].strip():  # the header fields
            index += 1
    else:
        return None
    while index < len(lines) and (not lines[index].strip() or _QUOTED.match(lines[index])):
        index += 1
    return index if index < len(lines) else None


def extract_reply(text: str) -> str:
    """The new text of a reply body: quoted history, quote header and signature removed.

    Line endings come back as LF, trailing spaces are trimmed. When the whole body is quoted,
    it is returned as it is (there is nothing better to show).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    leading = _after_leading_history(lines)
    if leading is not None:
        lines = lines[leading:]
    start = _quote_start(lines)
    if start is not None and any(x.strip() for x in lines[:start]):
        lines = lines[:start]
    end = _signature_start(lines)
    if end is not None and any(x.strip() for x in lines[:end]):
        lines = lines[:end]
    # Invisible characters some clients leave at the end (Gmail's tracker ᐧ, zero-width spaces).
    while lines and not lines[-1].strip(" \t\u200b\u200c\u200d\ufeff\u1427"):
        lines.pop()
    return "\n".join(lines).strip("\n")
