"""A real SMTP server for the tests: aiosmtpd on an event loop thread of its own, on a free port,
keeping every message with its arrival time, and misbehaving on request by recipient address:

- ``rcpt-451@`` / ``rcpt-550@``: the RCPT is refused with that code;
- ``data-451@`` / ``data-554@``: the message is refused at the end of DATA with that code;
- ``drop@``: the connection is cut after the message's content arrived, before the reply;
- ``drop-rcpt@``: the connection is cut at RCPT;
- ``slow@``: the reply to DATA comes after ``slow_seconds``;
- ``once-`` in front of any of these: misbehave only the first time that address is seen;
- a ``+tag`` after the local part is ignored (unique addresses with the same behaviour).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    arrived: float  # time.time() when the content had arrived
    mail_options: list[str] = field(default_factory=list)
    peer: Any = None  # the client's (host, port): which connection it came on


@dataclass
class Behaviour:
    pipelining: bool = True
    slow_seconds: float = 0.5
    seen: Counter[str] = field(default_factory=Counter)
    seen_ehlo: int = 0  # how many sessions said EHLO: connections opened


def _rule(address: str, behaviour: Behaviour, phase: str) -> str:
    local = address.partition("@")[0].lower().partition("+")[0]  # "+tag" makes it unique
    behaviour.seen[phase + address] += 1
    if local.startswith("once-"):
        return local[5:] if behaviour.seen[phase + address] == 1 else ""
    return local


class Handler:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.lock = threading.Lock()

    async def handle_EHLO(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        self.behaviour.seen_ehlo += 1
        if self.behaviour.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        rule = _rule(address, self.behaviour, "rcpt")
        if rule == "rcpt-451":
            return "451 4.2.1 Mailbox busy, try again later"
        if rule == "rcpt-550":
            return "550 5.1.1 No such user here"
        if rule == "drop-rcpt":
            assert server.transport is not None
            server.transport.abort()
            return "250 OK"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        arrived = time.time()
        rules = [_rule(r, self.behaviour, "data") for r in envelope.rcpt_tos]
        if "data-451" in rules:
            return "451 4.3.0 Temporary local problem, try later"
        if "data-554" in rules:
            return "554 5.7.1 Message rejected as spam"
        if "drop" in rules:
            assert server.transport is not None
            server.transport.abort()
            return "250 OK"
        if "slow" in rules:
            await asyncio.sleep(self.behaviour.slow_seconds)
        content = envelope.original_content or envelope.content or b""
        assert isinstance(content, bytes)
        with self.lock:
            self.received.append(
                Received(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    content,
                    arrived,
                    list(envelope.mail_options),
                    session.peer,
                )
            )
        return "250 2.0.0 Queued as 12345"


def self_signed(directory: Path, common_name: str = "localhost") -> tuple[Path, Path, bytes]:
    """A certificate for 127.0.0.1 and localhost: (cert path, key path, cert PEM). Certificates
    trusted together need different ``common_name``s (OpenSSL finds an issuer by its name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


def _bearer_fields(blob: bytes) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER initial response."""
    user = token = ""
    for part in blob.decode(errors="replace").split("\x01"):
        if part.startswith("user="):
            user = part[5:]
        elif part.startswith(("n,a=", "n,,")):
            user = part[4:].rstrip(",").split(",")[0].replace("=2C", ",").replace("=3D", "=")
        elif part.startswith("auth=Bearer "):
            token = part[12:]
    return user, token


class OAuthHandler(Handler):
    """A handler that also accepts SASL XOAUTH2 and OAUTHBEARER, checking each token with
    ``check(user, token)``; a refused token gets the JSON challenge real servers send."""

    def __init__(self, behaviour: Behaviour, check: Callable[[str, str], bool]) -> None:
        super().__init__(behaviour)
        self.check = check
        self.logins: list[tuple[str, str]] = []  # (mechanism, user) of each accepted login

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._verify(server, "XOAUTH2", args)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._verify(server, "OAUTHBEARER", args)

    async def _verify(self, server: SMTP, mechanism: str, args: list[str]) -> AuthResult:
        blob = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        if not isinstance(blob, bytes):
            return AuthResult(success=False, handled=True)
        user, token = _bearer_fields(blob)
        if self.check(user, token):
            self.logins.append((mechanism, user))
            return AuthResult(success=True)
        refusal = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"})
        await server.challenge_auth(refusal)  # the client answers with an empty line
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


class SmtpServer:
    """Runs the server until ``stop()``; ``port`` is the free port it got."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        starttls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        behaviour: Behaviour | None = None,
        idle_timeout: float = 300,
        bearer: Callable[[str, str], bool] | None = None,
        auth_exclude: tuple[str, ...] = (),
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.handler = (
            Handler(self.behaviour) if bearer is None else OAuthHandler(self.behaviour, bearer)
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.users = users
        kwargs: dict[str, Any] = {"hostname": "test.smtpd", "timeout": idle_timeout}
        if starttls is not None:
            kwargs["tls_context"] = starttls
        if users is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = tls is None
        if bearer is not None:
            kwargs["auth_require_tls"] = False  # plain loopback in the OAuth tests
        if auth_exclude:
            kwargs["auth_exclude_mechanism"] = list(auth_exclude)
        self.thread.start()

        async def start() -> asyncio.Server:
            return await self.loop.create_server(
                lambda: SMTP(self.handler, **kwargs), "127.0.0.1", 0, ssl=tls
            )

        self.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        self.port = self.server.sockets[0].getsockname()[1]

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and self.users is not None
            and self.users.get(data.login.decode()) == data.password.decode()
        )
        return AuthResult(success=ok, handled=False)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def stop(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
