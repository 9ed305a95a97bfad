"""Where a tracked link goes: the URL of link number N of a compiled template version. Pure.

Saving a template numbers its web links (``herald.messaging.compiling``): the stored Jinja2 source
writes link N as ``${ (url expression) | _herald_track(N) }``, in the HTML and the text part
alike. A click on ``/c/<token>/N`` is redirected to link N of the version the campaign sent —
looked up here, never taken from the request, so the redirect only ever goes where the message
pointed. A link whose URL is a constant is resolved from the source alone; one built from the
recipient's variables (``https://x.example/?id=${customer_id}``) has no URL until rendered for
that recipient (``None`` here; the caller renders).
"""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, nodes

from herald.messaging.rendering import HTML_ENV, LINK_FILTER, TEXT_ENV


def link_targets(html_source: str, text_source: str = "") -> dict[int, str | None]:
    """Link number -> its URL, or None when the URL depends on the recipient's variables."""
    targets: dict[int, str | None] = {}
    for env, source in ((HTML_ENV, html_source), (TEXT_ENV, text_source)):
        if not source:
            continue
        try:
            tree = env.parse(source)
        except TemplateSyntaxError:
            continue  # a stored version always parses; a broken one simply has no links
        for node in tree.find_all(nodes.Filter):
            if node.name != LINK_FILTER or not node.args:
                continue
            number = node.args[0]
            if not isinstance(number, nodes.Const) or not isinstance(number.value, int):
                continue
            url = node.node
            value = url.value if isinstance(url, nodes.Const) else None
            if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
                targets.setdefault(number.value, value)
            else:
                targets.setdefault(number.value, None)
    return targets
