"""Personalized rendering of a compiled template for one contact: pure, no database, no network.

A template is compiled once per saved version (``herald.messaging.compiling``) into Jinja2
templates of a sandboxed environment whose variable delimiters are ``${ }``; rendering is then
a dictionary merge and three precompiled Jinja2 renders (subject, HTML, text).

Variables a template can use, highest precedence first:

- system variables (``Links``): ``${unsubscribe_url}``, ``${view_in_browser_url}``,
  ``${rating_url_1}`` .. ``${rating_url_5}`` (the five links of a satisfaction rating, 1 = worst),
  and ``${today}`` (the sending day, ISO ``YYYY-MM-DD``);
- account variables: ``${company_name}``, ``${company_address}``, ``${company_email}``,
  ``${company_phone}``;
- contact variables: every field of the contact and every custom column by its lower_snake_case
  name (``${first_name}``, ``${email}``, ``${start_date}``, ...).

A contact whose value is missing or empty gets the template's default (``${first_name|Customer}``);
with no default, rendering fails for that contact with a ``RenderError`` naming the variable, so
nobody ever receives a literal ``${first_name}`` or an empty greeting.

Link tracking hooks in through ``rewrite_link(index, url)``: every http(s) link of the HTML and
text parts was numbered when the template was compiled (the same link has the same index in both
parts) and goes through the hook when one is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template, TemplateError, pass_context
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from herald.contacts.variables import BUILTIN_VARIABLES
from herald.messaging import bounds

# The per-message link function (in the render context) and the filter compiled templates apply
# to each numbered link: ``${ ('https://…') | _herald_track(3) }``.
LINK_FUNCTION = "_herald_link"
LINK_FILTER = "_herald_track"
RATING_SCORES = range(1, 6)
SYSTEM_VARIABLES = (
    "unsubscribe_url",
    "view_in_browser_url",
    *(f"rating_url_{n}" for n in RATING_SCORES),
    "today",
)
ACCOUNT_VARIABLES = ("company_name", "company_address", "company_email", "company_phone")
# Every contact has these; custom columns add their own.
CONTACT_VARIABLES = BUILTIN_VARIABLES


class MissingVariableError(UndefinedError):
    """A variable the contact has no value for, used where the template gave no default."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"the contact has no value for ${{{name}}} and the template gives no default"
        )
        self.variable = name


class RequiredUndefined(StrictUndefined):
    """Fails on output, iteration and attribute access, naming the variable.

    Unlike ``StrictUndefined`` it is falsy instead of failing in a test, so that power users can
    write ``{% if company %}...{% endif %}``; the ``default`` filter works on it as usual.
    """

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = self._undefined_name
        if name is None or self._undefined_obj is not missing:
            # An attribute or item of a value (or one the sandbox refused): Jinja says which.
            super()._fail_with_undefined_error(*args, **kwargs)
        raise MissingVariableError(name)

    __str__ = __iter__ = __len__ = __hash__ = _fail_with_undefined_error
    __eq__ = __ne__ = __contains__ = _fail_with_undefined_error

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


@pass_context
def _tracked_link(context: Context, url: str, index: int) -> str:
    # A filter rather than a function call: Jinja calls a filter directly, while every function
    # call goes through the sandbox's safety checks — 40 % of a render with ten links.
    link: Callable[[int, str], str] = context.parent[LINK_FUNCTION]
    return link(index, url)


