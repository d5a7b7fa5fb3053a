"""Every dropped packet given its cause, from the trace alone, so simulated and measured runs are
explained by the same rules.

A packet is dropped because the slot it was given still held an unread packet, the one that
*blocked* it (the trace's ``blocked_by``). That packet sat in the ring from its arrival until the
drop: during that window the poller did not get to it. The drop's cause is, in this order:

1. the poller pause (injected, or background with its source) that overlaps the window most:
   the pause during, or right after, which the ring filled;
2. **slot still being written**: the blocking packet had claimed the slot but was not yet
   committed (several writer CPUs, the locked producer, a slow copy);
3. a **sender burst**: the packets that arrived from the blocking packet to the dropped one came,
   on average, closer together than half the planned interval (on hardware: a sender catching up
   after a pause of its own);
4. **writer at an offset**: during the window the poller waited on an empty slot other than the
   one the blocking packet sat in: the write index had skipped ahead of the reader (the bug's
   lasting offset, or the fix's race), so the ring held fewer packets than it could;
5. **poller too slow**: none of the above, the poller was busy throughout (reading, noticing, or
   in pauses shorter than the recording threshold) and still fell behind the arrivals;
6. **unexplained**: the blocking packet is unknown (hardware can miss it in a race with the poller)
   and neither a pause nor a burst covers the window.

Where the blocking packet is unknown (hardware can miss it in a race with the poller), the window
is the N planned intervals before the drop. The fast engine applies the same rules while it runs
(``sim/fast_engine.c``), so summary-only runs report the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.trace.pauses import INJECTED, KIND_NAMES, Pauses
from ringlab.trace.records import DELIVERED, DROPPED_FULL, IN_RING, LOST_BEFORE_RING, NOT_SET, PENDING, Trace

CAUSE_INJECTED, CAUSE_BACKGROUND, CAUSE_WRITING, CAUSE_BURST, CAUSE_OFFSET, CAUSE_SLOW, CAUSE_UNEXPLAINED = range(7)
CAUSE_NAMES = ("injected stall", "background pause", "slot still being written", "sender burst", "writer at an offset",
               "poller too slow", "unexplained")
NEVER = np.iinfo(np.int64).max
BURST_FRACTION = 0.5  # arrivals this much closer together than planned count as a burst


@dataclass(frozen=True)
class DropCauses:
    """Per dropped packet (ids in ``drop_ids``): the window it waited in, the pause it is
    attributed to (-1: none) and its cause (an index into CAUSE_NAMES)."""

    drop_ids: np.ndarray
    window_start_ns: np.ndarray
    window_end_ns: np.ndarray
    pause_index: np.ndarray
    cause: np.ndarray


def drop_windows(trace: Trace, drops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the dropped packets ``drops`` (indices), from the blocking packet's arrival to the drop."""
    end = trace.decided_ns[drops]
    blocker = trace.blocked_by[drops] - 1
    known = (trace.blocked_by[drops] != NOT_SET) & (blocker >= 0) & (blocker < trace.packets)
    start = end - trace.ring_slots * trace.interval_ns
    blocker_arrival = trace.arrival_ns[np.where(known, blocker, 0)]
    known &= (trace.cpu[np.where(known, blocker, 0)] >= 0) & (blocker_arrival <= end)
    return np.where(known, blocker_arrival, start), end


