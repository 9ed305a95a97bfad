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


# -- the kinds of reply the held-out measurement found wrong (issue 16) ---------------------


ON = "On Tue, Mar 4, 2025 at 9:00 AM Herald <campaigns@example.org> wrote:"


@pytest.mark.parametrize(
    ("above", "attribution"),
    [
        ("Sounds good\n", ON),  # directly above the header, no blank line
        ("Sounds good.", ON),  # glued to it on one line
        ("Sounds good! ", "Le mar. 4 mars 2025 à 09:00, Herald <c@example.org> a écrit :"),
        # split by a blank line (the address on its own line)
        ("Sounds good\n\n", "On Tue, Mar 4, 2025 at 9:00 AM Herald <\n\nc@example.org> wrote:"),
        ("Sounds good\n\n", "---- Herald wrote ----"),
        ("Sounds good\n\n", "On 04/03/2025 09:00, Herald sent:"),
        ("Sounds good\n\n", "Vào Th 3, 4 thg 3, 2025 lúc 09:00 Herald <c@example.org> đã viết:"),
        ("Sounds good\n\n", "Op di 4 mrt. 2025 om 09:00 schreef Herald <c@example.org>:"),
        ("Sounds good\n\n", "Pada tanggal Sel, 4 Mar 2025 09.00 Herald <c@example.org> menulis:"),
        ("Sounds good\n\n", "2025년 3월 4일 (화) 오전 9:00, Herald <c@example.org>님이 작성:"),
        ("Sounds good\n\n", "2025年3月4日(火) 9:00 Herald <c@example.org>:"),
        ("Sounds good\n\n", "2025-03-04 09:00 GMT+01:00 Herald <campaigns@example.org>:"),
        ("Sounds good\n\n", "2025/3/4 Herald via Helpdesk <campaigns@example.org>"),
    ],
)
def test_the_reply_above_any_attribution_is_found(above: str, attribution: str) -> None:
    assert extract_reply(f"{above}{attribution}\n> Hi\n") == above.strip()


@pytest.mark.parametrize(
    "history",
    [
        "Date: Tue, 4 Mar 2025 09:00\nFrom: Herald <c@example.org>\nTo: Jane\nSubject: Offer",
        "Subject: Offer\nFrom: Herald\nTo: Jane\nDate: Tuesday",
        "From: Herald Sent: Tuesday, March 4, 2025 9:00 AM To: Jane Subject: Offer",
        "-------- Oryginalna wiadomość --------",
        "-------- 元のメッセージ --------",
        "--------- Thư gốc ---------",
        "-------- Originalmeddelande --------",
    ],
)
def test_unquoted_history_in_other_layouts_and_languages_is_cut(history: str) -> None:
    body = f"Please call me back.\n\n{history}\n\nShall we meet on Friday?\nHerald\n"
    assert extract_reply(body) == "Please call me back."


def test_a_line_of_arrows_in_the_reply_is_not_a_quote() -> None:
    body = "Step one\n>>>\nStep two\n\nOn Tue, Mar 4, 2025, Herald <c@example.org> wrote:\n> Hi"
    assert extract_reply(body) == "Step one\n>>>\nStep two"


def test_answers_between_quoted_lines_are_kept_with_what_they_answer() -> None:
    body = (
        "Hi,\n\nOn Tue, Mar 4, 2025, Herald <c@example.org> wrote:\n> Which day suits you?\n\n"
        "Friday.\n\n> And which time?\n\nMorning, please.\n\n-- \nJane\n"
    )
    assert extract_reply(body) == (
        "Hi,\n\n> Which day suits you?\n\nFriday.\n\n> And which time?\n\nMorning, please."
    )


def test_a_bottom_posted_answer_drops_the_quote_above_it() -> None:
    body = "On Tue, Mar 4, 2025, Herald <c@example.org> wrote:\n\n> Which day?\n\nFriday.\n"
    assert extract_reply(body) == "Friday."


