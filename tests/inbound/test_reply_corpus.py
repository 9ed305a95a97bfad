"""Reply text on Herald's own corpus (tests/inbound/replies: 577 replies as 20 mail clients
lay them out, in 14 languages; see its README), with the floor of issue 16."""

from __future__ import annotations

import pytest

from tests.inbound.scoring import OWN, score_replies

FLOOR = 0.95


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_reply_text_is_right_on_95_percent_of_our_corpus(crlf: bool) -> None:
    score = score_replies(OWN, crlf=crlf)
    assert score.graded >= 300
    assert score.ratio >= FLOOR, "\n".join([score.line(), *score.failures])
