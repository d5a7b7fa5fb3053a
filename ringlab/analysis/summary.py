"""What a run shows, computed from its trace alone, so both backends are measured by the same code."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ringlab.trace.pauses import BACKGROUND, INJECTED, KIND_NAMES, Pauses, length_statistics
from ringlab.trace.records import DELIVERED, DROPPED_FULL, IN_RING, NOT_SET, Trace, largest_before, late_mask

WARNING_FORMAT = "WARN: missed %d packets between %d and %d"


def out_of_step_mask(delivered_ids: np.ndarray) -> np.ndarray:
    """True for each read that makes the poller warn (its id is not the largest so far plus one)."""
    ids = np.asarray(delivered_ids)
    return ids != largest_before(ids) + 1


def poller_warnings(delivered_ids: np.ndarray) -> np.ndarray:
    """The poller's warnings as rows ``(missed, current, id)``, one per packet read out of step.

    ``current`` is the largest id read so far (0 before the first); a packet warns when its id is
    not ``current + 1``, and ``missed = id - current - 1`` (negative for an old packet read late).
    """
    ids = np.asarray(delivered_ids, dtype=np.int64)
    current = largest_before(ids)
    out_of_step = np.flatnonzero(ids != current + 1)
    ids, current = ids[out_of_step], current[out_of_step]
    return np.column_stack([ids - current - 1, current, ids])


def format_warnings(rows: np.ndarray) -> str:
    """The warning lines exactly as the poller prints them, one per row, newline-terminated."""
    return "".join(WARNING_FORMAT % (missed, current, packet) + "\n" for missed, current, packet in np.asarray(rows).tolist())


def max_displacement(delivered_ids: np.ndarray) -> int:
    """The largest distance between a packet's read position and its position in id order (its rank
    among the ids read). Linear: a packet's rank is the number of ids read below it."""
    ids = np.asarray(delivered_ids, np.int64)
    if len(ids) == 0:
        return 0
    read = np.zeros(int(ids.max()) + 1, np.int8)
    read[ids] = 1
    rank = np.cumsum(read, dtype=np.int64)[ids] - 1
    return int(np.max(np.abs(rank - np.arange(len(ids)))))


def drops_per_stall(trace: Trace) -> tuple[np.ndarray, int]:
    """Drops attributed to each stall (the latest stall begun before the drop), and drops before any."""
    drop_times = np.sort(trace.decided_ns[trace.fate == DROPPED_FULL])
    stall_of_drop = np.searchsorted(trace.stall_start_ns, drop_times, side="right") - 1
    before_any = int(np.sum(stall_of_drop < 0))
    counts = np.bincount(stall_of_drop[stall_of_drop >= 0], minlength=len(trace.stall_start_ns))
    return counts.astype(np.int64), before_any


@dataclass(frozen=True)
class IndexTimeline:
    """Writer and reader index, and ring occupancy, after each event (events sorted by time)."""

    time_ns: np.ndarray
    writer_index: np.ndarray
    reader_index: np.ndarray
    occupancy: np.ndarray

    def offset(self, ring_slots: int) -> np.ndarray:
        """How far the writer is ahead of the reader, in slots (mod N)."""
        return (self.writer_index - self.reader_index) % ring_slots

    def offset_k(self, ring_slots: int) -> np.ndarray:
        """Slots the writer has skipped: its lead beyond the packets actually in the ring (mod N).

        A correct ring keeps this at 0; every drop of the buggy writer adds one.
        """
        return (self.writer_index - self.reader_index - self.occupancy) % ring_slots


