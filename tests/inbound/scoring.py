"""Grading classify() against the shared corpora, by the rules of corpora/README.md.

Used by test_corpora.py (which asserts the floors) and runnable by hand to see every failure:
``.venv/bin/python -m tests.inbound.scoring``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from herald.inbound.classify import UnreadableMessage, classify
from herald.inbound.quotes import extract_reply

REPO = Path(__file__).resolve().parents[2]
CORPORA = Path(os.environ.get("HERALD_CORPORA", REPO.parent / "shared" / "corpora"))
MISSING = (
    "the shared corpora are not at {path}: they come with the Herald workspace (../shared/"
    "corpora: 360 real bounces and 124 real replies with their expected results), not with a "
    "clone of this repository. Set HERALD_CORPORA to their folder to run these checks; Herald's "
    "own reply corpus (tests/inbound/replies) needs nothing else."
)
MAX_SIGN_OFF_LINES = 3  # "Thanks,\nJane" — sources disagree on whether it belongs to the reply
MAX_SIGN_OFF_CHARS = 60


@dataclass
class Score:
    """Right answers out of graded files, and which files were wrong."""

    name: str
    right: int = 0
    graded: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, ok: bool, label: str) -> None:
        self.graded += 1
        self.right += ok
        if not ok:
            self.failures.append(label)

    @property
    def ratio(self) -> float:
        return self.right / self.graded if self.graded else 1.0

    def line(self) -> str:
        return f"{self.name}: {self.right}/{self.graded} = {100 * self.ratio:.1f} %"


def corpora_missing(corpora: Path = CORPORA) -> str | None:
    """Why the shared corpora cannot be read here, or None when they can."""
    wanted = [corpora / "bounces" / "expected.json", corpora / "replies" / "expected.json"]
    if all(p.is_file() for p in wanted):
        return None
    return MISSING.format(path=corpora)


def score_bounces(corpora: Path = CORPORA) -> dict[str, Score]:
    """Bounce yes/no, hard/soft and recipients, on the files that grade each."""
    expected = json.loads((corpora / "bounces" / "expected.json").read_text())
    scores = {k: Score(k) for k in ("bounce", "kind", "recipients")}
    for name, want in sorted(expected.items()):
        raw = (corpora / "bounces" / name).read_bytes()
        try:
            result = classify(raw)
        except UnreadableMessage as exc:
            for key in want["grade"]:
                if key in scores:
                    scores[key].add(False, f"{name}: unreadable ({exc})")
            continue
        bounce = result.bounce
        grade = want["grade"]
        if "bounce" in grade:
            got = result.kind == "bounce"
            scores["bounce"].add(got == want["bounce"], f"{name}: bounce={got} ({result.reason})")
        if "kind" in grade:
            got_kind = bounce.type if bounce else None
            scores["kind"].add(
                got_kind == want["kind"], f"{name}: {got_kind} instead of {want['kind']}"
            )
        if "recipients" in grade:
            got_set = {r.lower() for r in bounce.recipients} if bounce else set()
            want_set = {r.lower() for r in want["recipients"] or []}
            scores["recipients"].add(
                got_set == want_set, f"{name}: {sorted(got_set)} instead of {sorted(want_set)}"
            )
    return scores


def _sign_off(extra: str) -> bool:
    lines = [line.strip() for line in extra.strip().splitlines() if line.strip()]
    return len(lines) <= MAX_SIGN_OFF_LINES and all(len(x) <= MAX_SIGN_OFF_CHARS for x in lines)


def reply_matches(got: str, want: str, compare: str) -> bool:
    """Whether the extracted text is the expected one, a sign-off more or less."""
    if compare == "whitespace_insensitive":
        got, want = "".join(got.split()), "".join(want.split())
    else:
        got, want = got.strip(), want.strip()
    if got == want:
        return True
    if compare == "whitespace_insensitive":
        return False
    # Lenient on sign-offs: one side may keep a short closing ("Thanks,\nJane") the other drops.
    if want and got.startswith(want):
        return _sign_off(got[len(want) :])
    if got and want.startswith(got):
        return _sign_off(want[len(got) :])
    return False


def _reply_text(content: bytes, fmt: str) -> str:
    if fmt == "eml":
        return classify(content).reply_text
    text = content.decode("utf-8", errors="replace")
    if fmt == "html":
        from herald.inbound.mime import html_to_text

        text = html_to_text(text)
    return extract_reply(text)


def score_replies(corpora: Path = CORPORA, *, crlf: bool = False) -> Score:
    """Reply text right, per item (``alt_reply`` accepted too)."""
    folder = corpora / "replies"
    expected = json.loads((folder / "expected.json").read_text())
    meta = json.loads((folder / "meta.json").read_text())
    score = Score("reply text (CRLF)" if crlf else "reply text (LF)")
    for name, want in sorted(expected.items()):
        info = meta.get(name, {})
        content = (folder / name).read_bytes()
        if crlf:
            content = content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        got = _reply_text(content, info.get("format", "text"))
        wanted = [want] + ([info["alt_reply"]] if info.get("alt_reply") is not None else [])
        ok = any(reply_matches(got, w, info.get("compare", "strip")) for w in wanted)
        score.add(ok, f"{name}: got {got[:120]!r}")
    return score


OWN = Path(__file__).resolve().parent  # Herald's own reply corpus is OWN / "replies"


def main() -> None:
    """Prints every figure and every failing file: the shared corpora (when present), then
    Herald's own reply corpus."""
    scores = []
    missing = corpora_missing()
    if missing is None:
        scores += [*score_bounces().values(), score_replies(), score_replies(crlf=True)]
    else:
        print(missing)  # noqa: T201
    own = score_replies(OWN)
    own.name = "reply text, Herald's own corpus (LF)"
    scores.append(own)
    for score in scores:
        print(score.line())  # noqa: T201
        for failure in score.failures:
            print("   ", failure)  # noqa: T201


if __name__ == "__main__":
    main()
