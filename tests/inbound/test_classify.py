"""classify() on small hand-written messages, one per kind (tests/data/inbound/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.inbound.classify import classify

DATA = Path(__file__).resolve().parents[1] / "data" / "inbound"


def load(name: str, *, crlf: bool = False) -> bytes:
    raw = (DATA / name).read_bytes()
    return raw.replace(b"\n", b"\r\n") if crlf else raw


@pytest.mark.parametrize("crlf", [False, True])
def test_a_french_arret_reply_is_an_opt_out(crlf: bool) -> None:
    result = classify(load("optout_french_arret.eml", crlf=crlf))
    assert result.kind == "optout"
    assert result.optout_keyword == "arret"
    assert result.reply_text == "ARRÊT"
    assert result.in_reply_to == "<delivery-42@example.org>"


def test_an_opt_out_keyword_list_can_be_configured() -> None:
    result = classify(load("optout_french_arret.eml"), optout_keywords=("unsubscribe",))
    assert result.kind == "reply"


def test_an_arabic_out_of_office_is_an_autoreply_and_keeps_its_token() -> None:
    result = classify(load("autoreply_arabic.eml"))
    assert result.kind == "autoreply"
    assert result.reply_token == "abcdefghijklmnopqrst"
    assert "خارج المكتب" in result.reply_text


def test_arabic_out_of_office_wording_alone_is_an_autoreply() -> None:
    assert classify(load("autoreply_arabic_body_only.eml")).kind == "autoreply"


def test_a_delay_warning_is_a_soft_bounce_not_a_failure() -> None:
    result = classify(load("delay_warning.eml"))
    assert result.kind == "bounce"
    assert result.bounce is not None
    assert result.bounce.type == "soft"
    assert result.bounce.delay_warning is True
    assert result.bounce.recipients == ("slow.reader@example.com",)
    assert result.bounce.status == "4.4.1"
    assert result.original_message_id == "<delivery-77@example.org>"


def test_a_hard_bounce_names_the_recipient_status_and_the_returned_message() -> None:
    result = classify(load("hard_bounce_dsn.eml"))
    assert result.kind == "bounce"
    assert result.bounce is not None
    assert result.bounce.type == "hard"
    assert result.bounce.delay_warning is False
    assert [r.lower() for r in result.bounce.recipients] == ["gone.away@example.com"]
    assert result.bounce.status == "5.1.1"
    assert "User unknown" in (result.bounce.diagnostic or "")
    assert result.original_message_id == "<delivery-78@example.org>"
    # The returned Reply-To carries the delivery's token: the bounce finds its delivery.
    assert result.reply_token == "mnopqrstuvwxyz234567"


def test_an_arf_report_is_a_complaint_about_the_original_recipient() -> None:
    result = classify(load("arf_complaint.eml"))
    assert result.kind == "complaint"
    assert result.complaint is not None
    assert result.complaint.feedback_type == "abuse"
    assert result.complaint.recipients == ("annoyed@isp.example.net",)
    assert result.original_message_id == "<delivery-79@example.org>"
    assert result.reply_token == "qqqqrrrrsssstttt2345"


def test_a_reply_without_in_reply_to_still_threads_by_its_token() -> None:
    result = classify(load("reply_token_without_in_reply_to.eml"))
    assert result.kind == "reply"
    assert result.in_reply_to is None
    # The client upper-cased the address: the token still comes back in its own form.
    assert result.reply_token == "zyxwvutsrqponmlkjihg"
    assert result.reply_text == "Yes please, send me the catalogue.\n\nJane"


def test_an_html_reply_loses_its_gmail_quote() -> None:
    result = classify(load("reply_html_gmail.eml"))
    assert result.kind == "reply"
    assert result.reply_text == "What are your opening hours?\nThanks"
    assert result.in_reply_to == "<delivery-80@example.org>"


def test_a_message_without_a_thread_is_new() -> None:
    result = classify(load("new_message.eml"))
    assert result.kind == "new"
    assert result.from_address == "omar@example.net"
    assert result.reply_text == "Hello, when will my parcel arrive?"


def test_an_auto_submitted_header_makes_an_autoreply_whatever_the_text() -> None:
    raw = (
        b"From: a@example.com\nTo: b@example.org\nSubject: Re: hello\n"
        b"In-Reply-To: <x@example.org>\nAuto-Submitted: auto-replied\n\nThanks, noted.\n"
    )
    assert classify(raw).kind == "autoreply"


def test_a_successful_delivery_notice_is_not_a_bounce() -> None:
    raw = load("hard_bounce_dsn.eml").replace(b"Action: failed", b"Action: delivered")
    raw = raw.replace(b"Status: 5.1.1", b"Status: 2.0.0")
    assert classify(raw).kind != "bounce"
