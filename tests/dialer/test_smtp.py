"""The SMTP transport against a real server (aiosmtpd, in-process) that refuses, defers, drops
connections and answers slowly: every message ends with exactly one outcome, none is lost,
temporary and permanent failures are told apart, and the server's own reply is kept."""

from __future__ import annotations

import itertools
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import dkim as dkimpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.dialer import dkim
from herald.dialer.smtp import SmtpConfig, SmtpTransport, check_connection
from herald.dialer.transport import Envelope, OutboxTransport, Outcome, SendError, Status
from herald.dialer.wire import wire_form
from tests.dialer.smtpd import Behaviour, SmtpServer, self_signed

SENDER = "news@mail.example.org"


def message(to: str, n: int = 0, body: bytes = b"Hello.\r\n") -> bytes:
    return (
        f"From: Herald <{SENDER}>\r\nTo: <{to}>\r\nSubject: Message {n}\r\n"
        f"Message-ID: <{n}.{to}>\r\n\r\n"
    ).encode() + body


def envelope(to: str, n: int = 0, **kwargs: object) -> Envelope:
    return Envelope(SENDER, (to,), message(to, n), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def server(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    smtpd = SmtpServer(behaviour=Behaviour(pipelining=request.param, slow_seconds=0.3))
    yield smtpd
    smtpd.stop()


def plain(port: int, **kwargs: object) -> SmtpConfig:
    kwargs.setdefault("timeout", 5)
    return SmtpConfig("127.0.0.1", port, "none", **kwargs)  # type: ignore[arg-type]


def test_a_batch_is_delivered_over_reused_connections_with_one_outcome_each(
    server: SmtpServer,
) -> None:
    batch = [envelope(f"user{i}@example.com", i) for i in range(40)]
    with SmtpTransport(plain(server.port, max_connections=3)) as transport:
        first = transport.send(batch[:20])
        second = transport.send(batch[20:])
        assert [o.status for o in first + second] == [Status.SENT] * 40
        assert all(o.code == 250 and "Queued as 12345" in o.reply for o in first + second)
    received = server.received
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(e.recipients[0] for e in batch)
    by_rcpt = {r.rcpt_tos[0]: r.content for r in received}
    assert all(by_rcpt[e.recipients[0]] == e.message for e in batch)
    # Three connections carried both batches: no new connection per message or per batch.
    assert server.behaviour.seen_ehlo <= 3


EXPECTED = {
    "ok": (Status.SENT, 250, "rcpt", False),
    "rcpt-451": (Status.TEMPORARY, 451, "rcpt", False),
    "rcpt-550": (Status.PERMANENT, 550, "rcpt", True),
    "data-451": (Status.TEMPORARY, 451, "data", False),
    "data-554": (Status.PERMANENT, 554, "data", True),
    "drop": (Status.TEMPORARY, None, "data", False),
    "slow": (Status.SENT, 250, "data", False),
}


@pytest.mark.parametrize("connections", [1, 3])
def test_every_failure_gets_its_own_outcome_and_no_message_is_lost(
    server: SmtpServer, connections: int
) -> None:
    kinds = list(EXPECTED) * 3 + ["ok"] * 5
    batch = [envelope(f"{kind}@example.com", i) for i, kind in enumerate(kinds)]
    with SmtpTransport(plain(server.port, max_connections=connections)) as transport:
        outcomes = transport.send(batch)
    assert len(outcomes) == len(batch)
    for kind, outcome in zip(kinds, outcomes, strict=True):
        status, code, stage, bounce = EXPECTED[kind]
        assert outcome.status is status, (kind, outcome)
        assert outcome.code == code, (kind, outcome)
        assert outcome.bounce is bounce, (kind, outcome)
        if kind not in {"ok", "slow"}:
            assert outcome.stage == stage, (kind, outcome)
    replies = {k: o.reply for k, o in zip(kinds, outcomes, strict=True)}
    assert replies["rcpt-550"] == "5.1.1 No such user here"
    assert replies["data-451"] == "4.3.0 Temporary local problem, try later"
    assert "connection closed by the server" in replies["drop"]
    # Exactly the messages reported sent arrived, each once.
    delivered = sorted(r.rcpt_tos[0] for r in server.received)
    reported = sorted(e.recipients[0] for e, o in zip(batch, outcomes, strict=True) if o.sent)
    assert delivered == reported


def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_without_a_failure() -> None:
    smtpd = SmtpServer(idle_timeout=0.3)
    try:
        with SmtpTransport(plain(smtpd.port, max_connections=2)) as transport:
            assert all(o.sent for o in transport.send([envelope("a@example.com", 1)] * 2))
            time.sleep(1.0)  # the server hangs up on the idle pooled connections meanwhile
            later = transport.send([envelope("b@example.com", 2), envelope("c@example.com", 3)])
        assert all(o.sent for o in later), later
        assert sorted(r.rcpt_tos[0] for r in smtpd.received[2:]) == [
            "b@example.com",
            "c@example.com",
        ]
    finally:
        smtpd.stop()


CHAOS = {
    **{k: v[0] for k, v in EXPECTED.items() if k != "slow"},
    "once-drop-rcpt": Status.SENT,  # cut before the content: sent again on a new connection
    "once-drop": Status.TEMPORARY,  # cut after the content: may have arrived, never resent
    "once-rcpt-451": Status.TEMPORARY,
}
_unique = itertools.count()


@pytest.fixture(scope="module")
def chaos_server() -> Iterator[SmtpServer]:
    smtpd = SmtpServer()
    yield smtpd
    smtpd.stop()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(sorted(CHAOS)), min_size=1, max_size=30),
    connections=st.integers(1, 4),
    pipelining=st.booleans(),
)
def test_whatever_the_server_does_every_message_gets_exactly_one_right_outcome(
    chaos_server: SmtpServer, kinds: list[str], connections: int, pipelining: bool
) -> None:
    chaos_server.behaviour.pipelining = pipelining
    before = len(chaos_server.received)
    batch = [envelope(f"{kind}+{next(_unique)}@example.com", i) for i, kind in enumerate(kinds)]
    with SmtpTransport(plain(chaos_server.port, max_connections=connections)) as transport:
        outcomes = transport.send(batch)
    assert len(outcomes) == len(batch)
    assert [o.status for o in outcomes] == [CHAOS[k] for k in kinds]
    delivered = sorted(r.rcpt_tos[0] for r in chaos_server.received[before:])
    reported = sorted(e.recipients[0] for e, o in zip(batch, outcomes, strict=True) if o.sent)
    assert delivered == reported, "a message arrived that was not reported sent, or twice"


