"""Scores the reply-extraction libraries on PyPI on both corpora, graded as scoring.py grades.

They are not Herald's dependencies: install them in a throwaway environment and run this there::

    uv venv /tmp/evalvenv && VIRTUAL_ENV=/tmp/evalvenv uv pip install email-reply-parser \\
        mail-parser-reply quotequail talon
    /tmp/evalvenv/bin/python tests/inbound/replies/evaluate_libraries.py \\
        email_reply_parser mail-parser-reply quotequail talon

HTML items are reduced to text by a tag-stripping regex for the libraries that take text.
"""

from __future__ import annotations

import email
import html
import json
import re
import sys
from collections.abc import Callable
from email import policy
from pathlib import Path

Extractor = Callable[[str, str], str]
HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[3] / "shared" / "corpora" / "replies"
LANGUAGES = ["en", "de", "fr", "it", "es", "pt", "nl", "sv", "pl", "ja", "cs", "da", "ko", "zh"]


def _sign_off(extra: str) -> bool:
    lines = [line.strip() for line in extra.strip().splitlines() if line.strip()]
    return len(lines) <= 3 and all(len(line) <= 60 for line in lines)


def _matches(got: str, want: str, compare: str) -> bool:
    if compare == "whitespace_insensitive":
        return "".join(got.split()) == "".join(want.split())
    got, want = got.strip(), want.strip()
    if got == want:
        return True
    if want and got.startswith(want):
        return _sign_off(got[len(want) :])
    return bool(got) and want.startswith(got) and _sign_off(want[len(got) :])


def _text_of_html(markup: str) -> str:
    markup = re.sub(r"(?is)<(style|script|head)[^>]*>.*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h\d)>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _body(content: bytes, fmt: str) -> tuple[str, str]:
    if fmt != "eml":
        return content.decode("utf-8", "replace"), fmt
    message = email.message_from_bytes(content, policy=policy.default)
    part = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if part is None:
        return "", "text"
    return part.get_content(), "html" if part.get_content_type() == "text/html" else "text"


def _extractor(name: str) -> Extractor:
    if name == "email_reply_parser":
        from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]

        return lambda text, fmt: EmailReplyParser.parse_reply(
            _text_of_html(text) if fmt == "html" else text
        )
    if name == "mail-parser-reply":
        from mailparser_reply import EmailReplyParser as Parser  # type: ignore[import-not-found]

        parser = Parser(languages=LANGUAGES)
        return lambda text, fmt: parser.parse_reply(
            text=_text_of_html(text) if fmt == "html" else text
        )
    if name == "quotequail":
        import quotequail  # type: ignore[import-not-found]

        def shown(text: str, fmt: str) -> str:  # (True, part) is what the library would show
            if fmt == "html":
                return _text_of_html("".join(t for keep, t in quotequail.quote_html(text) if keep))
            return "".join(t for keep, t in quotequail.quote(text) if keep)

        return shown
    if name == "talon":
        import talon  # type: ignore[import-not-found]
        from talon import quotations  # type: ignore[import-not-found]

        talon.init()
        return lambda text, fmt: (
            _text_of_html(quotations.extract_from_html(text))
            if fmt == "html"
            else quotations.extract_from_plain(text)
        )
    raise SystemExit(f"unknown library {name!r}")


def score(extract: Extractor, folder: Path) -> tuple[int, int]:
    expected = json.loads((folder / "expected.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    right = 0
    for name, want in expected.items():
        info = meta.get(name, {})
        text, fmt = _body((folder / name).read_bytes(), info.get("format", "text"))
        try:
            got = extract(text, fmt) or ""
        except Exception:  # a library that raises scores that item wrong
            got = ""
        wanted = [want] + ([info["alt_reply"]] if info.get("alt_reply") is not None else [])
        right += any(_matches(got, w, info.get("compare", "strip")) for w in wanted)
    return right, len(expected)


def main() -> None:
    for name in sys.argv[1:]:
        extract = _extractor(name)
        for label, folder in (("shared", SHARED), ("herald", HERE)):
            if (folder / "expected.json").is_file():
                right, total = score(extract, folder)
                print(f"{name:20} {label:7} {right}/{total} = {100 * right / total:.1f} %")  # noqa: T201


if __name__ == "__main__":
    main()