def pause_with_most_overlap(pauses: Pauses, start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """For each window, the index of the pause overlapping it most (the first on a tie), or -1."""
    pause_start, pause_end = pauses.start_ns, pauses.end_ns
    first = np.searchsorted(pause_end, start_ns, side="right")  # the first pause ending after the start
    stop = np.searchsorted(pause_start, end_ns, side="left")    # pauses starting before the end
    best = np.full(len(start_ns), -1, np.int64)
    best_overlap = np.zeros(len(start_ns), np.int64)
    span = int((stop - first).max(initial=0))
    for offset in range(span):
        index = first + offset
        candidate = index < stop
        safe = np.where(candidate, index, 0)
        overlap = np.minimum(pause_end[safe], end_ns) - np.maximum(pause_start[safe], start_ns)
        better = candidate & (overlap > best_overlap)
        best = np.where(better, index, best)
        best_overlap = np.where(better, overlap, best_overlap)
    return best


def is_burst(arrivals_sorted: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray, interval_ns: int) -> np.ndarray:
    """True where the packets arriving in [start, end] came closer together than BURST_FRACTION of
    the planned interval, on average."""
    count = np.searchsorted(arrivals_sorted, end_ns, side="right") - np.searchsorted(arrivals_sorted, start_ns, side="left")
    return (count >= 2) & ((end_ns - start_ns) < BURST_FRACTION * interval_ns * (count - 1))


@dataclass(frozen=True)
class PollerWaits:
    """The intervals [start, end) in which the poller waited on an empty ``slot`` for a packet to be
    written, in time order (``end`` NEVER: still waiting when the run ended)."""

    start_ns: np.ndarray
    end_ns: np.ndarray
    slot: np.ndarray

    def latest_on_another_slot(self, before_ns: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """For each time and slot: the latest wait begun before that time on another slot, or -1."""
        latest = np.searchsorted(self.start_ns, before_ns, side="left") - 1
        if not len(self.slot):
            return latest
        # The first wait of each run of waits on one slot; the wait before it is on another slot.
        run_start = np.maximum.accumulate(np.where(np.r_[True, self.slot[1:] != self.slot[:-1]],
                                                   np.arange(len(self.slot)), 0))
        same = (latest >= 0) & (self.slot[np.maximum(latest, 0)] == slot)
        return np.where(same, run_start[np.maximum(latest, 0)] - 1, latest)


def poller_waits(trace: Trace) -> PollerWaits:
    """When the poller waited: it came to a slot (at the end of the read before, or at 0) in which
    the next packet it read was not yet written."""
    delivered = np.flatnonzero(trace.fate == DELIVERED)
    delivered = delivered[np.argsort(trace.delivery_order[delivered], kind="stable")]
    came = np.concatenate([[0], trace.delivery_ns[delivered]])
    # After the last read the poller waits on the next slot until a packet is written there, if ever.
    next_slot = (int(trace.slot[delivered[-1]]) + 1) % trace.ring_slots if len(delivered) else 0
    left = np.flatnonzero((trace.fate == IN_RING) & (trace.slot == next_slot))  # at most one packet
    end = np.concatenate([trace.decided_ns[delivered], [int(trace.decided_ns[left].min()) if len(left) else NEVER]])
    slot = np.concatenate([trace.slot[delivered], [next_slot]])
    waited = end > came
    return PollerWaits(came[waited], end[waited], slot[waited])


def attribute_drops(trace: Trace) -> DropCauses:
    """The cause of every dropped packet of ``trace`` (see the module's docstring)."""
    drops = np.flatnonzero(trace.fate == DROPPED_FULL)
    start, end = drop_windows(trace, drops)
    pauses = trace.pauses
    pause_index = pause_with_most_overlap(pauses, start, end)
    kind = pauses.kind[np.maximum(pause_index, 0)] if len(pauses) else np.zeros(len(drops), np.int8)
    blocker = np.clip(trace.blocked_by[drops] - 1, 0, max(trace.packets - 1, 0))
    known = (trace.blocked_by[drops] != NOT_SET) & (trace.fate[blocker] != LOST_BEFORE_RING)
    # The blocking packet not yet committed when the drop was recorded (same instant: lower CPU first).
    committed_ns = np.where(trace.fate[blocker] == PENDING, NEVER, trace.decided_ns[blocker])
    writing = known & ((committed_ns > end) | ((committed_ns == end) & (trace.cpu[blocker] > trace.cpu[drops])))
    arrivals = np.sort(trace.arrival_ns[trace.cpu >= 0])
    burst = is_burst(arrivals, start, trace.arrival_ns[drops], trace.interval_ns)
    waits = poller_waits(trace)
    other = waits.latest_on_another_slot(end, trace.slot[drops])
    at_offset = known & (other >= 0) & (waits.end_ns[np.maximum(other, 0)] > start) if len(waits.start_ns) \
        else np.zeros(len(drops), bool)
    cause = np.select([pause_index >= 0, writing, burst, at_offset, known],
                      [np.where(kind == INJECTED, CAUSE_INJECTED, CAUSE_BACKGROUND), CAUSE_WRITING, CAUSE_BURST,
                       CAUSE_OFFSET, CAUSE_SLOW], CAUSE_UNEXPLAINED)
    return DropCauses(trace.id[drops], start, end, pause_index, cause.astype(np.int8))


def cause_figures(pauses: Pauses, drops_per_pause: np.ndarray, other_causes) -> dict:
    """Drops per cause, and per pause source, from the drops each pause caused and the counts of
    the other causes, in the order of CAUSE_NAMES after the two kinds of pause."""
    drops_per_pause = np.asarray(drops_per_pause, np.int64)
    injected = int(drops_per_pause[pauses.kind == INJECTED].sum())
    background = int(drops_per_pause.sum()) - injected
    by_source = {}
    labels = pauses.labels()
    for name in np.unique(labels[drops_per_pause > 0]) if len(pauses) else ():
        kind = KIND_NAMES[int(pauses.kind[labels == name][0])]
        by_source[f"{kind}: {name}" if kind != "injected" else str(name)] = int(drops_per_pause[labels == name].sum())
    counts = (injected, background, *(int(n) for n in other_causes))
    return {"drops_by_cause": dict(zip(CAUSE_NAMES, counts)), "drops_by_source": by_source}


def drop_cause_figures(trace: Trace) -> dict:
    """:func:`cause_figures` of ``trace``."""
    causes = attribute_drops(trace)
    per_pause = np.bincount(causes.pause_index[causes.pause_index >= 0], minlength=len(trace.pauses))
    others = [int(np.sum(causes.cause == c)) for c in range(CAUSE_WRITING, len(CAUSE_NAMES))]
    return cause_figures(trace.pauses, per_pause, others)