def test_a_reply_slower_than_the_timeout_is_a_temporary_failure_and_the_rest_goes_on(
    server: SmtpServer,
) -> None:
    server.behaviour.slow_seconds = 2.0
    batch = [envelope("slow@example.com", 0), envelope("ok@example.com", 1)]
    with SmtpTransport(plain(server.port, max_connections=1, timeout=0.5)) as transport:
        slow, ok = transport.send(batch)
    assert slow.status is Status.TEMPORARY
    assert slow.code is None
    assert "no reply to the end of the message within 0.5 s" in slow.reply
    assert ok.sent


def test_a_connection_cut_before_the_content_is_sent_again_on_a_new_connection(
    server: SmtpServer,
) -> None:
    batch = [envelope("once-drop-rcpt@example.com", 0), envelope("drop-rcpt@example.com", 1)]
    with SmtpTransport(plain(server.port, max_connections=1)) as transport:
        retried, always_cut = transport.send(batch)
    assert retried.sent
    assert always_cut.status is Status.TEMPORARY
    assert [r.rcpt_tos for r in server.received] == [["once-drop-rcpt@example.com"]]


def test_a_refused_bcc_address_does_not_stop_the_message_and_is_reported(
    server: SmtpServer,
) -> None:
    batch = [Envelope(SENDER, ("ok@example.com", "rcpt-550@example.com"), message("ok"))]
    with SmtpTransport(plain(server.port)) as transport:
        (outcome,) = transport.send(batch)
    assert outcome.sent
    assert outcome.refused == {"rcpt-550@example.com": (550, "5.1.1 No such user here")}
    assert server.received[0].rcpt_tos == ["ok@example.com"]


