"""The run plan: what one scenario and its seed fix before either backend starts.

Both backends consume the same plan: the sender's send times, which writer CPU each packet lands
on (simulator only), and the poller's stall schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.scenario.fields import Scenario
from ringlab.scenario.stalls import StallSchedule

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
    pauses: object | None = None  # a ringlab.trace.pauses.Pauses (the trace's type: the plan comes first)

    @property
    def packets(self) -> int:
        return len(self.arrival_ns)

    def packets_of_cpu(self, cpu: int) -> np.ndarray:
        """The packets ``cpu`` handles, in the order they arrive (ties: by id)."""
        mine = np.flatnonzero(self.cpu == cpu)
        return mine[np.argsort(self.arrival_ns[mine], kind="stable")]


def streams(seed: int) -> list[np.random.Generator]:
    """The seed's random streams, indexed by the ``STREAM_*`` constants."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)]


CHUNK_PACKETS = 1 << 20  # packets drawn (and simulated) at a time by a streamed run


@dataclass(frozen=True)
class PlanChunk:
    """Packets ``first + 1 .. first + count`` of a plan: their arrival times and CPUs (None where
    the consumer computes them)."""

    first: int
    arrival_ns: np.ndarray | None
    cpu: np.ndarray | None
    count: int


def _chunks(scenario: Scenario, chunk: int):
    """The plan's packets a chunk at a time. Packet ``id`` arrives at the sum of ``id`` gaps, each the
    interval plus U[0, jitter); the random draws continue from chunk to chunk, so the values do not
    depend on the chunk size."""
    rngs = streams(scenario.seed)
    cpus = scenario.writer.cpus
    offset = 0
    for first in range(0, scenario.packets, chunk):
        count = min(chunk, scenario.packets - first)
        gaps = np.full(count, scenario.interval_ns, dtype=np.int64)
        if scenario.jitter_ns:
            gaps += rngs[STREAM_ARRIVALS].integers(0, scenario.jitter_ns, size=count, dtype=np.int64)
        arrival = offset + np.cumsum(gaps)
        offset = int(arrival[-1])
        if scenario.writer.rss == "random":
            cpu = rngs[STREAM_RSS].integers(0, cpus, size=count).astype(np.int16)
        elif cpus == 1:
            cpu = np.zeros(count, np.int16)
        else:
            cpu = ((first + np.arange(count)) % cpus).astype(np.int16)
        yield PlanChunk(first, arrival, cpu, count)


def last_arrival_ns(scenario: Scenario, chunk: int = CHUNK_PACKETS) -> int:
    """When the last packet arrives (with jitter, the gaps are drawn to know it)."""
    if not scenario.jitter_ns:
        return scenario.packets * scenario.interval_ns
    last = 0
    for part in _chunks(scenario, chunk):
        last = int(part.arrival_ns[-1])
    return last


@dataclass(frozen=True)
class StreamedPlan:
    """A plan too large to hold: its stalls and end, and its packets a chunk at a time."""

    scenario: Scenario
    stalls: StallSchedule
    end_ns: int
    chunk: int

    @property
    def packets(self) -> int:
        return self.scenario.packets

    def chunks(self):
        return _chunks(self.scenario, self.chunk)


def stream_plan(scenario: Scenario, chunk: int = CHUNK_PACKETS) -> StreamedPlan:
    """Draw a plan's stalls and end from the scenario's seed; its packets come with ``chunks()``."""
    end_ns = last_arrival_ns(scenario, chunk) + scenario.drain_ns
    stalls = scenario.stalls.schedule(end_ns, streams(scenario.seed)[STREAM_STALLS])
    return StreamedPlan(scenario, stalls, end_ns, chunk)


def draw_plan(scenario: Scenario) -> RunPlan:
    """Draw everything random about a run from the scenario's seed (same seed, same plan, whether
    drawn whole or streamed)."""
    parts = list(_chunks(scenario, CHUNK_PACKETS))
    arrival_ns = np.concatenate([part.arrival_ns for part in parts])
    cpu = np.concatenate([part.cpu for part in parts])
    end_ns = int(arrival_ns[-1]) + scenario.drain_ns
    stalls = scenario.stalls.schedule(end_ns, streams(scenario.seed)[STREAM_STALLS])
    return RunPlan(arrival_ns, cpu, stalls, end_ns)
