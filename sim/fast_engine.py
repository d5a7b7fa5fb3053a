"""The fast engine: the SimPy model's rules as one event loop in C (``fast_engine.c``).

It runs the same processes (the poller and one writer per CPU) as explicit state machines.
Each process has at most one pending wake-up; the next to run is the one with the earliest
(time, priority), the poller first and then the writer CPUs in order, which is exactly the order
the SimPy model's events fire in (see ``sim/wake.py``). The trace is therefore identical, packet
for packet; the tests check that on generated scenarios. With one writer CPU (buggy or fixed) the
engine takes a direct path instead: packet by packet, the poller's reads caught up before each
moment the writer looks at the ring; same outputs, about twice as fast (``can_go_direct``).

A run that keeps its trace is fed its whole plan at once. A summary-only run streams: the plan is
drawn a chunk of packets at a time (the same values as drawn whole) and fed to the engine, which
carries its state from chunk to chunk and keeps the summary's figures as running counts, so a run
of any length takes a fixed amount of memory (besides its stalls); its warnings go straight to a
file, or only the first and last ones are kept.

The C source is compiled with the system compiler on first use and cached
(:mod:`ringlab.native`). Why C: the model is a branchy event loop over a handful of processes,
which NumPy cannot vectorise across stall boundaries. Numba compiled the same loop (measured: 82x
the SimPy model per run), but every new process paid 0.4 s to import Numba and load its cache,
which a sweep of many short points pays again and again; a cached C library loads in a millisecond.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab import native
from ringlab.analysis.analysis import RunSummary, pause_figures, summary_from_parts
from ringlab.analysis.attribution import cause_figures
from ringlab.analysis.latency import BUCKETS, LatencyHistogram, latency_figures
from ringlab.atomic_files import new_temporary_file
from ringlab.scenario.plan import CHUNK_PACKETS, PlanChunk, RunPlan, draw_plan, stream_plan, trace_of_plan
from ringlab.scenario.scenario import Scenario
from ringlab.trace.pauses import Pauses
from ringlab.trace.trace import FATE_NAMES, Trace, empty_columns

POLICY_CODES = {"buggy": 0, "fixed": 1, "locked": 2}
KEEP_WARNINGS = 1000  # a run that does not keep every warning keeps its first and last these many

_ENGINE_SOURCE = Path(__file__).with_name("fast_engine.c")
_engine = None


def load_engine():
    """The compiled engine: built with the system C compiler on first use, then cached."""
    global _engine
    if _engine is None:
        library = native.load(_ENGINE_SOURCE)
        i64, pointer = ctypes.c_int64, ctypes.c_void_p
        library.ringlab_engine_new.argtypes = [ctypes.c_int] + [i64] * 6 + [pointer, pointer] + [i64] * 4 + \
            [pointer, i64] + [pointer] * 16 + [i64]
        library.ringlab_engine_new.restype = pointer
        library.ringlab_engine_feed.argtypes = [pointer, i64, pointer, pointer, pointer, i64, ctypes.c_int]
        library.ringlab_engine_feed.restype = ctypes.c_int
        library.ringlab_engine_feed_direct.argtypes = [pointer, i64, i64, pointer, ctypes.c_int]
        library.ringlab_engine_feed_direct.restype = ctypes.c_int
        library.ringlab_engine_untaken.argtypes = [pointer, pointer]
        library.ringlab_engine_untaken.restype = None
        library.ringlab_engine_finish.argtypes = [pointer] * 7
        library.ringlab_engine_finish.restype = None
        library.ringlab_engine_free.argtypes = [pointer]
        library.ringlab_engine_free.restype = None
        library.ringlab_write_warnings.argtypes = [pointer, i64, ctypes.c_char_p]
        library.ringlab_write_warnings.restype = i64
        library.ringlab_write_kept_warnings.argtypes = [ctypes.c_char_p, pointer, i64, ctypes.c_char_p, pointer, i64]
        library.ringlab_write_kept_warnings.restype = ctypes.c_int
        library.ringlab_open.argtypes = [ctypes.c_char_p]
        library.ringlab_open.restype = pointer
        library.ringlab_close.argtypes = [pointer]
        library.ringlab_close.restype = ctypes.c_int
        _engine = library
    return _engine


def _pointer(array: np.ndarray | None, dtype=None) -> int | None:
    if array is None:
        return None
    assert (dtype is None or array.dtype == dtype) and array.flags.c_contiguous, (array.dtype, dtype)
    return array.ctypes.data


def write_warnings_file(delivered_ids: np.ndarray, path) -> int:
    """Write the poller's warnings for reads of ``delivered_ids`` (in read order) to ``path``, in C
    (byte for byte what ringlab.analysis.analysis.format_warnings gives); return how many."""
    ids = np.ascontiguousarray(delivered_ids, np.int64)
    count = load_engine().ringlab_write_warnings(_pointer(ids), len(ids), str(path).encode())
    if count < 0:
        raise OSError(f"cannot write {path}")
    return int(count)


def write_kept_warnings(warnings: Warnings, path) -> None:
    """Write the warnings a streamed run kept to ``path`` (in C, lines as the poller prints them):
    the first ones, a line saying how many were not kept (if any), the last ones."""
    skipped = warnings.count - len(warnings.first) - len(warnings.last)
    note = f"# {skipped} warnings not kept here (ringlab sim --summary-only --warnings all keeps them all)\n"
    first, last = (np.ascontiguousarray(rows, np.int64).reshape(-1, 3) for rows in (warnings.first, warnings.last))
    if load_engine().ringlab_write_kept_warnings(str(path).encode(), _pointer(first), len(first),
                                              (note if skipped else "").encode(), _pointer(last), len(last)) != 0:
        raise OSError(f"cannot write {path}")


@dataclass(frozen=True)
class Warnings:
    """The warnings of a run that did not keep its read order: how many, and the file they were
    streamed to, or the first and the last KEEP_WARNINGS as rows (missed, current, id)."""

    count: int
    file: Path | None
    first: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class FastRun:
    """One run of the fast engine: the trace and the read order (None for a streamed run, which
    has ``warnings`` instead), and the summary."""

    trace: Trace | None
    summary: RunSummary
    delivered_ids: np.ndarray | None
    warnings: Warnings | None = None


class _Outputs:
    """What the engine writes: per packet (a kept trace), per stall, and the running figures."""

    def __init__(self, packets: int | None, stalls: int):
        self.columns = empty_columns(packets) if packets is not None else None
        self.drops_per_stall = np.zeros(stalls + 1, np.int64)
        self.recovery = np.empty(stalls, np.float64)
        self.drops_per_pause = np.zeros(stalls, np.int64)
        self.other_causes = np.zeros(5, np.int64)  # the causes after the two kinds of pause (ringlab.analysis.attribution)
        self.latency_counts, self.late_counts = np.zeros(BUCKETS, np.int64), np.zeros(BUCKETS, np.int64)
        self.latency_totals = np.zeros(4, np.int64)  # sum and maximum of all reads' latencies, then of late reads'
        self.worst_per_stall = np.zeros(stalls, np.int64)

    def column(self, name: str, dtype):
        return _pointer(self.columns[name], dtype) if self.columns is not None else None


def _cpu_lists(part: PlanChunk, cpus: int, untaken: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each CPU's packets of a chunk (global indices, in arrival order) and where each CPU's begin;
    packets of CPU -1 never reach the writer. With ``untaken`` (per CPU, its first packet not taken
    yet), the packets a CPU took already are left out."""
    if cpus == 1 and untaken is None and not np.any(part.cpu < 0):
        packets = np.arange(part.first, part.first + part.count, dtype=np.int64)
        return packets, np.array([0, len(packets)], np.int64)
    index = np.arange(part.first, part.first + part.count, dtype=np.int64)
    wanted = part.cpu >= 0
    if untaken is not None:
        wanted &= index >= untaken[np.maximum(part.cpu, 0)]
    chosen = np.flatnonzero(wanted)
    order = chosen[np.lexsort((part.arrival_ns[chosen], part.cpu[chosen]))]
    offsets = np.searchsorted(part.cpu[order], np.arange(cpus + 1)).astype(np.int64)
    return index[order], offsets


