"""Separating the new text of a reply from its quoted history."""

from __future__ import annotations

import pytest

from herald.inbound.mime import html_to_text
from herald.inbound.quotes import extract_reply


@pytest.mark.parametrize(
    "header",
    [
        "On Tue, Mar 4, 2025 at 9:00 AM Herald <campaigns@example.org> wrote:",
        "Le mar. 4 mars 2025 à 09:00, Herald <campaigns@example.org> a écrit :",
        "Il giorno mar 4 mar 2025 alle ore 09:00 Herald <campaigns@example.org> ha scritto:",
        "Am Di., 4. März 2025 um 09:00 Uhr schrieb Herald <campaigns@example.org>:",
        "El mar, 4 mar 2025 a las 9:00, Herald (<campaigns@example.org>) escribió:",
    ],
)
def test_the_quote_header_and_everything_below_it_are_removed(header: str) -> None:
    body = f"Thanks, that works for me.\n\n{header}\n> Shall we meet on Friday?\n"
    assert extract_reply(body) == "Thanks, that works for me."


@pytest.mark.parametrize(
    "block",
    [
        "-----Original Message-----\nFrom: Herald\nSent: Tuesday\nTo: Jane\nSubject: Offer",
        "From: Herald <campaigns@example.org>\nSent: Tuesday, March 4, 2025 9:00 AM\nTo: Jane",
        "De : Herald <campaigns@example.org>\nEnvoyé : mardi 4 mars 2025 09:00\nÀ : Jane",
        "Von: Herald <campaigns@example.org>\nGesendet: Dienstag, 4. März 2025 09:00\nAn: Jane",
        "________________________________\nDa: Herald\nInviato: martedì 4 marzo 2025\nA: Jane",
    ],
)
def test_outlook_header_blocks_start_the_quoted_history(block: str) -> None:
    body = f"Please call me back.\n\n{block}\n\nShall we meet on Friday?\n"
    assert extract_reply(body) == "Please call me back."


def test_a_mobile_signature_is_removed() -> None:
    assert extract_reply("Yes.\n\nSent from my iPhone\n") == "Yes."
    assert extract_reply("Oui.\n\nEnvoyé de mon iPhone\n") == "Oui."


def test_crlf_bodies_give_the_same_text_as_lf_bodies() -> None:
    body = "Line one\nLine two\n\nOn Mon, Jan 6, 2025, Jane <j@example.com> wrote:\n> old\n"
    assert (
        extract_reply(body.replace("\n", "\r\n")) == extract_reply(body) == ("Line one\nLine two")
    )


def test_a_body_that_is_all_quote_is_kept_rather_than_emptied() -> None:
    assert extract_reply("> only a quote\n") == "> only a quote"


def test_html_blockquotes_and_outlook_reply_blocks_are_dropped() -> None:
    html = (
        "<p>See you <b>Friday</b>.</p><div id='divRplyFwdMsg'><b>From:</b> Herald</div>"
        "<p>older text</p>"
    )
    assert html_to_text(html) == "See you Friday."
