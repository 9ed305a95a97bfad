"""Delivery-failure reports: is this message a bounce, hard or soft, for which recipients, why.

Two readers, tried in order:

1. RFC 3464 delivery status notifications (``multipart/report; report-type=delivery-status``,
   or any ``message/delivery-status`` part): per-recipient Action, Status and Diagnostic-Code.
2. The free-text reports of MTAs and providers that predate or ignore RFC 3464 (qmail, Exim,
   old Postfix and Sendmail, Exchange, Lotus Notes, GroupWise, Yahoo, Gmail, SMTP32, ...):
   recognised by their sender, subject and wording; recipients and codes read from the notice
   text above the returned message.

Hard means permanent (status class 5, or a permanent-failure text without a code); soft means
temporary (class 4), and every delay warning ("still trying", Action: delayed) is soft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from herald.inbound import mime, ses

BounceType = Literal["hard", "soft"]
MAX_DIAGNOSTIC = 500  # enough for any SMTP reply; reports can quote whole transcripts


@dataclass(frozen=True)
class Bounce:
    """What a delivery-failure report says."""

    type: BounceType
    recipients: tuple[str, ...]
    status: str | None  # the RFC 3463 enhanced status code, e.g. "5.1.1"
    diagnostic: str | None  # the remote server's words, e.g. "550 5.1.1 User unknown"
    delay_warning: bool = False  # "still trying": not a failure yet
    original_message_id: str | None = None  # Message-ID of the returned original, if present
    returned_headers: str = ""  # the returned original's header block (to find a reply token)


# --- shared patterns -------------------------------------------------------------------------

_ADDRESS = re.compile(
    r"(?:\"[^\"\r\n@]{1,64}\"|[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)"  # a local part, maybe quoted
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)
_USABLE = re.compile(r"(?:\"[^\"\r\n@]{1,64}\"|[^@\s:;<>\"]+)@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_QUOTED_LOCAL = re.compile(r'"[^"\r\n@]{1,64}"@\S+')
# RFC 3464 2.3.3, and Postfix's "deliverable" (an address verification report, sendmail -bv).
_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded", "deliverable"}
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# "550 …" or the multi-line "550-5.1.1 …", not a phone number such as "480-624-2500".
_SMTP_CODE = re.compile(r"(?<![\d.\-/:+])([45])(\d\d)(?:[ \t]|-(?=\d\.\d)|$)", re.MULTILINE)
_SYSTEM_LOCALS = {
    "mailer-daemon",
    "mail-daemon",
    "maildaemon",
    "mailerdaemon",
    "root",
    "noreply",
    "no-reply",
    "abuse",
    "hostmaster",
}
_DAEMON_FROM = re.compile(
    r"mailer[-_ ]?daemon|post_?master|mail delivery (sub)?system|mail administrator|"
    r"mail ?delivery|mdaemon|internet mail delivery",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|return(ed)? to sender|delivery (status )?notification|"
    r"delivery fail|failure notice|mail delivery|delivery problem|could not (be )?deliver|"
    r"non[- ]?deliver|nondeliver|mail system error|delivery report|returned|bounce|"
    r"delivery has failed|message not delivered|not delivered|failed delivery|"
    r"delivery error|mail failure|permanent error|delayed mail|delivery delayed|warning: could not|"
    r"unzustellbar|non remis|non recapitabile|no se puede entregar|zustellung|"
    r"rejected|error sending|unable to deliver|message status|mail could not|"
    r"delivery.*(failure|failed)|failed mail|user unknown|unknown user|notification",
    re.IGNORECASE,
)
_FAILURE_TEXT = re.compile(
    r"could not be delivered|couldn't be delivered|was not delivered|undeliverable|"
    r"delivery (to the following recipients? )?(has )?failed|failed permanently|"
    r"permanent(ly)? (error|fatal|failure)|fatal errors?|unable to deliver|"
    r"user unknown|unknown user|no such user|does not exist|mailbox unavailable|"
    r"following address(es)? (failed|had)|could not deliver|message delivery failed|"
    r"delivery failure|not be delivered|unknown recipient|recipient unknown|"
    r"rejected|returned to sender|undelivered|non-delivery|couldn't deliver|"
    r"delivery has failed|no mailbox|account (has been )?(disabled|discontinued|expired)|"
    r"delivery to the following|failed to deliver|host unknown|not deliverable|"
    r"cannot be delivered|unknown address|invalid recipient|over quota|quota exceeded|"
    r"mailbox (is )?full|message could not|this is a permanent error|error in processing|"
    r"would not be delivered|unzustellbar|non remis|not able to be delivered|"
    r"error has occurred while attempting to deliver|has been returned because|"
    r"incorrectly constructed|could not be sent|failed addresses|no valid recipients",
    re.IGNORECASE,
)
_DELAY_TEXT = re.compile(
    r"still (be )?trying|will (continue|keep) (trying|to try|attempting)|will retry|"
    r"has been delayed|is delayed|delivery (has been |is )?delayed|not yet been delivered|"
    r"warning: message .* still undelivered|warning: could not send message for past|"
    r"delivery (attempts|attempt) will continue|message (is )?delayed|"
    r"this is (only )?a warning|no action is required on your part|"
    r"delay(ed)? (notification|warning)|"
    r"will be retried|retrying|temporarily deferred|have not been able to deliver.*yet|"
    r"will attempt (to deliver|redelivery)|couldn't be delivered yet|not been delivered yet",
    re.IGNORECASE | re.DOTALL,
)
_DELAY_SUBJECT = re.compile(
    r"delay|warning: (could not|message)|still (trying|undelivered)|\(warning\)|: warning", re.I
)
# Mail systems also send good news: "delivered", "relayed"; those are not failures.
_SUCCESS_TEXT = re.compile(
    r"(successfully|was) (delivered|relayed)|delivery (to .* )?succeeded|has been delivered",
    re.IGNORECASE,
)
# Where the returned original starts in a free-text report; nothing below it is the notice.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t>|]*(?:-{2,}|={2,}|\*{2,})?[ \t]*(?:"
    r"(this is a )?copy of (the|your) (original )?message|original message follows|"
    r"original message|below this line is a copy|the original message|"
    r"unsent message below|below is a copy|message (text|headers?|body) follows|returned message|"
    r"undelivered message|included is a copy|copy of message|start of returned message|"
    r"headers of the original|original message headers|forwarded message|"
    r"your message (reads|follows)|the header of the original|rfc822 headers"
    r")",
    re.IGNORECASE | re.MULTILINE,
)


def _clean_address(value: str) -> str:
    """The address in a field value: "rfc822; <user@example.com>" gives user@example.com, and
    a quoted local part keeps its quotes ("a..b"@example.com)."""
    value = value.strip()
    if ";" in value[:20]:  # "rfc822; user@example.com"
        value = value.split(";", 1)[1]
    value = value.strip().strip("<> ;,").strip()
    if _QUOTED_LOCAL.fullmatch(value):
        return value.rstrip(".>")
    return value.strip("<>\"' ;,.").strip()


def _status_of(text: str) -> str | None:
    match = _ENHANCED.search(text)
    if match and match.group(1) in "45":
        return f"{match.group(1)}.{match.group(2)}.{match.group(3)}"
    return None


def _smtp_class(text: str) -> str | None:
    match = _SMTP_CODE.search(text)
    return match.group(1) if match else None


def _short(text: str | None) -> str | None:
    if not text:
        return None
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_DIAGNOSTIC] or None


def _returned(message: Message) -> tuple[str | None, str]:
    """The Message-ID and header block of the returned original, if the report carries it."""
    for part in mime.walk(message):
        ctype = mime.content_type(part)
        if ctype == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                block = "".join(f"{k}: {v}\n" for k, v in inner.items())
                ids = mime.message_ids(str(inner.get("Message-ID", "")))
                return (ids[0] if ids else None), block
        elif ctype in {"text/rfc822-headers", "message/rfc822-headers"}:
            block = mime.part_text(part)
            match = re.search(r"^message-id:\s*(<[^>\s]+>)", block, re.IGNORECASE | re.MULTILINE)
            return (match.group(1) if match else None), block
    return None, ""


# --- RFC 3464 ---------------------------------------------------------------------------------


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part, field names in lower case."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks += _split_recipients([(k.lower(), str(v)) for k, v in block.items()])
        return blocks
    return _blocks_from_text(mime.part_text(part))


def _split_recipients(fields: list[tuple[str, str]]) -> list[dict[str, str]]:
    """One block of fields as per-recipient blocks: some MTAs write the blocks of several
    recipients with no blank line between them, so a recipient field seen again starts one."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for name, value in fields:
        again = name == "final-recipient" and "final-recipient" in current
        again = again or (
            name == "original-recipient"
            and any(k in current for k in ("original-recipient", "action", "status"))
        )
        if again:
            blocks.append(current)
            current = {}
        current[name] = value
    if current:
        blocks.append(current)
    return blocks