def _with_untaken(carried: PlanChunk | None, part: PlanChunk) -> PlanChunk:
    """The next chunk, after the packets of earlier ones that some CPU has not taken yet."""
    if carried is None:
        return part
    return PlanChunk(carried.first, np.concatenate([carried.arrival_ns, part.arrival_ns]),
                     np.concatenate([carried.cpu, part.cpu]), carried.count + part.count)


def can_go_direct(scenario: Scenario, plan: RunPlan | None = None) -> bool:
    """Whether the engine's direct path can run this (``fast_engine.c``): one writer CPU, the buggy or
    fixed policy, a poller cost above zero, packets in id order all reaching the writer, and none
    arriving and looked at both at time 0."""
    writer = scenario.writer
    if writer.cpus != 1 or writer.policy == "locked" or scenario.poller.cost_ns <= 0:
        return False
    if plan is None:  # drawn from the scenario: arrivals from one interval on, strictly increasing
        return True
    return _in_id_order(plan) and (plan.packets == 0 or plan.arrival_ns[0] > 0
                                   or writer.cost_ns + writer.lock_hold_ns > 0)


def _in_id_order(plan: RunPlan) -> bool:
    """Whether the plan's packets arrive in id order, one after another, and all reach the writer."""
    return bool(np.all(np.diff(plan.arrival_ns) > 0) and not np.any(plan.cpu < 0))


