"""The wire form of a rendered message, written directly: the dialer's lean MIME writer. Pure.

The same message as ``herald.messaging.mime.build_message`` (the tests parse both with the
standard library and compare headers, part tree and decoded contents), about ten times cheaper
than ``EmailMessage.as_bytes()``: a message is a few string joins and C-level passes
(``binascii.b2a_qp``, ``b2a_base64``) instead of the standard library's policy machinery.

Structure: multipart/alternative (text/plain, text/html, and the invitation as ``text/calendar;
method=REQUEST``), wrapped in multipart/mixed when there are attachments or an invitation (which
is attached again as ``invite.ics``), exactly as ``build_message`` does.

Headers are folded at spaces to at most 78 characters a line where the words allow (never past
998); non-ASCII text becomes RFC 2047 encoded-words (``Q`` or ``B``, whichever is shorter), never
splitting a character; an internationalized domain is written in its IDNA ASCII form (a
non-ASCII local part would need SMTPUTF8 and is refused). A CR or LF in any header name or value
is refused with ``ValueError``: nothing can inject a header. Other control characters, which no
mail program shows, are left out of header text.

Text parts are quoted-printable UTF-8 written so that DKIM's relaxed body canonicalization
(RFC 6376 3.4.4) leaves them unchanged: no tab, no two whitespace characters in a row, no
whitespace at a line end (such spaces and tabs are written ``=20`` and ``=09``). The signer then
hashes the body as it is, without rewriting it. Attachments are base64 in 76-character lines.
Boundaries contain ``=_``, which neither quoted-printable nor base64 can produce, so a boundary
never occurs in the content.
"""

from __future__ import annotations

import binascii
import email.errors
import email.policy
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime
from functools import lru_cache

import idna

from herald.dialer.wire import RelaxedWireMessage, WireMessage
from herald.messaging.rendering import Attachment, RenderedMessage

MAX_LINE = 78  # RFC 5322 2.1.1: header lines SHOULD stay within 78 characters
HARD_LINE = 998  # RFC 5322 2.1.1: and MUST stay within 998
ENCODED_WORD_MAX = 75  # RFC 2047 2: an encoded-word is at most 75 characters
_WORD_OVERHEAD = len("=?utf-8?q??=")
_MIN_PAYLOAD = 12  # room for one 4-byte character in either encoding (Q: 12, B: 8)
BASE64_LINE = 76  # RFC 2045 6.8: base64 lines of at most 76 characters
BASE64_CHUNK = BASE64_LINE // 4 * 3  # input bytes per base64 line

