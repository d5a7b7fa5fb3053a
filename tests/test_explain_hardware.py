"""Real XDP: the poller's pauses are recorded and named, every drop gets its cause, and a replay
from what was measured agrees with the measurement packet for packet.

The machine is shared and noisy; assertions are on what each test sets up (an injected or hidden
stall, a competing task), with margins, never on the background the machine happens to make.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ringlab.analysis.attribution import CAUSE_NAMES, attribute_drops
from ringlab.hw.kernel.tracer import EVENT_SWITCH
from ringlab.scenario.fields import WRITER_POLICIES, scenario_from_dict
from ringlab.scenario.stalls import EmpiricalStalls, StallSchedule
from ringlab.trace.pauses import BACKGROUND, INJECTED

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]
ROOT = Path(__file__).resolve().parent.parent
INTERVAL_NS = 20_000
RING_TIME_NS = 16 * INTERVAL_NS


def scenario(policy="fixed", packets=30_000, stalls=(("100ms", "1.5ms"),), **fields):
    return scenario_from_dict({"name": f"explain-{policy}", "packets": packets, "interval": INTERVAL_NS, "drain": "5ms",
                               "writer": {"policy": policy},
                               "stalls": {"model": "scripted", "stalls": [list(s) for s in stalls]}, **fields})


def test_a_trial_records_its_injected_stalls_as_executed_and_the_background_pauses():
    from ringlab.analysis.summary import summarize
    from ringlab.hw.trial.run import run_trial

    stalls = (("100ms", "1.5ms"), ("300ms", "700us"))
    result = run_trial(scenario(stalls=stalls))
    pauses = result.trace.pauses
    injected = pauses.select(pauses.kind == INJECTED)
    background = pauses.select(pauses.kind == BACKGROUND)
    for planned_start, planned_length in ((100_000_000, 1_500_000), (300_000_000, 700_000)):
        mine = np.flatnonzero((injected.start_ns >= planned_start) & (injected.start_ns < planned_start + 1_000_000))
        if len(mine) == 0:  # the machine took the CPU for the whole planned stall: it never ran, and the
            # background pause that covered it is recorded instead
            assert np.any((background.start_ns <= planned_start)
                          & (background.end_ns >= planned_start + planned_length - 1_000)), (planned_start, pauses)
            continue
        start, length = int(injected.start_ns[mine[0]]), int(injected.length_ns[mine[0]])
        # a busy-wait can start late (a pause of the machine's own at its start), ends at its planned
        # end or after, and can overrun
        assert planned_start + planned_length - 1_000 <= start + length < planned_start + planned_length + 5_000_000
    assert len(injected) >= 1
    assert np.all(background.length_ns > result.tracing["pause_threshold_ns"])
    assert np.all(pauses.start_ns[1:] >= pauses.end_ns[:-1]), "pauses are disjoint and in order"
    summary = summarize(result.trace)
    assert summary.background_pauses["count"] == len(background)
    assert summary.injected_pauses["count"] == len(injected)
    assert sum(summary.drops_by_cause.values()) == summary.dropped_full
    assert result.tracing["kernel_traced"] and result.tracing["kernel_events"] > 0
    assert result.environment["poller_cpu"] == 0 and result.environment["kernel_release"]


def test_a_hidden_stall_is_found_and_named_as_the_cause_of_its_drops():
    """The poller makes a 3 ms stall at 200 ms that the analysis is not told of: it finds a
    background pause there, and that pause, not the injected one, caused the drops after it."""
    from ringlab.hw.trial.run import run_trial

    hidden = StallSchedule(np.array([200_000_000]), np.array([3_000_000]))
    result = run_trial(scenario(), unreported_stalls=hidden)
    pauses = result.trace.pauses
    found = np.flatnonzero((pauses.kind == BACKGROUND) & (pauses.start_ns >= 200_000_000)
                           & (pauses.start_ns < 203_000_000) & (pauses.end_ns >= 203_000_000))
    assert len(found) == 1, list(zip(pauses.start_ns, pauses.length_ns))
    causes = attribute_drops(result.trace)
    its_drops = np.sum(causes.pause_index == found[0])
    # What arrived while it lasted, beyond what the ring holds, was dropped for it. (Counted from the
    # measured arrivals: on a busy machine the sender, on the other core, can pause too.)
    trace, start, end = result.trace, pauses.start_ns[found[0]], pauses.end_ns[found[0]]
    arrived = int(np.sum((trace.cpu >= 0) & (trace.arrival_ns >= start) & (trace.arrival_ns < end)))
    assert its_drops >= arrived - 16 - 2, (its_drops, arrived)
    assert set(causes.cause[causes.pause_index == found[0]]) == {CAUSE_NAMES.index("background pause")}
    source = str(pauses.labels()[found[0]])
    if source.startswith("task "):  # another task of the machine's took the CPU from the busy-wait:
        # the kernel logged the switch to it inside the pause, and the pause is named after it
        events = result.kernel_events
        inside = events[(events["ts_ns"] >= result.start_ns + start) & (events["ts_ns"] < result.start_ns + end)]
        switched_in = {c.decode(errors="replace") for c in inside["comm"][inside["kind"] == EVENT_SWITCH]}
        assert source.removeprefix("task ").split(" ")[0] in switched_in, (source, switched_in)
    else:
        assert source.startswith("no kernel event"), source  # a busy-wait: the kernel did nothing there


COMPETITOR = """
import os, time
os.sched_setaffinity(0, {0})
open("/proc/self/comm", "w").write("rl-competitor")
end = time.monotonic() + 60
while time.monotonic() < end:
    busy_until = time.monotonic() + 0.008
    while time.monotonic() < busy_until:
        pass
    time.sleep(0.05)
