"""The fast engine: the SimPy model's rules as one event loop compiled with Numba.

It runs the same processes (the poller and one writer per CPU) as explicit state machines.
Each process has at most one pending wake-up; the next to run is the one with the earliest
(time, priority), the poller first and then the writer CPUs in order, which is exactly the order
the SimPy model's events fire in (see ``sim/wake.py``). The trace is therefore identical, packet
for packet; the tests check that on generated scenarios.

Why Numba: the model is a branchy event loop over a handful of processes, which NumPy cannot
vectorise across stall boundaries, and Numba compiles it from readable Python to machine code,
cached on disk after the first call, with no build step to install.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ringlab.plan import RunPlan, draw_plan
from ringlab.scenario import Scenario
from ringlab.analysis import RunSummary, summary_from_parts
from ringlab.trace import FATE_NAMES, PENDING, Trace, empty_columns

POLICY_CODES = {"buggy": 0, "fixed": 1, "locked": 2}
BUGGY, FIXED, LOCKED = 0, 1, 2
NEVER = np.iinfo(np.int64).max
EMPTY = -1
DELIVERED, DROPPED_FULL, IN_RING = 0, 1, 2

# Writer states
W_NEXT, W_TAKE_INDEX, W_LOOK, W_RESET, W_COPY, W_RECORD, W_DONE = range(7)
# Poller states
P_CHECK, P_NOTICED, P_READ = range(3)


@dataclass(frozen=True)
class EndState:
    """What the engine knows when the run ends, for the summary of a run without its timeline."""

    writer_index: int  # as the trace shows it: left by the last packet handled
    reader_index: int
    occupancy: int
    recovery_ns: np.ndarray  # per stall, as ringlab.analysis.recovery_times_ns defines it


@numba.njit(cache=True)
def _resume(t, stall_start, stall_end):
    i = np.searchsorted(stall_start, t, side="right") - 1
    if i >= 0 and t < stall_end[i]:
        return stall_end[i]
    return t


@numba.njit(cache=True)
def _work_end(t, work, stall_start, stall_end):
    now = _resume(t, stall_start, stall_end)
    i = np.searchsorted(stall_start, now, side="right")
    remaining = work
    while i < len(stall_start) and stall_start[i] < now + remaining:
        remaining -= stall_start[i] - now
        now = stall_end[i]
        i += 1
    return now + remaining


@numba.njit(cache=True)
def _settle_recoveries(first, aligned, state_ns, next_ns, stall_start, stall_end, end_ns, recovery_ns):
    """Settle the recovery of stalls ending before ``next_ns``, given that the state after the
    instant ``state_ns`` (aligned or not) holds until ``next_ns``. Returns the first unsettled stall.

    The rules are those of ``ringlab.analysis.recovery_times_ns``: zero if aligned at the stall's
    end, else the first aligned instant after it, NaN if that is not before the next stall.
    """
    n = len(stall_start)
    i = first
    while i < n and stall_end[i] < next_ns:
        deadline = stall_start[i + 1] if i + 1 < n else end_ns + 1
        if aligned:
            if stall_end[i] >= state_ns:
                recovery_ns[i] = 0.0
            elif state_ns < deadline:
                recovery_ns[i] = state_ns - stall_end[i]
            i += 1
        elif deadline <= next_ns:
            i += 1
        else:
            break
    return i


@numba.njit(cache=True)
def _run(policy, ring_slots, arrival_ns, cpu_packets, cpu_offsets, cost_ns, hold_ns, poller_cost_ns, wakeup_ns,
         stall_start, stall_end, end_ns, full, slot_out, fate, decided_ns, index_after_out, delivery_ns,
         delivery_order, read_sequence, drops_per_stall, recovery_ns):
    cpus = len(cpu_offsets) - 1
    slots = np.full(ring_slots, EMPTY, np.int64)
    write_index = 0
    lock_free_at = 0
    occupancy = 0
    # Process 0 is the poller, 1 + c the writer on CPU c: the index is the priority at one instant.
    wake = np.full(cpus + 1, NEVER, np.int64)
    w_state = np.full(cpus, W_NEXT, np.int64)
    w_position = cpu_offsets[:-1].copy()
    w_key = np.zeros(cpus, np.int64)
    w_index_after = np.zeros(cpus, np.int64)
    w_written = np.zeros(cpus, np.bool_)
    read_index = 0
    reads = 0
    p_state = P_CHECK
    poller_waiting = False
    next_recovery = 0  # first stall whose recovery is not settled yet
    index_seen = 0  # the write index as the trace shows it: set when a packet is recorded
    n_stalls = len(stall_start)
    for i in range(n_stalls):
        recovery_ns[i] = np.nan
    stall_cursor = 0  # stalls before this one ended before the poller's current time
    drop_stall = 0  # stalls begun by the time of the latest drop

    now = 0
    # At time 0 every process starts, writers first (their creation order), then the poller.
    order = np.empty(cpus + 1, np.int64)
    for c in range(cpus):
        order[c] = 1 + c
    order[cpus] = 0
    first = True
    while True:
        if first:
            step_count = cpus + 1
        else:
            # The next process: earliest wake, then lowest priority.
            best = 0
            for p in range(1, cpus + 1):
                if wake[p] < wake[best]:
                    best = p
            upcoming = wake[best] if wake[best] < end_ns else NEVER
            if upcoming > now and next_recovery < n_stalls and stall_end[next_recovery] < upcoming:
                aligned = occupancy == 0 and index_seen == read_index
                deadline = stall_start[next_recovery + 1] if next_recovery + 1 < n_stalls else end_ns + 1
                if aligned or deadline <= upcoming:
                    next_recovery = _settle_recoveries(next_recovery, aligned, now, upcoming, stall_start,
                                                       stall_end, end_ns, recovery_ns)
            if upcoming == NEVER:
                break
            now = wake[best]
            order[0] = best
            step_count = 1
        for s in range(step_count):
            p = order[s]
            wake[p] = NEVER
            if p == 0:
                # ---- the poller ----
                while True:
                    if p_state == P_CHECK:
                        if slots[read_index] != EMPTY:
                            notice = now
                        else:
                            poller_waiting = True
                            p_state = P_NOTICED
                            break
                    elif p_state == P_NOTICED:
                        notice = now + wakeup_ns
                    else:  # P_READ
                        packet = slots[read_index]
                        slots[read_index] = EMPTY
                        occupancy -= 1
                        fate[packet] = DELIVERED
                        if full:
                            delivery_ns[packet] = now
                            delivery_order[packet] = reads
                        read_sequence[reads] = packet + 1
                        reads += 1
                        read_index = (read_index + 1) % ring_slots
                        p_state = P_CHECK
                        continue
                    # Skip stalls that ended before the notice (the poller's times never go back).
                    while stall_cursor < n_stalls and stall_end[stall_cursor] <= notice:
                        stall_cursor += 1
                    if stall_cursor < n_stalls and stall_start[stall_cursor] <= notice + poller_cost_ns:
                        start = _resume(notice, stall_start, stall_end)
                        wake[0] = _work_end(start, poller_cost_ns, stall_start, stall_end)
                    else:
                        wake[0] = notice + poller_cost_ns
                    p_state = P_READ
                    break
            else:
                # ---- a writer CPU ----
                c = p - 1
                while True:
                    state = w_state[c]
                    if state == W_NEXT:
                        if w_position[c] == cpu_offsets[c + 1]:
                            w_state[c] = W_DONE
                            break
                        packet = cpu_packets[w_position[c]]
                        w_state[c] = W_TAKE_INDEX
                        if arrival_ns[packet] > now:
                            wake[p] = arrival_ns[packet]
                            break
                    elif state == W_TAKE_INDEX or state == W_RESET:
                        if lock_free_at > now:
                            wake[p] = lock_free_at
                            break
                        lock_free_at = now + hold_ns
                        if state == W_RESET:
                            write_index = w_key[c]
                            w_index_after[c] = w_key[c]
                            w_state[c] = W_RECORD
                            if hold_ns > 0:
                                wake[p] = now + hold_ns
                                break
                            continue
                        key = write_index
                        w_key[c] = key
                        if policy == LOCKED:
                            free = slots[key] == EMPTY
                            if free:
                                write_index = (key + 1) % ring_slots
                            w_index_after[c] = write_index
                            if not free:
                                w_written[c] = False
                                w_state[c] = W_RECORD
                                if hold_ns > 0:
                                    wake[p] = now + hold_ns
                                    break
                                continue
                            w_state[c] = W_COPY
                        else:
                            write_index = (key + 1) % ring_slots
                            w_index_after[c] = write_index
                            w_state[c] = W_LOOK
                        if hold_ns + cost_ns > 0:
                            wake[p] = now + hold_ns + cost_ns
                            break
                    elif state == W_LOOK or state == W_COPY:
                        key = w_key[c]
                        written = slots[key] == EMPTY
                        if written:
                            slots[key] = cpu_packets[w_position[c]]
                            occupancy += 1
                            if poller_waiting and key == read_index:
                                poller_waiting = False
                                wake[0] = now
                        w_written[c] = written
                        if not written and state == W_LOOK and policy == FIXED:
                            w_state[c] = W_RESET
                        else:
                            w_state[c] = W_RECORD
                    elif state == W_RECORD:
                        packet = cpu_packets[w_position[c]]
                        fate[packet] = IN_RING if w_written[c] else DROPPED_FULL
                        if full:
                            slot_out[packet] = w_key[c]
                            decided_ns[packet] = now
                            index_after_out[packet] = w_index_after[c]
                        if not w_written[c]:
                            # Attribute the drop to the latest stall begun by now (0: before any).
                            while drop_stall < n_stalls and stall_start[drop_stall] <= now:
                                drop_stall += 1
                            drops_per_stall[drop_stall] += 1
                        index_seen = w_index_after[c]
                        w_position[c] += 1
                        w_state[c] = W_NEXT
                    else:
                        break
        first = False
    return index_seen, read_index, occupancy, reads


@dataclass(frozen=True)
class FastRun:
    """One run of the fast engine: the trace (None in summary-only mode) and its summary."""

    trace: Trace | None
    summary: RunSummary
    delivered_ids: np.ndarray
    end_state: EndState


def run_fast(scenario: Scenario, plan: RunPlan | None = None, keep_trace: bool = True) -> FastRun:
    """Run ``scenario`` with the compiled engine: the same trace as ``sim.model.simulate``.

    With ``keep_trace`` false only the summary and the read order (hence the warnings) are kept,
    which lets 10^7 packets run in well under 1 GB.
    """
    plan = plan if plan is not None else draw_plan(scenario)
    packets = plan.packets
    columns = empty_columns(packets if keep_trace else 1)
    fate = columns["fate"] if keep_trace else np.full(packets, PENDING, np.int8)
    cpu_packets = np.argsort(plan.cpu, kind="stable").astype(np.int32)
    cpu_offsets = np.searchsorted(plan.cpu[cpu_packets], np.arange(scenario.writer.cpus + 1)).astype(np.int64)
    read_sequence = np.zeros(packets, np.int32 if packets < 2**31 else np.int64)
    drops = np.zeros(len(plan.stalls) + 1, np.int64)
    recovery = np.empty(len(plan.stalls), np.float64)
    writer_index, reader_index, occupancy, reads = _run(
        POLICY_CODES[scenario.writer.policy], scenario.ring_slots, plan.arrival_ns, cpu_packets, cpu_offsets,
        scenario.writer.cost_ns, scenario.writer.lock_hold_ns, scenario.poller.cost_ns, scenario.poller.wakeup_ns,
        plan.stalls.start_ns, plan.stalls.end_ns, plan.end_ns, keep_trace, columns["slot"], fate,
        columns["decided_ns"], columns["writer_index_after"], columns["delivery_ns"], columns["delivery_order"],
        read_sequence, drops, recovery,
    )
    del cpu_packets
    end_state = EndState(int(writer_index), int(reader_index), int(occupancy), recovery)
    delivered_ids = read_sequence[:reads]
    lasting = (end_state.writer_index - end_state.reader_index - end_state.occupancy) % scenario.ring_slots
    counts = np.bincount(fate.astype(np.int64), minlength=len(FATE_NAMES))
    summary = summary_from_parts(
        packets=packets, fate_counts={FATE_NAMES[f]: int(counts[f]) for f in FATE_NAMES},
        delivered_ids=delivered_ids, drops_per_stall=drops[1:], drops_before_first_stall=int(drops[0]),
        stalled_ns=int(plan.stalls.length_ns.sum()), recovery_ns=recovery, lasting_offset=lasting,
    )
    trace = None
    if keep_trace:
        trace = Trace(
            id=np.arange(1, packets + 1, dtype=np.int64), arrival_ns=plan.arrival_ns, cpu=plan.cpu,
            stall_start_ns=plan.stalls.start_ns, stall_length_ns=plan.stalls.length_ns,
            ring_slots=scenario.ring_slots, end_ns=plan.end_ns, **columns,
        )
    return FastRun(trace, summary, delivered_ids, end_state)


def simulate_fast(scenario: Scenario, plan: RunPlan | None = None) -> Trace:
    """The trace of ``scenario`` from the fast engine (identical to ``sim.model.simulate``'s)."""
    return run_fast(scenario, plan).trace
