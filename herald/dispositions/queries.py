"""Counts of dispositions per code and state: the statistics of triggered emails."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count

from herald.dispositions.models import Disposition, DispositionState


@dataclass
class CodeCounts:
    code: str
    calls: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    @property
    def sent(self) -> int:
        return self.by_state.get(DispositionState.SENT, 0)

    @property
    def waiting(self) -> int:
        return sum(
            self.by_state.get(s, 0)
            for s in (DispositionState.WAITING, DispositionState.SENDING, DispositionState.DEFERRED)
        )

    @property
    def skipped(self) -> int:
        return self.by_state.get(DispositionState.SKIPPED, 0)

    @property
    def failed(self) -> int:
        return self.by_state.get(DispositionState.FAILED, 0)

    @property
    def no_rule(self) -> int:
        return self.by_state.get(DispositionState.NO_RULE, 0)


def counts_per_code(
    since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[CodeCounts]:
    """Calls recorded in [since, until) per code, and where their emails stand."""
    rows = Disposition.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    out: dict[str, CodeCounts] = {}
    for code, state, n in (
        rows.values_list("code", "state").annotate(n=Count("id")).order_by("code", "state")
    ):
        counts = out.setdefault(code, CodeCounts(code))
        counts.calls += n
        counts.by_state[state] = n
    return list(out.values())