def _blocks_from_text(text: str) -> list[dict[str, str]]:
    """DSN field blocks read from plain text (blank-line separated ``Name: value`` lines)."""
    blocks: list[dict[str, str]] = []
    current: list[tuple[str, str]] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks += _split_recipients(current)
                current = []
            continue
        if line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip() and " " not in name.strip():
            current.append((name.strip().lower(), value.strip()))
    if current:
        blocks += _split_recipients(current)
    return blocks


_DSN_START = re.compile(r"^(reporting-mta|final-recipient|original-recipient)\s*:", re.I | re.M)


def _inline_dsn_blocks(message: Message) -> list[dict[str, str]]:
    """DSN fields pasted in a body whose MIME structure is broken (no delivery-status part)."""
    payload = message.get_payload()
    text = payload if isinstance(payload, str) else ""
    if not text:
        text = "\n".join(
            mime.part_text(p)
            for p in mime._own_parts(message)
            if mime.content_type(p).startswith(("text/plain", "multipart/"))
        )
    marker = _ORIGINAL_MARKER.search(text)
    match = _DSN_START.search(text, 0, marker.start() if marker else len(text))
    if not match:
        return []
    return [b for b in _blocks_from_text(text[match.start() :]) if "action" in b or "status" in b]


def _recipient(block: dict[str, str]) -> str:
    """The failed address of one per-recipient block.

    Final-Recipient is the address the last server tried; when it is no usable address (an X.400
    name, a source route, a host without a domain) the Original-Recipient is the better answer.
    """
    final = _clean_address(block.get("final-recipient", ""))
    if _USABLE.fullmatch(final):
        return final
    original = _clean_address(block.get("original-recipient", ""))
    if _USABLE.fullmatch(original):
        return original
    found = _ADDRESS.search(block.get("final-recipient", "") or block.get("x-actual-recipient", ""))
    return found.group(0) if found else final