def test_a_wrapped_quoted_line_is_not_taken_for_an_answer() -> None:
    body = (
        "Yes.\n\nOn Tue, Mar 4, 2025, Herald <c@example.org> wrote:\n> a long line that the\n"
        "client wrapped without its marker\n"
    )
    assert extract_reply(body) == "Yes."


def test_a_forward_alone_gives_the_forwarded_text() -> None:
    body = (
        "---------- Forwarded message ---------\nFrom: Jane <j@example.com>\n"
        "Date: Tue, Mar 4, 2025\nSubject: Order\nTo: <shop@example.org>\n\n"
        "Where is my parcel?\n"
    )
    assert extract_reply(body) == "Where is my parcel?"


def test_an_html_forward_is_not_emptied() -> None:
    html = (
        '<div dir="ltr"><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <b>Jane</b> &lt;j@example.com&gt;<br>"
        "Date: Tue, Mar 4, 2025<br>Subject: Order<br>To: &lt;shop@example.org&gt;<br></div><br>"
        "<div>Where is my parcel?</div></div></div>"
    )
    assert extract_reply(html_to_text(html)) == "Where is my parcel?"


def test_a_business_signature_without_a_delimiter_is_folded_away() -> None:
    body = (
        "Friday suits me.\n\nThanks,\nJane\n\nJane Walker\nFacilities Manager | ACME Corp\n"
        "Tel: +44 20 7946 0000\nwww.acme.example\n"
    )
    assert extract_reply(body) == "Friday suits me.\n\nThanks,\nJane"


@pytest.mark.parametrize(
    "details",
    [
        "My numbers:\n+33 6 12 34 56 78\n+33 1 23 45 67 89",  # not opened by a name
        "Jane Walker\n12 rue de la Paix\n+33 6 12 34 56 78\nwww.example.org",  # introduced
    ],
)
def test_contact_details_written_as_the_answer_stay(details: str) -> None:
    body = f"Here are my details:\n\n{details}\n"
    assert extract_reply(body) == body.strip()


def test_html_answers_after_a_blockquote_stay_with_the_quote_they_answer() -> None:
    html = (
        "<div>Hi,</div><blockquote>Which day suits you?</blockquote><div>Friday.</div>"
        "<blockquote>And which time?</blockquote><div>Morning, please.</div>"
    )
    assert extract_reply(html_to_text(html)) == (
        "Hi,\n\n> Which day suits you?\n\nFriday.\n\n> And which time?\n\nMorning, please."
    )


def test_html_history_below_an_attribution_is_cut() -> None:
    html = (
        '<div dir="ltr">See you Friday.</div><br><div class="gmail_quote"><div class="gmail_attr">'
        "On Tue, Mar 4, 2025 at 9:00 AM Herald &lt;c@example.org&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote">Shall we meet?<blockquote>Earlier</blockquote>'
        "</blockquote></div>"
    )
    assert extract_reply(html_to_text(html)) == "See you Friday."


def test_hotmails_history_rule_starts_the_history() -> None:
    html = '<div>Yes please.</div><hr id="stopSpelling"><b>From:</b> Herald<br>Old text'
    assert html_to_text(html) == "Yes please."


@pytest.mark.parametrize(
    "attribution",
    ["Herald wrote:", "Herald <campaigns@example.org>:", "Herald a écrit :", "Herald schrieb:"],
)
def test_a_bare_attribution_above_the_quote_goes_with_it(attribution: str) -> None:
    body = f"Thanks, Friday then.\n\n{attribution}\n> Shall we meet on Friday?\n"
    assert extract_reply(body) == "Thanks, Friday then."


def test_a_line_introducing_a_quote_in_the_answer_stays() -> None:
    body = "Here is what you asked:\n\n> Shall we meet?\n\nYes, on Friday.\n"
    assert extract_reply(body) == body.strip()
