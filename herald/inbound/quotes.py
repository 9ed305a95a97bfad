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
    r"كتب|wrote on|đã viết|menulis|skriver|pisze|написав|כתב|님이 작성|작성|"
    r"のメッセージ|のメール|書きました|escreveu|va escriure|ha escrito|scrisse|schreibt|"
    r"geschreven|geschrieben"
)
# "sent" as an attribution verb ("On <date>, <who> sent:"): only with a date on the line.
_SENT = r"sent|envoyé|inviato|gesendet|enviado|enviou|verzonden|skickade|sendte|wysłał"
_START = (
    r"(?:(?:on|le|il|am|el|em|op|den|på|w dniu|dne|dnia|в|el día|il giorno|sent|vào|pada|"
    r"în|dňa|ngày|στις|في)(?!\w)"
    r"|\d{1,4}[./-]|\d{4}\s?[年년])"
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
    # "---- <who> wrote ----", with no date
    r"|-{2,}\s*.{1,200}?(?<!\w)(?:" + _WROTE + r")(?!\w)\s*:?\s*-{2,}"
    # "On <date>, <who> sent:"
    r"|(?=.*\d)" + _START + r".{0,300}?(?<!\w)(?:" + _SENT + r")\s*:"
    # "<who> <address> schrieb am <date>:", "<date> skrev <who>:", "<date> <who> <address>:"
    r"|(?=.*[\d@]).{0,300}?(?<!\w)(?:" + _WROTE + r")(?!\w).{0,100}?:"
    r"|.{0,200}<\s*[^>@\s]+@[^>\s]+>\s*:"
    # "2013/7/20 <who> <address>", with no colon: a full date first, the address last
    r"|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.{0,200}<\s*[^>@\s]+@[^>\s]+>"
    r")\s*$",
    re.IGNORECASE | re.DOTALL,
)
MAX_WRAPPED_LINE = 80  # a quote header wrapped over several lines has short lines
# "Original Message" separators: unquoted history follows.
_SEPARATOR = re.compile(
    r"^\s*(?:[-=_*]{2,}\s*)?(?:"
    r"original message|original-nachricht|ursprüngliche nachricht|message d'origine|"
    r"message original|messaggio originale|mensaje original|mensagem original|"
    r"oorspronkelijk bericht|origineel bericht|originalmeddelelse|oprindelig meddelelse|"
    r"originalmeldingen|opprinnelig melding|originalmeddelande|ursprungligt meddelande|"
    r"alkuperäinen viesti|wiadomość oryginalna|oryginalna wiadomość|"
    r"исходное сообщение|původní zpráva|eredeti üzenet|orijinal mesaj|özgün ileti|"
    r"thư gốc|tin nhắn gốc|元のメッセージ|原始邮件|原始郵件|원본 메시지|الرسالة الأصلية|"
    r"reply message|reply above this line"
    r")\s*:?\s*(?:[-=_*]{2,})?\s*$",
    re.IGNORECASE,
)
# Forwarded-message banners. Below a note, the forward is history (the note is the reply); a
# body that is only a forward gives the forwarded message's text (its header fields skipped).
_FORWARD = re.compile(
    r"^\s*(?:[-=_*]{2,}\s*)?(?:"
    r"forwarded message|message transféré|message réexpédié|weitergeleitete nachricht|"
    r"messaggio inoltrato|mensaje reenviado|mensagem encaminhada|doorgestuurd bericht|"
    r"videresendt meddelelse|videresendt melding|vidarebefordrat meddelande|"
    r"przekazana wiadomość|wiadomość przekazana|välitetty viesti|пересылаемое сообщение|"
    r"tin nhắn đã chuyển tiếp|転送されたメッセージ|转发的邮件|轉寄的郵件|전달된 메시지|"
    r"الرسالة المعاد توجيهها|"
    r"begin forwarded message|début du message réexpédié|inizio messaggio inoltrato|"
    r"anfang der weitergeleiteten nachricht|comienzo del mensaje reenviado|"
    r"início da mensagem reencaminhada|begin doorgestuurd bericht"
    r")\s*:?\s*(?:[-=_*]{2,})?\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_DASHES_ONLY = re.compile(r"^\s*-{5,}\s*$")
# The first line of an Outlook-style header block, in many languages, optionally in *bold*.
_FROM_FIELD = re.compile(
    r"^\s*[*>]?\s*\**(?:from|de|von|da|van|od|fra|från|lähettäjä|от|feladó|kimden|"
    r"发件人|寄件者|差出人|من|từ|보낸 사람)\s*\**\s*:\s*\**\s*\S",
    re.IGNORECASE,
)
_HEADER_FIELD = re.compile(
    r"^\s*[*>]?\s*\**(?:sent|date|to|subject|cc|envoyé|date d'envoi|à|objet|gesendet|datum|an|"
    r"betreff|inviato|data|a|oggetto|enviado|fecha|para|asunto|assunto|verzonden|aan|"
    r"onderwerp|wysłano|temat|do|sendt|til|emne|skickat|till|ämne|lähetetty|vastaanottaja|"
    r"aihe|отправлено|кому|тема|дата|elküldve|címzett|tárgy|gönderilme|konu|kime|"
    r"发送时间|收件人|主题|日付|件名|宛先|送信日時|تاريخ|إلى|الموضوع|التاريخ|تاريخ الإرسال|"
    r"enviado el|đã gửi|đến|chủ đề|ngày|받는 사람|제목|날짜)\s*\**\s*:",
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
_QUOTED = re.compile(r"^\s*(?:>|[A-Z]{1,3}>)")  # "> ", and Supercite's initials ("JS> ")


_STARTS_HEADER = re.compile(r"^[\s>-]*" + _START, re.IGNORECASE)
# A quote header glued to the end of the reply's last sentence ("Sounds good.On Tue, … wrote:").
# A sentence ends with a letter and its mark (also the ideographic ones), not with "09." of a time.
_SENTENCE_END = "[.!?…\u3002\uff01\uff1f]"
_GLUED = re.compile(
    r"^(.*?(?:[^\W\d]" + _SENTENCE_END + r"|\)))\s*(" + _START + r".*)$", re.IGNORECASE
)
# Labels of an Outlook header block written on one line ("From: X Sent: Y To: Z Subject: W").
_INLINE_LABEL = re.compile(
    r"(?:^|\s)\**(from|sent|date|to|subject|cc|de|envoyé|à|objet|von|gesendet|an|betreff|da|"
    r"inviato|a|oggetto|enviado|fecha|para|asunto|assunto|van|verzonden|aan|onderwerp)\**\s*:",
    re.IGNORECASE,
)
_FROM_LABELS = {"from", "de", "von", "da", "van"}
_WEEKDAY = re.compile(r"[^\W\d]{1,5}\.?")  # "tir.", "Di.", "ti" before a date
_QUOTE_ONLY_MARKS = re.compile(r"^\s*>[>\s]*$")  # ">>>" alone is not a quote


def _is_quoted(line: str) -> bool:
    return bool(_QUOTED.match(line))


def _is_quote_header(lines: list[str], index: int) -> int:
    """How many lines the quote header starting at ``index`` spans (0 if there is none).

    A header wrapped by the client spans up to ``MAX_HEADER_LINES`` short lines; one that starts
    like a header ("On …", "Le …") may have a blank line inside (an address put on its own line).
    """
    first = lines[index].strip()
    if not first or len(first) > 400:
        return 0
    taken: list[int] = []
    blank_allowed = bool(_STARTS_HEADER.match(first))
    position = index
    while position < len(lines) and len(taken) < MAX_HEADER_LINES:
        line = lines[position]
        if not line.strip():
            if not taken or not blank_allowed:
                break
            blank_allowed = False
            position += 1
            continue
        if taken and len(lines[taken[-1]]) > MAX_WRAPPED_LINE:
            break
        taken.append(position)
        if _QUOTE_HEADER.match(" ".join(lines[i].strip() for i in taken)):
            return position - index + 1
        position += 1
    return 0


def _header_label(line: str) -> str | None:
    if _FROM_FIELD.match(line):
        return "from"
    if _HEADER_FIELD.match(line):
        return "field"
    return None


def _is_header_block(lines: list[str], index: int) -> bool:
    """An Outlook-style header block starts at ``index``: "From: …" then another field within
    a few lines; or three fields or more, in any order, one of them From (Date:, To: or
    Subject: first, as some clients and languages write them); or all of them on one line."""
    labels = [m.group(1).lower() for m in _INLINE_LABEL.finditer(lines[index])]
    if len(labels) >= 3 and _INLINE_LABEL.match(lines[index]) and _FROM_LABELS & set(labels):
        return True
    label = _header_label(lines[index])
    if label is None:
        return False
    if label == "from":
        return any(_HEADER_FIELD.match(line) for line in lines[index + 1 : index + 8])
    run = []
    for line in lines[index : index + 8]:
        found = _header_label(line)
        if found is None:
            break
        run.append(found)
    return len(run) >= 3 and "from" in run


def _history_start(lines: list[str], index: int) -> bool:
    """Unquoted history (a separator or a header block) starts at ``index``."""
    stripped = lines[index].strip()
    if _SEPARATOR.match(stripped) or _FORWARD.match(stripped) or _UNDERSCORES.match(stripped):
        return True
    if _is_header_block(lines, index):
        return True
    if _DASHES_ONLY.match(stripped) and index + 1 < len(lines):
        following = next((x for x in lines[index + 1 : index + 3] if x.strip()), "")
        return _header_label(following) is not None
    return False


def _quote_start(lines: list[str], begin: int = 0) -> tuple[int, int] | None:
    """The first quoted history at or after ``begin``: (its first line, the lines its header
    spans), with span -1 for unquoted history (all that follows is old), 0 for "> " lines."""
    for index in range(begin, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        if _history_start(lines, index):
            return index, -1
        span = _is_quote_header(lines, index)
        if span:
            # A wrapped header may have swallowed the last line of the reply above it: start at
            # the line that reads like a header's beginning.
            first = index
            if not _STARTS_HEADER.match(lines[index]):
                # Reply lines directly above a header ("On …" after "Thanks!" with no blank):
                # the header starts at the line that reads like a header's beginning.
                for later in range(index + 1, index + span):
                    later_span = _is_quote_header(lines, later)
                    if _STARTS_HEADER.match(lines[later]) and later_span:
                        return later, later_span
            while span > 1:
                later_span = _is_quote_header(lines, first + 1)
                if not later_span or later_span >= span:
                    break
                if not lines[first].rstrip().endswith((".", "!", "?")):
                    break
                first += 1
                span = later_span
            return first, span
        if _is_quoted(line) and not _QUOTE_ONLY_MARKS.match(line):
            return index, 0
    return None


def _quoted_block_end(lines: list[str], index: int) -> int:
    """The first line after the "> " lines (and blank lines) starting at ``index``."""
    while index < len(lines) and (not lines[index].strip() or _is_quoted(lines[index])):
        index += 1
    return index


def _unglued(lines: list[str]) -> list[str]:
    """Puts a quote header glued to the end of a sentence on its own line."""
    for index, line in enumerate(lines):
        match = _GLUED.match(line)
        # "tir. 4. mar. 2025 … skrev …:" is a header that starts with a short weekday, not a
        # sentence glued to one: a date right after one word is not split off.
        if (
            match
            and not _STARTS_HEADER.match(line)
            and not (match.group(2)[:1].isdigit() and _WEEKDAY.fullmatch(match.group(1).strip()))
        ):
            trial = [*lines[:index], match.group(1), match.group(2), *lines[index + 1 :]]
            if _is_quote_header(trial, index + 1):
                return trial
    return lines


def _signature_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            return index
        if _LIST_FOOTER.match(line):
            return index
    return _contact_block_start(lines)


# A line of a business signature: a phone, a web or mail address, "Title | Company".
_CONTACT_LINE = re.compile(
    r"^\s*(?:(?:tel|phone|mobile|mob|cell|fax|t|m|p|f|tél|téléphone|portable|telefon|handy|"
    r"cellulare|tfn|tlf|telefone|móvil|电话|電話)\.?\s*[:.]?\s*)?\+?[\d(][\d\s().\-/]{6,}\d\s*$"
    r"|^\s*(?:https?://|www\.)\S+\s*$|^\s*[^\s@]+@[^\s@]+\.\w+\s*$|^[^|]{2,40}\|[^|]{2,60}$",
    re.IGNORECASE,
)
MAX_SIGNATURE_LINES = 7


def _contact_block_start(lines: list[str]) -> int | None:
    """Where a trailing business signature without a "-- " line starts: a last block of short
    lines, opened by a name or title (no digits), two of them or more a phone, a web or mail
    address, or "Title | Company". Text that asks or tells something is never taken."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and lines[start - 1].strip():
        start -= 1
    block = lines[start:end]
    if not 2 <= len(block) <= MAX_SIGNATURE_LINES or start == 0:
        return None
    above = [x for x in lines[:start] if x.strip()]
    if not above or above[-1].rstrip().endswith(":"):  # "Here are my details:" introduces it
        return None
    if any(len(x.strip()) > 60 or x.rstrip().endswith(("?", ":")) for x in block):
        return None
    if re.search(r"\d", block[0]) or _CONTACT_LINE.match(block[0]):
        return None
    contacts = sum(1 for x in block if _CONTACT_LINE.match(x))
    return start if contacts >= 2 else None


def _new_text(lines: list[str]) -> list[str]:  # noqa: PLR0912 - one case per kind of history
    """The lines written for this message: above the quoted history, and between and after
    "> " quoted blocks (interleaved answers, bottom-posting); unquoted history ends it."""
    kept: list[str] = []
    position = 0
    while position < len(lines):
        found = _quote_start(lines, position)
        if found is None:
            kept += lines[position:]
            break
        start, span = found
        kept += lines[position:start]
        if span < 0:  # a separator or header block: old text, unquoted, to the end
            if any(x.strip() for x in kept):
                break
            # At the very top (a top quote, then the new text below): skip its header fields.
            position = start + 1
            while position < len(lines) and lines[position].strip():
                position += 1
            position = _quoted_block_end(lines, position)
            kept = []
            continue
        if not span:
            _drop_bare_attribution(kept)
        after_header = start + span
        while span and after_header < len(lines) and not lines[after_header].strip():
            after_header += 1
        if span and (after_header >= len(lines) or not _is_quoted(lines[after_header])):
            # An attribution followed by unquoted text: the old message, unquoted.
            if any(x.strip() for x in kept) or after_header >= len(lines):
                break
            position = after_header
            continue
        end = _quoted_block_end(lines, after_header)
        if end < len(lines) and lines[end - 1].strip() and not _answers_nothing(lines[end:]):
            # Text right under a "> " line, no blank between: a wrapped quoted line, still old.
            while end < len(lines) and lines[end].strip():
                end += 1
            end = _quoted_block_end(lines, end)
        if end < len(lines) and not _answers_nothing(lines[end:]):
            # The quote the text below answers stays with it; but an answer bottom-posted under
            # an attribution and its one quote answers all of it: that quote goes.
            more = _quote_start(lines, end)
            if kept or not span or (more is not None and more[1] == 0):
                kept += lines[after_header:end]
        position = end
    return kept


# "John Smith wrote:", "Jane <j@example.com>:": an attribution too bare for _QUOTE_HEADER (no
# date), recognised only right above "> " lines.
_BARE_ATTRIBUTION = re.compile(
    r"^[\s>-]*(?:.{1,200}?(?<!\w)(?:" + _WROTE + r"|" + _SENT + r")(?!\w).{0,80}?"
    r"|.{0,200}@.{0,100}?)\s*:?\s*-*\s*$",
    re.IGNORECASE,
)


def _drop_bare_attribution(kept: list[str]) -> None:
    """Removes the attribution line left right above a "> " block (blank lines between)."""
    index = len(kept) - 1
    while index >= 0 and not kept[index].strip():
        index -= 1
    if index < 0 or len(kept) - index > 3:  # at most two blank lines between
        return
    line = kept[index].rstrip()
    if line.endswith(":") and len(line) <= 300 and _BARE_ATTRIBUTION.match(line):
        del kept[index:]


def _answers_nothing(rest: list[str]) -> bool:
    """What follows a quote is no answer: more history, or only a signature."""
    first = next((i for i, line in enumerate(rest) if line.strip()), None)
    if first is None:
        return True
    if _history_start(rest, first) or _is_quote_header(rest, first):
        return True
    signature = _signature_start(["", *rest[first:]])
    return signature == 1


def extract_reply(text: str) -> str:
    """The new text of a reply body: quoted history, quote header and signature removed.

    "> " quoted lines that new text answers below them stay, as context of that answer (an
    interleaved reply). Line endings come back as LF, trailing spaces are trimmed. When the whole
    body is quoted, it is returned as it is (there is nothing better to show).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _unglued([line.rstrip() for line in text.split("\n")])
    new = _new_text(lines)
    if any(x.strip() for x in new):
        lines = new
    end = _signature_start(lines)
    if end is not None and any(x.strip() for x in lines[:end]):
        lines = lines[:end]
    # Invisible characters some clients leave at the end (Gmail's tracker ᐧ, zero-width spaces).
    while lines and not lines[-1].strip(" \t\u200b\u200c\u200d\ufeff\u1427"):
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).strip("\n")
