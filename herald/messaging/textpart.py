"""The plain-text part of an HTML email: readable on its own, links kept as "text (url)".

Built on inscriptis (Apache-2.0), which lays HTML out as text the way a browser would (lists with
bullets and numbers, tables in columns, blocks separated by blank lines) and lets each tag's
handling be replaced: links are written "text (url)" instead of its default "[text](url)", and
headings are underlined so they still read as headings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from inscriptis import get_annotated_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from inscriptis.model.tag import CustomHtmlTagHandlerMapping

HEADING_RULES = {"h1": "=", "h2": "-", "h3": "-"}
_BLANK_RUNS = re.compile(r"\n{3,}")


def _a_start(state: Any, attrs: dict[str, str]) -> None:
    href = (attrs.get("href") or "").strip()
    if href.lower().startswith("mailto:"):
        href = href[len("mailto:") :]
    state.link_target = href


def _a_end(state: Any) -> None:
    if state.link_target:
        state.tags[-1].write(f" ({state.link_target})")


def _config() -> ParserConfig:
    return ParserConfig(
        css=CSS_PROFILES["strict"].copy(),
        display_links=True,
        annotation_rules={tag: [tag] for tag in HEADING_RULES},
        custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
            start_tag_mapping={"a": _a_start}, end_tag_mapping={"a": _a_end}
        ),
    )


def underline(line: str, rule: str) -> str:
    """A heading line and its underline, as wide as the heading."""
    return f"{line}\n{rule * len(line)}"


def html_to_text(html: str, underline: Callable[[str, str], str] = underline) -> str:
    """The plain-text rendering of ``html``: links as "text (url)", lists, underlined headings.

    ``underline(heading, rule)`` writes a heading and its rule (a template's compiler passes one
    that sizes the rule when the heading holds variables).
    """
    if not html.strip():
        return ""
    result = get_annotated_text(html, _config())
    text: str = result["text"]
    # Underline each heading, from the end so earlier offsets stay valid.
    for start, span_end, label in sorted(result["label"], reverse=True):
        rule = HEADING_RULES.get(label)
        end = start + len(text[start:span_end].rstrip())
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        line_start = text.rfind("\n", 0, start) + 1
        heading = text[line_start:line_end].strip()
        if rule and heading:
            text = f"{text[:line_start]}{underline(heading, rule)}{text[line_end:]}"
    lines = [line.rstrip() for line in text.splitlines()]
    # inscriptis indents nested blocks; a text email reads best flush with the margin.
    indent = min((len(ln) - len(ln.lstrip(" ")) for ln in lines if ln.strip()), default=0)
    text = "\n".join(line[indent:] for line in lines)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
