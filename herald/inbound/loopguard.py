"""The loop guard: whether a message may get an automatic answer (acknowledgement).

Pure. RFC 3834 section 2 asks responders never to answer automatic messages, mailing lists or
bounces, and to answer at most once per period per sender; the "once per period" part needs
the database and lives in ``herald.inbound.replies``. A refusal is a short reason, shown to
managers; ``None`` means an answer is allowed.
"""

from __future__ import annotations

import re
from email.message import Message

from herald.inbound import mime

# Senders nobody reads: no-reply addresses, bounce handlers, system accounts.
_NO_REPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|"
    r"notifications?|alerts?|daemon|root|listserv|majordomo|owner-.+|.+-(owner|request|bounces))"
    r"([+-].*)?$",
    re.IGNORECASE,
)
_LIST_HEADERS = ("List-Id", "List-Post", "List-Help", "Mailing-List", "X-Mailing-List")
_BULK_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
NO_ANSWER_KINDS = {"bounce", "complaint", "autoreply"}


def is_no_reply_address(address: str) -> bool:
    """Whether an address belongs to no person (``noreply@``, ``mailer-daemon@``, …)."""
    local = address.rpartition("@")[0]
    return bool(local) and bool(_NO_REPLY.match(local))


def auto_answer_refusal(message: Message, kind: str, sender: str | None) -> str | None:  # noqa: PLR0911
    """Why ``message`` (classified as ``kind``, sent by ``sender``) must get no automatic
    answer, or None when it may get one."""
    if kind in NO_ANSWER_KINDS:
        return f"never answered: {kind}"
    auto = mime.header(message, "Auto-Submitted").lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    if not sender or "@" not in sender:
        return "no sender address"
    return_path = mime.header(message, "Return-Path")
    if return_path.strip() in {"<>", "<<>>"}:
        return "null return path (a bounce or notification)"
    for name in _LIST_HEADERS:
        if name in message:
            return f"mailing list ({name})"
    if mime.header(message, "Precedence").lower() in _BULK_PRECEDENCE:
        return "bulk or list mail (Precedence)"
    if is_no_reply_address(sender):
        return "no-reply sender"
    return None
