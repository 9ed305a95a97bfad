"""Every page, opened as an admin in French, Italian and Arabic, shows no English: neither a
message of the catalogs left untranslated, nor English text that never went through a catalog
(a sentence the page shows the same in English and in the other language)."""

from __future__ import annotations

import html
import re
from functools import cache

import polib
import pytest

from tests.test_access_matrix import PAGES, _fill, access_of
from tests.test_catalogs import LANGUAGES, catalog

pytestmark = pytest.mark.django_db

ENGLISH = re.compile(r"\b(the|and|to|of|is|are|this|with|for|your|not|no|yet)\b", re.IGNORECASE)
TAGS = re.compile(r"<(script|style|textarea|pre|code|svg)\b.*?</\1>|<[^>]+>", re.DOTALL)
# Text that is not Herald's to translate: what tests put in objects (names, addresses, codes),
# protocol and product names, the example values users type as they are (the windows syntax).
NOT_OURS = re.compile(
    r"@|https?://|\$\{|Matrix|Mat\b|Hello|Bye|SMTP|IMAP|DKIM|OAuth|CSV|JSON|HTML|MIME|TLS|"
    r"Mon-Fri|every Monday|\bMX\b|Herald\b$"
    r"|^email$|^first_name$"  # the columns of the CSV file an import page shows
)


def texts(page: str) -> set[str]:
    """The visible sentences of a page: text between tags, whitespace collapsed."""
    body = page[page.find("<main") :] if "<main" in page else page
    plain = TAGS.sub("\n", body)
    return {" ".join(html.unescape(t).split()) for t in plain.split("\n") if t.strip()}


@cache
def english_messages(language: str) -> frozenset[str]:
    """The catalog's English messages whose translation differs from them."""
    po = polib.pofile(str(catalog(language)))
    return frozenset(
        e.msgid
        for e in po
        if not e.msgid_plural and "%" not in e.msgid and "{" not in e.msgid
        and len(e.msgid) >= 5 and e.msgstr and e.msgstr != e.msgid
    )  # fmt: skip


GET_PAGES = [(route, p) for route, p in PAGES if access_of(p.callback) != "public"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_page_shows_english(language, personas, client_for):
    admin = personas["admin"]
    english_client = client_for(admin)
    leaks: dict[str, set[str]] = {}
    compared = 0
    for route, _pattern in GET_PAGES:
        url = _fill(route, personas)
        admin.language = "en"
        admin.save(update_fields=["language"])
        english = english_client.get(url)
        if english.status_code != 200 or "text/html" not in english.get("Content-Type", ""):
            continue
        admin.language = language
        admin.save(update_fields=["language"])
        translated = client_for(admin).get(url)
        compared += 1
        if "<html" in translated.content.decode():  # a whole page, not an htmx fragment
            assert f'lang="{language}"' in translated.content.decode(), url
        shown = texts(translated.content.decode())
        same = shown & texts(english.content.decode())
        found = {t for t in same if ENGLISH.search(t) and not NOT_OURS.search(t)}
        found |= {t for t in shown if t in english_messages(language) and not NOT_OURS.search(t)}
        if found:
            leaks[url] = found
    assert compared >= 40, f"only {compared} pages could be compared"  # the walk walked
    assert not leaks, "\n".join(f"{url}: {sorted(found)}" for url, found in leaks.items())
