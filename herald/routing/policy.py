"""The routing policy, pure: which waiting conversation goes to which agent.

No database here (principle 7): ``herald.routing.actions`` reads a mailbox's queue and its agents,
asks ``assign`` and writes the answer. The rules, as contact centers route email:

- the queue is served oldest first, by when the customer's first unanswered message arrived;
- an agent is offered work only while available, not resting, and under capacity;
- among those, the least loaded gets it; between equally loaded agents, the one whose last
  assignment is oldest (so that ties go round in turn);
- a conversation may name a preferred agent (the one who last handled this customer): it goes
  to them when they can take it, and otherwise to whoever the rules above pick.

``assign`` never gives an agent more than their free capacity and never gives a conversation
twice; ``tests/routing/test_policy.py`` checks this and the order on generated cases.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Agent:
    id: int
    load: int  # active conversations held now
    capacity: int | None  # None: no limit
    turn: float  # when they were last assigned one (smaller: longer ago); ties go to it

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.load, 0)


@dataclass(frozen=True)
class Waiting:
    id: int
    since: float  # when the customer's first unanswered message arrived
    preferred: int | None = None  # the agent who last handled this customer


def assign(waiting: Sequence[Waiting], agents: Sequence[Agent]) -> list[tuple[int, int]]:
    """(conversation id, agent id) pairs, oldest waiting first, for as many of ``waiting`` as
    ``agents`` (those who may be offered work now) have room for."""
    load = {a.id: a.load for a in agents}
    capacity = {a.id: a.capacity for a in agents}
    turn = {a.id: a.turn for a in agents}
    heap = [(a.load, a.turn, a.id) for a in agents if _has_room(a.load, a.capacity)]
    heapq.heapify(heap)
    next_turn = max(turn.values(), default=0.0)
    decisions: list[tuple[int, int]] = []
    for conversation in sorted(waiting, key=lambda w: (w.since, w.id)):
        chosen: int | None = None
        preferred = conversation.preferred
        if preferred in load and _has_room(load[preferred], capacity[preferred]):
            chosen = preferred
        else:
            while heap:
                entry_load, entry_turn, agent = heapq.heappop(heap)
                if (entry_load, entry_turn) == (load[agent], turn[agent]):  # not stale
                    chosen = agent
                    break
        if chosen is None:
            break  # nobody has room: the rest keep waiting
        decisions.append((conversation.id, chosen))
        next_turn += 1.0
        load[chosen] += 1
        turn[chosen] = next_turn
        if _has_room(load[chosen], capacity[chosen]):
            heapq.heappush(heap, (load[chosen], next_turn, chosen))
    return decisions


def _has_room(load: int, capacity: int | None) -> bool:
    return capacity is None or load < capacity
