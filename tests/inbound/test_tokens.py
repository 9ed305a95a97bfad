"""Reply tokens in Reply-To plus-addresses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.inbound.tokens import (
    TOKEN_LENGTH,
    find_reply_token,
    is_reply_token,
    make_reply_address,
    new_reply_token,
)


def test_a_new_token_is_lower_case_base32_of_the_documented_length() -> None:
    token = new_reply_token()
    assert len(token) == TOKEN_LENGTH
    assert is_reply_token(token)
    assert new_reply_token() != token


def test_a_reply_address_is_a_plus_address() -> None:
    token = "abcdefghijklmnopqrst"
    assert make_reply_address("campaigns", "example.org", token) == (
        "campaigns+r-abcdefghijklmnopqrst@example.org"
    )


def test_a_malformed_token_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="base32"):
        make_reply_address("campaigns", "example.org", "not-a-token")


def test_a_local_part_too_long_for_the_token_is_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        make_reply_address("x" * 50, "example.org", new_reply_token())


@given(st.sampled_from([str.lower, str.upper, str.title, lambda s: s]))
def test_the_token_survives_any_change_of_case(change: object) -> None:
    token = new_reply_token()
    address = make_reply_address("campaigns", "example.org", token)
    assert find_reply_token([f"Herald <{change(address)}>"]) == token  # type: ignore[operator]


def test_addresses_without_a_token_give_none() -> None:
    assert find_reply_token(["campaigns@example.org", "jane+news@example.com", ""]) is None
