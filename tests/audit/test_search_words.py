"""How the history's search cuts text into words (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from herald.audit.search import MAX_WORD_LENGTH, MAX_WORDS, event_words, words


def test_an_email_and_an_action_are_cut_into_their_parts():
    assert event_words("alice@example.com (API token CRM)", "user.change", "user", "Bob") == [
        "alice",
        "example",
        "com",
        "api",
        "token",
        "crm",
        "user",
        "change",
        "bob",
    ]


def test_words_are_case_insensitive_and_accented_letters_are_letters():
    assert words("Relance ÉTÉ été") == ["relance", "été"]
    assert words("Straße") == words("STRASSE") == ["strasse"]  # case folding, not lower()


def test_underscores_dots_and_dashes_separate_words():
    assert words("contact_list.import follow-up v2.1") == [
        "contact",
        "list",
        "import",
        "follow",
        "up",
        "v2",
        "1",
    ]


@given(st.text())
def test_words_are_distinct_bounded_and_searching_them_finds_them(text):
    found = words(text)
    assert len(found) == len(set(found)) <= MAX_WORDS
    assert all(0 < len(w) <= MAX_WORD_LENGTH for w in found)
    for word in found:  # a word of the text, searched for, is cut into itself
        assert words(word) == [word]
