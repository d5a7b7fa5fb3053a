"""The poller notes its pauses (both loops), and a pause is named by the kernel events in it."""

import time

import numpy as np
import pytest

from ringlab.hw.kernel import pause_sources
from ringlab.hw.kernel.tracer import (
    EVENT_DTYPE,
    EVENT_EXEC,
    EVENT_FUNCTION_ENTRY,
    EVENT_FUNCTION_EXIT,
    EVENT_NMI,
    EVENT_SOFTIRQ_ENTRY,
    EVENT_SOFTIRQ_EXIT,
    EVENT_SWITCH,
    EVENT_VECTOR_ENTRY,
    EVENT_VECTOR_EXIT,
)
from ringlab.hw.trial.poller import PAUSE_BACKGROUND, PAUSE_INJECTED, StallPlan, poll_ring
from ringlab.scenario.stalls import StallSchedule

POLLER_TID = 100


def loop(kind: str):
    if kind == "python":
        return poll_ring
    from ringlab.hw.trial.native_loops import poll_ring_native

    return lambda *args: poll_ring_native(*args, 0, 1 << 16)


@pytest.mark.parametrize("kind", ["native", "python"])
def test_the_poller_notes_injected_stalls_as_executed_and_finds_unreported_ones(kind):
    now = time.monotonic_ns()
    told = StallSchedule(np.array([20_000_000]), np.array([3_000_000]))
    untold = StallSchedule(np.array([40_000_000]), np.array([4_000_000]))
    stalls = StallPlan.of(told, now, untold)
    stop = np.array([now + 60_000_000], np.int64)
    record = loop(kind)(None, 1, "original", stalls, stop, 1_000)
    injected = record.pause_kind == PAUSE_INJECTED
    assert injected.sum() == 1
    start, length = record.pause_start_ns[injected][0] - now, record.pause_length_ns[injected][0]
    # It starts at the first iteration after the planned start and ends at the first clock reading
    # past the planned end (a pause of the machine, up to a few ms here, can delay either).
    assert 20_000_000 <= start < 25_000_000
    assert 23_000_000 <= start + length < 28_000_000
    start = record.pause_start_ns - now  # the first iteration from 40 ms (later after a machine pause)
    found = (record.pause_kind == PAUSE_BACKGROUND) & (start >= 40_000_000) & (start < 44_000_000) \
        & (start + record.pause_length_ns >= 44_000_000)
    assert found.sum() == 1, "one pause covers the stall the poller was not told to note"
    assert np.all(record.pause_length_ns > 1_000)
    assert np.all(np.diff(record.pause_start_ns) > 0)


def events(*rows) -> np.ndarray:
    """Events from (time_ns, kind, number, value, comm[, prev_comm, prev_pid]) rows."""
    table = np.zeros(len(rows), EVENT_DTYPE)
    for row, (ts, kind, number, value, comm, *prev) in zip(table, rows):
        row["ts_ns"], row["kind"], row["number"], row["value"], row["comm"] = ts, kind, number, value, comm
        row["prev_comm"], row["prev_pid"] = (list(prev) + [b"", 0][len(prev):])[:2]
    return table


@pytest.fixture
def named(monkeypatch):
    monkeypatch.setattr(pause_sources, "kernel_symbol", lambda address: {7: "flush_tlb_func"}.get(address, "?"))

    def name(rows, pauses):
        activity = pause_sources.cpu_activity(events(*rows), POLLER_TID, {})
        starts, lengths = np.array([p[0] for p in pauses]), np.array([p[1] for p in pauses])
        return pause_sources.name_pauses(starts, lengths, activity)[0]

    return name