def index_timeline(trace: Trace) -> IndexTimeline:
    """Rebuild the indices from the trace: each decision sets ``w``, each read sets ``r = slot + 1``."""
    # At one instant the engines run the writer CPUs in order of their number, and reads in read order.
    decided = np.flatnonzero(trace.decided_ns != NOT_SET)
    decided = decided[np.argsort(trace.cpu[decided], kind="stable")]
    read = np.flatnonzero(trace.fate == DELIVERED)
    read = read[np.argsort(trace.delivery_order[read], kind="stable")]
    written = np.flatnonzero((trace.fate == DELIVERED) | (trace.fate == IN_RING))
    n = trace.ring_slots
    # Event kinds: 0 = writer decision (index change), 1 = slot written (+1), 2 = slot read (-1, r moves).
    time = np.concatenate([trace.decided_ns[decided], trace.decided_ns[written], trace.delivery_ns[read]])
    kind = np.concatenate([np.zeros(len(decided), np.int8), np.ones(len(written), np.int8), np.full(len(read), 2, np.int8)])
    w_value = np.concatenate([trace.writer_index_after[decided], np.full(len(written) + len(read), -1, np.int32)])
    r_value = np.concatenate([np.full(len(decided) + len(written), -1, np.int32), (trace.slot[read] + 1) % n])
    order = np.lexsort((kind, time))
    time, kind, w_value, r_value = time[order], kind[order], w_value[order], r_value[order]

    def carry_forward(values):
        position = np.where(values >= 0, np.arange(len(values)), -1)
        position = np.maximum.accumulate(position) if len(position) else position
        return np.where(position >= 0, values[np.maximum(position, 0)], 0)

    occupancy = np.cumsum(np.where(kind == 1, 1, np.where(kind == 2, -1, 0)))
    # Several events at one instant are one change of state: keep the state after the last of them.
    last_at_time = np.append(time[1:] != time[:-1], True) if len(time) else np.zeros(0, bool)
    return IndexTimeline(
        time[last_at_time], carry_forward(w_value)[last_at_time], carry_forward(r_value)[last_at_time], occupancy[last_at_time]
    )


def recovery_times_ns(trace: Trace, timeline: IndexTimeline | None = None) -> np.ndarray:
    """Per stall: time from its end until the ring is empty with writer and reader on the same slot.

    Zero if that already holds when the stall ends; NaN where it does not happen before the next
    stall begins (or the run ends): the lasting offset of the buggy writer never recovers by itself.
    """
    timeline = timeline if timeline is not None else index_timeline(trace)
    aligned = (timeline.occupancy == 0) & (timeline.offset(trace.ring_slots) == 0)
    ends = trace.stall_start_ns + trace.stall_length_ns
    deadline = np.append(trace.stall_start_ns[1:], trace.end_ns + 1)
    # The state in force at each stall's end is the one after the last event at or before it.
    state_at_end = np.searchsorted(timeline.time_ns, ends, side="right") - 1
    aligned_at_end = (state_at_end < 0) | aligned[np.maximum(state_at_end, 0)] if len(aligned) else np.ones(len(ends), bool)
    aligned_times = timeline.time_ns[aligned]
    next_aligned = np.searchsorted(aligned_times, ends, side="left")
    padded = np.append(aligned_times, np.iinfo(np.int64).max)
    when = padded[next_aligned]
    return np.where(aligned_at_end, 0.0, np.where(when < deadline, (when - ends).astype(float), np.nan))


def lasting_offset_slots(trace: Trace, timeline: IndexTimeline | None = None) -> int:
    """The writer's offset at the end of the run: k of docs/model.md (0 when in order)."""
    timeline = timeline if timeline is not None else index_timeline(trace)
    return int(timeline.offset_k(trace.ring_slots)[-1]) if len(timeline.time_ns) else 0


@dataclass(frozen=True)
class RunSummary:
    """The figures of one run, as both backends report them."""

    packets: int
    delivered: int
    dropped_full: int
    in_ring: int
    lost_before_ring: int
    pending: int
    loss_fraction: float
    out_of_order: int
    max_displacement: int
    warnings: int
    stalls: int
    stalled_ns: int
    drops_per_stall_mean: float
    drops_before_first_stall: int
    stalls_recovered: int
    recovery_median_ns: float | None
    lasting_offset_slots: int
    drops_by_cause: dict  # cause -> dropped packets (ringlab.analysis.attribution)
    drops_by_source: dict  # the pauses' sources that caused drops -> dropped packets
    injected_pauses: dict  # the injected stalls as the poller executed them: count, time, lengths
    background_pauses: dict  # the pauses nobody injected: count, per second, time, lengths, longest
    pauses_by_source: dict  # source -> {count, total_ns}
    latency: dict  # every read's latency (arrival at the writer to the read): mean, percentiles, max
    latency_out_of_order: dict  # the same, of the packets read after a larger id
    worst_latency_per_stall: dict  # per stall, the worst latency it caused: median, p90, max, which

    def to_dict(self) -> dict:
        return asdict(self)


