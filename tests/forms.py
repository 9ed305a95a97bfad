"""What a browser submits for a page's form, read from the page's HTML: a test posts it back to
check that saving a form unchanged changes nothing (a field missing from the page would be saved
empty)."""

from __future__ import annotations

from html.parser import HTMLParser

_TEXT_LIKE_SKIPPED = {"submit", "button", "reset", "image", "file"}


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.forms: list[list[tuple[str, str]]] = []
        self.values: list[tuple[str, str]] = []
        self._select: tuple[str, bool] | None = None  # name, multiple
        self._options: list[tuple[str, bool]] = []
        self._option: list[str] | None = None
        self._option_attrs: dict[str, str | None] = {}
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = True
            self.values = []
            self.forms.append(self.values)
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = (a.get("type") or "text").lower()
            if kind in _TEXT_LIKE_SKIPPED:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.append((name, a.get("value") or "on"))
                return
            self.values.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = (name, "multiple" in a)
            self._options = []
        elif tag == "option" and self._select is not None:
            self._option = []
            self._option_attrs = a
        elif tag == "textarea" and name:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option.append(data)
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None:
            a = self._option_attrs
            value = a["value"] if a.get("value") is not None else "".join(self._option).strip()
            self._options.append((value or "", "selected" in a))
            self._option = None
        elif tag == "select" and self._select is not None:
            name, multiple = self._select
            chosen = [v for v, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]
            self.values.extend((name, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.values.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self.inside = False


def submitted(html: str, having: str) -> dict[str, list[str]]:
    """The fields that the page's first form with a field named ``having`` sends as shown."""
    parser = _Form()
    parser.feed(html)
    for values in parser.forms:
        found: dict[str, list[str]] = {}
        for name, value in values:
            found.setdefault(name, []).append(value)
        if having in found:
            return found
    raise AssertionError(f"no form with a field {having!r} on the page")
