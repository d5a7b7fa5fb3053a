"""The fast engine's skipping (sim/fast_engine.c, "skipping whole periods"): where the state repeats
between stalls, the engine jumps over whole periods, and gives the per-packet run's trace, summary
and warnings exactly; where a scenario's randomness or its path forbids it, it runs per packet and
says why."""

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ringlab.scenario.fields import WRITER_POLICIES, scenario_from_dict
from ringlab.sim.fast_engine import run_fast
from tests.helpers import assert_same_trace, scenario, scripted

# stall tables that leave long quiet stretches between stalls (what skipping is for), and busy ones
STALLS = [
    None,
    scripted((100_000, 40_000)),
    scripted((50_000, 9_000), (400_000, 30_000), (420_000, 5_000)),
    {"model": "periodic", "period": "200us", "length": "25us", "phase": "3us"},
    {"model": "renewal", "run": {"dist": "expon", "scale": "150us"}, "length": {"dist": "expon", "scale": "20us"}},
    {"model": "renewal", "run": {"dist": "expon", "scale": "30us"}, "length": {"dist": "expon", "scale": "15us"}},
]


@st.composite
def skippable_scenario(draw):
    """Mostly what the direct path runs (one writer CPU, buggy or fixed, regular arrivals), over a
    few thousand packets so that periods repeat; sometimes jitter, several CPUs, the locked policy or
    another delivery path, which must fall back to running per packet."""
    kind = draw(st.sampled_from(["direct"] * 8 + ["jitter", "cpus", "locked", "path"]))
    interval = draw(st.integers(50, 2000))
    # mostly a writer and a poller that keep up between stalls (else no state repeats), sometimes not
    fast = draw(st.integers(0, 3)) > 0
    cost_limit = interval if fast else 2500
    fields = dict(seed=draw(st.integers(0, 1000)), ring_slots=draw(st.integers(1, 20)),
                  interval=interval, drain=draw(st.integers(0, 100_000)),
                  writer_cost=draw(st.integers(0, cost_limit)), writer_lock_hold=draw(st.integers(0, 100)),
                  poller_cost=draw(st.integers(1, cost_limit)), poller_wakeup=draw(st.integers(0, 300)))
    packets, stalls = draw(st.integers(1, 6000)), draw(st.sampled_from(STALLS))
    policy = draw(st.sampled_from(["buggy", "fixed"]))
    if kind == "jitter":
        fields["jitter"] = draw(st.integers(1, 500))
    elif kind == "cpus":
        fields["writer_cpus"] = draw(st.integers(2, 3))
    elif kind == "locked":
        policy = "locked"
    elif kind == "path":
        path = draw(st.sampled_from(["af_xdp", "udp_socket"]))
        data = {"packets": packets, "delivery": path, "ring_slots": 2 ** draw(st.integers(0, 5)),
                "interval": fields["interval"], "seed": fields["seed"],
                "writer": {"cost": fields["writer_cost"]}, "poller": {"cost": fields["poller_cost"]}}
        if stalls is not None:
            data["stalls"] = stalls
        return scenario_from_dict(data)
    return scenario(packets, policy, stalls, **fields)