def run_fast(scenario: Scenario, plan: RunPlan | None = None, keep_trace: bool = True, warnings_dir=None,
             progress: bool = False, chunk: int = CHUNK_PACKETS, direct: bool | None = None) -> FastRun:
    """Run ``scenario`` with the compiled engine: the same trace as ``sim.model.simulate``.

    With ``keep_trace`` false and no ``plan`` the run streams (see the module's docstring): its
    warnings are written to a new file in ``warnings_dir`` if given, else only the first and last
    are kept; ``progress`` shows a bar on a terminal for runs longer than two seconds. The engine
    takes its direct path whenever it can (``direct=None``; False forces the general event loop,
    which gives the same results).
    """
    library = load_engine()
    direct = can_go_direct(scenario, plan) if direct is None else direct and can_go_direct(scenario, plan)
    if plan is None and not keep_trace:
        streamed = stream_plan(scenario, chunk)
        stalls, end_ns, packets, sorted_arrivals = streamed.stalls, streamed.end_ns, scenario.packets, None
        regular = direct and not scenario.jitter_ns  # arrivals at multiples of the interval: computed in C
        parts = _spans(packets, chunk) if regular else streamed.chunks()
    else:
        plan = plan if plan is not None else draw_plan(scenario)
        stalls, end_ns, packets = plan.stalls, plan.end_ns, plan.packets
        parts = [PlanChunk(0, np.ascontiguousarray(plan.arrival_ns, np.int64), plan.cpu, plan.packets)]
        sorted_arrivals = None if _in_id_order(plan) else np.sort(plan.arrival_ns[plan.cpu >= 0])
    stall_start = np.ascontiguousarray(stalls.start_ns, np.int64)
    stall_end = np.ascontiguousarray(stalls.end_ns, np.int64)
    out = _Outputs(packets if keep_trace else None, len(stall_start))
    warnings_file, stream = None, None
    if not keep_trace and warnings_dir is not None:
        warnings_file = Path(new_temporary_file(Path(warnings_dir) / "warnings.log"))
        stream = library.ringlab_open(str(warnings_file).encode())
        if not stream:
            warnings_file.unlink(missing_ok=True)
            raise OSError(f"cannot write {warnings_file}")
    keep = 0 if keep_trace else KEEP_WARNINGS
    engine = library.ringlab_engine_new(
        POLICY_CODES[scenario.writer.policy], scenario.ring_slots, scenario.writer.cpus, scenario.writer.cost_ns,
        scenario.writer.lock_hold_ns, scenario.poller.cost_ns, scenario.poller.wakeup_ns, _pointer(stall_start),
        _pointer(stall_end), len(stall_start), end_ns, scenario.interval_ns, packets, _pointer(sorted_arrivals),
        0 if sorted_arrivals is None else len(sorted_arrivals), out.column("slot", np.int32),
        out.column("fate", np.int8), out.column("decided_ns", np.int64), out.column("writer_index_after", np.int32),
        out.column("blocked_by", np.int64), out.column("delivery_ns", np.int64), out.column("delivery_order", np.int64),
        _pointer(out.drops_per_stall), _pointer(out.recovery), _pointer(out.drops_per_pause),
        _pointer(out.other_causes), _pointer(out.latency_counts), _pointer(out.late_counts),
        _pointer(out.latency_totals), _pointer(out.worst_per_stall), stream, keep)
    if not engine:
        raise MemoryError("the fast engine ran out of memory")
    bar = None
    try:
        if progress and not keep_trace:
            from tqdm import tqdm

            bar = tqdm(total=packets, unit="packet", unit_scale=True, delay=2, desc=scenario.name)
        carried, untaken = None, None  # the packets a CPU that fell behind has not taken yet
        for part in parts:
            count = part.count
            last = part.first + count >= packets
            if direct:
                arrival = None if part.arrival_ns is None else np.ascontiguousarray(part.arrival_ns, np.int64)
                failed = library.ringlab_engine_feed_direct(engine, part.first, count, _pointer(arrival), int(last))
            else:
                part = _with_untaken(carried, part)
                arrival = np.ascontiguousarray(part.arrival_ns, np.int64)
                cpu_packets, cpu_offsets = _cpu_lists(part, scenario.writer.cpus, untaken)
                limit = end_ns if last else min(int(arrival[-1]) + 1, end_ns)
                failed = library.ringlab_engine_feed(engine, part.first, _pointer(arrival), _pointer(cpu_packets, np.int64),
                                                     _pointer(cpu_offsets, np.int64), limit, int(last))
                if not failed and not last:
                    untaken = np.zeros(scenario.writer.cpus, np.int64)
                    library.ringlab_engine_untaken(engine, _pointer(untaken))
                    untaken[untaken < 0] = part.first + part.count
                    behind = int(untaken.min()) - part.first
                    carried = PlanChunk(part.first + behind, part.arrival_ns[behind:], part.cpu[behind:],
                                        part.count - behind) if behind < part.count else None
                    untaken = untaken if carried is not None else None
            if failed:
                raise MemoryError("the fast engine ran out of memory")
            if bar is not None:
                bar.update(count)
        end, counts, warned = np.zeros(4, np.int64), np.zeros(3, np.int64), np.zeros(3, np.int64)
        first, latest = np.zeros((keep, 3), np.int64), np.zeros((keep, 3), np.int64)
        displacement = np.zeros(1, np.int64)
        library.ringlab_engine_finish(engine, _pointer(end), _pointer(counts), _pointer(warned), _pointer(first),
                                      _pointer(latest), _pointer(displacement))
    except BaseException:
        if warnings_file is not None:
            warnings_file.unlink(missing_ok=True)
        raise
    finally:
        library.ringlab_engine_free(engine)
        if stream and library.ringlab_close(stream) != 0 and warnings_file is not None:
            warnings_file.unlink(missing_ok=True)
            raise OSError(f"cannot write {warnings_file}")
        if bar is not None:
            bar.close()
    # At the end: the write index as the trace shows it, the read index, the occupancy, the reads.
    writer_index, reader_index, occupancy, reads = (int(v) for v in end)
    reads, dropped, written = (int(v) for v in counts)
    in_ring = written - reads
    fate_counts = dict.fromkeys(FATE_NAMES.values(), 0)
    fate_counts.update(delivered=reads, dropped_full=dropped, in_ring=in_ring, pending=packets - reads - dropped - in_ring)
    pauses = plan.poller_pauses if plan is not None else Pauses.injected(stalls)
    summary = summary_from_parts(
        packets=packets, fate_counts=fate_counts, out_of_order=int(warned[1]), max_displacement=int(displacement[0]),
        warnings=int(warned[0]), drops_per_stall=out.drops_per_stall[1:],
        drops_before_first_stall=int(out.drops_per_stall[0]), stalled_ns=int(stalls.length_ns.sum()),
        recovery_ns=out.recovery, lasting_offset=(writer_index - reader_index - occupancy) % scenario.ring_slots,
        pause_figures=pause_figures(pauses, end_ns),
        cause_figures=cause_figures(pauses, out.drops_per_pause, out.other_causes),
        latency_figures=latency_figures(
            LatencyHistogram(out.latency_counts, int(out.latency_totals[0]), int(out.latency_totals[1])),
            LatencyHistogram(out.late_counts, int(out.latency_totals[2]), int(out.latency_totals[3])),
            out.worst_per_stall),
    )
    if keep_trace:
        trace = trace_of_plan(scenario, plan, out.columns)
        return FastRun(trace, summary, trace.delivered_ids())
    kept_first = int(warned[2])
    return FastRun(None, summary, None, Warnings(int(warned[0]), warnings_file, first[:kept_first],
                                                 latest[:min(keep, int(warned[0]) - kept_first)]))


def _spans(packets: int, chunk: int):
    """A plan's packets a chunk at a time, without their arrivals: for the direct path, which
    computes arrivals at multiples of the interval itself."""
    for first in range(0, packets, chunk):
        yield PlanChunk(first, None, None, min(chunk, packets - first))
