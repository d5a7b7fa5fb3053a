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
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab import native
from ringlab.analysis.attribution import CAUSE_NAMES, CAUSE_WRITING, cause_figures
from ringlab.analysis.latency import BUCKETS, LatencyHistogram, latency_figures
from ringlab.analysis.summary import RunSummary, pause_figures, summary_from_parts
from ringlab.atomic_files import new_temporary_file
from ringlab.scenario.fields import WRITER_POLICIES, Scenario
from ringlab.scenario.plan import CHUNK_PACKETS, PlanChunk, RunPlan, draw_plan, stream_plan
from ringlab.trace.pauses import Pauses
from ringlab.trace.records import FATE_NAMES, Trace, empty_columns, poller_pauses, trace_of_plan
from ringlab.trace.warnings_log import KEEP_WARNINGS, WARNING_LINES_HEADER, Warnings, warning_stream

POLICY_CODES = {policy: code for code, policy in enumerate(WRITER_POLICIES)}  # engine.h's enum policy
DROP_CAUSES = len(CAUSE_NAMES) - CAUSE_WRITING  # engine.h's enum drop_cause: the causes after the two kinds of pause
LATENCY_TOTALS = 4  # engine.h's enum latency_total: sum and maximum of all reads' latencies, then of late reads'
SKIP_CHUNK_PACKETS = 1 << 26  # a streamed run that skips: packets per call into the engine (its progress bar moves per call)

_ENGINE_SOURCE = Path(__file__).with_name("fast_engine.c")
ENGINE_HEADER = Path(__file__).with_name("engine.h")

_i64, _pointer_type = ctypes.c_int64, ctypes.c_void_p


class EngineConfig(ctypes.Structure):
    """``struct engine_config`` of ``engine.h``: one run's figures, its stalls, and its outputs."""

    _fields_ = [(name, _i64) for name in ("policy", "ring_slots", "cpus", "writer_cost_ns", "lock_hold_ns",
                                         "poller_cost_ns", "poller_wakeup_ns", "end_ns", "interval_ns", "packets")] + [
        ("stall_start_ns", _pointer_type), ("stall_end_ns", _pointer_type), ("stalls", _i64),
        ("sorted_arrival_ns", _pointer_type), ("sorted_arrivals", _i64)] + [
        (name, _pointer_type) for name in ("slot", "writer_index_after", "fate", "decided_ns", "blocked_by",
                                           "delivery_ns", "delivery_order", "drops_per_stall", "recovery_ns",
                                           "drops_per_pause", "worst_latency_per_stall", "drop_causes",
                                           "latency_counts", "late_latency_counts", "latency_totals", "warnings_out")] + [
        ("keep_warnings", _i64), ("byte_limit", _i64), ("packet_bytes", _i64), ("skip", _i64)]


class EngineEnd(ctypes.Structure):
    """``struct engine_end`` of ``engine.h``: the end of a run."""

    _fields_ = [(name, _i64) for name in ("writer_index", "read_index", "occupancy", "reads", "dropped", "written",
                                         "warnings", "late_reads", "kept_first_warnings", "max_displacement")] + [
        ("first_warnings", _pointer_type), ("last_warnings", _pointer_type), ("skipped_packets", _i64), ("skips", _i64)]


def load_engine():
    """The compiled engine: built with the system C compiler on first use, then cached."""
    i64, pointer = _i64, _pointer_type
    return native.declared(_ENGINE_SOURCE, (ENGINE_HEADER, WARNING_LINES_HEADER), lambda: {
        "ringlab_engine_new": ([ctypes.POINTER(EngineConfig)], pointer),
        "ringlab_engine_feed": ([pointer, i64, pointer, pointer, pointer, i64, ctypes.c_int], ctypes.c_int),
        "ringlab_engine_feed_direct": ([pointer, i64, i64, pointer, ctypes.c_int], ctypes.c_int),
        "ringlab_engine_untaken": ([pointer, pointer], None),
        "ringlab_engine_finish": ([pointer, ctypes.POINTER(EngineEnd)], None),
        "ringlab_engine_free": ([pointer], None)})


def _pointer(array: np.ndarray | None, dtype=None) -> int | None:
    if array is None:
        return None
    assert (dtype is None or array.dtype == dtype) and array.flags.c_contiguous, (array.dtype, dtype)
    return array.ctypes.data


@dataclass(frozen=True)
class FastRun:
    """One run of the fast engine: the trace and the read order (None for a streamed run, which
    has ``warnings`` instead), and the summary."""

    trace: Trace | None
    summary: RunSummary
    delivered_ids: np.ndarray | None
    warnings: Warnings | None = None
    latency_histogram: LatencyHistogram | None = None  # every read's latency
    mode: EngineMode | None = None