class BoundedEnvironment(SandboxedEnvironment):
    """The sandbox with bounds on what an operation may cost (``herald.messaging.bounds``)."""

    intercepted_binops = frozenset({"**", "*", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        bounds.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        bounds.check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def make_environment(*, html: bool) -> SandboxedEnvironment:
    """The sandboxed Jinja2 environment templates compile in (autoescaping for the HTML part).

    No globals at all (no ``range``, ``cycler``, ``lipsum``...): fewer objects to walk from.
    """
    env = BoundedEnvironment(
        variable_start_string="${",
        variable_end_string="}",
        block_start_string="{%",
        block_end_string="%}",
        comment_start_string="{#",
        comment_end_string="#}",
        autoescape=html,
        undefined=RequiredUndefined,
        auto_reload=False,
        keep_trailing_newline=True,
        # A line holding only {% for %} or {% if %} leaves no blank line in the text part.
        trim_blocks=True,
        lstrip_blocks=True,
        cache_size=0,
    )
    env.globals.clear()
    env.filters.update(bounds.bounded_filters(env.filters))
    env.filters[LINK_FILTER] = _tracked_link
    return env


HTML_ENV = make_environment(html=True)
TEXT_ENV = make_environment(html=False)


class RenderError(Exception):
    """Rendering failed for one contact; ``reason`` says why in words a manager understands."""

    def __init__(self, reason: str, variable: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.variable = variable


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class EventTemplate:
    """A calendar invitation: each text is a compiled template; times in ``timezone``."""

    title: Template
    organizer: Template
    location: Template
    start: Template
    end: Template
    timezone: str
    uid_seed: str  # stable per template, so a re-sent invitation updates the same event


@dataclass(frozen=True)
class CompiledTemplate:
    """A saved template version, compiled once and reused for every contact."""

    key: str
    subject: Template
    html: Template
    text: Template
    direction: str = "ltr"
    language: str = "en"
    include_company_name: bool = False
    attachments: tuple[Attachment, ...] = ()
    event: EventTemplate | None = None
    variables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Links:
    """The system links of one message; later issues fill them with signed tracking URLs."""

    unsubscribe_url: str = ""
    view_in_browser_url: str = ""
    rating_urls: tuple[str, ...] = ()

    @classmethod
    def preview(cls, base_url: str = "https://preview.herald.invalid") -> Links:
        """Placeholder links for previews and test sends: they look real and lead nowhere."""
        return cls(
            unsubscribe_url=f"{base_url}/unsubscribe/preview",
            view_in_browser_url=f"{base_url}/view/preview",
            rating_urls=tuple(f"{base_url}/rate/preview/{n}" for n in RATING_SCORES),
        )

    @cached_property
    def variables(self) -> dict[str, str]:
        """The system variables as the template names them (empty links are left out)."""
        values = {
            "unsubscribe_url": self.unsubscribe_url,
            "view_in_browser_url": self.view_in_browser_url,
        }
        for n, url in zip(RATING_SCORES, self.rating_urls, strict=False):
            values[f"rating_url_{n}"] = url
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    ics: bytes | None = None
    warnings: tuple[str, ...] = field(default=())


# Schemes a link in an email is never sent with: they run code or carry a document of their own.
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")  # browsers skip these: "java\tscript:"


def _checked(url: str) -> str:
    """``url`` if a link may point there; a ValueError (this contact fails, saying why) when a
    variable made it a script or data link."""
    if _IGNORED_IN_SCHEME.sub("", url[:40]).lower().startswith(_UNSAFE_SCHEMES):
        scheme = url.strip().split(":", 1)[0][:20]
        raise ValueError(f"a link became a {scheme}: address, which Herald never sends")
    return url


def _identity_link(index: int, url: str) -> str:
    return _checked(url)


def _link_function(rewrite_link: Callable[[int, str], str] | None) -> Callable[[int, str], str]:
    if rewrite_link is None:
        return _identity_link
    # The HTML and text parts carry the same links: each is signed once per message, not twice.
    done: dict[tuple[int, str], str] = {}

    def link(index: int, url: str) -> str:
        key = (index, url)
        rewritten = done.get(key)
        if rewritten is None:
            _checked(url)
            # Only web links are tracked: mailto:, tel: and the like reach the mail program as is.
            is_web = url.startswith(("https://", "http://"))
            rewritten = done[key] = rewrite_link(index, url) if is_web else url
        return rewritten

    return link


def context_for(
    contact: Mapping[str, object],
    account: Mapping[str, str],
    links: Links,
    today: date | None = None,
) -> dict[str, object]:
    """The variables of one message: contact, then account, then system ones (which win).

    Empty values are left out so that they count as missing: a default applies, or the contact
    fails with a clear reason.
    """
    context = {k: v for k, v in contact.items() if v is not None and v != ""}
    for k, v in account.items():
        if v:
            context[k] = v
    context.update(links.variables)
    context["today"] = (today or date.today()).isoformat()  # noqa: DTZ011  # the caller's day
    return context


def _render(template: Template, context: dict[str, object]) -> str:
    # Template.render() copies the variables into a new dict each time; sharing the one dict
    # built for this message is safe (templates cannot assign to it) and saves a copy per part.
    return bounds.joined(template.root_render_func(template.new_context(context, shared=True)))


def render(
    template: CompiledTemplate,
    contact: Mapping[str, object],
    account: Mapping[str, str],
    links: Links,
    *,
    rewrite_link: Callable[[int, str], str] | None = None,
    today: date | None = None,
) -> RenderedMessage:
    """Renders ``template`` for one contact: subject, HTML, text, attachments and invitation.

    Raises ``RenderError`` (with the variable's name when one was missing) if this contact cannot
    get a correct message; the caller skips the contact with that reason.
    """
    context = context_for(contact, account, links, today)
    context[LINK_FUNCTION] = _link_function(rewrite_link)
    try:
        with bounds.deadline():
            subject = " ".join(_render(template.subject, context).split())
            html = _render(template.html, context)
            text = _render(template.text, context)
            ics = None
            if template.event is not None:
                from herald.messaging.ics import render_event

                ics = render_event(template.event, context)
    except MissingVariableError as exc:
        raise RenderError(str(exc), exc.variable) from None
    except SecurityError as exc:
        raise RenderError(f"refused by the template sandbox: {exc}") from None
    except bounds.RenderTimeout:
        raise RenderError(
            f"the template took longer than {bounds.MAX_RENDER_SECONDS:g} s to render: "
            "simplify its loops"
        ) from None
    except RecursionError:
        raise RenderError("the template calls itself too deeply (a macro calling itself)") from None
    except MemoryError:
        raise RenderError("the template needs too much memory to render") from None
    except (TemplateError, ValueError, TypeError, ArithmeticError) as exc:
        raise RenderError(f"the template failed for this contact: {exc}") from None
    company = account.get("company_name", "")
    if template.include_company_name and company:
        subject = f"{company}: {subject}"
    return RenderedMessage(subject, html, text, template.attachments, ics)