def _report_parts(message: Message) -> list[Message]:
    """The report's own parts: an attached message (the returned original, or a report a person
    forwards) is not looked into, so the recipients of a bounce quoted there are not taken."""
    out: list[Message] = []
    stack = [message]
    while stack and len(out) < 1000:
        part = stack.pop()
        out.append(part)
        if part is not message and mime.content_type(part) in _OPAQUE:
            continue
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return out


_DSN = "message/delivery-status"
_OPAQUE = {"message/rfc822", _DSN, "text/rfc822-headers"}


def _from_dsn(message: Message) -> Bounce | Literal[False] | None:  # noqa: PLR0912
    """The bounce an RFC 3464 report describes; None if it reports success; False if no DSN."""
    # The report's own status part, not one of a bounce returned inside it; a mail system may
    # pass on another's report inside an attached message, but a person who forwards a report
    # is not reporting a failure of their own.
    parts = [p for p in _report_parts(message) if mime.content_type(p) == _DSN]
    if not parts and _from_daemon(message):
        parts = [p for p in mime.walk(message) if mime.content_type(p) == _DSN]
    blocks = [b for part in parts for b in _dsn_blocks(part)] or _inline_dsn_blocks(message)
    if not blocks:
        return False
    failed: list[tuple[str, str | None, str | None]] = []
    delayed: list[tuple[str, str | None, str | None]] = []
    other_actions = 0
    for block in blocks:
        action = block.get("action", "").strip().lower()
        if not any(k in block for k in ("final-recipient", "original-recipient", "action")):
            continue  # the per-message block
        diagnostic = _short((block.get("diagnostic-code", "").split(";", 1)[-1]) or None)
        status = _status_of(block.get("status", "")) or (
            _status_of(diagnostic) if diagnostic else None
        )
        entry = (_recipient(block), status, diagnostic)
        if action in _SUCCESS_ACTIONS or block.get("status", "").strip().startswith("2."):
            other_actions += 1
        elif action.startswith("delay"):
            delayed.append(entry)
        else:  # failed, and what some MTAs write instead: error, expired, undeliverable
            failed.append(entry)
    original_id, returned = _returned(message)
    if failed:
        entries, delay = failed, False
    elif delayed:
        entries, delay = delayed, True
    elif other_actions:
        return None  # delivered / relayed / expanded: a success notice
    else:
        return False
    status = next((s for _, s, _ in entries if s), None)
    diagnostic = next((d for _, _, d in entries if d), None)
    if delay:
        kind: BounceType = "soft"
    elif status:
        kind = "hard" if any((s or "").startswith("5") for _, s, _ in entries) else "soft"
    else:
        code = _smtp_class(diagnostic or "")
        kind = "soft" if code == "4" else "hard"
    recipients = tuple(dict.fromkeys(a for a, _, _ in entries if _USABLE.fullmatch(a)))
    if not recipients:
        recipients = tuple(_notice_recipients(message, _notice_text(message)))
    return Bounce(kind, recipients, status, diagnostic, delay, original_id, returned)