@dataclass(frozen=True)
class EngineMode:
    """How the engine ran: "skipping" (it looked for repeating periods and jumped over them;
    ``skipped_packets`` of the run were handled that way, in ``skips`` jumps) or "per packet", and
    why not skipping."""

    mode: str
    skipped_packets: int = 0
    skips: int = 0
    why_per_packet: str | None = None

    def to_dict(self) -> dict:
        return {"mode": self.mode, "skipped_packets": self.skipped_packets, "skips": self.skips,
                "why_per_packet": self.why_per_packet}


def why_not_skipping(scenario: Scenario, direct: bool) -> str | None:
    """Why the engine cannot skip whole periods of this run, or None if it can: skipping needs the
    direct path (one writer CPU, the buggy or fixed policy, the map ring, a poller cost) and arrivals one interval
    apart (no jitter). A plan of the caller's is skipped where its arrivals are one interval apart."""
    if not direct:
        return "not the direct path (several writer CPUs, the locked policy, another delivery path or no poller cost)"
    if scenario.jitter_ns:
        return "jittered arrivals (no two periods alike)"
    return None


class _Outputs:
    """What the engine writes: per packet (a kept trace), per stall, and the running figures."""

    def __init__(self, packets: int | None, stalls: int):
        self.columns = empty_columns(packets) if packets is not None else None
        self.drops_per_stall = np.zeros(stalls + 1, np.int64)
        self.recovery = np.empty(stalls, np.float64)
        self.drops_per_pause = np.zeros(stalls, np.int64)
        self.other_causes = np.zeros(DROP_CAUSES, np.int64)
        self.latency_counts, self.late_counts = np.zeros(BUCKETS, np.int64), np.zeros(BUCKETS, np.int64)
        self.latency_totals = np.zeros(LATENCY_TOTALS, np.int64)
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


def engine_policy(scenario: Scenario) -> tuple[str, int]:
    """The policy and lock hold the engine runs ``scenario`` with. Another delivery path's queue
    (sim/kernel_queue.py) is a FIFO of ``capacity_packets`` that refuses a packet when full, decided
    at once, and takes one in the writer's cost: the locked policy on a ring of that many slots
    with no lock hold does exactly that (the locked writer looks at slot ``w``, which holds the oldest
    unread packet exactly when the FIFO is full). A UDP socket's buffer refuses by bytes, and the
    kernel frees them late (:func:`byte_rule`). The tests hold the two engines equal on both."""
    if scenario.delivery.is_map_ring:
        return scenario.writer.policy, scenario.writer.lock_hold_ns
    return "locked", 0


def byte_rule(scenario: Scenario) -> dict:
    """A UDP socket's buffer rule for the engine (``engine.h``): its limit and each packet's bytes."""
    delivery = scenario.delivery
    if delivery.kind.queue != "socket buffer":
        return {"byte_limit": 0, "packet_bytes": 0}
    return {"byte_limit": 2 * delivery.rcvbuf_bytes, "packet_bytes": delivery.packet_bytes}


def can_go_direct(scenario: Scenario, plan: RunPlan | None = None) -> bool:
    """Whether the engine's direct path can run this (``fast_engine.c``): one writer CPU, the buggy or
    fixed policy, a poller cost above zero, packets in id order all reaching the writer, and none
    arriving and looked at both at time 0."""
    writer = scenario.writer
    if writer.cpus != 1 or writer.policy == "locked" or scenario.poller.cost_ns <= 0 or not scenario.delivery.is_map_ring:
        return False
    if plan is None:  # drawn from the scenario: arrivals from one interval on, strictly increasing
        return True
    return _in_id_order(plan) and (plan.packets == 0 or plan.arrival_ns[0] > 0
                                   or writer.cost_ns + writer.lock_hold_ns > 0)


def _in_id_order(plan: RunPlan) -> bool:
    """Whether the plan's packets arrive in id order, one after another, and all reach the writer."""
    return bool(np.all(np.diff(plan.arrival_ns) > 0) and not np.any(plan.cpu < 0))