# Headers this module writes itself: a second one from ``headers`` would be ambiguous.
OWN_HEADERS = frozenset(
    {
        "subject",
        "from",
        "to",
        "cc",
        "reply-to",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 2.2: printable ASCII except the colon
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"  # RFC 5322 3.2.3
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
# A display name written as it is: atoms separated by single spaces, no "=?" (that could read
# as an encoded-word); anything else is quoted or encoded.
_PLAIN_PHRASE = re.compile(rf"[{_ATEXT}]+(?: [{_ATEXT}]+)*")
# Unstructured text written as it is: printable ASCII words separated by single spaces.
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
_PRINTABLE_WORD = re.compile(r"[!-~]+")
_ATOM = re.compile(rf"[{_ATEXT}]+")
_ADDRESS_SYNTAX = frozenset(' <>,"()\t;:\\[]')  # none of these: a bare address
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # RFC 2045 5.1 token
_LONGEST_QUOTED = 60  # a longer or non-ASCII file name is written as RFC 2231 continuations
_LONGEST_WORD = 900  # a plain word this long would not fit in a 998-character line: encode it

# Q encoding in a phrase (RFC 2047 5(3)): these bytes stand for themselves, space is "_".
_Q_LITERAL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/"
_Q_CHARS = [chr(b) if b in _Q_LITERAL else "_" if b == 0x20 else f"={b:02X}" for b in range(256)]
_Q_COST = [len(c) for c in _Q_CHARS]

# Placeholders the quoted-printable pass encodes (=FF, =FE, =FD) and that never occur in UTF-8:
# they mark the spaces, tabs and "F"s to write as =20, =09 and =46.
_SPACE_MARK, _TAB_MARK, _F_MARK = b"\xff", b"\xfe", b"\xfd"

_PART_TEXT = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_PART_HTML = (
    b'Content-Type: text/html; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_PART_CALENDAR = (
    b'Content-Type: text/calendar; charset="utf-8"; method="REQUEST"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_PART_INVITE = (
    b'Content-Type: text/calendar; charset="utf-8"; method="REQUEST"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b'Content-Disposition: attachment; filename="invite.ics"\r\n\r\n'
)


def write_message(
    message: RenderedMessage,
    *,
    from_address: str,
    from_name: str = "",
    to: str,
    reply_to: str = "",
    message_id: str,
    date: datetime,
    headers: Mapping[str, str] | None = None,
    cc: str = "",
) -> WireMessage:
    """The complete email of one rendered message in wire form (CRLF line ends, a final CRLF),
    the bytes to sign and send.

    ``to``, ``cc`` and ``reply_to`` are an address or an address list (``Name <a@b>, c@d``);
    ``headers`` are added in their order after Message-ID (List-Unsubscribe, Precedence, ...).
    Raises ``ValueError`` for a header that cannot be written safely: a CR or LF anywhere, a bad
    header name, one of the headers written here given again, an address without a domain or
    with a non-ASCII local part (that needs SMTPUTF8), a naive ``date``.
    """
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the message date must be timezone-aware (Date: needs a UTC offset)")
    _check_value("Message-ID", message_id)
    if not _PRINTABLE_WORD.fullmatch(message_id):
        raise ValueError(f"{message_id!r} is not a Message-ID: printable ASCII without spaces")
    head = [
        _unstructured("Subject", message.subject),
        _mailbox_header("From", [(from_name, from_address)]),
        _address_header("To", to),
    ]
    if cc:
        head.append(_address_header("Cc", cc))
    if reply_to:
        head.append(_address_header("Reply-To", reply_to))
    head.append(f"Date: {format_datetime(date)}\r\nMessage-ID: {message_id}\r\n")
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a header name: printable ASCII without spaces or colons"
            )
        if name.lower() in OWN_HEADERS:
            raise ValueError(f"the {name} header is written from the message itself")
        head.append(_unstructured(name, value))

    alternative = _boundary()
    parts: list[bytes] = [
        b"--" + alternative + b"\r\n" + _PART_TEXT,
        _quoted_printable(message.text),
        b"\r\n--" + alternative + b"\r\n" + _PART_HTML,
        _quoted_printable(message.html),
    ]
    if message.ics is not None:
        parts += [
            b"\r\n--" + alternative + b"\r\n" + _PART_CALENDAR,
            _quoted_printable(message.ics.decode("utf-8")),
        ]
    parts.append(b"\r\n--" + alternative + b"--\r\n")

    if message.attachments or message.ics is not None:
        mixed = _boundary()
        content_type = b'multipart/mixed; boundary="' + mixed + b'"'
        outer = [
            b"--" + mixed + b'\r\nContent-Type: multipart/alternative;\r\n boundary="',
            alternative,
            b'"\r\n\r\n',
            *parts,
        ]
        for attachment in message.attachments:
            outer += [b"\r\n--" + mixed + b"\r\n", _attachment_part(attachment)]
        if message.ics is not None:
            outer += [b"\r\n--" + mixed + b"\r\n" + _PART_INVITE, _base64(message.ics)]
        outer.append(b"\r\n--" + mixed + b"--\r\n")
        parts = outer
    else:
        content_type = b'multipart/alternative; boundary="' + alternative + b'"'

    top = "".join(head).encode("ascii")
    return RelaxedWireMessage(
        b"".join([top, b"MIME-Version: 1.0\r\nContent-Type: ", content_type, b"\r\n\r\n", *parts])
    )


def _boundary() -> bytes:
    # "=_" cannot occur in quoted-printable or base64 text, so no scan of the content is needed.
    return b"=_" + binascii.hexlify(os.urandom(12))


def _quoted_printable(text: str) -> bytes:
    """``text`` as quoted-printable UTF-8 with CRLF line ends, ending with a line end (as the
    standard library writes a text part), unchanged by DKIM's relaxed body canonicalization."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    # b2a_qp writes every line end as the first one it meets: one CRLF makes them all CRLF.
    data = data.replace(b"\n", b"\r\n", 1)
    tabs = b"\t" in data
    if tabs:
        data = data.replace(b"\t", _TAB_MARK)
    runs = b"  " in data
    if runs:
        # The second space of each pair is encoded: " =20 =20" for four spaces, never two
        # whitespace characters in a row. b2a_qp itself encodes a space at a line end.
        data = data.replace(b"  ", b" " + _SPACE_MARK)
    froms = data.startswith(b"From ") or b"\nFrom " in data
    if froms:
        # mbox-style relays turn "From " at a line start into ">From ": write its F as =46.
        data = data.replace(b"\nFrom ", b"\n" + _F_MARK + b"rom ")
        if data.startswith(b"From "):
            data = _F_MARK + data[1:]
    out = binascii.b2a_qp(data, istext=True)
    if runs:
        out = out.replace(b"=FF", b"=20")
    if tabs:
        out = out.replace(b"=FE", b"=09")
    if froms:
        out = out.replace(b"=FD", b"=46")
    return out


def _base64(data: bytes) -> bytes:
    """``data`` in base64 lines of 76 characters, each ending with CRLF."""
    return b"".join(
        binascii.b2a_base64(data[i : i + BASE64_CHUNK], newline=False) + b"\r\n"
        for i in range(0, len(data), BASE64_CHUNK)
    )


@lru_cache(maxsize=32)
def _attachment_part(attachment: Attachment) -> bytes:
    # A campaign attaches the same files to every message: encoded once, not once per message.
    content_type = attachment.content_type.lower()
    maintype, _, subtype = content_type.partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)):
        content_type = "application/octet-stream"
    disposition = _header("Content-Disposition", ["attachment;", *_filename(attachment.filename)])
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n{disposition}\r\n"
    return head.encode("ascii") + _base64(attachment.data)


def _filename(filename: str) -> list[str]:
    """The ``filename`` parameter: quoted when short printable ASCII, else RFC 2231 encoded and
    split into continuations that keep each line within MAX_LINE."""
    _check_value("attachment filename", filename)
    # Two spaces would change under DKIM; "=?" inside quotes may be read as an encoded-word.
    quotable = filename.isascii() and filename.isprintable() and "  " not in filename
    if quotable and "=?" not in filename and len(filename) <= _LONGEST_QUOTED:
        return [f"filename={_quoted(filename)}"]
    # Each character's %XX escapes, so that a continuation never splits a character.
    chars = [
        c if c in _RFC2231_LITERAL else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
        for c in filename
    ]
    encoded = "".join(chars)
    if len(encoded) <= _LONGEST_QUOTED:
        return [f"filename*=utf-8''{encoded}"]
    pieces: list[str] = []
    piece = ""
    for c in chars:
        head = f"filename*{len(pieces)}*=" + ("" if pieces else "utf-8''")
        if piece and len(head) + len(piece) + len(c) > MAX_LINE - 2:  # " " + piece + ";"
            pieces.append(f"{head}{piece};")
            piece = ""
        piece += c
    pieces.append(f"filename*{len(pieces)}*=" + ("" if pieces else "utf-8''") + piece)
    return pieces


# RFC 2231 7 attribute-char: a token character other than "*", "'" and "%".
_RFC2231_LITERAL = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~"
)


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header cannot contain a line break (CR or LF)")


# Control characters (C0 and C1) no mail program shows: left out of header text, a tab as a space.
_CONTROLS = dict.fromkeys([*range(32), *range(127, 160)]) | {0x09: " "}


def _header_text(name: str, value: str) -> str:
    """``value`` checked for line breaks, without control characters."""
    _check_value(name, value)
    return value if value.isprintable() else value.translate(_CONTROLS)


class _Folder:
    """One header field being written: words and encoded-words separated by single spaces,
    folded (the space becomes CRLF + space) before a word that would pass MAX_LINE."""

    __slots__ = ("line", "lines", "started")

    def __init__(self, name: str) -> None:
        self.lines: list[str] = []
        self.line = name + ":"
        self.started = False  # a word follows the name on the first line

    def word(self, word: str) -> None:
        if self.started and len(self.line) + 1 + len(word) > MAX_LINE:
            self.lines.append(self.line)
            self.line = " " + word
        else:
            self.line += " " + word
        self.started = True

    def encoded(self, text: str) -> None:
        """``text`` as encoded-words filling the current line, then as many lines as needed;
        adjacent encoded-words decode to their joined texts (the space between them goes)."""
        data = text.encode("utf-8")
        size = len(data)
        unsafe = len(data.translate(None, _Q_LITERAL + b" "))  # bytes written =XX
        q = size + 2 * unsafe <= (size + 2) // 3 * 4
        start = 0
        while start < size:
            room = min(ENCODED_WORD_MAX, MAX_LINE - len(self.line) - 1) - _WORD_OVERHEAD
            if room < _MIN_PAYLOAD and self.started:
                self.lines.append(self.line)
                self.line = ""
                room = min(ENCODED_WORD_MAX, MAX_LINE - 1) - _WORD_OVERHEAD
            room = max(room, _MIN_PAYLOAD)
            if q:
                end, cost = start, 0
                while end < size and cost + _Q_COST[data[end]] <= room:
                    cost += _Q_COST[data[end]]
                    end += 1
            else:
                end = min(start + room // 4 * 3, size)
            while end < size and data[end] & 0xC0 == 0x80:  # never split a character
                end -= 1
            chunk = data[start:end]
            if q:
                payload = "".join([_Q_CHARS[b] for b in chunk])
                self.line += " =?utf-8?q?" + payload + "?="
            else:
                payload = binascii.b2a_base64(chunk, newline=False).decode("ascii")
                self.line += " =?utf-8?b?" + payload + "?="
            self.started = True
            start = end

    def done(self) -> str:
        self.lines.append(self.line)
        if any(len(line) > HARD_LINE for line in self.lines):
            raise ValueError(
                f"a header line would pass {HARD_LINE} characters: {self.lines[0][:40]!r}..."
            )
        return "\r\n".join(self.lines) + "\r\n"


def _header(name: str, words: Iterable[str]) -> str:
    folder = _Folder(name)
    for word in words:
        folder.word(word)
    return folder.done()


def _unstructured(name: str, value: str) -> str:
    """An unstructured header field (RFC 5322 3.2.5): plain words as they are, runs of words
    that need it as encoded-words; surrounding whitespace is dropped (parsers drop it too)."""
    value = _header_text(name, value).strip(" ")
    if _PLAIN_TEXT.fullmatch(value) and "=?" not in value:
        words = value.split(" ")
        if max(map(len, words)) <= _LONGEST_WORD:
            return _header(name, words)
    folder = _Folder(name)
    _mixed_words(folder, value, _PRINTABLE_WORD)
    return folder.done()


def _mixed_words(folder: _Folder, value: str, plain: re.Pattern[str]) -> None:
    """``value``'s words, those matching ``plain`` as they are and runs of the others (with the
    spaces between them) as encoded-words. Between two spaces of a run is an empty word."""
    segments: list[tuple[bool, list[str]]] = []
    for word in value.split(" "):
        encode = word != "" and (
            not plain.fullmatch(word) or "=?" in word or len(word) > _LONGEST_WORD
        )
        if segments and (word == "" or segments[-1][0] == encode):
            segments[-1][1].append(word)
        else:
            segments.append((encode, [word]))
    for encode, words in segments:
        if encode:
            folder.encoded(" ".join(words))
            continue
        for word in words:
            if word:
                folder.word(word)
            else:  # one more space of a run, kept on the line as it is
                folder.line += " "


def _address_header(name: str, value: str) -> str:
    """An address-list header from the text ``build_message`` takes: ``a@b`` (the dialer's
    case, written as it is) or anything else RFC 5322 allows (``Name <a@b>, "C, D" <c@d>``),
    read with the standard library's own parser."""
    _check_value(name, value)
    value = value.strip()
    if not any(c in value for c in _ADDRESS_SYNTAX):
        return _mailbox_header(name, [("", value)])
    try:
        header = email.policy.SMTP.header_factory(name, value)
        mailboxes = [(a.display_name, f"{a.username}@{a.domain}") for a in header.addresses]
        problems = header.defects
    except (ValueError, IndexError, email.errors.MessageError):  # the parser's own failures
        mailboxes, problems = [], ()
    if not mailboxes or problems:
        raise ValueError(
            f"{value!r} is not an address list for {name}: use name@example.com or "
            "Name <name@example.com>"
        )
    return _mailbox_header(name, mailboxes)