# --- free-text reports ------------------------------------------------------------------------


def _notice_text(message: Message) -> str:
    """The human-readable part of a report, cut before the returned original message."""
    texts = []
    for part in mime._own_parts(message):
        ctype = mime.content_type(part)
        if (ctype.startswith("text/") and ctype != "text/rfc822-headers") or (
            ctype.startswith("multipart/")  # a multipart whose boundary is broken: its raw text
        ):
            text = mime.part_text(part)
            if ctype == "text/html":
                text = mime.html_to_text(text)
            texts.append(text)
            if len(texts) >= 2:
                break
    text = "\n".join(texts)[: mime.MAX_TEXT_CHARS]
    match = _ORIGINAL_MARKER.search(text)
    if match and match.start() > 0:
        text = text[: match.start()]
    return text


# Lines of the returned original's headers that name other parties (sender, ids, relays).
_HEADER_LINE = re.compile(
    r"^\s*(message-id|in-reply-to|references|received|return-path|from|sender|reply-to|"
    r"errors-to|list-[a-z-]+|x-[a-z-]+|envelope-from|mail from|to|cc|subject|sent|date)\s*:"
    r"|^\s+(by|id|for|from|with)\s",  # continuation lines of a Received field
    re.IGNORECASE,
)
# A line that names a failed address: the address alone, "<addr>:", "addr ... reason", or
# the address next to a status code or failure wording.
_ADDRESS_LINE = re.compile(r"^[\s>]*[<\"']?[^\s@<>]+@[^\s<>]+[>\"']?\s*(:|\.\.\.|$|\(|-|,|\s)")


def _notice_recipients(message: Message, notice: str) -> list[str]:
    """Addresses the notice names as failed, the report's own parties excluded.

    Addresses on lines that look like failure lines (the address alone, or with an SMTP code
    or failure wording) win over addresses merely mentioned in the text.
    """
    own = {a.lower() for a in mime.addresses(message, "From", "Reply-To", "Sender")}
    # The report's To: is usually the original sender, named in the notice as such; but a
    # message to oneself bounces to the failed address itself: taken when nothing else is.
    to = {a.lower() for a in mime.addresses(message, "To")}
    strong: list[str] = []
    weak: list[str] = []
    strong_to: list[str] = []
    for line in notice.splitlines():
        if _HEADER_LINE.match(line) or "message-id" in line.lower():
            continue
        is_strong = bool(
            _ADDRESS_LINE.match(line)
            or _ENHANCED.search(line)
            or _SMTP_CODE.search(line)
            or _FAILURE_TEXT.search(line)
            or re.search(r"\b(rcpt to|recipient|address|destinatario)\s*:", line, re.I)
        )
        for match in _ADDRESS.finditer(line):
            address = match.group(0).strip(".'")
            if "=" in address.split("@", 1)[0]:  # "smtp=user@example.com", "rfc822=…"
                address = address.split("@", 1)[0].rsplit("=", 1)[-1] + "@" + address.split("@")[1]
            lower = address.lower()
            local = lower.split("@", 1)[0]
            before = line[max(0, match.start() - 1) : match.start()]
            if lower in own or local in _SYSTEM_LOCALS or before in {"/", "."}:
                continue
            if lower in to and not is_strong:
                continue
            target = (strong_to if lower in to else strong) if is_strong else weak
            if lower not in (f.lower() for f in target):
                target.append(address)
    return strong or weak or strong_to


def _from_daemon(message: Message) -> bool:
    """Whether the sender is a mail system (MAILER-DAEMON, postmaster, …), not a person."""
    sender = mime.header(message, "From")
    if sender:
        return bool(_DAEMON_FROM.search(sender))
    return bool(_DAEMON_FROM.search(mime.header(message, "Return-Path")))


