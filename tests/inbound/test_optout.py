"""Opt-out keywords in the subject or as the first word of a short reply."""

from __future__ import annotations

import pytest

from herald.inbound.optout import DEFAULT_OPTOUT_KEYWORDS, optout_keyword


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Re: offer", "STOP"),
        ("Re: offer", "stop."),
        ("RE: offre", "Arrêt"),
        ("RE: offre", "arret merci"),
        ("R: offerta", "DISISCRIVI"),
        ("AW: Angebot", "Abmelden bitte"),
        ("RE: oferta", "baja"),
        ("UNSUBSCRIBE", "Please see my earlier mail about the invoice of last month, thanks"),
        ("Re: DÉSABONNER", ""),
    ],
)
def test_keywords_are_found_whatever_the_case_and_accents(subject: str, text: str) -> None:
    assert optout_keyword(subject, text, DEFAULT_OPTOUT_KEYWORDS) is not None


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        ("Re: offer", "End of the month works for us, could you send the quote before then?"),
        ("Re: stop by our shop", "Thanks, I will come on Friday."),
        ("Re: offer", "Please do not stop sending these"),
    ],
)
def test_sentences_that_merely_contain_a_keyword_are_not_opt_outs(subject: str, text: str) -> None:
    assert optout_keyword(subject, text, DEFAULT_OPTOUT_KEYWORDS) is None


def test_the_keyword_list_is_an_argument() -> None:
    assert optout_keyword("Re: x", "PAUSE", ["pause"]) == "pause"
    assert optout_keyword("Re: x", "STOP", ["pause"]) is None
