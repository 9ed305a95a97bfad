"""Save-time work on a template: validate, clean, inline CSS, number links, derive the text part.

Everything costly or checkable happens here, once per saved version, so that sending only renders
precompiled Jinja2 templates (``herald.messaging.rendering``). Pure: no database, no network.

The ``${first_name|Customer}`` syntax is turned into the Jinja2 expression
``${ first_name | default('Customer', true) }`` here. After ``|`` comes a default unless it is a
Jinja2 filter name (``${ first_name | upper }``); quote a default that is a filter's name
(``${title|"title"}``).
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import css_inline
import nh3
from jinja2 import TemplateSyntaxError, nodes
from jinja2.meta import find_undeclared_variables

from herald.messaging.rendering import (
    ACCOUNT_VARIABLES,
    CONTACT_VARIABLES,
    HTML_ENV,
    LINK_FILTER,
    LINK_FUNCTION,
    SYSTEM_VARIABLES,
    TEXT_ENV,
    CompiledTemplate,
    EventTemplate,
)
from herald.messaging.textpart import html_to_text

RLM = "\u200f"  # RIGHT-TO-LEFT MARK: keeps a text line right-to-left even if it starts with Latin
EVENT_FIELDS = ("title", "organizer", "location", "start", "end")

# What survives cleaning: the tags and attributes email HTML uses; no script, no form, no frame.
ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "section", "main"}
ALLOWED_ATTRIBUTES = {
    "*": {"style", "class", "id", "dir", "lang", "align", "valign", "title", "width", "height"},
    "a": {"href", "name", "target"},
    "img": {"src", "alt", "border"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor", "role"},
    "td": {"bgcolor", "colspan", "rowspan", "nowrap"},
    "th": {"bgcolor", "colspan", "rowspan", "scope"},
    "tr": {"bgcolor"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "col": {"span"},
    "colgroup": {"span"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}

_EXPRESSION = re.compile(r"\$\{([^{}\n]*)\}")
_BLOCK = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_PLACEHOLDER = re.compile(r"zzh([vbl])(\d+)zz")
_HREF = re.compile(r'(<a\b[^>]*?\bhref=")([^"]*)(")', re.IGNORECASE)
_ANY_HREF = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_TEXT_URL = re.compile(r"https?://[^\s<>()\[\]\"']+", re.IGNORECASE)
_DEFAULT_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|(.*)$", re.DOTALL)
_FILTER_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\(.*\))?\s*$", re.DOTALL)
# Removed by cleaning, found beforehand so that the manager sees what went.
_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)
_EVENT_HANDLER = re.compile(r"<([a-z][a-z0-9]*)\b[^>]*?\s(on[a-z]+)\s*=", re.IGNORECASE)
_JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)
_TAG = re.compile(r"<([a-z][a-z0-9]*)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """A template error, placed where the manager can find it."""

    part: str  # subject, html, text, event.start, ...
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.part
        if self.line is not None:
            where += f", line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class TemplateInvalidError(Exception):
    """The template cannot be saved as it is; ``problems`` say what to fix, and where."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class EventSource:
    title: str = ""
    organizer: str = ""
    location: str = ""
    start: str = ""
    end: str = ""
    timezone: str = "UTC"


@dataclass(frozen=True)
class TemplateSource:
    """What a manager wrote: the fields of a template version."""

    subject: str
    html: str
    text: str = ""
    direction: str = "ltr"
    language: str = "en"
    include_company_name: bool = False
    signature_html: str = ""
    event: EventSource | None = None


@dataclass
class Report:
    """What saving found: not errors, but what the manager should know."""

    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_variables: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Prepared:
    """The Jinja2 sources a version stores; ``compile_prepared`` turns them into templates."""

    subject: str
    html: str
    text: str
    direction: str
    language: str
    include_company_name: bool
    event: EventSource | None
    report: Report


# ----------------------------------------------------------------------------------------- syntax


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    return line, offset - (source.rfind("\n", 0, offset) + 1) + 1


def _is_filter(expr: str) -> bool:
    match = _FILTER_CALL.match(expr)
    return bool(match and match.group(1) in HTML_ENV.filters)


def expression_for(content: str, *, html: bool) -> str:
    """The Jinja2 expression for the inside of ``${...}``, turning ``name|Default`` into a default.

    In HTML the default was written as HTML, so its entities are decoded (it is escaped again on
    output).
    """
    match = _DEFAULT_FORM.match(content)
    if not match or _is_filter(match.group(2)):
        return content.strip()
    name, default = match.group(1), match.group(2).strip()
    if len(default) >= 2 and default[0] == default[-1] and default[0] in "\"'":
        default = default[1:-1]
    elif html:
        default = htmllib.unescape(default)
    return f"{name} | default({default!r}, true)"


