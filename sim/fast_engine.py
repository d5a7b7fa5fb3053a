"""The fast engine: the SimPy model's rules as one event loop in C (``fast_engine.c``).

It runs the same processes (the poller and one writer per CPU) as explicit state machines.
Each process has at most one pending wake-up; the next to run is the one with the earliest
(time, priority), the poller first and then the writer CPUs in order, which is exactly the order
the SimPy model's events fire in (see ``sim/wake.py``). The trace is therefore identical, packet
for packet; the tests check that on generated scenarios.

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
from ringlab.analysis import RunSummary, pause_figures, summary_from_parts
from ringlab.attribution import cause_figures
from ringlab.latency import BUCKETS, LatencyHistogram, latency_figures
from ringlab.plan import RunPlan, draw_plan
from ringlab.scenario import Scenario
from ringlab.sim.model import trace_of_plan
from ringlab.trace import FATE_NAMES, PENDING, Trace, empty_columns

POLICY_CODES = {"buggy": 0, "fixed": 1, "locked": 2}

_ENGINE_SOURCE = Path(__file__).with_name("fast_engine.c")
_engine = None


def _library():
    """The compiled engine: built with the system C compiler on first use, then cached."""
    global _engine
    if _engine is None:
        library = native.load(_ENGINE_SOURCE)
        function = library.ringlab_run
        i64, pointer = ctypes.c_int64, ctypes.c_void_p
        function.argtypes = [ctypes.c_int, i64, pointer, pointer, pointer, i64, i64, i64, i64, i64, pointer, pointer,
                             i64, i64, ctypes.c_int, pointer, pointer, pointer, pointer, pointer, pointer, pointer,
                             pointer, pointer, pointer, pointer, i64, i64, pointer, pointer, pointer, pointer, pointer,
                             pointer, pointer]
        function.restype = ctypes.c_int
        _engine = function
    return _engine


def _pointer(array: np.ndarray, dtype) -> int:
    assert array.dtype == dtype and array.flags.c_contiguous, (array.dtype, dtype)
    return array.ctypes.data


@dataclass(frozen=True)
class FastRun:
    """One run of the fast engine: the trace (None in summary-only mode) and its summary."""

    trace: Trace | None
    summary: RunSummary
    delivered_ids: np.ndarray


def run_fast(scenario: Scenario, plan: RunPlan | None = None, keep_trace: bool = True) -> FastRun:
    """Run ``scenario`` with the compiled engine: the same trace as ``sim.model.simulate``.

    With ``keep_trace`` false only the summary and the read order (hence the warnings) are kept,
    which lets 10^7 packets run in well under 1 GB.
    """
    plan = plan if plan is not None else draw_plan(scenario)
    packets = plan.packets
    columns = empty_columns(packets if keep_trace else 1)
    fate = columns["fate"] if keep_trace else np.full(packets, PENDING, np.int8)
    # Each CPU's packets in the order they arrive (packets of CPU -1 never reach the writer).
    cpu_packets = np.lexsort((plan.arrival_ns, plan.cpu)).astype(np.int32)
    cpu_offsets = np.searchsorted(plan.cpu[cpu_packets], np.arange(scenario.writer.cpus + 1)).astype(np.int64)
    read_sequence = np.zeros(packets, np.int64)
    drops = np.zeros(len(plan.stalls) + 1, np.int64)
    recovery = np.empty(len(plan.stalls), np.float64)
    stall_start = np.ascontiguousarray(plan.stalls.start_ns, np.int64)
    stall_end = np.ascontiguousarray(plan.stalls.end_ns, np.int64)
    arrival_ns = np.ascontiguousarray(plan.arrival_ns, np.int64)
    arrival_sorted = np.sort(arrival_ns[plan.cpu >= 0])
    drops_per_pause = np.zeros(len(plan.stalls), np.int64)
    other_causes = np.zeros(5, np.int64)  # the causes after the two kinds of pause (ringlab.attribution)
    latency_counts, late_counts = np.zeros(BUCKETS, np.int64), np.zeros(BUCKETS, np.int64)
    latency_totals = np.zeros(4, np.int64)  # sum and maximum of all reads' latencies, then of late reads'
    worst_per_stall = np.zeros(len(plan.stalls), np.int64)
    end = np.zeros(4, np.int64)
    status = _library()(
        POLICY_CODES[scenario.writer.policy], scenario.ring_slots, _pointer(arrival_ns, np.int64),
        _pointer(cpu_packets, np.int32), _pointer(cpu_offsets, np.int64), scenario.writer.cpus,
        scenario.writer.cost_ns, scenario.writer.lock_hold_ns, scenario.poller.cost_ns, scenario.poller.wakeup_ns,
        _pointer(stall_start, np.int64), _pointer(stall_end, np.int64), len(stall_start), plan.end_ns, int(keep_trace),
        _pointer(columns["slot"], np.int32), _pointer(fate, np.int8), _pointer(columns["decided_ns"], np.int64),
        _pointer(columns["writer_index_after"], np.int32), _pointer(columns["blocked_by"], np.int64),
        _pointer(columns["delivery_ns"], np.int64), _pointer(columns["delivery_order"], np.int64),
        _pointer(read_sequence, np.int64), _pointer(drops, np.int64), _pointer(recovery, np.float64),
        _pointer(arrival_sorted, np.int64), len(arrival_sorted), scenario.interval_ns,
        _pointer(drops_per_pause, np.int64), _pointer(other_causes, np.int64), _pointer(latency_counts, np.int64),
        _pointer(late_counts, np.int64), _pointer(latency_totals, np.int64), _pointer(worst_per_stall, np.int64),
        _pointer(end, np.int64),
    )
    if status != 0:
        raise MemoryError("the fast engine ran out of memory")
    # At the end: the write index as the trace shows it, the read index, the occupancy, the reads.
    writer_index, reader_index, occupancy, reads = (int(v) for v in end)
    del cpu_packets
    delivered_ids = read_sequence[:reads]
    lasting = (writer_index - reader_index - occupancy) % scenario.ring_slots  # as analysis.lasting_offset_slots
    counts = np.bincount(fate.astype(np.int64), minlength=len(FATE_NAMES))
    pauses = plan.poller_pauses
    summary = summary_from_parts(
        packets=packets, fate_counts={FATE_NAMES[f]: int(counts[f]) for f in FATE_NAMES},
        delivered_ids=delivered_ids, drops_per_stall=drops[1:], drops_before_first_stall=int(drops[0]),
        stalled_ns=int(plan.stalls.length_ns.sum()), recovery_ns=recovery, lasting_offset=lasting,
        pause_figures=pause_figures(pauses, plan.end_ns),
        cause_figures=cause_figures(pauses, drops_per_pause, other_causes),
        latency_figures=latency_figures(LatencyHistogram(latency_counts, int(latency_totals[0]), int(latency_totals[1])),
                                        LatencyHistogram(late_counts, int(latency_totals[2]), int(latency_totals[3])),
                                        worst_per_stall),
    )
    trace = trace_of_plan(scenario, plan, columns) if keep_trace else None
    return FastRun(trace, summary, delivered_ids)