"""


def test_a_competing_task_on_the_pollers_cpu_is_named_as_the_cause_of_its_drops():
    from ringlab.hw.trial.run import run_trial

    competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR])
    try:
        time.sleep(0.2)
        result = run_trial(scenario(packets=50_000, stalls=()))
    finally:
        competitor.kill()
        competitor.wait()
    summary = json.loads(json.dumps(__import__("ringlab").summarize(result.trace).to_dict()))
    assert "background: task rl-competitor" in summary["pauses_by_source"], summary["pauses_by_source"]
    assert summary["drops_by_source"].get("background: task rl-competitor", 0) > 0, summary["drops_by_source"]


@pytest.mark.parametrize("policy", WRITER_POLICIES)
def test_a_replay_from_the_measurements_agrees_with_the_trial(policy):
    from ringlab.compare.model.replay import agreement, replay
    from ringlab.hw.trial.run import run_trial

    sc = scenario(policy, packets=60_000, interval="5us",
                  stalls=()).with_values({"stalls": {"model": "periodic", "period": "50ms", "length": "600us",
                                                     "phase": "20ms"}})
    measured = run_trial(sc).trace
    agreed = agreement(measured, replay(measured, sc).trace)
    assert agreed.fate_counts_measured["dropped_full"] > 0
    assert agreed.same_fate_share >= 0.99, agreed.to_dict()["first_differences"][:3]


def test_the_noise_profile_is_an_empirical_stall_model(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "hw", "profile", "--duration", "1s", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    model = EmpiricalStalls.from_file(str(tmp_path / "pauses.csv"), "stalls.file")
    assert len(model.length_ns) == summary["pauses"]["count"] > 0
    assert min(model.length_ns) > summary["pause_threshold_ns"]
    assert sum(model.gap_ns) + sum(model.length_ns) <= 1_000_000_000 + max(model.length_ns)
    assert summary["cpu"] == 0 and "isolation" in summary["environment"]
    assert (tmp_path / "survival.png").stat().st_size > 10_000
    # With the injected stalls, it drives the simulator: nothing fitted.
    from ringlab.runs.runner import run

    predicted = run(scenario("fixed", packets=20_000).with_values({"stalls": {"model": "superposition", "models": [
        {"model": "scripted", "stalls": [["100ms", "1.5ms"]]},
        {"model": "empirical", "file": str(tmp_path / "pauses.csv")}]}})).summary
    assert predicted.stalls > 1


@pytest.mark.parametrize("argv, field", [
    (["hw", "profile", "--duration", "0s", "--out", "{tmp}"], "--duration"),
    (["hw", "profile", "--threshold", "fast", "--out", "{tmp}"], "--threshold"),
    (["hw", "profile", "--cpu", "99", "--duration", "1ms", "--out", "{tmp}"], "--cpu"),
    (["replay", str(ROOT / "examples"), "--out", "{tmp}"], str(ROOT / "examples")),
])
def test_bad_noise_and_replay_input_is_one_line(tmp_path, argv, field):
    argv = [a.replace("{tmp}", str(tmp_path / "out")) for a in argv]
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and field in result.stderr and "Traceback" not in result.stderr


def test_a_replay_of_a_simulated_run_is_refused(tmp_path):
    subprocess.run([sys.executable, "-m", "ringlab.cli", "sim", str(ROOT / "examples" / "fixed-one-stall.toml"),
                    "--out", str(tmp_path / "sim"), "--set", "packets=1000"], check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "replay", str(tmp_path / "sim"), "--out",
                             str(tmp_path / "replay")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a hardware trial" in result.stderr and result.stderr.count("\n") == 1


def test_a_real_trial_reports_latencies_within_reach_of_the_pollers_loop():
    """The median latency is bounded by the poller's loop, not by the machine: a written slot is
    noticed within an iteration of the C loop (20-40 ns here) and read in 50-160 ns, and the XDP
    program takes about 90 ns from seeing a packet to deciding it. The machine's pauses delay only
    the packets arriving during them, a few per cent even on this VM, so they cannot move the
    median; 2 us leaves a margin for a slower core. The sender's own delay is reported apart."""
    import ringlab
    from ringlab.hw.trial.run import run_trial

    result = run_trial(scenario(packets=20_000, stalls=(("100ms", "200us"),)))
    summary = ringlab.summarize(result.trace)
    latency = summary.latency
    assert latency["count"] == summary.delivered > 10_000  # every read has its latency; enough for a median
    assert 0 < latency["p50_ns"] < 2_000, latency
    assert latency["max_ns"] >= 150_000  # the first packet of the 200 us stall waited nearly all of it
    delays = result.send_to_xdp_ns()
    assert len(delays) == int((result.trace.cpu >= 0).sum()) and np.median(delays) > 0