def _mailbox_header(name: str, mailboxes: list[tuple[str, str]]) -> str:
    folder = _Folder(name)
    for i, (given_name, address) in enumerate(mailboxes):
        _check_value(name, address)
        addr_spec = _addr_spec(address)
        comma = "," if i < len(mailboxes) - 1 else ""
        display_name = " ".join(_header_text(name, given_name).split())
        if not display_name:
            folder.word(addr_spec + comma)
            continue
        if display_name.isascii() and display_name.isprintable() and "=?" not in display_name:
            # Atoms as they are, or one quoted-string (which may fold at its spaces too).
            phrase = (
                display_name if _PLAIN_PHRASE.fullmatch(display_name) else _quoted(display_name)
            )
            for word in phrase.split(" "):
                folder.word(word)
        else:
            # Atoms as they are, the other words as encoded-words: "Service =?utf-8?q?Cr...?=".
            _mixed_words(folder, display_name, _ATOM)
        folder.word(f"<{addr_spec}>{comma}")
    return folder.done()


@lru_cache(maxsize=4096)
def _addr_spec(address: str) -> str:
    """``local@domain`` as written in a header: the local part quoted if it must be, the domain
    in its IDNA ASCII form."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"{address!r} is not an email address: use name@domain")
    if not local.isascii():
        raise ValueError(
            f"{address!r} has a non-ASCII local part, which needs SMTPUTF8: use an ASCII address"
        )
    if not _DOT_ATOM.fullmatch(local):
        if not local.isprintable():
            raise ValueError(f"{address!r} is not an email address: control characters")
        local = _quoted(local)
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"{address!r} has an invalid domain ({exc})") from None
    elif not all(_is_domain_char(c) for c in domain):
        raise ValueError(f"{address!r} has an invalid domain: letters, digits, - and . only")
    return f"{local}@{domain}"


def _quoted(text: str) -> str:
    """``text`` as an RFC 5322 quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_domain_char(c: str) -> bool:
    # Letters, digits, hyphens, dots; a domain literal such as [192.0.2.1] too.
    return c.isalnum() or c in "-.[]:"
