"""The narrow interface between the dialer and the outside world: a ``Transport`` takes a batch of
envelopes and returns one ``Outcome`` per envelope, in the same order — never fewer, never more.

The worker loop (issue 5) claims a batch of due deliveries, reserves that many pacing slots,
renders and signs each message, and hands the whole batch to ``Transport.send``; it then writes
each outcome (an Event, the delivery's new state) in one transaction. Nothing here touches the
database. Implementations: ``herald.dialer.smtp.SmtpTransport`` (pooled, pipelined SMTP) and
``OutboxTransport`` below (in memory, for tests and the dialer's own tests).

An outcome says whether a failure is permanent: 2xx is sent; 4xx, a timeout, a refused or dropped
connection are temporary (retry later, never skip); 5xx is permanent. ``stage`` says where it
happened, so that only a recipient's own rejection (``bounce``) suppresses the address, while a
mailbox problem (connection, TLS, login, a rejected sender) does not.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Stage = Literal["connect", "mail", "rcpt", "data"]


class Status(enum.StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # retry later: 4xx, timeout, dropped or refused connection
    PERMANENT = "permanent"  # 5xx: this message will never be accepted as it is
    LATE = "late"  # not tried: it could not start in time for its pacing slot; it takes a new one


@dataclass(frozen=True)
class Envelope:
    """One message to send: SMTP envelope sender, recipients (the contact first, then any BCC),
    the message bytes, and ``not_before``, its pacing slot (seconds since the epoch, as
    ``time.time()``): the transport starts the transaction no earlier than that. With
    ``not_after``, it starts it no later either: past that, the envelope is not tried and its
    outcome is ``LATE`` (sent later, it would crowd the messages after it at the receiver)."""

    mail_from: str
    recipients: tuple[str, ...]
    message: bytes
    not_before: float | None = None
    not_after: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one envelope. ``code`` and ``reply`` are the server's own words (``code``
    is None when there was no reply: timeout, dropped or refused connection). ``refused`` lists
    recipients the server rejected while it accepted others (e.g. a BCC address)."""

    status: Status
    code: int | None
    reply: str
    stage: Stage
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def sent(self) -> bool:
        return self.status is Status.SENT

    @property
    def permanent(self) -> bool:
        return self.status is Status.PERMANENT

    @property
    def bounce(self) -> bool:
        """A permanent rejection of the recipient or of the message itself (a hard bounce: the
        address is suppressed), as opposed to a problem of the mailbox (sender, login)."""
        return self.permanent and self.stage in ("rcpt", "data")

    @classmethod
    def from_reply(
        cls, code: int, reply: str, stage: Stage, refused: dict[str, tuple[int, str]] | None = None
    ) -> Outcome:
        """The outcome an SMTP reply means: 2xx/3xx sent, 5xx permanent, anything else
        temporary."""
        if 200 <= code < 400:
            status = Status.SENT
        elif 500 <= code < 600:
            status = Status.PERMANENT
        else:
            status = Status.TEMPORARY
        return cls(status, code, reply, stage, refused or {})


class SendError(Exception):
    """A failure that ends a whole connection (cannot connect, TLS, login, dropped): carries
    whether it is permanent and the server's reply when there was one."""

    def __init__(
        self, reply: str, *, code: int | None = None, permanent: bool = False, stage: Stage
    ) -> None:
        super().__init__(f"{code} {reply}" if code else reply)
        self.reply = reply
        self.code = code
        self.permanent = permanent
        self.stage = stage

    def outcome(self) -> Outcome:
        """What this failure means for a message that never got to the server: temporary even
        when the server's refusal is permanent (a wrong password stays wrong until someone fixes
        the mailbox), because the message itself can go once the mailbox is fixed. ``permanent``
        here is for the mailbox's connection test and the campaign's auto-pause."""
        return Outcome(Status.TEMPORARY, self.code, self.reply, self.stage)


class Transport(Protocol):
    """Sends a batch; returns exactly one outcome per envelope, in order. Must not raise for a
    failure of a message or of the server: that is an outcome."""

    def send(self, batch: Sequence[Envelope]) -> list[Outcome]: ...

    def close(self) -> None: ...


SENT = Outcome(Status.SENT, 250, "2.0.0 Ok: kept in the outbox", "data")
LATE = Outcome(
    Status.LATE, None, "not tried: it could not start in time for its pacing slot", "mail"
)


class OutboxTransport:
    """Keeps what it is given instead of sending it (tests). ``decide`` may script an outcome per
    envelope (e.g. a 4xx for one address); only envelopes whose outcome is sent are kept."""

    def __init__(self, decide: Callable[[Envelope], Outcome] | None = None) -> None:
        self.sent: list[Envelope] = []
        self.attempts: list[tuple[Envelope, Outcome]] = []
        self._decide = decide or (lambda envelope: SENT)
        self._lock = threading.Lock()  # several worker threads may share one outbox in tests

    def send(self, batch: Sequence[Envelope]) -> list[Outcome]:
        outcomes = [self._decide(envelope) for envelope in batch]
        with self._lock:
            for envelope, outcome in zip(batch, outcomes, strict=True):
                self.attempts.append((envelope, outcome))
                if outcome.sent:
                    self.sent.append(envelope)
        return outcomes

    def close(self) -> None:
        pass
