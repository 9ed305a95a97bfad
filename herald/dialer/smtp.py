"""Pooled, pipelined SMTP: the dialer's ``Transport`` to a mailbox's server.

A lean asyncio client of Herald's own rather than aiosmtplib or smtplib: both spend most of a
message's time waiting for the server's replies one command at a time (measured here ~0.4 and
~0.23 ms per message and connection). This client writes a message's MAIL, RCPT and DATA in one
go and, after the server's 354, the message together with the *next* message's commands (SMTP
PIPELINING, RFC 2920, when the server offers it), so a connection waits for one round trip per
message; several connections (up to the mailbox's limit) work one batch at once and stay open
for the next batch. It is proven against aiosmtpd in the tests and measured against Postfix's
``smtp-sink`` in ``bench/smtp.py``.

Every envelope of a batch ends with exactly one outcome. A message whose transaction never
started on a connection that failed (a stale pooled connection, a pipelined next message) is
sent again on another connection; one whose content went out before the connection failed is
a temporary failure — it may have arrived, which is the only way a message is sent twice.

The worker (issue 5) calls ``SmtpTransport.send(batch)`` from its synchronous loop; the pool's
event loop runs on a thread of its own so that connections outlive one batch.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from herald.dialer.transport import LATE, Envelope, Outcome, SendError, Status
from herald.dialer.wire import wire_form

logger = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
MAX_REPLY_LINES = 100  # a server sending more lines than this in one reply is broken
_UNSAFE_IN_ADDRESS = re.compile(r"[\s<>]")
MAX_LINE = 8192  # RFC 5321 4.5.3.1.5 says 512 for replies; be lenient, never unbounded


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach one mailbox's SMTP server, and how hard to push it."""

    host: str
    port: int
    security: Security = "starttls"
    username: str = ""
    password: str = ""
    max_connections: int = 4
    timeout: float = 60.0  # seconds to wait for any one reply (RFC 5321 4.5.3.2 allows more)
    connect_timeout: float = 10.0
    local_hostname: str | None = None  # the EHLO name; this machine's name by default
    tls_context: ssl.SSLContext | None = None  # verifies certificates by default
    pipelining: bool = True  # used when the server offers it
    max_messages_per_connection: int = 10_000  # some providers refuse more on one connection
    # OAuth 2.0: the access token to log in with (SASL XOAUTH2 or OAUTHBEARER) instead of the
    # password, read at each login; its owner keeps it fresh (herald.mailboxes.connection).
    bearer: Callable[[], str] | None = None

    def __post_init__(self) -> None:
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"SMTP security must be none, starttls or tls, not {self.security!r}")
        if self.max_connections < 1:
            raise ValueError("a mailbox needs at least one SMTP connection")
        if not 0 < self.port < 65536:
            raise ValueError(f"{self.port} is not a TCP port (1-65535)")


def _address_problem(address: str) -> str | None:
    # Addresses go into command lines: a CR, LF or angle bracket would inject commands.
    if _UNSAFE_IN_ADDRESS.search(address):
        return f"the address {address!r} contains characters SMTP cannot carry"
    return None


def _stuffed(message: bytes) -> bytes:
    """The DATA payload: wire form, dot-stuffed (RFC 5321 4.5.2), ending with the final dot."""
    message = wire_form(message)
    if message.startswith(b"."):
        message = b"." + message
    if b"\r\n." in message:
        message = message.replace(b"\r\n.", b"\r\n..")
    return message + b".\r\n"


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # One context for every connection: loading the system's CA certificates takes ~20 ms.
    return ssl.create_default_context()


@functools.cache
def _ehlo_name(configured: str | None) -> bytes:
    # getfqdn() may ask DNS: once per process, not once per connection.
    name = configured or socket.getfqdn() or "localhost"
    try:
        return name.encode("idna")
    except UnicodeError:
        return b"localhost"


class _ConnectionDroppedError(Exception):
    """The connection ended or timed out while a reply was awaited."""


