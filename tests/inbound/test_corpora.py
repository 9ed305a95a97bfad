"""Accuracy on the shared real-world corpora (../shared/corpora), with the floors of issue 7.

Figures and every failing file are written to the terminal summary (whatever -s says) and put in
the assertion messages. See scoring.py for the grading rules of corpora/README.md.
"""

from __future__ import annotations

import pytest

from tests.inbound.scoring import CORPORA, Score, corpora_missing, score_bounces, score_replies

# Not in a clone of the repository alone: say what is missing instead of failing on a path.
pytestmark = pytest.mark.skipif(corpora_missing() is not None, reason=corpora_missing() or "")

FLOORS = {"bounce": 0.98, "kind": 0.95, "recipients": 0.95, "reply": 0.90}
REPORT: list[str] = []


def report(score: Score) -> str:
    text = "\n".join([score.line(), *("    " + f for f in score.failures)])
    REPORT.append(text)
    return text


@pytest.fixture(scope="module")
def bounces() -> dict[str, Score]:
    return score_bounces(CORPORA)


def test_bounce_yes_no_is_right_on_98_percent_of_files(bounces: dict[str, Score]) -> None:
    score = bounces["bounce"]
    assert score.graded == 360
    assert score.ratio >= FLOORS["bounce"], report(score)
    report(score)


def test_hard_or_soft_is_right_on_95_percent_of_graded_files(bounces: dict[str, Score]) -> None:
    score = bounces["kind"]
    assert score.ratio >= FLOORS["kind"], report(score)
    report(score)


def test_recipients_are_right_on_95_percent_of_graded_files(bounces: dict[str, Score]) -> None:
    score = bounces["recipients"]
    assert score.ratio >= FLOORS["recipients"], report(score)
    report(score)


@pytest.mark.parametrize("crlf", [False, True], ids=["LF", "CRLF"])
def test_reply_text_is_right_on_90_percent_of_items(crlf: bool) -> None:
    score = score_replies(CORPORA, crlf=crlf)
    assert score.graded == 124
    assert score.ratio >= FLOORS["reply"], report(score)
    report(score)
