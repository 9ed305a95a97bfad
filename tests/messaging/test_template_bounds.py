"""A manager's template cannot freeze or exhaust the process rendering it: each hostile template
below compiles (saving it must not compute it) and then fails to render with a reason that says
what to change, quickly, instead of holding the process for seconds or gigabytes."""

from __future__ import annotations

import pytest

from herald.messaging import bounds
from herald.messaging.compiling import TemplateSource, compile_source
from herald.messaging.rendering import Links, RenderError, render

ACCOUNT = {"company_name": "Acme"}
LINKS = Links.preview()


def rendering(html: str, contact: dict[str, object] | None = None) -> RenderError:
    template = compile_source(TemplateSource(subject="Hello", html=html))  # saving: no freeze
    with pytest.raises(RenderError) as failure:
        render(template, contact or {"first_name": "Ana"}, ACCOUNT, LINKS)
    return failure.value


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("<p>${ 10**(2*10**7) }</p>", "too large a number"),
        ("<p>${ first_name ** 5 }</p>", "the template failed"),  # a type error, as before
        ("<p>${ 'y' * (2*10**9) }</p>", "repeating a text"),
        ("<p>${ (2*10**9) * 'y' }</p>", "repeating a text"),
        ("<p>${ '%0999999999d' % 1 }</p>", "too large"),
        ("<p>${ '{:>999999999}'.format(1) }</p>", "too large"),
        ("<p>${ first_name.center(10**9) }</p>", "too large"),
        ("<p>${ first_name|center(10**9) }</p>", "too large"),
        ("<p>${ first_name|indent(10**9) }</p>", "too large"),
        ("<p>${ '%999999999s'|format(1) }</p>", "too large"),
        ("<p>${ ('x' * 100000)|replace('', 'x' * 100000) }</p>", "more than"),
        ("<p>${ ('x' * 1000)|wordwrap(10**12) }</p>", "too large"),
    ],
)
def test_operations_making_huge_results_are_refused(html: str, reason: str) -> None:
    assert reason in rendering(html).reason


def test_a_nested_loop_is_stopped_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounds, "MAX_RENDER_SECONDS", 0.3)
    html = (
        "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
        "<p>${first_name}</p>"
    )
    assert "took longer than 0.3 s" in rendering(html).reason


def test_a_recursive_macro_is_a_clear_error() -> None:
    html = "{% macro down(n) %}${ down(n + 1) }{% endmacro %}<p>${ down(1) }</p>"
    assert "calls itself too deeply" in rendering(html).reason


def test_a_huge_message_is_refused() -> None:
    html = "{% set s = 'x' * 900000 %}{% for a in 'abcdefgh' %}${ s }{% endfor %}"
    assert "longer than" in rendering(html).reason


def test_ordinary_templates_still_render_and_a_timeout_never_lands_later() -> None:
    template = compile_source(
        TemplateSource(
            subject="Hi ${first_name}",
            html="<p>${ first_name|center(20) } ${ 2 ** 10 } ${ '%05d' % 42 } ${ 'ab' * 3 }</p>",
        )
    )
    for _ in range(200):
        message = render(template, {"first_name": "Ana"}, ACCOUNT, LINKS)
    assert "1024 00042 ababab" in message.html


RECURSIVE = "{% macro down(n) %}${ down(n + 1) }{% endmacro %}<p>${ down(1) }</p>"


@pytest.mark.django_db
def test_saving_and_previewing_a_hostile_template_answers_with_the_reason(mike, client_for):
    from herald.messaging.actions import do_save_template
    from tests.campaigns.conftest import ACTOR

    template = do_save_template(
        ACTOR, None, name="Big", subject="Hi", html="<p>${ 10**(2*10**7) } ${unsubscribe_url}</p>"
    ).template  # saved at once: nothing was computed
    client = client_for(mike)
    preview = client.get(f"/templates/{template.pk}/preview/")
    assert preview.status_code == 200
    assert "too large a number" in preview.content.decode()


@pytest.mark.django_db
def test_a_campaign_with_a_recursive_template_is_not_started_and_says_which_template(
    campaign_for,
):
    from herald.campaigns import actions
    from tests.campaigns.conftest import ACTOR, make_list

    campaign = campaign_for([make_list("People", ["p@example.com"])], html=RECURSIVE)
    problems = actions.preflight(campaign, check_connection=False)
    assert any("fails for" in p and campaign.template.name in p for p in problems), problems
    assert any("calls itself too deeply" in p for p in problems)
    with pytest.raises(Exception, match="calls itself too deeply"):
        actions.do_start_campaign(ACTOR, campaign)