class SmtpConnection:
    """One SMTP session: connect, EHLO, STARTTLS, AUTH, then transactions until closed."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.extensions: dict[str, str] = {}
        self.sent_count = 0
        # Taken from the pool and not yet answered: the server may have hung up while it was
        # idle, which says nothing about the message tried on it.
        self.untested = False

    @property
    def open(self) -> bool:
        return (
            self.writer is not None
            and not self.writer.is_closing()
            and self.reader is not None
            and not self.reader.at_eof()
        )

    async def connect(self) -> None:
        """Opens the session; raises ``SendError`` (stage connect) with the server's words."""
        config = self.config
        context = config.tls_context or (_default_tls() if config.security != "none" else None)
        try:
            async with asyncio.timeout(config.connect_timeout):
                self.reader, self.writer = await asyncio.open_connection(
                    config.host,
                    config.port,
                    ssl=context if config.security == "tls" else None,
                    server_hostname=config.host if config.security == "tls" else None,
                    limit=MAX_LINE,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise SendError(
                f"cannot connect to {config.host}:{config.port}: {exc or 'timed out'}",
                stage="connect",
            ) from None
        try:
            await self._expect(220, "greeting")
            await self._ehlo()
            if config.security == "starttls":
                if "starttls" not in self.extensions:
                    raise SendError(
                        f"{config.host} does not offer STARTTLS: choose SSL/TLS or no security",
                        stage="connect",
                    )
                await self._command(b"STARTTLS\r\n", 220, "STARTTLS")
                async with asyncio.timeout(config.connect_timeout):
                    await self._streams()[1].start_tls(
                        context or _default_tls(), server_hostname=config.host
                    )
                await self._ehlo()
            if config.bearer is not None:
                await self._login_oauth(config.bearer())
            elif config.username:
                await self._login()
        except _ConnectionDroppedError as exc:
            await self.close()
            raise SendError(str(exc), stage="connect") from None
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            await self.close()
            raise SendError(f"TLS with {config.host} failed: {exc}", stage="connect") from None
        except SendError:
            await self.close()
            raise

    async def _ehlo(self) -> None:
        name = _ehlo_name(self.config.local_hostname)
        self.write(b"EHLO " + name + b"\r\n")
        code, lines = await self.reply("EHLO")
        if code == 250:
            self.extensions = {}
            for line in lines[1:]:
                keyword, _, params = line.partition(" ")
                self.extensions[keyword.lower()] = params
            return
        self.write(b"HELO " + name + b"\r\n")
        code, lines = await self.reply("HELO")
        if code != 250:
            raise SendError("\n".join(lines), code=code, permanent=code >= 500, stage="connect")
        self.extensions = {}

    async def _login(self) -> None:
        config = self.config
        methods = self.extensions.get("auth", "").upper().split()
        user, password = config.username.encode(), config.password.encode()
        if "PLAIN" in methods:
            token = base64.b64encode(b"\0" + user + b"\0" + password)
            await self._command(b"AUTH PLAIN " + token + b"\r\n", 235, "AUTH")
        elif "LOGIN" in methods:
            await self._command(b"AUTH LOGIN\r\n", 334, "AUTH")
            await self._command(base64.b64encode(user) + b"\r\n", 334, "AUTH")
            await self._command(base64.b64encode(password) + b"\r\n", 235, "AUTH")
        else:
            raise SendError(
                f"{config.host} offers no login method Herald speaks (PLAIN, LOGIN) "
                + ("before TLS: choose STARTTLS or SSL/TLS" if config.security == "none" else ""),
                stage="connect",
            )

    async def _login_oauth(self, token: str) -> None:
        """SASL XOAUTH2 (Microsoft, Google), else OAUTHBEARER (RFC 7628). A refused token gets
        a 334 challenge with the server's reasons (JSON); an empty line ends the exchange."""
        from herald.mailboxes.sasl import oauthbearer, sasl_error, xoauth2

        config = self.config
        methods = self.extensions.get("auth", "").upper().split()
        if "XOAUTH2" in methods:
            mechanism, initial = b"XOAUTH2", xoauth2(config.username, token)
        elif "OAUTHBEARER" in methods:
            mechanism, initial = b"OAUTHBEARER", oauthbearer(config.username, token)
        else:
            raise SendError(
                f"{config.host} offers no OAuth login (XOAUTH2, OAUTHBEARER): "
                f"it offers {', '.join(methods) or 'no login at all'}"
                + (" before TLS: choose STARTTLS or SSL/TLS" if config.security == "none" else ""),
                stage="connect",
            )
        self.write(b"AUTH " + mechanism + b" " + base64.b64encode(initial) + b"\r\n")
        code, lines = await self.reply("AUTH")
        if code == 235:
            return
        words = "\n".join(lines)
        if code == 334:
            words = sasl_error(lines[0].encode() if lines else b"")
            self.write(b"\r\n")
            code, lines = await self.reply("AUTH")
            words = f"{' '.join(lines)} ({words})"
        raise SendError(
            f"{config.host} refused the OAuth token for {config.username}: {words}",
            code=code,
            permanent=False,
            stage="connect",
        )

    async def _command(self, line: bytes, expected: int, what: str) -> None:
        self.write(line)
        await self._expect(expected, what)

    async def _expect(self, expected: int, what: str) -> None:
        code, lines = await self.reply(what)
        if code != expected:
            raise SendError(
                "\n".join(lines), code=code, permanent=500 <= code < 600, stage="connect"
            )

    def _streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            raise _ConnectionDroppedError("the connection is closed")
        return self.reader, self.writer

    def write(self, data: bytes) -> None:
        self._streams()[1].write(data)

    async def reply(self, what: str) -> tuple[int, list[str]]:
        """One (possibly multi-line) reply: its code and its text lines without the codes;
        ``_ConnectionDroppedError`` when none comes within the timeout."""
        try:
            async with asyncio.timeout(self.config.timeout):
                return await self.read_reply(what)
        except TimeoutError:
            raise self.timed_out(what) from None

    def timed_out(self, what: str) -> _ConnectionDroppedError:
        return _ConnectionDroppedError(f"no reply to {what} within {self.config.timeout:g} s")

    async def read_reply(self, what: str) -> tuple[int, list[str]]:
        """``reply()`` for callers that set one timeout over several replies (a timeout costs
        a timer handle: one per pipelined group, not one per reply)."""
        reader = self._streams()[0]
        lines: list[str] = []
        try:
            while True:
                raw = await reader.readline()
                if not raw.endswith(b"\n"):
                    raise _ConnectionDroppedError(
                        f"connection closed by the server awaiting {what}"
                    )
                line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
                lines.append(line[4:])
                if line[3:4] != "-" or len(lines) >= MAX_REPLY_LINES:
                    break
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            raise _ConnectionDroppedError(f"connection lost awaiting {what}: {exc}") from None
        try:
            code = int(line[:3])
        except ValueError:
            raise _ConnectionDroppedError(
                f"the server's reply to {what} is not SMTP: {line[:80]!r}"
            ) from None
        return code, lines

    def commands(self, envelope: Envelope, size: int) -> list[bytes]:
        """MAIL, one RCPT per recipient, DATA: the command lines of one transaction."""
        params = ""
        if "size" in self.extensions:
            params += f" SIZE={size}"
        if "8bitmime" in self.extensions and not envelope.message.isascii():
            params += " BODY=8BITMIME"  # RFC 6152: say so when the content has 8-bit bytes
        if not envelope.mail_from.isascii() or not all(r.isascii() for r in envelope.recipients):
            params += " SMTPUTF8"
        parts = [f"MAIL FROM:<{envelope.mail_from}>{params}\r\n"]
        parts += [f"RCPT TO:<{rcpt}>\r\n" for rcpt in envelope.recipients]
        parts.append("DATA\r\n")
        return [part.encode("utf-8") for part in parts]

    def refusal(self, envelope: Envelope, payload_size: int) -> Outcome | None:
        """A reason this envelope cannot be sent on this connection at all, before trying."""
        if not envelope.recipients or not all(envelope.recipients):
            return Outcome(Status.PERMANENT, None, "the message has no recipient", "rcpt")
        for address in (envelope.mail_from, *envelope.recipients):
            problem = _address_problem(address)
            if problem:
                return Outcome(Status.PERMANENT, None, problem, "mail")
        needs_utf8 = not envelope.mail_from.isascii() or not all(
            r.isascii() for r in envelope.recipients
        )
        if needs_utf8 and "smtputf8" not in self.extensions:
            return Outcome(
                Status.PERMANENT,
                None,
                "an address is not ASCII and the server does not offer SMTPUTF8",
                "mail",
            )
        limit = self.extensions.get("size", "")
        if limit.isdigit() and int(limit) and payload_size > int(limit):
            return Outcome(
                Status.PERMANENT,
                None,
                f"the message ({payload_size} bytes) exceeds the server's limit of {limit} bytes",
                "data",
            )
        return None

    @property
    def pipelining(self) -> bool:
        return self.config.pipelining and "pipelining" in self.extensions

    async def rset(self) -> bool:
        """Ends a failed transaction; returns whether the connection is still usable."""
        try:
            self.write(b"RSET\r\n")
            code, _ = await self.reply("RSET")
        except _ConnectionDroppedError:
            return False
        return code == 250

    async def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        with contextlib.suppress(Exception):
            if not writer.is_closing():
                writer.write(b"QUIT\r\n")
            writer.close()
            async with asyncio.timeout(1):
                await writer.wait_closed()


class _Batch:
    """The shared work of one ``send``: envelopes in slot order, handed to connections."""

    def __init__(self, batch: Sequence[Envelope]) -> None:
        self.envelopes = list(batch)
        order = sorted(range(len(batch)), key=lambda i: batch[i].not_before or 0.0)
        self.queue: collections.deque[int] = collections.deque(order)
        self.outcomes: list[Outcome | None] = [None] * len(batch)
        self.retried: set[int] = set()
        self.last_error: SendError | None = None

    def due_now(self) -> int | None:
        """The next envelope if its slot has come, without waiting (envelopes past their
        ``not_after`` on the way are ``LATE``)."""
        while self.queue:
            slot = self.envelopes[self.queue[0]].not_before
            if slot is not None and slot > time.time():
                return None
            index = self.queue.popleft()
            if not self._late(index):
                return index
        return None

    async def next(self) -> int | None:
        """The next envelope, after waiting for its slot; None when all are taken (envelopes
        past their ``not_after`` on the way are ``LATE``)."""
        while self.queue:
            index = self.queue.popleft()
            slot = self.envelopes[index].not_before
            if slot is not None:
                delay = slot - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if not self._late(index):
                return index
        return None

    def _late(self, index: int) -> bool:
        """Whether the envelope can no longer start in time (its outcome is then ``LATE``)."""
        deadline = self.envelopes[index].not_after
        if deadline is not None and time.time() > deadline:
            self.done(index, LATE)
            return True
        return False

    def give_back(self, index: int) -> bool:
        """Puts back an envelope whose transaction never started; once only, so that a server
        that drops every connection cannot make a batch loop forever."""
        if index in self.retried:
            return False
        self.retried.add(index)
        self.queue.appendleft(index)
        return True

    def done(self, index: int, outcome: Outcome) -> None:
        if self.outcomes[index] is not None:
            raise RuntimeError(f"envelope {index} got a second outcome: {outcome}")
        self.outcomes[index] = outcome


@dataclass(frozen=True)
class _Pending:
    """An envelope taken from the batch, ready to go on one connection."""

    index: int
    payload: bytes
    commands: list[bytes]

    @classmethod
    def prepare(cls, connection: SmtpConnection, work: _Batch, index: int) -> _Pending | None:
        """The envelope ready to send, or None when it was refused before trying (its outcome
        is recorded)."""
        envelope = work.envelopes[index]
        payload = _stuffed(envelope.message)
        size = len(payload) - 3  # the content, without the final dot line
        refusal = connection.refusal(envelope, size)
        if refusal is not None:
            work.done(index, refusal)
            return None
        return cls(index, payload, connection.commands(envelope, size))


_CLOSED = _Pending(-1, b"", [])  # the connection cannot carry more


def _unsent(work: _Batch, index: int, reason: str) -> None:
    """An envelope whose transaction never got its content out goes back to the batch (once);
    the second time, it is a temporary failure."""
    if not work.give_back(index):
        work.done(index, Outcome(Status.TEMPORARY, None, reason, "mail"))


class SmtpPool:
    """Up to ``max_connections`` SMTP sessions to one server, kept open between batches.

    Use from one event loop (``SmtpTransport`` runs it on a thread of its own).
    """

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.idle: list[SmtpConnection] = []

    async def send(self, batch: Sequence[Envelope]) -> list[Outcome]:
        """Sends the batch over up to ``max_connections`` connections; one outcome each."""
        work = _Batch(batch)
        lanes = min(self.config.max_connections, len(batch))
        await asyncio.gather(*(self._lane(work) for _ in range(lanes)))
        for index in list(work.queue):  # no connection could be opened for these
            error = work.last_error or SendError("no SMTP connection available", stage="connect")
            work.done(index, error.outcome())
        work.queue.clear()
        outcomes = [o for o in work.outcomes if o is not None]
        if len(outcomes) != len(batch):
            raise RuntimeError("an envelope of the batch got no outcome")
        return outcomes

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        await asyncio.gather(*(connection.close() for connection in idle))

    async def _lane(self, work: _Batch) -> None:
        """One connection working through the batch until it is empty or the server fails."""
        connection: SmtpConnection | None = None
        try:
            while work.queue:
                if connection is None or not connection.open:
                    connection = await self._connection(work)
                    if connection is None:
                        return  # other lanes may still work; leftovers fail in send()
                index = await work.next()
                if index is None:
                    break
                if not await self._run(connection, work, index):
                    await connection.close()
                    connection = None
        finally:
            if connection is not None and connection.open:
                connection.untested = True
                self.idle.append(connection)

    async def _connection(self, work: _Batch) -> SmtpConnection | None:
        while self.idle:
            connection = self.idle.pop()
            if connection.open:
                return connection
        connection = SmtpConnection(self.config)
        try:
            await connection.connect()
        except SendError as exc:
            logger.warning("SMTP connection failed", extra={"error": str(exc)})
            work.last_error = exc
            return None
        return connection

    async def _run(self, connection: SmtpConnection, work: _Batch, index: int) -> bool:
        """Sends envelope ``index`` and, pipelined behind it, the next due ones; returns whether
        the connection is still usable. Every envelope taken gets an outcome or is given back."""
        current = _Pending.prepare(connection, work, index)
        if current is None:
            return True
        commands = current.commands
        connection.write(b"".join(commands) if connection.pipelining else commands[0])
        while current is not None:
            try:
                outcome, refused = await self._envelope_replies(connection, current.commands)
                stale = connection.untested and outcome is not None and outcome.code == 421
            except _ConnectionDroppedError as exc:
                # Nothing of this message's content went out: it may go on another connection.
                if not connection.untested:
                    _unsent(work, current.index, str(exc))
                    return False
                stale = True
            if stale:  # the server hung up on the pooled connection while it was idle
                work.queue.appendleft(current.index)
                return False
            connection.untested = False
            if outcome is not None:
                work.done(current.index, outcome)
                return await connection.rset()
            current = await self._content(connection, work, current, refused)
            if current is _CLOSED:
                return False
        return True

    async def _content(
        self,
        connection: SmtpConnection,
        work: _Batch,
        current: _Pending,
        refused: dict[str, tuple[int, str]],
    ) -> _Pending | None:
        """After 354: writes the content and, right behind it, the next due message's commands;
        reads the final reply. Returns the next message under way, None, or ``_CLOSED``."""
        following = None
        if connection.pipelining and connection.sent_count + 1 < (
            self.config.max_messages_per_connection
        ):
            next_index = work.due_now()
            if next_index is not None:
                following = _Pending.prepare(connection, work, next_index)
        chunk = current.payload
        if following is not None:
            chunk += b"".join(following.commands)
        connection.write(chunk)
        try:
            code, lines = await connection.reply("the end of the message")
        except _ConnectionDroppedError as exc:
            # The content went out: it may have arrived. Temporary, never silently dropped.
            work.done(current.index, Outcome(Status.TEMPORARY, None, str(exc), "data"))
            if following is not None:
                # Lost with the message before it, which got its outcome: no retry used up.
                work.queue.appendleft(following.index)
            return _CLOSED
        connection.sent_count += 1
        work.done(current.index, Outcome.from_reply(code, "\n".join(lines), "data", refused))
        if code == 421:  # the server is closing the connection
            if following is not None:
                work.queue.appendleft(following.index)
            return _CLOSED
        if connection.sent_count >= self.config.max_messages_per_connection:
            return _CLOSED
        return following

    async def _envelope_replies(
        self, connection: SmtpConnection, commands: list[bytes]
    ) -> tuple[Outcome | None, dict[str, tuple[int, str]]]:
        """Reads the replies to MAIL, each RCPT and DATA (all written already when pipelining;
        otherwise written here one by one, MAIL being out). Returns (None, refused recipients)
        when the server said 354 and waits for the content, or the outcome that ends it."""
        try:
            async with asyncio.timeout(self.config.timeout):
                return await self._transaction_replies(connection, commands)
        except TimeoutError:
            raise connection.timed_out("MAIL, RCPT or DATA") from None

    async def _transaction_replies(
        self, connection: SmtpConnection, commands: list[bytes]
    ) -> tuple[Outcome | None, dict[str, tuple[int, str]]]:
        pipelined = connection.pipelining
        code, lines = await connection.read_reply("MAIL FROM")
        failure: Outcome | None = None
        if code != 250:
            failure = Outcome.from_reply(code, "\n".join(lines), "mail")
            if not pipelined:
                return failure, {}
        refused: dict[str, tuple[int, str]] = {}
        accepted = 0
        for line in commands[1:-1]:
            if not pipelined:
                connection.write(line)
            code, lines = await connection.read_reply("RCPT TO")
            if code in (250, 251):
                accepted += 1
            else:
                rcpt = line[len(b"RCPT TO:<") : line.rindex(b">")].decode("utf-8")
                refused[rcpt] = (code, "\n".join(lines))
        if pipelined or accepted:  # without pipelining, no DATA when no recipient was accepted
            if not pipelined:
                connection.write(commands[-1])
            code, lines = await connection.read_reply("DATA")
            if code == 354 and failure is None and accepted:
                return None, refused
            if code == 354:
                # The server wants content we will not send (nothing was accepted): end it empty.
                connection.write(b".\r\n")
                await connection.read_reply("the end of an aborted message")
        if failure is not None:
            return failure, refused
        if not accepted:
            permanent = all(500 <= c < 600 for c, _ in refused.values())
            first_code, first_reply = next(iter(refused.values()))
            status = Status.PERMANENT if permanent else Status.TEMPORARY
            return Outcome(status, first_code, first_reply, "rcpt", refused), refused
        return Outcome.from_reply(code, "\n".join(lines), "data", refused), refused


def check_connection(config: SmtpConfig) -> None:
    """Connects, says EHLO, starts TLS and logs in as ``config`` says, then hangs up: the
    mailbox's "Test connection" (use a short ``connect_timeout``, e.g. 10 s). Raises
    ``SendError`` with the server's own words when a step fails."""

    async def check() -> None:
        connection = SmtpConnection(config)
        await connection.connect()
        await connection.close()

    asyncio.run(check())


class SmtpTransport:
    """The synchronous ``Transport`` the worker uses: an ``SmtpPool`` on its own event loop
    thread, so that connections stay open from one batch to the next."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._loop = asyncio.new_event_loop()
        self._pool = SmtpPool(config)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"smtp-{config.host}", daemon=True
        )
        self._thread.start()

    def send(self, batch: Sequence[Envelope]) -> list[Outcome]:
        if not batch:
            return []
        future = asyncio.run_coroutine_threadsafe(self._pool.send(batch), self._loop)
        return future.result()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._pool.close(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