# "Fwd:" and its translations: a person passing a report on, not a mail system reporting.
_FORWARDED_SUBJECT = re.compile(
    r"^\s*(?:fwd?|fw|tr|wg|rv|enc|i|doorst|vs|vb|pd|fs|İlt|転送)\s*:", re.IGNORECASE
)


def looks_like_report(message: Message, subject: str) -> bool:
    """Whether the sender and subject are those of a delivery report (not yet its content)."""
    if _FORWARDED_SUBJECT.match(subject) and not _from_daemon(message):
        return False
    return (
        _from_daemon(message)
        or bool(message.get("X-Failed-Recipients"))
        or _daemonish_subject(subject)
    )


def _daemonish_subject(subject: str) -> bool:
    return bool(
        re.search(
            r"undeliver|returned mail|delivery status notification|failure notice|"
            r"mail delivery failed|delivery failure|non[- ]?deliver|delivery (has )?failed|"
            r"could not be delivered|delivery notification|unzustellbar|non remis|"
            r"warning: could not send|delayed mail|delivery delayed|mail failed|failed mail|"
            r"delivery status|returning message to sender|mail system error",
            subject,
            re.IGNORECASE,
        )
    )


def _from_text(message: Message, subject: str) -> Bounce | None:
    if not looks_like_report(message, subject):
        return None
    notice = _notice_text(message)
    failed_header = mime.header(message, "X-Failed-Recipients")
    delay = bool(_DELAY_TEXT.search(notice) or _DELAY_SUBJECT.search(subject)) and (
        not re.search(r"permanent|fatal", notice, re.IGNORECASE)
    )
    if not (
        failed_header
        or _FAILURE_TEXT.search(notice)
        or _daemonish_subject(subject)
        or delay
        or (_from_daemon(message) and not _SUCCESS_TEXT.search(notice))
    ):
        return None
    if failed_header:
        recipients = list(dict.fromkeys(_ADDRESS.findall(failed_header)))
    else:
        recipients = _notice_recipients(message, notice)
    status = _status_of(notice)
    diagnostic = _diagnostic_line(notice)
    if delay:
        kind: BounceType = "soft"
    elif status:
        kind = "hard" if status.startswith("5") else "soft"
    else:
        kind = "soft" if _smtp_class(notice) == "4" else "hard"
    original_id, returned = _returned(message)
    if not returned:
        returned = _inline_returned_headers(message)
        match = re.search(r"^message-id:\s*(<[^>\s]+>)", returned, re.IGNORECASE | re.MULTILINE)
        original_id = match.group(1) if match else None
    return Bounce(kind, tuple(recipients), status, diagnostic, delay, original_id, returned)


def _diagnostic_line(notice: str) -> str | None:
    for line in notice.splitlines():
        if _ENHANCED.search(line) or _SMTP_CODE.search(line.strip()):
            return _short(line)
    for line in notice.splitlines():
        if _FAILURE_TEXT.search(line):
            return _short(line)
    return None


def _inline_returned_headers(message: Message) -> str:
    """The returned original's headers when a free-text report pastes them into its body."""
    text, _ = mime.body_text(message)
    match = _ORIGINAL_MARKER.search(text)
    return text[match.end() : match.end() + 10_000] if match else ""


def parse_bounce(message: Message, subject: str, found: dict | None = None) -> Bounce | None:
    """The bounce this message reports, or None when it is not a delivery-failure report.

    Successful-delivery DSNs (Action: delivered/relayed/expanded) are not bounces. ``found`` is
    the Amazon SES notification the message carries, if any (``ses.notification``).
    """
    if found is not None:
        return _from_ses(found) if ses.is_bounce(found) else None
    dsn = _from_dsn(message)
    if dsn is not False:
        return dsn
    return _from_text(message, subject)


def _from_ses(found: dict) -> Bounce:
    """An Amazon SES bounce notification: Permanent is hard, Transient and Undetermined soft."""
    permanent, entries = ses.bounce_fields(found)
    status = next((_status_of(s) for _, s, _ in entries if s and _status_of(s)), None)
    diagnostic = next((_short(d.split(";", 1)[-1]) for _, _, d in entries if d), None)
    original_id, returned = ses.original(found)
    recipients = tuple(dict.fromkeys(_clean_address(a) for a, _, _ in entries))
    kind: BounceType = "hard" if permanent else "soft"
    return Bounce(kind, recipients, status, diagnostic, False, original_id, returned)
