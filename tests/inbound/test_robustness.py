"""classify() never raises on any input, except UnreadableMessage for non-messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.inbound.classify import KINDS, UnreadableMessage, classify
from tests.inbound.scoring import CORPORA, corpora_missing

# Real bounces from the shared corpora when present (a clone alone has only tests/data's).
SAMPLES = sorted((CORPORA / "bounces").glob("*.eml"))[::12] + sorted(
    (Path(__file__).resolve().parents[1] / "data" / "inbound").glob("*.eml")
)


def check(raw: bytes) -> None:
    try:
        result = classify(raw)
    except UnreadableMessage as exc:
        message = str(exc)
        assert message, "an unreadable message must say what is wrong"
        return
    assert result.kind in KINDS
    assert isinstance(result.reply_text, str)
    result.to_json_line("x.eml")  # always serialisable


def test_the_samples_exist() -> None:
    assert len(SAMPLES) > (20 if corpora_missing() is None else 5), corpora_missing()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 2), st.binary(max_size=40)), max_size=6),
)
def test_mangled_real_messages_never_raise(path: Path, edits: list) -> None:
    raw = bytearray(path.read_bytes())
    for where, how, junk in edits:
        at = int(where * len(raw))
        if how == 0:
            raw[at:at] = junk  # insert
        elif how == 1:
            del raw[at : at + len(junk) * 10]  # cut
        else:
            raw = raw[:at]  # truncate
    check(bytes(raw))


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"just some words\nno headers here\n"])
def test_empty_and_headerless_input_is_unreadable_with_a_reason(raw: bytes) -> None:
    with pytest.raises(UnreadableMessage, match="message"):
        classify(raw)


def test_raw_utf8_headers_read_as_the_customer_wrote_them():
    """RFC 6532: a mail program that speaks SMTPUTF8 sends Arabic, accented or any text in the
    headers as plain UTF-8; older ones send Windows-1252. Neither becomes replacement marks."""
    from herald.inbound import mime
    from herald.inbound.classify import classify

    arabic = "From: سارة <sara@example.org>\r\nSubject: طلبي رقم 4521\r\n\r\nمرحبا\r\n".encode()  # noqa: RUF001
    assert mime.header(mime.parse(arabic), "Subject") == "طلبي رقم 4521"
    assert classify(arabic).subject == "طلبي رقم 4521"
    latin = b"From: a@example.org\r\nSubject: caf\xe9 cr\xe8me\r\n\r\nx\r\n"
    assert mime.header(mime.parse(latin), "Subject") == "café crème"