def convert_defaults(source: str, *, html: bool) -> str:
    """``source`` with every ``${...}`` in plain Jinja2 form (line and column kept for errors)."""
    return _EXPRESSION.sub(lambda m: "${ " + expression_for(m.group(1), html=html) + " }", source)


def _unclosed(part: str, source: str) -> list[Problem]:
    problems = []
    for match in re.finditer(r"\$\{", source):
        end = source.find("}", match.end())
        newline = source.find("\n", match.end())
        if end < 0 or (0 <= newline < end):
            line, column = _position(source, match.start())
            problems.append(
                Problem(part, "“${” is not closed by “}” on the same line", line, column)
            )
    return problems


def _unsafe_names(ast: nodes.Template) -> list[str]:
    found = []
    for node in ast.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Name):
            name = node.name
        elif isinstance(node, nodes.Getattr):
            name = node.attr
        else:
            arg = getattr(node, "arg", None)
            name = arg.value if isinstance(arg, nodes.Const) and isinstance(arg.value, str) else ""
        if name.startswith("_") or name in {"self", "os", "mro", "func_globals", "gi_frame"}:
            found.append(name)
    return found


def check_syntax(part: str, source: str, *, html: bool) -> tuple[list[Problem], set[str]]:
    """Syntax problems of one part (with line and column) and the variables it uses."""
    problems = _unclosed(part, source)
    if problems:
        return problems, set()
    env = HTML_ENV if html else TEXT_ENV
    converted = convert_defaults(source, html=html)
    try:
        ast = env.parse(converted)
    except TemplateSyntaxError as exc:
        line = exc.lineno or 1
        column = None
        # Jinja2 knows the line; find the column by parsing each expression of that line alone.
        line_text = converted.splitlines()[line - 1] if converted else ""
        original = source.splitlines()[line - 1] if source else ""
        for match in _EXPRESSION.finditer(line_text):
            try:
                env.parse(match.group(0))
            except TemplateSyntaxError:
                column = original.find("${" + match.group(1).split("|")[0].strip()[:1]) + 1 or None
                break
        if column is None:
            starts = [i for i in (original.find("${"), original.find("{%")) if i >= 0]
            column = min(starts) + 1 if starts else 1
        return [Problem(part, exc.message or "syntax error", line, column)], set()
    unsafe = _unsafe_names(ast)
    if unsafe:
        names = ", ".join(sorted(set(unsafe)))
        return [Problem(part, f"not allowed in a template (sandbox): {names}")], set()
    return [], set(find_undeclared_variables(ast)) - {LINK_FUNCTION}


# ------------------------------------------------------------------------------------------ HTML


class _Protected:
    """Jinja2 constructs swapped for inert words while HTML tools parse and rewrite the page."""

    def __init__(self) -> None:
        self.expressions: list[str] = []
        self.blocks: list[str] = []
        self.links: list[str] = []  # Jinja2 expressions of each numbered link's URL

    def protect(self, source: str) -> str:
        def expression(match: re.Match[str]) -> str:
            self.expressions.append(match.group(1))
            return f"zzhv{len(self.expressions) - 1}zz"

        def block(match: re.Match[str]) -> str:
            self.blocks.append(match.group(0))
            # A comment stays where it is, even between table rows, through every HTML parser.
            return f"<!--zzhb{len(self.blocks) - 1}zz-->"

        return _BLOCK.sub(block, _EXPRESSION.sub(expression, source))

    def url_expression(self, raw: str) -> str:
        """A Jinja2 expression for a URL written with placeholders (``https://x/?id=zzhv0zz``)."""
        parts: list[str] = []
        position = 0
        for match in _PLACEHOLDER.finditer(raw):
            if match.start() > position:
                parts.append(repr(raw[position : match.start()]))
            if match.group(1) != "v":
                raise ValueError("a link may contain variables, not {% %} blocks")
            parts.append(
                "(" + expression_for(self.expressions[int(match.group(2))], html=True) + ")"
            )
            position = match.end()
        if position < len(raw):
            parts.append(repr(raw[position:]))
        return " ~ ".join(parts) or "''"

    def restore(self, source: str, *, html: bool) -> str:
        def put_back(match: re.Match[str]) -> str:
            kind, n = match.group(1), int(match.group(2))
            if kind == "v":
                return "${ " + expression_for(self.expressions[n], html=html) + " }"
            if kind == "b":
                return self.blocks[n]
            return "${ (" + self.links[n] + f") | {LINK_FILTER}({n})" + " }"

        source = re.sub(r"<!--(zzhb\d+zz)-->", r"\1", source)
        return _PLACEHOLDER.sub(put_back, source)

    def shown(self, raw: str) -> str:
        """A URL with placeholders, as the manager wrote it."""
        return _PLACEHOLDER.sub(
            lambda m: "${" + self.expressions[int(m.group(2))] + "}" if m.group(1) == "v" else "",
            raw,
        )


