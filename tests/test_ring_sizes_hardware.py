"""Real XDP runs every ring size the simulator accepts, up to the limit it names: generated trials
(policy, ring size, interval, writer CPUs, payload layout, one stall) each load, conserve their
packets, and replay with the measured fate for at least 99 % of them (97 % with two writer CPUs; the
fixed writer on two CPUs up to its first drop, whose index reset races); a larger ring is refused in
one line."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringlab.compare.model.replay import agreement, replay
from ringlab.hw.machine.loader import MAX_XDP_RING_SLOTS
from ringlab.scenario.fields import WRITER_POLICIES, scenario_from_dict
from ringlab.trace.records import DROPPED_FULL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]

# Mostly rings small enough for the stall to fill, many of them not powers of two; some up to 4096.
RING_SLOTS = st.one_of(st.integers(1, 100), st.integers(101, 4096))


@settings(max_examples=24, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=st.sampled_from(WRITER_POLICIES), ring_slots=RING_SLOTS, interval_us=st.sampled_from([10, 20, 40]),
       cpus=st.sampled_from([1, 2]), layout=st.sampled_from(["original", "packed"]),
       stall_us=st.integers(0, 3_000))
def test_any_ring_size_runs_on_real_xdp_conserves_and_replays(policy, ring_slots, interval_us, cpus, layout, stall_us):
    from ringlab.hw.trial.run import run_trial

    scenario = scenario_from_dict({
        "name": "ring-sizes", "packets": 3_000, "interval": f"{interval_us}us", "ring_slots": ring_slots,
        "drain": "5ms", "writer": {"policy": policy, "cpus": cpus}, "hw": {"payload_layout": layout},
        "stalls": {"model": "scripted", "stalls": [["10ms", f"{stall_us}us"]]}})
    result = run_trial(scenario)
    trace = result.trace
    assert result.conservation["holds"], result.conservation
    assert result.counters["seen"] == result.counters["written"] + result.counters["dropped_full"]
    assert int(trace.slot[trace.cpu >= 0].max()) < ring_slots  # every write landed in the ring
    replayed = replay(trace, scenario).trace
    agreed = agreement(trace, replayed)
    # A replay times each decision from measured costs, to tens of ns: a packet decided within that of
    # the poller's read of its slot can take the other fate (seen: 1 in 3 000), hence 99 %, not 100 %.
    # Two writer CPUs take the index in an order the replay draws from the measured costs, not the
    # real interleaving (97 % held). The fixed policy's reset of the index after a drop races between
    # the two CPUs (its known data race): once both drop in the same overflow, the real index can land
    # one slot from the replay's, and the fates part for the rest of the trial (90.2 %, 92.6 % and
    # 95.9 % agreed in trials with a 4 ms pause of the poller and no read out of claim order). No
    # replay can know which CPU won, so the floor holds for the packets before the first drop.
    if cpus == 2 and policy == "fixed":
        dropped = trace.fate == DROPPED_FULL
        first_drop_ns = int(trace.arrival_ns[dropped].min()) if dropped.any() else int(trace.end_ns) + 1
        before = trace.arrival_ns < first_drop_ns
        share = float(np.mean(trace.fate[before] == replayed.fate[before])) if before.any() else 1.0
        assert share >= 0.99, (first_drop_ns, agreed.to_dict()["first_differences"][:3])
    else:
        floor = 0.99 if cpus == 1 else 0.97
        assert agreed.same_fate_share >= floor, agreed.to_dict()["first_differences"][:3]


def test_a_ring_larger_than_real_xdp_takes_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ringlab.cli", "hw", "trial", str(ROOT / "examples" / "fixed-one-stall.toml"),
         "--testbed", "--out", str(tmp_path / "run"), "--set", f"ring_slots={MAX_XDP_RING_SLOTS + 1}"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and str(MAX_XDP_RING_SLOTS) in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()