def test_eight_bit_content_is_announced_to_a_server_that_offers_8bitmime(
    server: SmtpServer,
) -> None:
    body = "Caf\u00e9 cr\u00e8me\r\n".encode()
    with SmtpTransport(plain(server.port)) as transport:
        (outcome,) = transport.send(
            [Envelope(SENDER, ("ok@example.com",), message("ok", body=body))]
        )
    assert outcome.sent
    assert server.received[0].content.endswith(body)
    assert server.received[0].mail_options == [
        f"SIZE={len(message('ok', body=body))}",
        "BODY=8BITMIME",
    ]


def test_the_content_arrives_exactly_as_given_dots_and_line_ends_included(
    server: SmtpServer,
) -> None:
    body = b".starts with a dot\r\n..two dots\r\nbare LF\nend\r\n.\r\nlast"
    batch = [Envelope(SENDER, ("ok@example.com",), message("ok", body=body))]
    with SmtpTransport(plain(server.port)) as transport:
        (outcome,) = transport.send(batch)
    assert outcome.sent
    assert server.received[0].content == wire_form(message("ok", body=body))


def test_an_address_that_would_inject_a_command_is_refused_without_sending(
    server: SmtpServer,
) -> None:
    evil = "victim@example.com>\r\nRCPT TO:<other@example.com"
    with SmtpTransport(plain(server.port)) as transport:
        bad, good = transport.send([envelope(evil), envelope("ok@example.com")])
    assert bad.status is Status.PERMANENT
    assert "characters SMTP cannot carry" in bad.reply
    assert good.sent
    assert [r.rcpt_tos for r in server.received] == [["ok@example.com"]]


def test_no_message_starts_before_its_pacing_slot(server: SmtpServer) -> None:
    start = time.time() + 0.2
    batch = [envelope(f"user{i}@example.com", i, not_before=start + i * 0.05) for i in range(8)]
    with SmtpTransport(plain(server.port, max_connections=2)) as transport:
        assert all(o.sent for o in transport.send(list(reversed(batch))))
    arrived = {r.rcpt_tos[0]: r.arrived for r in server.received}
    for e in batch:
        assert e.not_before is not None
        assert arrived[e.recipients[0]] >= e.not_before


def test_a_message_that_cannot_start_in_time_for_its_slot_is_not_sent_late(
    server: SmtpServer,
) -> None:
    """Held up behind a slow reply, the second message would reach the server right before the
    third, two slots' worth of messages closer than the pace: it is not tried (LATE, for the
    dialer to give it a new slot) and the third still goes on time."""
    start = time.time() + 0.1
    batch = [
        envelope("slow@example.com", 0, not_before=start, not_after=start + 0.02),
        envelope("held@example.com", 1, not_before=start + 0.05, not_after=start + 0.07),
        envelope("next@example.com", 2, not_before=start + 0.6, not_after=start + 0.62),
    ]
    with SmtpTransport(plain(server.port, max_connections=1)) as transport:
        outcomes = transport.send(batch)
    assert [o.status for o in outcomes] == [Status.SENT, Status.LATE, Status.SENT]
    assert "pacing slot" in outcomes[1].reply
    received = sorted(r.rcpt_tos[0] for r in server.received)
    assert received == ["next@example.com", "slow@example.com"]


