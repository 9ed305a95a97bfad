"""The generated text part, the calendar invitation and the MIME message."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar

from herald.messaging.compiling import EventSource, TemplateSource, compile_source
from herald.messaging.mime import build_message, message_bytes
from herald.messaging.rendering import Attachment, Links, render
from herald.messaging.textpart import html_to_text

NEWSLETTER = """<html><head><style>h1 { color: navy }</style></head><body>
<h1>Spring news for ${first_name|you}</h1>
<p>We opened a <b>new branch</b> in Turin. <a href="https://acme.example/turin">See the map</a>.</p>
<h2>This month</h2>
<ul><li>Free check-ups until <i>31 May</i></li>
<li><a href="https://acme.example/offers">Offers</a> for members</li></ul>
<ol><li>Book online</li><li>Come by</li></ol>
<p>Questions? <a href="mailto:help@acme.example">Write to us</a>.</p>
</body></html>"""


def test_the_generated_text_part_of_a_newsletter_reads_well():
    template = compile_source(TemplateSource(subject="News", html=NEWSLETTER))
    text = render(template, {"first_name": "Ana"}, {}, Links()).text
    assert text.startswith("Spring news for Ana\n===================\n")
    assert "We opened a new branch in Turin. See the map (https://acme.example/turin)." in text
    assert "This month\n----------" in text
    assert "  * Free check-ups until 31 May" in text
    assert "  * Offers (https://acme.example/offers) for members" in text
    assert " 1. Book online\n 2. Come by" in text
    assert "Write to us (help@acme.example)" in text
    assert "<" not in text
    assert "{" not in text
    assert "\n\n\n" not in text


def test_html_to_text_keeps_arabic_in_logical_order():
    text = html_to_text('<p dir="rtl">مرحبا، اقرأ <a href="https://x.example/ar">أخبارنا</a>.</p>')
    assert text == "مرحبا، اقرأ أخبارنا (https://x.example/ar).\n"


def invitation_template():
    return compile_source(
        TemplateSource(
            subject="Your appointment",
            html="<p>See you on ${start_date}.</p>",
            event=EventSource(
                title="Check-up for ${first_name}",
                organizer="Acme Clinic <clinic@acme.example>",
                location="${branch|Main office}",
                start="${start_date} ${start_time}",
                end="${start_date} 15:30",
                timezone="Europe/Rome",
            ),
        )
    )


def test_the_invitation_parses_with_correct_times_and_time_zone():
    contact = {
        "first_name": "Ana",
        "email": "ana@example.com",
        "start_date": "2030-07-02",
        "start_time": "14:30",
    }
    message = render(invitation_template(), contact, {}, Links())
    assert message.ics is not None
    calendar = icalendar.Calendar.from_ical(message.ics)
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    (event,) = calendar.walk("VEVENT")
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start == datetime(2030, 7, 2, 14, 30, tzinfo=ZoneInfo("Europe/Rome"))
    assert start.astimezone(UTC) == datetime(2030, 7, 2, 12, 30, tzinfo=UTC)  # summer time
    assert end - start == (end - start).__class__(hours=1)
    assert str(event["SUMMARY"]) == "Check-up for Ana"
    assert str(event["LOCATION"]) == "Main office"
    assert str(event["ORGANIZER"]) == "mailto:clinic@acme.example"
    assert event["ORGANIZER"].params["CN"] == "Acme Clinic"
    assert str(event["ATTENDEE"]) == "mailto:ana@example.com"
    assert event["ATTENDEE"].params["RSVP"] == "TRUE"
    assert event["UID"]
    # The same contact gets the same UID again, so a re-sent invitation updates the event.
    again = icalendar.Calendar.from_ical(render(invitation_template(), contact, {}, Links()).ics)
    assert again.walk("VEVENT")[0]["UID"] == event["UID"]


def test_an_unreadable_start_fails_the_contact_with_a_reason():
    import pytest

    from herald.messaging.rendering import RenderError

    contact = {"first_name": "Ana", "start_date": "next tuesday", "start_time": "x"}
    with pytest.raises(RenderError, match="is not a date and time"):
        render(invitation_template(), contact, {}, Links())


def test_the_mime_message_has_text_html_invitation_and_attachments():
    template = compile_source(
        TemplateSource(subject="Hi ${first_name}", html="<p>Hi ${first_name}</p>")
    )
    rendered = render(template, {"first_name": "Zoë"}, {}, Links())
    rendered = rendered.__class__(
        rendered.subject,
        rendered.html,
        rendered.text,
        (Attachment("terms.pdf", "application/pdf", b"%PDF-1.4 test"),),
        render(
            invitation_template(),
            {
                "first_name": "Ana",
                "email": "a@example.com",
                "start_date": "2030-01-02",
                "start_time": "09:00",
            },
            {},
            Links(),
        ).ics,
    )
    raw = message_bytes(
        build_message(
            rendered, from_address="news@acme.example", from_name="Acme", to="zoe@example.com"
        )
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Hi Zoë"
    assert parsed["From"] == "Acme <news@acme.example>"
    assert parsed["Message-ID"].endswith("@acme.example>")
    types = [part.get_content_type() for part in parsed.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/pdf",
        "text/calendar",
    ]
    calendars = [p for p in parsed.walk() if p.get_content_type() == "text/calendar"]
    assert all(p.get_param("method") == "REQUEST" for p in calendars)
    assert all(p.get_content_charset() == "utf-8" for p in calendars)  # names like "Zoë"
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Hi Zoë\n"
    (pdf,) = [p for p in parsed.iter_attachments() if p.get_filename() == "terms.pdf"]
    assert pdf.get_content() == b"%PDF-1.4 test"
