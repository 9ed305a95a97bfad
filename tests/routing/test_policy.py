"""The pure routing policy on generated cases (hypothesis): what it decides is replayed step by
step against the rules a contact center relies on: nobody above capacity, nobody given a
conversation twice, oldest waiting first, least loaded first with ties in turn, a returning
customer to their agent when they have room, and nothing left waiting while someone has room."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from herald.routing.policy import Agent, Waiting, assign


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Waiting], list[Agent]]:
    agent_count = draw(st.integers(0, 8))
    agents = []
    for n in range(agent_count):
        capacity = draw(st.one_of(st.none(), st.integers(1, 6)))
        load = draw(st.integers(0, capacity if capacity is not None else 6))
        turn = draw(st.floats(0, 100, allow_nan=False))
        agents.append(Agent(id=100 + n, load=load, capacity=capacity, turn=turn))
    waiting = [
        Waiting(
            id=n,
            since=draw(st.integers(0, 50)),  # repeats: ties broken by id
            preferred=draw(st.one_of(st.none(), st.integers(100, 110))),
        )
        for n in range(draw(st.integers(0, 40)))
    ]
    return waiting, agents


def _has_room(load: int, capacity: int | None) -> bool:
    return capacity is None or load < capacity


@settings(max_examples=400, deadline=None)
@given(cases())
def test_each_decision_follows_the_rules(case: tuple[list[Waiting], list[Agent]]) -> None:
    waiting, agents = case
    decisions = assign(waiting, agents)

    by_id = {w.id: w for w in waiting}
    assigned = [c for c, _a in decisions]
    assert len(assigned) == len(set(assigned)), "a conversation given twice"
    assert set(assigned) <= set(by_id)

    order = sorted(waiting, key=lambda w: (w.since, w.id))
    assert assigned == [w.id for w in order[: len(assigned)]], "not oldest waiting first"

    load = {a.id: a.load for a in agents}
    turn = {a.id: (a.turn, a.id) for a in agents}
    capacity = {a.id: a.capacity for a in agents}
    for step, (conversation_id, agent_id) in enumerate(decisions):
        assert agent_id in load, "given to someone who may not be offered work"
        assert _has_room(load[agent_id], capacity[agent_id]), "above capacity"
        preferred = by_id[conversation_id].preferred
        if preferred in load and _has_room(load[preferred], capacity[preferred]):
            assert agent_id == preferred, "the returning customer's agent had room"
        else:
            with_room = [a for a in load if _has_room(load[a], capacity[a])]
            least = min(load[a] for a in with_room)
            assert load[agent_id] == least, "not the least loaded"
            assert turn[agent_id] == min(turn[a] for a in with_room if load[a] == least), (
                "a tie not given in turn"
            )
        load[agent_id] += 1
        turn[agent_id] = (1000.0 + step, agent_id)

    if len(decisions) < len(waiting):
        assert not any(_has_room(load[a], capacity[a]) for a in load), (
            "left waiting while someone has room"
        )
