"""`herald bench capacity_pacing [--recipients N] [--seed S]`: a campaign sent at a fixed pace and
the same campaign paced by the agents of its mailbox (herald.routing.capacity.pace, the code the
dialer runs), in one simulated contact center, side by side.

The simulation, one step per second: a campaign of N messages; each recipient replies with a
probability (3 %) after a delay (exponential, mean 20 min); replies queue and go, oldest first,
to an available agent with a free slot (capacity 3 each); each conversation holds its slot for
a handling time (exponential, mean 240 s). Agents come and go: 8 for two hours, 3 during the
third hour, 8 again after. The capacity-paced campaign recomputes its pace every 10 s from what
it can observe: available agents and their capacity, sends and replies so far (replies come late,
so the observed rate trails the true one), the median handling time of closed conversations, the
queue and the 30-minute service-level target.

Prints, for each pacing: the queue's maximum, the longest wait for an agent, the share of replies
taken within the target, and the minutes to send the whole campaign. Pure Python, no database.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections import deque
from dataclasses import dataclass

from herald.routing.capacity import REPLY_WINDOW_S, Observed, pace

REPLY_RATE = 0.03
REPLY_DELAY_MEAN_S = 1200.0
HANDLING_MEAN_S = 240.0
CAPACITY = 3
TARGET_S = 1800
FIXED_PER_S = 10.0  # 600/min: the campaign's own pace, also the capacity-paced one's ceiling
RECOMPUTE_S = 10
HORIZON_S = 24 * 3600


def agents_at(t: int) -> int:
    """Agents available at second ``t``: 8, then 3 during the third hour, then 8."""
    return 3 if 2 * 3600 <= t < 3 * 3600 else 8


@dataclass
class Outcome:
    queue_max: int
    max_wait_s: float
    within_target_percent: float
    campaign_minutes: float
    replies: int

    def figures(self) -> dict:
        return {
            "queue_max": self.queue_max,
            "max_wait_s": round(self.max_wait_s),
            "within_target_percent": round(self.within_target_percent, 1),
            "campaign_minutes": round(self.campaign_minutes, 1),
            "replies": self.replies,
        }


def simulate(recipients: int, seed: int, *, capacity_paced: bool) -> Outcome:
    rng = random.Random(seed)
    replies_due: list[float] = []  # heap of reply arrival times
    finishing: list[tuple[float, int]] = []  # heap of (end time, agent)
    busy = [0] * 8  # slots in use per agent (agents 0..7; the first agents_at(t) are present)
    queue: deque[float] = deque()  # arrival times of waiting replies
    handled: list[float] = []  # handling times of closed conversations
    sends: deque[int] = deque()  # when each message of the last REPLY_WINDOW_S went
    waits: list[float] = []
    sent = replies = queue_max = 0
    per_second = FIXED_PER_S
    credit = 0.0
    finished_at = None
    for t in range(HORIZON_S):
        present = agents_at(t)
        while sends and sends[0] <= t - REPLY_WINDOW_S:
            sends.popleft()
        if capacity_paced and t % RECOMPUTE_S == 0:
            observed = Observed(
                slots=present * CAPACITY,
                agents=present,
                sent=sent,
                recent=len(sends),
                replies=replies,
                handling_s=statistics.median(handled[-500:]) if len(handled) >= 5 else None,
                queue=len(queue),
                target_s=TARGET_S,
            )
            per_second = min(FIXED_PER_S, pace(observed).per_second)
        if sent < recipients:
            credit += per_second
            while credit >= 1 and sent < recipients:
                credit -= 1
                sent += 1
                sends.append(t)
                if rng.random() < REPLY_RATE:
                    heapq.heappush(replies_due, t + rng.expovariate(1 / REPLY_DELAY_MEAN_S))
            if sent == recipients:
                finished_at = t
        while replies_due and replies_due[0] <= t:
            queue.append(heapq.heappop(replies_due))
            replies += 1
        while finishing and finishing[0][0] <= t:
            _end, agent = heapq.heappop(finishing)
            busy[agent] -= 1
        queue_max = max(queue_max, len(queue))
        # Oldest first, to the least loaded present agent with a free slot.
        while queue:
            free = [a for a in range(present) if busy[a] < CAPACITY]
            if not free:
                break
            agent = min(free, key=lambda a: busy[a])
            arrived = queue.popleft()
            waits.append(t - arrived)
            handling = rng.expovariate(1 / HANDLING_MEAN_S)
            handled.append(handling)
            busy[agent] += 1
            heapq.heappush(finishing, (t + handling, agent))
        if finished_at is not None and not replies_due and not queue:
            break
    within = sum(w <= TARGET_S for w in waits)
    return Outcome(
        queue_max=queue_max,
        max_wait_s=max(waits, default=0.0),
        within_target_percent=100 * within / len(waits) if waits else 100.0,
        campaign_minutes=(finished_at if finished_at is not None else HORIZON_S) / 60,
        replies=replies,
    )


def run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="herald bench capacity_pacing")
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    fixed = simulate(args.recipients, args.seed, capacity_paced=False)
    paced = simulate(args.recipients, args.seed, capacity_paced=True)
    return {
        "recipients": args.recipients,
        "target_s": TARGET_S,
        "fixed_per_min": FIXED_PER_S * 60,
        "fixed": fixed.figures(),
        "capacity_paced": paced.figures(),
        "capacity_keeps_target": paced.max_wait_s <= TARGET_S < fixed.max_wait_s,
    }
