"""Address normalization, and the fast path's promise: it never disagrees with email-validator."""

from __future__ import annotations

import string

from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from herald.contacts.addresses import normalize, validate


def _reference(raw: str) -> tuple[str, bool]:
    address = raw.strip(" \t\r\n\f\v\u00a0\u200b\ufeff")
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return "", False
    return f"{result.ascii_local_part or result.local_part}@{result.ascii_domain}", True


def test_addresses_are_trimmed_and_their_domain_lowered_and_idna_encoded():
    assert normalize("  John.Doe@Example.COM \t") == "John.Doe@example.com"
    assert normalize("anna@Bücher.de") == "anna@xn--bcher-kva.de"


def test_an_invalid_address_comes_back_with_a_reason_that_says_what_is_wrong():
    _normalized, error = validate("john@localhost")
    assert error is not None
    assert "period" in error
    assert validate("")[1] == "The address is empty."
    assert validate("two@@example.com")[1] is not None


_local_chars = string.ascii_letters + string.digits + "._%+-!#'=?^`{|}~/&*$@\"é ()"
_domain_chars = string.ascii_letters + string.digits + "-.éü_"


@settings(max_examples=3000, deadline=None)
@given(
    local=st.text(_local_chars, min_size=0, max_size=70),
    domain=st.one_of(
        st.text(_domain_chars, min_size=0, max_size=40),
        st.sampled_from(
            [
                "example.com",
                "EXAMPLE.org",
                "a.b.c.de",
                "localhost",
                "x.test",
                "1.2.3.4",
                "[127.0.0.1]",
                "xn--bcher-kva.de",
                "-bad.com",
                "bad-.com",
                "a..b.com",
            ]
        ),
    ),
    pad=st.sampled_from(["", " ", "\t", "\u00a0"]),
)
@example(local="a" * 64, domain="b" * 63 + ".com", pad="")
@example(local="a" * 64, domain=("b" * 60 + ".") * 3 + "com", pad="")
def test_the_fast_path_accepts_exactly_what_email_validator_accepts(local, domain, pad):
    raw = f"{pad}{local}@{domain}{pad}"
    normalized, error = validate(raw)
    expected, ok = _reference(raw)
    assert (error is None) == ok
    if ok:
        assert normalized == expected