def test_a_pause_is_named_after_what_took_most_of_it(named):
    rows = [(1_000, EVENT_VECTOR_ENTRY, 0, 0, b""), (9_000, EVENT_VECTOR_EXIT, 0, 0, b""),  # a timer tick
            (9_000, EVENT_SOFTIRQ_ENTRY, 1, 0, b""), (10_000, EVENT_SOFTIRQ_EXIT, 1, 0, b""),
            (20_000, EVENT_SWITCH, 55, 0, b"rl-competitor"), (90_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller")]
    assert named(rows, [(500, 12_000), (19_000, 72_000), (95_000, 5_000)]) == [
        "timer interrupt", "task rl-competitor", pause_sources.NO_KERNEL_EVENT]


def test_nested_contexts_give_their_time_to_the_innermost(named):
    rows = [(0, EVENT_SOFTIRQ_ENTRY, 9, 0, b""), (1_000, EVENT_VECTOR_ENTRY, 0, 0, b""),
            (9_000, EVENT_VECTOR_EXIT, 0, 0, b""), (10_000, EVENT_SOFTIRQ_EXIT, 9, 0, b"")]
    assert named(rows, [(0, 10_000), (0, 1_500)]) == ["timer interrupt", "softirq RCU"]


def test_an_ipi_is_named_after_the_function_it_ran(named):
    rows = [(1_000, EVENT_VECTOR_ENTRY, 2, 0, b""), (3_000, EVENT_FUNCTION_ENTRY, 0, 7, b""),
            (4_000, EVENT_FUNCTION_EXIT, 0, 7, b""), (9_000, EVENT_VECTOR_EXIT, 2, 0, b"")]
    assert named(rows, [(0, 10_000)]) == ["IPI call function: flush_tlb_func"]


def test_an_nmi_is_laid_over_what_it_interrupted(named):
    rows = [(0, EVENT_VECTOR_ENTRY, 0, 0, b""), (20_000, EVENT_NMI, 0, 15_000, b""),
            (21_000, EVENT_VECTOR_EXIT, 0, 0, b"")]
    assert named(rows, [(0, 22_000)]) == ["NMI"]


def test_incidental_events_do_not_name_a_long_pause(named):
    """A 3 ms pause with two 10 us ticks in it: the kernel did not make it."""
    rows = [(1_000_000, EVENT_VECTOR_ENTRY, 0, 0, b""), (1_010_000, EVENT_VECTOR_EXIT, 0, 0, b""),
            (2_000_000, EVENT_VECTOR_ENTRY, 0, 0, b""), (2_010_000, EVENT_VECTOR_EXIT, 0, 0, b"")]
    assert named(rows, [(0, 3_000_000)]) == [pause_sources.NO_KERNEL_EVENT]


def test_a_context_whose_exit_was_lost_ends_at_the_next_task_switch(named):
    rows = [(0, EVENT_VECTOR_ENTRY, 2, 0, b""),  # its exit never logged
            (5_000, EVENT_SWITCH, 55, 0, b"kworker/0:1"), (8_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller"),
            (50_000, EVENT_SWITCH, 56, 0, b"rcu_preempt"), (60_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller")]
    assert named(rows, [(49_000, 12_000)]) == ["task rcu_preempt"]


def test_a_task_whose_switch_back_was_lost_is_not_named_for_a_later_pause(named):
    """A task switched in at 10 us and the switch back to the poller went unlogged: the poller ran
    at 2 ms (its pause began then), so the task's time then is not the task's."""
    rows = [(10_000, EVENT_SWITCH, 55, 0, b"tokio-rt-worker"),  # the switch back never logged
            (2_000_000, EVENT_VECTOR_ENTRY, 0, 0, b""), (2_001_000, EVENT_VECTOR_EXIT, 0, 0, b""),
            (9_000_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller")]
    assert named(rows, [(5_000, 20_000), (1_500_000, 3_000_000)]) == [
        "task tokio-rt-worker", pause_sources.NO_KERNEL_EVENT]


def test_a_task_is_named_by_what_it_was_while_it_ran(named):
    """A switch names the task coming in; a task that exec'd (or renamed itself) leaves under
    another name, and its time belongs to what it became."""
    rows = [(10_000, EVENT_SWITCH, 60, 0, b"sh", b"rl-poller", POLLER_TID), (12_000, EVENT_EXEC, 60, 0, b"python3"),
            (40_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller", b"python3", 60),
            (50_000, EVENT_SWITCH, 61, 0, b"tokio-rt-worker", b"rl-poller", POLLER_TID),
            (70_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller", b"memfd:sealed-91", 61),
            (80_000, EVENT_SWITCH, 62, 0, b"kdamond.0", b"rl-poller", POLLER_TID),
            (90_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller", b"kdamond.0", 62),
            # the switch back from task 63 went unlogged: the next switch-out is the poller's own
            (100_000, EVENT_SWITCH, 63, 0, b"worker", b"rl-poller", POLLER_TID),
            (130_000, EVENT_SWITCH, 64, 0, b"other", b"rl-poller", POLLER_TID),
            (140_000, EVENT_SWITCH, POLLER_TID, 0, b"rl-poller", b"other", 64)]
    assert named(rows, [(9_000, 32_000), (49_000, 22_000), (79_000, 12_000), (99_000, 12_000)]) == [
        "task sh → exec python3", "task tokio-rt-worker → memfd:sealed-91", "task kdamond.0", "task worker"]