def _removed_by_cleaning(source: str) -> list[str]:
    removed = []
    scripts = len(_SCRIPT.findall(source))
    if scripts:
        removed.append(f"{scripts} <script> element(s)")
    for tag, attribute in _EVENT_HANDLER.findall(source):
        removed.append(f"event handler {attribute.lower()}= on <{tag.lower()}>")
    js = len(_JS_URL.findall(source))
    if js:
        removed.append(f"{js} javascript: link(s)")
    others = {t.lower() for t in _TAG.findall(source)} - ALLOWED_TAGS
    others -= {"script", "html", "head", "body", "meta", "title", "style", "link"}
    removed.extend(f"<{t}> tag(s)" for t in sorted(others))
    return removed


def _check_link(url: str) -> str | None:
    """Why a literal link looks broken, or None."""
    if any(c.isspace() for c in url):
        return "contains a space"
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"http", "https"}:
        host = parts.hostname or ""
        if not host or ("." not in host and host != "localhost"):
            return "has no valid host name"
        return None
    if scheme == "mailto":
        return None if "@" in parts.path else "has no email address"
    if scheme == "tel" or url.startswith("#"):
        return None
    return "is not a web (https://) or mailto: link"


def _underline_template(heading: str, rule: str) -> str:
    if "zzh" not in heading:
        return f"{heading}\n{rule * len(heading)}"
    # The heading holds variables: its width is known per contact, so the rule is computed then.
    return (
        f"{{% set herald_heading %}}{heading}{{% endset %}}${{ herald_heading }}\n"
        f"${{ {rule!r} * (herald_heading | length) }}"
    )


def _link_warnings(page: str) -> list[str]:
    """Links written as the manager wrote them (before cleaning) that look broken."""
    warnings = []
    for match in _ANY_HREF.finditer(page):
        raw = htmllib.unescape(match.group(1) or match.group(2) or "").strip()
        if not raw or "zzh" in raw or raw.lower().startswith("javascript:"):
            continue  # variables are checked per contact; javascript: is removed and reported
        why = _check_link(raw)
        if why:
            warnings.append(f"link “{raw}” {why}")
    return warnings


def _document(body: str, direction: str, language: str) -> str:
    # The direction is set three ways because mail programs honour different ones.
    align = "right" if direction == "rtl" else "left"
    return (
        f'<!DOCTYPE html>\n<html lang="{htmllib.escape(language)}" dir="{direction}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "</head>\n"
        f'<body dir="{direction}" style="direction: {direction}; text-align: {align};">\n'
        f'<div dir="{direction}" style="direction: {direction}; text-align: {align};">\n'
        f"{body}\n</div>\n</body>\n</html>\n"
    )


def _rtl_text(text: str) -> str:
    return "\n".join(RLM + line if line.strip() else line for line in text.split("\n"))


def _validate(source: TemplateSource, html_source: str) -> set[str]:
    """Raises ``TemplateInvalidError`` with every problem found; returns the variables used."""
    parts = {"subject": (source.subject, False), "html": (html_source, True)}
    parts["text"] = (source.text, False)
    if source.event is not None:
        for name in EVENT_FIELDS:
            parts[f"event.{name}"] = (getattr(source.event, name), False)
    problems: list[Problem] = []
    used: set[str] = set()
    for part, (text, is_html) in parts.items():
        found, names = check_syntax(part, text, html=is_html)
        problems.extend(found)
        used |= names
    if not source.subject.strip():
        problems.append(Problem("subject", "a message needs a subject"))
    if not source.html.strip():
        problems.append(Problem("html", "the HTML body is empty"))
    if source.direction not in {"ltr", "rtl"}:
        problems.append(Problem("direction", "the text direction is ltr or rtl"))
    if source.event is not None:
        for name in ("title", "start", "end"):
            if not getattr(source.event, name).strip():
                problems.append(
                    Problem(f"event.{name}", "an invitation needs a title, start and end")
                )
    if problems:
        raise TemplateInvalidError(problems)
    return used