def test_a_server_that_cannot_be_reached_defers_every_message_with_the_reason() -> None:
    smtpd = SmtpServer()
    port = smtpd.port
    smtpd.stop()  # nothing listens there any more
    with SmtpTransport(plain(port, max_connections=2)) as transport:
        outcomes = transport.send([envelope(f"u{i}@example.com", i) for i in range(5)])
    assert {o.status for o in outcomes} == {Status.TEMPORARY}
    assert all(o.stage == "connect" and "cannot connect" in o.reply for o in outcomes)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def contexts(certificate: tuple[Path, Path, bytes]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key, pem = certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


def test_starttls_and_login_then_send(certificate: tuple[Path, Path, bytes]) -> None:
    server_ctx, client_ctx = contexts(certificate)
    smtpd = SmtpServer(starttls=server_ctx, users={"herald": "s3cret"})
    try:
        config = SmtpConfig(
            "127.0.0.1",
            smtpd.port,
            "starttls",
            username="herald",
            password="s3cret",
            tls_context=client_ctx,
            timeout=5,
        )
        check_connection(config)  # the mailbox's "Test connection": green
        with SmtpTransport(config) as transport:
            assert transport.send([envelope("ok@example.com")])[0].sent
        wrong = SmtpConfig(**{**config.__dict__, "password": "guess"})
        with pytest.raises(SendError, match="Authentication credentials invalid") as failed:
            check_connection(wrong)  # red, in the server's own words
        assert failed.value.permanent
        with SmtpTransport(wrong) as transport:
            (refused,) = transport.send([envelope("ok@example.com", 1)])
        assert refused.status is Status.TEMPORARY  # a mailbox problem, not the recipient's
        assert (refused.stage, refused.code) == ("connect", 535)
        assert "Authentication credentials invalid" in refused.reply
        assert len(smtpd.received) == 1
    finally:
        smtpd.stop()


def test_implicit_tls_then_send(certificate: tuple[Path, Path, bytes]) -> None:
    server_ctx, client_ctx = contexts(certificate)
    smtpd = SmtpServer(tls=server_ctx)
    try:
        config = SmtpConfig("127.0.0.1", smtpd.port, "tls", tls_context=client_ctx, timeout=5)
        with SmtpTransport(config) as transport:
            assert transport.send([envelope("ok@example.com")])[0].sent
        untrusted = SmtpConfig("127.0.0.1", smtpd.port, "tls", timeout=5)
        with SmtpTransport(untrusted) as transport:
            (outcome,) = transport.send([envelope("ok@example.com", 1)])
        assert outcome.status is Status.TEMPORARY
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.reply
    finally:
        smtpd.stop()


def test_starttls_required_but_not_offered_is_reported_and_nothing_is_sent() -> None:
    smtpd = SmtpServer()
    try:
        with SmtpTransport(SmtpConfig("127.0.0.1", smtpd.port, "starttls", timeout=5)) as t:
            (outcome,) = t.send([envelope("ok@example.com")])
        assert outcome.status is Status.TEMPORARY
        assert "does not offer STARTTLS" in outcome.reply
        assert smtpd.received == []
    finally:
        smtpd.stop()


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_a_signed_message_still_verifies_after_going_through_smtp(
    server: SmtpServer, kind: str
) -> None:
    key = dkim.generate_key(kind)  # type: ignore[arg-type]
    signer = dkim.DkimSigner("mail.example.org", "s1", key)
    body = b"Dear  customer,\t\r\n.Your order\r\n\r\n\r\n"
    signed = signer.sign(message("ok@example.com", body=body))
    with SmtpTransport(plain(server.port)) as transport:
        assert transport.send([Envelope(SENDER, ("ok@example.com",), signed)])[0].sent
    record = dkim.dns_record(key).encode()
    assert dkimpy.verify(server.received[0].content, dnsfunc=lambda name, timeout=5: record)


def test_the_outbox_keeps_what_it_would_send_and_can_script_failures() -> None:
    def decide(e: Envelope) -> Outcome:
        if "bad" in e.recipients[0]:
            return Outcome.from_reply(550, "5.1.1 unknown", "rcpt")
        return Outcome.from_reply(250, "ok", "data")

    outbox = OutboxTransport(decide)
    outcomes = outbox.send([envelope("a@example.com"), envelope("bad@example.com")])
    assert [o.status for o in outcomes] == [Status.SENT, Status.PERMANENT]
    assert [e.recipients for e in outbox.sent] == [("a@example.com",)]
    assert len(outbox.attempts) == 2