@settings(max_examples=1500, deadline=None)
@given(skippable_scenario())
def test_skipping_gives_the_per_packet_trace_summary_and_warnings(tmp_path_factory, sc):
    """1 500 generated scenarios, of which 449 jumped over some packets (--hypothesis-show-statistics)
    and the rest ran per packet (other paths, jitter, a writer or poller slower than the packets)."""
    per_packet, skipping = run_fast(sc, skip=False), run_fast(sc)
    assert_same_trace(per_packet.trace, skipping.trace)
    assert skipping.summary == per_packet.summary
    streamed = run_fast(sc, keep_trace=False, warnings_dir=tmp_path_factory.mktemp("w"))
    reference = run_fast(sc, keep_trace=False, warnings_dir=tmp_path_factory.mktemp("w"), skip=False)
    assert streamed.summary == per_packet.summary
    assert streamed.warnings.file.read_text() == reference.warnings.file.read_text()
    kept, kept_reference = run_fast(sc, keep_trace=False).warnings, run_fast(sc, keep_trace=False, skip=False).warnings
    assert np.array_equal(kept.first, kept_reference.first) and np.array_equal(kept.last, kept_reference.last)
    assert kept.count == kept_reference.count
    direct = sc.writer.cpus == 1 and sc.writer.policy != "locked" and sc.delivery.is_map_ring
    if direct and not sc.jitter_ns:
        assert skipping.mode.mode == streamed.mode.mode == "skipping"
        assert skipping.mode.skipped_packets == streamed.mode.skipped_packets
        event(f"jumped over {'no' if not skipping.mode.skipped_packets else 'some'} packets")
    else:
        assert skipping.mode.mode == "per packet" and skipping.mode.skipped_packets == 0
        assert skipping.mode.why_per_packet


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["buggy", "fixed"]), st.integers(1, 64), st.integers(2, 40), st.integers(500, 60_000))
def test_a_lasting_offset_or_a_ring_left_full_repeats_and_is_skipped_exactly(policy, ring_slots, stall_slots, at_ns):
    """One stall long enough to fill the ring: the buggy writer is left at an offset (its warnings
    repeat every ring's worth of packets), the fixed one in order; both are skipped, warnings and all."""
    interval = 1000
    sc = scenario(20_000, policy, scripted((at_ns, stall_slots * ring_slots * interval // 4 + 3000)),
                  ring_slots=ring_slots, interval=interval, writer_cost=150, poller_cost=90, poller_wakeup=40)
    per_packet, skipping = run_fast(sc, skip=False), run_fast(sc)
    assert_same_trace(per_packet.trace, skipping.trace)
    assert skipping.summary == per_packet.summary
    assert skipping.mode.skipped_packets > 0.5 * sc.packets


def test_sparse_stalls_cost_per_stall_not_per_packet():
    """One 2 ms stall a second at 1 us: 10^8 packets, 100 stalls; every packet is jumped over but those
    that meet a stall (the 2 000 a stall drops, whose ring does not move on, and a few hundred around
    it), in a few jumps per stall; and on a smaller run the figures equal the per-packet run's."""
    sc = scenario(100_000_000, "buggy", {"model": "periodic", "period": "1s", "length": "2ms", "phase": "0.5s"},
                  ring_slots=16, interval=1000, writer_cost=150, poller_cost=90, poller_wakeup=40)
    skipping = run_fast(sc, keep_trace=False)
    assert skipping.summary.stalls == 100 and skipping.summary.dropped_full > 0
    assert sc.packets - skipping.mode.skipped_packets < 100 * (2000 + 500)
    assert skipping.mode.skips < 10 * 100
    small = scenario(3_000_000, "buggy", {"model": "periodic", "period": "1ms", "length": "40us", "phase": "0.5ms"},
                     ring_slots=16, interval=1000, writer_cost=150, poller_cost=90, poller_wakeup=40)
    assert run_fast(small, keep_trace=False).summary == run_fast(small, keep_trace=False, skip=False).summary


def test_the_summary_says_which_mode_ran(tmp_path):
    import json

    from ringlab.cli import main
    from tests.helpers import BUGGY_EXAMPLE

    assert main(["sim", str(BUGGY_EXAMPLE), "--out", str(tmp_path / "a"), "--set", "packets=50000"]) == 0
    assert main(["sim", str(BUGGY_EXAMPLE), "--out", str(tmp_path / "b"), "--set", "packets=50000", "--set",
                 "jitter=100ns"]) == 0
    skipping, jittered = (json.loads((tmp_path / d / "summary.json").read_text())["engine_mode"] for d in "ab")
    assert skipping["mode"] == "skipping" and skipping["skipped_packets"] > 40_000 and skipping["why_per_packet"] is None
    assert jittered == {"mode": "per packet", "skipped_packets": 0, "skips": 0,
                        "why_per_packet": "jittered arrivals (no two periods alike)"}


def test_every_policy_is_either_skipped_or_says_why_not():
    for policy in WRITER_POLICIES:
        mode = run_fast(scenario(5000, policy, scripted((1_000_000, 50_000)), interval=1000)).mode
        assert (mode.mode == "skipping") == (policy != "locked"), mode


@settings(max_examples=300, deadline=None)
@given(skippable_scenario(), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 5000)), max_size=4))
def test_a_plan_of_the_callers_is_skipped_where_its_arrivals_are_regular(sc, delays):
    """A plan as predictions make them: the scenario's arrivals with some held back (each delay moves
    one packet and every later one by that many ns); the engine jumps only within regular stretches,
    and gives the per-packet run's trace and summary."""
    from ringlab.scenario.plan import RunPlan, draw_plan

    plan = draw_plan(sc)
    arrival = plan.arrival_ns.copy()
    for where, delay_ns in delays:
        arrival[int(where * (len(arrival) - 1)):] += delay_ns
    plan = RunPlan(arrival, plan.cpu, plan.stalls, int(arrival[-1]) + sc.drain_ns, plan.pauses)
    per_packet, skipping = run_fast(sc, plan, skip=False), run_fast(sc, plan)
    assert_same_trace(per_packet.trace, skipping.trace)
    assert skipping.summary == per_packet.summary
    event(f"jumped over {'no' if not skipping.mode.skipped_packets else 'some'} packets")


@pytest.mark.parametrize("policy", ["buggy", "fixed"])
def test_a_large_ring_holding_a_backlog_is_skipped_exactly(policy):
    """A ring of 40 000 slots that a 30 ms stall fills by three quarters: the engine compares only the
    slots that hold packets (once it compared all of them at every packet, and sizing a large ring
    took hours)."""
    sc = scenario(200_000, policy, scripted((20_000_000, 30_000_000)), ring_slots=40_000, interval=1000,
                  writer_cost=150, poller_cost=200, poller_wakeup=40)
    per_packet, skipping = run_fast(sc, skip=False), run_fast(sc)
    assert_same_trace(per_packet.trace, skipping.trace)
    assert skipping.summary == per_packet.summary
    assert skipping.mode.skipped_packets > 0.5 * sc.packets
