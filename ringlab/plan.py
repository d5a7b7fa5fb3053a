"""The run plan: what one scenario and its seed fix before either backend starts.

Both backends consume the same plan: the sender's send times, which writer CPU each packet lands
on (simulator only), and the poller's stall schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.pauses import Pauses
from ringlab.scenario import Scenario
from ringlab.stalls import StallSchedule

# Independent random streams derived from the scenario's seed, one per purpose.
STREAM_STALLS, STREAM_ARRIVALS, STREAM_RSS = range(3)


@dataclass(frozen=True)
class RunPlan:
    """Per-packet arrival times and CPUs (packet ``i`` has id ``i + 1``; CPU -1: the packet never
    reaches the writer), the poller's stalls, and the end time.

    ``pauses`` labels the stalls (a replay gives measured ones, background among them); by
    default they are the stall schedule's, all injected.
    """

    arrival_ns: np.ndarray
    cpu: np.ndarray
    stalls: StallSchedule
    end_ns: int
    pauses: Pauses | None = None

    @property
    def packets(self) -> int:
        return len(self.arrival_ns)

    @property
    def poller_pauses(self) -> Pauses:
        return self.pauses if self.pauses is not None else Pauses.injected(self.stalls)

    def packets_of_cpu(self, cpu: int) -> np.ndarray:
        """The packets ``cpu`` handles, in the order they arrive (ties: by id)."""
        mine = np.flatnonzero(self.cpu == cpu)
        return mine[np.argsort(self.arrival_ns[mine], kind="stable")]


def streams(seed: int) -> list[np.random.Generator]:
    """The seed's random streams, indexed by the ``STREAM_*`` constants."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)]


def arrival_times_ns(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """Packet ``id`` is sent at the sum of ``id`` gaps; each gap is the interval plus U[0, jitter)."""
    gaps = np.full(scenario.packets, scenario.interval_ns, dtype=np.int64)
    if scenario.jitter_ns:
        gaps += rng.integers(0, scenario.jitter_ns, size=scenario.packets, dtype=np.int64)
    return np.cumsum(gaps)


def draw_plan(scenario: Scenario) -> RunPlan:
    """Draw everything random about a run from the scenario's seed (same seed, same plan)."""
    rngs = streams(scenario.seed)
    arrival_ns = arrival_times_ns(scenario, rngs[STREAM_ARRIVALS])
    cpus = scenario.writer.cpus
    if scenario.writer.rss == "random":
        cpu = rngs[STREAM_RSS].integers(0, cpus, size=scenario.packets).astype(np.int16)
    else:
        cpu = (np.arange(scenario.packets) % cpus).astype(np.int16)
    end_ns = int(arrival_ns[-1]) + scenario.drain_ns
    stalls = scenario.stalls.schedule(end_ns, rngs[STREAM_STALLS])
    return RunPlan(arrival_ns, cpu, stalls, end_ns)