def run_fast(scenario: Scenario, plan: RunPlan | None = None, keep_trace: bool = True, warnings_dir=None,
             progress: bool = False, chunk: int = CHUNK_PACKETS, direct: bool | None = None,
             skip: bool | None = None) -> FastRun:
    """Run ``scenario`` with the compiled engine: the same trace as ``sim.model.simulate``.

    With ``keep_trace`` false and no ``plan`` the run streams (see the module's docstring): its
    warnings are written to a new file in ``warnings_dir`` if given, else only the first and last
    are kept; ``progress`` shows a bar on a terminal for runs longer than two seconds. The engine
    takes its direct path whenever it can (``direct=None``; False forces the general event loop,
    which gives the same results). With ``skip`` (the default, unless the environment variable
    ``RINGLAB_SKIP`` is 0: benchmarks measure both that way) the direct path jumps over whole
    periods of a repeating state where the arrivals are regular (:func:`why_not_skipping`): the same
    results, in time that follows the stalls rather than the packets; ``FastRun.mode`` says which ran.
    """
    direct = can_go_direct(scenario, plan) if direct is None else direct and can_go_direct(scenario, plan)
    skip = os.environ.get("RINGLAB_SKIP", "1") != "0" if skip is None else skip
    why_per_packet = why_not_skipping(scenario, direct) if skip else "asked to run per packet"
    if plan is None and not keep_trace:
        streamed = stream_plan(scenario, chunk)
        stalls, end_ns, packets, sorted_arrivals = streamed.stalls, streamed.end_ns, scenario.packets, None
        regular = direct and not scenario.jitter_ns  # arrivals at multiples of the interval: computed in C
        # skipping, a chunk holds many periods: the engine jumps within a chunk only
        parts = _spans(packets, chunk if why_per_packet else max(chunk, SKIP_CHUNK_PACKETS)) if regular \
            else streamed.chunks()
    else:
        regular = direct and plan is None and not scenario.jitter_ns  # the direct path computes the arrivals
        plan = plan if plan is not None else draw_plan(scenario)
        stalls, end_ns, packets = plan.stalls, plan.end_ns, plan.packets
        parts = [PlanChunk(0, None if regular else np.ascontiguousarray(plan.arrival_ns, np.int64), plan.cpu,
                           plan.packets)]
        sorted_arrivals = None if _in_id_order(plan) else np.sort(plan.arrival_ns[plan.cpu >= 0])
    stall_start = np.ascontiguousarray(stalls.start_ns, np.int64)
    stall_end = np.ascontiguousarray(stalls.end_ns, np.int64)
    out = _Outputs(packets if keep_trace else None, len(stall_start))
    keep = 0 if keep_trace else KEEP_WARNINGS
    policy, lock_hold_ns = engine_policy(scenario)
    config = EngineConfig(
        policy=POLICY_CODES[policy], ring_slots=scenario.capacity_packets, cpus=scenario.writer.cpus,
        writer_cost_ns=scenario.writer.cost_ns, lock_hold_ns=lock_hold_ns,
        poller_cost_ns=scenario.poller.cost_ns, poller_wakeup_ns=scenario.poller.wakeup_ns, end_ns=end_ns,
        interval_ns=scenario.interval_ns, packets=packets, stall_start_ns=_pointer(stall_start),
        stall_end_ns=_pointer(stall_end), stalls=len(stall_start), sorted_arrival_ns=_pointer(sorted_arrivals),
        sorted_arrivals=0 if sorted_arrivals is None else len(sorted_arrivals),
        slot=out.column("slot", np.int32), writer_index_after=out.column("writer_index_after", np.int32),
        fate=out.column("fate", np.int8), decided_ns=out.column("decided_ns", np.int64),
        blocked_by=out.column("blocked_by", np.int64), delivery_ns=out.column("delivery_ns", np.int64),
        delivery_order=out.column("delivery_order", np.int64), drops_per_stall=_pointer(out.drops_per_stall),
        recovery_ns=_pointer(out.recovery), drops_per_pause=_pointer(out.drops_per_pause),
        worst_latency_per_stall=_pointer(out.worst_per_stall), drop_causes=_pointer(out.other_causes),
        latency_counts=_pointer(out.latency_counts), late_latency_counts=_pointer(out.late_counts),
        latency_totals=_pointer(out.latency_totals), keep_warnings=keep, skip=int(why_per_packet is None),
        **byte_rule(scenario))
    first, latest = np.zeros((keep, 3), np.int64), np.zeros((keep, 3), np.int64)
    end = EngineEnd(first_warnings=_pointer(first), last_warnings=_pointer(latest))
    warnings_file = None
    if not keep_trace and warnings_dir is not None:
        warnings_file = Path(new_temporary_file(Path(warnings_dir) / "warnings.log"))
    try:
        with warning_stream(warnings_file) if warnings_file is not None else nullcontext() as stream:
            config.warnings_out = stream
            _run_engine(config, end, scenario, parts, direct, progress and not keep_trace)
    except BaseException:
        if warnings_file is not None:
            warnings_file.unlink(missing_ok=True)
        raise
    histogram = LatencyHistogram(out.latency_counts, int(out.latency_totals[0]), int(out.latency_totals[1]))
    mode = EngineMode("per packet", why_per_packet=why_per_packet) if why_per_packet else \
        EngineMode("skipping", int(end.skipped_packets), int(end.skips))
    summary = _summary(scenario, poller_pauses(plan) if plan is not None else Pauses.injected(stalls), stalls,
                       end_ns, packets, out, end, histogram)
    if keep_trace:
        trace = trace_of_plan(scenario, plan, out.columns)
        return FastRun(trace, summary, trace.delivered_ids(), latency_histogram=histogram, mode=mode)
    kept_first = end.kept_first_warnings
    return FastRun(None, summary, None, Warnings(end.warnings, warnings_file, first[:kept_first],
                                                 latest[:min(keep, end.warnings - kept_first)]), histogram, mode)