def prepare(
    source: TemplateSource, known_columns: Iterable[str] = (), *, mailbox_signature_html: str = ""
) -> Prepared:
    """Validates and transforms a template for storage; raises ``TemplateInvalidError`` on errors.

    ``known_columns`` are the custom columns of the lists the template may be sent to: a variable
    in none of them (nor a standard, account or system one) is reported as unknown.
    """
    signature = source.signature_html or mailbox_signature_html
    html_source = source.html + (f'\n<div class="signature">{signature}</div>' if signature else "")
    used = _validate(source, html_source)
    report = Report(variables=sorted(used))
    known = {*CONTACT_VARIABLES, *ACCOUNT_VARIABLES, *SYSTEM_VARIABLES, *known_columns}
    report.unknown_variables = sorted(used - known)

    protected = _Protected()
    page = protected.protect(_COMMENT.sub("", html_source))
    report.removed = _removed_by_cleaning(page)
    report.warnings.extend(_link_warnings(page))
    # CSS first (it reads <style>), then cleaning (which drops <style> and all that is unsafe).
    page = css_inline.inline(page, load_remote_stylesheets=False, keep_style_tags=False)
    page = nh3.clean(
        page,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=False,
        clean_content_tags={"script", "style"},
    )
    page = _COMMENT.sub(lambda m: m.group(0) if "zzhb" in m.group(0) else "", page)

    def number_link(match: re.Match[str]) -> str:
        raw = htmllib.unescape(match.group(2))
        is_variable = bool(re.fullmatch(r"zzhv\d+zz", raw))
        if not raw.lower().startswith(("http://", "https://")) and not is_variable:
            return match.group(0)
        if is_variable:
            name = protected.expressions[int(raw[4:-2])].split("|")[0].strip()
            if name in SYSTEM_VARIABLES:  # unsubscribe and rating links are never rewritten
                return match.group(0)
        try:
            protected.links.append(protected.url_expression(raw))
        except ValueError as exc:
            raise TemplateInvalidError([Problem("html", str(exc))]) from None
        report.links.append(protected.shown(raw))
        return f"{match.group(1)}zzhl{len(protected.links) - 1}zz{match.group(3)}"

    page = _HREF.sub(number_link, page)
    body = protected.restore(page, html=True)

    if source.text.strip():
        text_protected = protected.protect(source.text)
        text = _TEXT_URL.sub(lambda m: _number_text_link(protected, m.group(0)), text_protected)
        text = protected.restore(text, html=False)
    else:
        generated = html_to_text(
            re.sub(r"<!--(zzhb\d+zz)-->", r"\1", page), underline=_underline_template
        )
        text = protected.restore(generated, html=True)
    if source.direction == "rtl":
        text = _rtl_text(text)

    return Prepared(
        subject=convert_defaults(source.subject, html=False),
        html=_document(body, source.direction, source.language),
        text=text,
        direction=source.direction,
        language=source.language,
        include_company_name=source.include_company_name,
        event=None
        if source.event is None
        else EventSource(
            **{
                name: convert_defaults(getattr(source.event, name), html=False)
                for name in EVENT_FIELDS
            },
            timezone=source.event.timezone,
        ),
        report=report,
    )


def _number_text_link(protected: _Protected, raw: str) -> str:
    expression = protected.url_expression(raw)
    if expression in protected.links:
        index = protected.links.index(expression)
    else:
        protected.links.append(expression)
        index = len(protected.links) - 1
    return f"zzhl{index}zz"


def compile_prepared(
    prepared: Prepared, key: str, attachments: tuple = (), uid_seed: str = ""
) -> CompiledTemplate:
    """The Jinja2 templates of a prepared version (the only per-process cost of a version)."""
    event = None
    if prepared.event is not None:
        ev = prepared.event
        event = EventTemplate(
            title=TEXT_ENV.from_string(ev.title),
            organizer=TEXT_ENV.from_string(ev.organizer),
            location=TEXT_ENV.from_string(ev.location),
            start=TEXT_ENV.from_string(ev.start),
            end=TEXT_ENV.from_string(ev.end),
            timezone=ev.timezone or "UTC",
            uid_seed=uid_seed or key,
        )
    return CompiledTemplate(
        key=key,
        subject=TEXT_ENV.from_string(prepared.subject),
        html=HTML_ENV.from_string(prepared.html),
        text=TEXT_ENV.from_string(prepared.text),
        direction=prepared.direction,
        language=prepared.language,
        include_company_name=prepared.include_company_name,
        attachments=attachments,
        event=event,
        variables=frozenset(prepared.report.variables),
    )


def compile_source(source: TemplateSource, key: str = "draft") -> CompiledTemplate:
    """Prepares and compiles in one step (tests, previews of unsaved drafts, benchmarks)."""
    return compile_prepared(prepare(source), key)
