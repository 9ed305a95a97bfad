"""The interface in French, Italian and Arabic: every message of the source is in each catalog,
translated (none missing, none fuzzy), with the same placeholders (``msgfmt --check-format``),
and the compiled catalogs Herald loads are the ones in the sources. ``make messages`` updates the
catalogs after a change of wording; this test fails until the new messages are translated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

HERALD = Path(__file__).resolve().parent.parent / "herald"
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]


def catalog(language: str) -> Path:
    return HERALD / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module")
def source_messages(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """What ``makemessages`` finds in the source today (in a copy: the catalogs stay)."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext is missing: `make test` installs it (Debian package gettext)")
    copy = tmp_path_factory.mktemp("source") / "herald"
    shutil.copytree(HERALD, copy, ignore=shutil.ignore_patterns("static", "__pycache__"))
    shutil.rmtree(copy / "locale")
    (copy / "locale").mkdir()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "herald.settings",
        "PYTHONPATH": str(HERALD.parent),
    }
    subprocess.run(  # fixed command, our own source
        [sys.executable, "-m", "django", "makemessages", "-l", "xx", "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        env=environment,
    )
    extracted = polib.pofile(str(copy / "locale" / "xx" / "LC_MESSAGES" / "django.po"))
    return {(e.msgid, e.msgid_plural) for e in extracted}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language: str, source_messages: set[tuple[str, str]]) -> None:
    po = polib.pofile(str(catalog(language)))
    have = {(e.msgid, e.msgid_plural) for e in po if not e.obsolete}
    missing = sorted(m for m, _p in source_messages - have)
    assert not missing, (
        f"{len(missing)} messages not in the {language} catalog: run `make messages`"
    )
    untranslated = [e.msgid for e in po.untranslated_entries()]
    assert not untranslated, (
        f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:3]}"
    )
    fuzzy = [e.msgid for e in po.fuzzy_entries()]
    assert not fuzzy, f"{language}: {len(fuzzy)} fuzzy (check and confirm them), e.g. {fuzzy[:3]}"
    if po.metadata.get("Plural-Forms", "").startswith("nplurals=6"):  # Arabic: every form
        assert all(len(e.msgstr_plural) == 6 for e in po if e.msgid_plural)


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match_and_the_compiled_catalog_is_current(language: str) -> None:
    if shutil.which("msgfmt") is None:
        pytest.fail("msgfmt is missing: `make test` installs it (Debian package gettext)")
    checked = subprocess.run(  # fixed command, our own catalog
        ["msgfmt", "--check-format", "-o", "/dev/null", str(catalog(language))],
        check=False,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
    po = polib.pofile(str(catalog(language)))
    mo = polib.mofile(str(catalog(language).with_suffix(".mo")))
    compiled = {(e.msgid, e.msgstr or tuple(e.msgstr_plural.values())) for e in mo}
    source = {
        (e.msgid, e.msgstr or tuple(e.msgstr_plural.values())) for e in po.translated_entries()
    }
    assert source <= compiled, f"{language}: django.mo is older than django.po: run `make messages`"