def _run_engine(config: EngineConfig, end: EngineEnd, scenario: Scenario, parts, direct: bool, progress: bool) -> None:
    """Feed the plan's ``parts`` to a new engine made from ``config``, and finish it into ``end``."""
    library = load_engine()
    engine = library.ringlab_engine_new(ctypes.byref(config))
    if not engine:
        raise MemoryError("the fast engine ran out of memory")
    bar = None
    try:
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=config.packets, unit="packet", unit_scale=True, delay=2, desc=scenario.name)
        feed = _feed_direct if direct else _Feeder(scenario, config.end_ns)
        for part in parts:
            if feed(library, engine, part, part.first + part.count >= config.packets):
                raise MemoryError("the fast engine ran out of memory")
            if bar is not None:
                bar.update(part.count)
        library.ringlab_engine_finish(engine, ctypes.byref(end))
    finally:
        library.ringlab_engine_free(engine)
        if bar is not None:
            bar.close()


def _feed_direct(library, engine, part: PlanChunk, last: bool) -> int:
    """Feed one chunk to the direct path; nonzero if memory ran out."""
    arrival = None if part.arrival_ns is None else np.ascontiguousarray(part.arrival_ns, np.int64)
    return library.ringlab_engine_feed_direct(engine, part.first, part.count, _pointer(arrival), int(last))


class _Feeder:
    """Feeds chunks to the general event loop, carrying the packets a CPU that fell behind its
    arrivals has not taken yet into the next chunk."""

    def __init__(self, scenario: Scenario, end_ns: int):
        self.cpus, self.end_ns = scenario.writer.cpus, end_ns
        self.carried: PlanChunk | None = None
        self.untaken: np.ndarray | None = None

    def __call__(self, library, engine, part: PlanChunk, last: bool) -> int:
        part = _with_untaken(self.carried, part)
        arrival = np.ascontiguousarray(part.arrival_ns, np.int64)
        cpu_packets, cpu_offsets = _cpu_lists(part, self.cpus, self.untaken)
        limit = self.end_ns if last else min(int(arrival[-1]) + 1, self.end_ns)
        failed = library.ringlab_engine_feed(engine, part.first, _pointer(arrival), _pointer(cpu_packets, np.int64),
                                             _pointer(cpu_offsets, np.int64), limit, int(last))
        if not failed and not last:
            untaken = np.zeros(self.cpus, np.int64)
            library.ringlab_engine_untaken(engine, _pointer(untaken))
            untaken[untaken < 0] = part.first + part.count
            behind = int(untaken.min()) - part.first
            self.carried = PlanChunk(part.first + behind, part.arrival_ns[behind:], part.cpu[behind:],
                                     part.count - behind) if behind < part.count else None
            self.untaken = untaken if self.carried is not None else None
        return failed


def _summary(scenario: Scenario, pauses: Pauses, stalls, end_ns: int, packets: int, out: _Outputs,
             end: EngineEnd, every_read: LatencyHistogram) -> RunSummary:
    """The run's summary from the engine's running figures and its end."""
    in_ring = end.written - end.reads
    fate_counts = dict.fromkeys(FATE_NAMES.values(), 0)
    fate_counts.update(delivered=end.reads, dropped_full=end.dropped, in_ring=in_ring,
                       pending=packets - end.reads - end.dropped - in_ring)
    sum_late, max_late = int(out.latency_totals[2]), int(out.latency_totals[3])
    return summary_from_parts(
        packets=packets, fate_counts=fate_counts, out_of_order=end.late_reads, max_displacement=end.max_displacement,
        warnings=end.warnings, drops_per_stall=out.drops_per_stall[1:],
        drops_before_first_stall=int(out.drops_per_stall[0]), stalled_ns=int(stalls.length_ns.sum()),
        recovery_ns=out.recovery,
        lasting_offset=(end.writer_index - end.read_index - end.occupancy) % scenario.capacity_packets,
        pause_figures=pause_figures(pauses, end_ns),
        cause_figures=cause_figures(pauses, out.drops_per_pause, out.other_causes),
        latency_figures=latency_figures(every_read, LatencyHistogram(out.late_counts, sum_late, max_late),
                                        out.worst_per_stall),
    )


def _spans(packets: int, chunk: int):
    """A plan's packets a chunk at a time, without their arrivals: for the direct path, which
    computes arrivals at multiples of the interval itself."""
    for first in range(0, packets, chunk):
        yield PlanChunk(first, None, None, min(chunk, packets - first))
