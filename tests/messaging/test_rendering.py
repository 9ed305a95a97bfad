"""Rendering: variables and defaults, escaping, the sandbox, right-to-left, the text part, links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.messaging.compiling import (
    RLM,
    TemplateInvalidError,
    TemplateSource,
    compile_source,
    prepare,
)
from herald.messaging.rendering import Links, RenderError, render

ACCOUNT = {"company_name": "Acme", "company_phone": "+39 06 123"}
LINKS = Links.preview()


def compiled(html: str, subject: str = "Hello", **kw):
    return compile_source(TemplateSource(subject=subject, html=html, **kw))


def test_a_contact_missing_a_value_gets_the_default():
    template = compiled("<p>Dear ${first_name|Customer},</p>", subject="${first_name|Friend}")
    message = render(template, {"first_name": ""}, ACCOUNT, LINKS)
    assert "Dear Customer," in message.html
    assert "Dear Customer," in message.text
    assert message.subject == "Friend"
    assert "Dear Ana," in render(template, {"first_name": "Ana"}, ACCOUNT, LINKS).html


def test_a_contact_missing_a_value_without_default_fails_with_the_variable_named():
    template = compiled("<p>Dear ${first_name},</p>")
    with pytest.raises(RenderError) as failure:
        render(template, {"last_name": "Rossi"}, ACCOUNT, LINKS)
    assert failure.value.variable == "first_name"
    assert "${first_name}" in failure.value.reason
    with pytest.raises(RenderError):
        render(template, {"first_name": None}, ACCOUNT, LINKS)


def test_a_conditional_on_a_missing_value_does_not_fail():
    template = compiled("<p>{% if company %}At ${company}{% else %}Hello{% endif %}</p>")
    assert "Hello" in render(template, {}, ACCOUNT, LINKS).html
    assert "At Acme Srl" in render(template, {"company": "Acme Srl"}, ACCOUNT, LINKS).html


def test_a_script_in_a_contact_name_is_escaped_in_html_and_intact_in_text():
    name = "<script>alert(1)</script>"
    template = compiled("<p>Hi ${first_name}</p>", subject="For ${first_name}")
    message = render(template, {"first_name": name}, ACCOUNT, LINKS)
    assert name not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert f"Hi {name}" in message.text
    assert message.subject == f"For {name}"


@given(st.text(min_size=1).filter(lambda s: s.strip() and "\x00" not in s))
def test_rendering_escapes_every_variable_in_html(value):
    template = compiled('<p title="${last_name}">${first_name}</p>')
    message = render(template, {"first_name": value, "last_name": value}, ACCOUNT, LINKS)
    body = message.html.split("<p", 1)[1]
    assert "<" not in body.split(">", 1)[1].split("</p>")[0]
    assert '"' not in body.split('title="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    "attempt",
    [
        "${ first_name.__class__ }",
        "${ first_name.__class__.__mro__[1].__subclasses__() }",
        "${ self.__init__.__globals__ }",
        "${ self._TemplateReference__context }",
        "${ os.system('id') }",
        "${ first_name['__class__'] }",
        "${ cycler.__init__.__globals__.os }",
    ],
)
def test_sandbox_escape_attempts_are_refused_on_save(attempt):
    with pytest.raises(TemplateInvalidError) as failure:
        prepare(TemplateSource(subject="x", html=f"<p>{attempt}</p>"))
    assert "not allowed" in str(failure.value)


@pytest.mark.parametrize(
    ("attempt", "reason"),
    [
        ("${ first_name.__class__ }", "unsafe"),
        ("${ first_name|attr('__class__') }", "unsafe"),
        ("${ first_name.upper.__globals__ }", "has no attribute"),
        ("${ os }", "no value for ${os}"),
        ("${ range(10) }", "no value for ${range}"),
        ("${ lipsum() }", "no value for ${lipsum}"),
    ],
)
def test_sandbox_escape_attempts_are_refused_at_render(attempt, reason):
    # Compiled directly, as if the save-time check had been bypassed: the sandbox still holds.
    from herald.messaging.compiling import Prepared, Report, compile_prepared

    prepared = Prepared("s", f"<p>{attempt}</p>", "t", "ltr", "en", False, None, Report())
    template = compile_prepared(prepared, "attack")
    with pytest.raises(RenderError) as failure:
        render(template, {"first_name": "Ana"}, ACCOUNT, LINKS)
    assert reason in failure.value.reason


def test_a_syntax_error_is_reported_with_line_and_column():
    html = "<p>Hello</p>\n<p>Dear ${ first_name + }</p>"
    with pytest.raises(TemplateInvalidError) as failure:
        prepare(TemplateSource(subject="x", html=html))
    problem = failure.value.problems[0]
    assert (problem.part, problem.line, problem.column) == ("html", 2, 9)


def test_an_unclosed_variable_is_reported_where_it_starts():
    with pytest.raises(TemplateInvalidError) as failure:
        prepare(TemplateSource(subject="Hi ${first_name", html="<p>x</p>"))
    problem = failure.value.problems[0]
    assert (problem.part, problem.line, problem.column) == ("subject", 1, 4)


def test_unknown_variables_are_listed_and_known_columns_accepted():
    source = TemplateSource(subject="x", html="<p>${first_name} ${plan} ${colour}</p>")
    assert prepare(source).report.unknown_variables == ["colour", "plan"]
    assert prepare(source, known_columns=["plan"]).report.unknown_variables == ["colour"]


def test_scripts_handlers_and_javascript_links_are_removed_and_reported():
    html = (
        '<p onclick="steal()">Hi</p><script>steal()</script>'
        '<a href="javascript:steal()">x</a><img src="https://x.example/a.png" onerror="steal()">'
    )
    prepared = prepare(TemplateSource(subject="x", html=html))
    assert "steal" not in prepared.html
    removed = " ".join(prepared.report.removed)
    assert "<script>" in removed
    assert "onclick" in removed
    assert "onerror" in removed
    assert "javascript:" in removed


def test_broken_links_are_warned_about():
    html = '<a href="https://exa mple.com">a</a> <a href="https://nohost">b</a> <a href="ftp://x.y">c</a>'
    warnings = " ".join(prepare(TemplateSource(subject="x", html=html)).report.warnings)
    assert "contains a space" in warnings
    assert "no valid host" in warnings
    assert "ftp://x.y" in warnings


def test_css_is_inlined_when_saved():
    html = "<style>p.lead { color: #c00 }</style><p class='lead'>Hi</p>"
    template = compiled(html)
    message = render(template, {}, ACCOUNT, LINKS)
    assert 'style="color: #c00;"' in message.html
    assert "<style" not in message.html


def test_include_company_name_prefixes_the_subject():
    template = compiled("<p>x</p>", subject="Your appointment", include_company_name=True)
    assert render(template, {}, ACCOUNT, LINKS).subject == "Acme: Your appointment"


def test_account_and_system_variables_are_filled():
    template = compiled(
        '<p>${company_name} ${company_phone} ${today}</p><a href="${unsubscribe_url}">Stop</a>'
        '<a href="${rating_url_5}">Great</a>'
    )
    from datetime import date

    message = render(template, {}, ACCOUNT, LINKS, today=date(2030, 1, 31))
    assert "Acme +39 06 123 2030-01-31" in message.html
    assert LINKS.unsubscribe_url in message.html
    assert LINKS.rating_urls[4] in message.html


def test_an_arabic_template_renders_right_to_left_in_html_and_text():
    template = compiled(
        "<p>مرحبا ${first_name}، شكرا لتواصلك مع ${company_name}.</p><p>Ref 42</p>",
        direction="rtl",
        language="ar",
    )
    message = render(template, {"first_name": "أحمد"}, ACCOUNT, LINKS)
    assert '<html lang="ar" dir="rtl">' in message.html
    assert "text-align: right" in message.html
    lines = [line for line in message.text.splitlines() if line.strip()]
    assert lines[0] == RLM + "مرحبا أحمد، شكرا لتواصلك مع Acme."
    # A line starting with Latin text still reads right-to-left thanks to the mark.
    assert lines[1] == RLM + "Ref 42"


def test_every_web_link_goes_through_the_rewrite_hook_with_the_same_index_in_both_parts():
    template = compiled(
        '<a href="https://shop.example.com/?c=${external_id}">Shop</a>'
        '<a href="https://example.com/help">Help</a>'
        '<a href="mailto:help@example.com">Mail</a><a href="${unsubscribe_url}">Stop</a>'
    )
    seen = []

    def rewrite(index, url):
        seen.append((index, url))
        return f"https://t.example/{index}"

    message = render(template, {"external_id": "C7"}, ACCOUNT, LINKS, rewrite_link=rewrite)
    assert sorted(set(seen)) == [
        (0, "https://shop.example.com/?c=C7"),
        (1, "https://example.com/help"),
    ]
    assert 'href="https://t.example/0"' in message.html
    assert "Shop (https://t.example/0)" in message.text
    assert "Help (https://t.example/1)" in message.text
    assert "mailto:help@example.com" in message.html
    assert LINKS.unsubscribe_url in message.html


def test_a_written_text_part_is_used_and_its_links_are_tracked_too():
    template = compiled(
        '<a href="https://example.com/help">Help</a>',
        text="Hi ${first_name|there}, help: https://example.com/help",
    )
    message = render(template, {}, ACCOUNT, LINKS, rewrite_link=lambda i, u: f"T{i}")
    assert message.text == "Hi there, help: T0"


@pytest.mark.parametrize(
    "site",
    [
        "javascript:alert(document.cookie)",
        "  JaVa\tScRiPt:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
    ],
)
@pytest.mark.parametrize("tracked", [True, False])
def test_a_contact_field_used_as_a_link_never_makes_a_script_or_data_link(site, tracked):
    template = compiled(
        '<p><a href="${site}">Our site</a> <a href="https://acme.example/">Acme</a></p>'
    )
    rewrite = (lambda i, u: f"https://t.example/{i}") if tracked else None
    with pytest.raises(RenderError) as failure:
        render(template, {"site": site}, ACCOUNT, LINKS, rewrite_link=rewrite)
    assert "a link became a" in failure.value.reason
    fine = render(template, {"site": "https://ok.example/"}, ACCOUNT, LINKS, rewrite_link=rewrite)
    assert ("https://t.example/0" if tracked else "https://ok.example/") in fine.html
    mail = render(template, {"site": "mailto:help@acme.example"}, ACCOUNT, LINKS)
    assert 'href="mailto:help@acme.example"' in mail.html
