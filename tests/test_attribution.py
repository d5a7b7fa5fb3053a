"""Every dropped packet gets its cause, by the same rules on simulated and measured traces."""

import numpy as np
from hypothesis import given

import ringlab
from ringlab.analysis.attribution import CAUSE_NAMES, attribute_drops
from ringlab.scenario.plan import RunPlan, draw_plan
from ringlab.trace.pauses import BACKGROUND, INJECTED, Pauses
from tests.helpers import any_scenario, scenario, scripted


def causes_of(trace) -> dict:
    causes = attribute_drops(trace)
    return {CAUSE_NAMES[c]: int(n) for c, n in zip(*np.unique(causes.cause, return_counts=True))}


@given(any_scenario())
def test_a_simulated_run_explains_every_drop(sc):
    summary = ringlab.run(sc).summary
    assert summary.drops_by_cause["unexplained"] == 0
    assert sum(summary.drops_by_cause.values()) == summary.dropped_full


def test_the_drops_of_one_injected_stall_are_its_own():
    trace = ringlab.run(scenario(8000, "fixed", scripted((5_000_000, 37_300)))).trace
    assert causes_of(trace) == {"injected stall": 22}
    assert attribute_drops(trace).pause_index.tolist() == [0] * 22


def test_a_background_pause_is_named_as_the_cause_of_its_drops():
    """A replay-style plan: one injected stall and one background pause of a named source."""
    sc = scenario(8000, "fixed", scripted((2_000_000, 40_000)))
    plan = draw_plan(sc)
    pauses = Pauses.from_labels([2_000_000, 5_000_000], [40_000, 30_000], [INJECTED, BACKGROUND],
                                ["injected stall", "task rl-competitor"])
    result = ringlab.run(sc, plan=RunPlan(plan.arrival_ns, plan.cpu, pauses.schedule(), plan.end_ns, pauses))
    summary = result.summary
    assert summary.drops_by_cause["injected stall"] == 40 + 1 - 16 - 1  # as the closed form of test_model
    assert summary.drops_by_cause["background pause"] > 0
    assert summary.drops_by_source == {"injected stall": summary.drops_by_cause["injected stall"],
                                       "background: task rl-competitor": summary.drops_by_cause["background pause"]}
    assert summary.background_pauses["count"] == 1 and summary.background_pauses["longest_ns"] == 30_000


def test_a_burst_of_arrivals_closer_than_planned_is_a_sender_burst():
    sc = scenario(200, "fixed", None, interval=1000, ring_slots=4, poller_cost=150, poller_wakeup=0)
    plan = draw_plan(sc)
    arrival = plan.arrival_ns.copy()
    arrival[100:140] = arrival[100] + 10 * np.arange(40)  # 40 frames 10 ns apart: a sender catching up
    arrival[140:] = np.maximum(arrival[140:], arrival[139] + 1000)
    trace = ringlab.run(sc, plan=RunPlan(arrival, plan.cpu, plan.stalls, plan.end_ns)).trace
    assert set(causes_of(trace)) == {"sender burst"}


def test_a_poller_slower_than_the_arrivals_is_too_slow():
    trace = ringlab.run(scenario(2000, "fixed", None, interval=100, poller_cost=150, poller_wakeup=0)).trace
    assert set(causes_of(trace)) == {"poller too slow"}


def test_after_the_bug_a_pause_too_short_to_fill_an_aligned_ring_drops_and_is_named():
    """After a stall leaves the buggy writer k = 6 slots ahead, the ring holds up to 10 old packets
    while the poller waits on an empty slot, so a later 14 us pause (16 slots at 1 us would hold
    it) drops packets at most phases of the cycle; the drops are that pause's."""
    injected = CAUSE_NAMES.index("injected stall")
    dropping_phases = 0
    for phase_ns in range(0, 16_000, 1_000):
        stalls = scripted((5_000_000, 37_300), (12_000_000 + phase_ns, 14_000))
        causes = attribute_drops(ringlab.run(scenario(14_000, "buggy", stalls)).trace)
        late = causes.window_end_ns > 12_000_000
        dropping_phases += bool(late.any())
        assert set(causes.cause[late]) <= {injected} and set(causes.pause_index[late]) <= {1}
        aligned = attribute_drops(ringlab.run(scenario(14_000, "fixed", stalls)).trace)
        assert not (aligned.window_end_ns > 12_000_000).any()
    assert dropping_phases >= 8


def test_a_claimed_slot_not_yet_written_is_named():
    """Three CPUs, two slots, copies slower than arrivals (as in test_model): the third packet
    finds slot 0 claimed by a writer still copying."""
    sc = scenario(3, "locked", None, ring_slots=2, interval=100, writer_cpus=3, writer_cost=1000,
                  writer_lock_hold=0, poller_cost=10, poller_wakeup=0)
    assert causes_of(ringlab.run(sc).trace) == {"slot still being written": 1}


def test_waiting_on_the_wrong_slot_is_the_writer_at_an_offset():
    """N = 2 and a stall leaves the buggy writer one slot ahead: the poller (256 ns a read, packets
    every 481 ns or more) waits on the empty slot while the other holds a packet, and a packet
    finds that one still full. The fixed writer, on the same plan, loses only the stall's packets."""
    renewal = {"model": "renewal", "run": {"dist": "expon", "scale": "30us"}, "length": {"dist": "expon", "scale": "15us"}}
    sc = scenario(39, "buggy", renewal, seed=18, ring_slots=2, interval=481, jitter=174, writer_cost=0, writer_lock_hold=0,
                  poller_cost=256, poller_wakeup=3, drain=0)
    buggy = causes_of(ringlab.run(sc).trace)
    assert buggy.get("writer at an offset", 0) > 0 and "poller too slow" not in buggy, buggy
    fixed = causes_of(ringlab.run(sc.with_values({"writer.policy": "fixed"})).trace)
    assert set(fixed) <= {"injected stall"}, fixed