def pause_figures(pauses: Pauses, duration_ns: int) -> dict:
    """The poller's pauses in figures: injected and background, and by source."""
    labels = pauses.labels()
    by_source = {}
    for name in np.unique(labels):
        mine = labels == name
        kind = KIND_NAMES[int(pauses.kind[mine][0])]
        key = str(name) if kind == "injected" else f"{kind}: {name}"
        by_source[key] = {"count": int(mine.sum()), "total_ns": int(pauses.length_ns[mine].sum())}
    return {"injected_pauses": length_statistics(pauses.length_ns[pauses.kind == INJECTED], duration_ns),
            "background_pauses": length_statistics(pauses.length_ns[pauses.kind == BACKGROUND], duration_ns),
            "pauses_by_source": by_source}


def summary_from_parts(packets: int, fate_counts: dict, out_of_order: int, max_displacement: int, warnings: int,
                       drops_per_stall: np.ndarray, drops_before_first_stall: int, stalled_ns: int,
                       recovery_ns: np.ndarray, lasting_offset: int, pause_figures: dict, cause_figures: dict,
                       latency_figures: dict) -> RunSummary:
    """Assemble a :class:`RunSummary` from its parts (what :func:`summarize` derives from a trace)."""
    recovered = recovery_ns[~np.isnan(recovery_ns)]
    lost = fate_counts["dropped_full"] + fate_counts["lost_before_ring"]
    return RunSummary(
        packets=packets,
        delivered=fate_counts["delivered"],
        dropped_full=fate_counts["dropped_full"],
        in_ring=fate_counts["in_ring"],
        lost_before_ring=fate_counts["lost_before_ring"],
        pending=fate_counts["pending"],
        loss_fraction=lost / packets if packets else 0.0,
        out_of_order=int(out_of_order),
        max_displacement=int(max_displacement),
        warnings=int(warnings),
        stalls=len(drops_per_stall),
        stalled_ns=stalled_ns,
        drops_per_stall_mean=float(drops_per_stall.mean()) if len(drops_per_stall) else 0.0,
        drops_before_first_stall=int(drops_before_first_stall),
        stalls_recovered=int(len(recovered)),
        recovery_median_ns=float(np.median(recovered)) if len(recovered) else None,
        lasting_offset_slots=int(lasting_offset),
        **pause_figures,
        **cause_figures,
        **latency_figures,
    )


def summarize(trace: Trace) -> RunSummary:
    """Compute every figure of :class:`RunSummary` from ``trace``."""
    from ringlab.analysis.attribution import drop_cause_figures
    from ringlab.analysis.latency import trace_latency_figures

    per_stall, before_any = drops_per_stall(trace)
    timeline = index_timeline(trace)
    delivered = trace.delivered_ids()
    return summary_from_parts(
        packets=trace.packets, fate_counts=trace.fate_counts(), out_of_order=int(late_mask(delivered).sum()),
        max_displacement=max_displacement(delivered), warnings=int(np.count_nonzero(out_of_step_mask(delivered))),
        drops_per_stall=per_stall, drops_before_first_stall=before_any, stalled_ns=int(trace.stall_length_ns.sum()),
        recovery_ns=recovery_times_ns(trace, timeline), lasting_offset=lasting_offset_slots(trace, timeline),
        pause_figures=pause_figures(trace.pauses, trace.end_ns), cause_figures=drop_cause_figures(trace),
        latency_figures=trace_latency_figures(trace),
    )
