"""Prediction on real XDP: sources named by what really ran, a profile measured under a trial's own
load, and the counterfactual with a competing process the test starts itself, pinned to the
poller's CPU (a source the test controls: its "with" prediction must match a trial with it, its
"without" prediction a trial without it)."""

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from ringlab.compare.model.predict import predict
from ringlab.hw.kernel.tracer import EVENT_SWITCH
from ringlab.hw.trial.idle_profile import measure_idle_profile
from ringlab.hw.trial.load_profile import measure_under_load
from ringlab.runs.runner import run
from tests.helpers import POLLER_CPU, SPINNER, SPINNER_BUSY_NS, quiet_scenario, spinner_cost, spinner_period_ns

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]
def on_cpu_by_name(events: np.ndarray) -> dict:
    """The independent account: each task's time on the CPU between two switches, by the name it
    had when it switched out (prev_comm)."""
    switches = events[events["kind"] == EVENT_SWITCH]
    times = defaultdict(int)
    for before, after in zip(switches[:-1], switches[1:]):
        times[after["prev_comm"].decode(errors="replace")] += int(after["ts_ns"]) - int(before["ts_ns"])
    return times


def final_name(label: str) -> str:
    """The name a task label gives the task at its end ("task sh → exec python3": python3)."""
    name = label.removeprefix("task ")
    return name.split(" → exec ")[-1].split(" → ")[-1]


def test_pause_time_per_task_agrees_with_the_tasks_own_time_on_the_cpu():
    """Short processes of the test's own, pinned to the poller's CPU, exec while they run: their
    pauses must be named by what they became, not by the name they were switched in with."""
    script = "while :; do /usr/bin/python3 -c 'sum(range(400000))'; done"  # until the test kills it
    churn = subprocess.Popen(["/bin/sh", "-c", script], preexec_fn=lambda: os.sched_setaffinity(0, {POLLER_CPU}),
                             start_new_session=True)
    try:
        profile = measure_idle_profile(2_500_000_000, POLLER_CPU, 1_000, keep_events=True)
    finally:
        os.killpg(churn.pid, signal.SIGKILL)  # the shell and the process it runs
        churn.wait()
    assert profile.events is not None and len(profile.events) > 100
    labels = np.asarray(profile.source, dtype=object)
    tasks = [label for label in set(profile.source) if label.startswith("task ")]
    assert any(" → exec python3" in label for label in tasks), tasks  # the churn exec'd and was seen doing so
    on_cpu = on_cpu_by_name(profile.events)
    paused = defaultdict(int)
    for label in tasks:
        paused[final_name(label)] += int(profile.pause_length_ns[labels == label].sum())
    for name, pause_ns in paused.items():
        # a pause holds the task's time and the switches around it: within 25 % and 0.3 ms of it
        assert pause_ns <= 1.25 * on_cpu.get(name, 0) + 300_000, (name, pause_ns, on_cpu.get(name, 0), dict(paused))
    assert paused["python3"] >= 0.5 * on_cpu["python3"], (dict(paused), dict(on_cpu))


def test_a_load_profile_records_the_trials_own_pauses_and_reads(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "hw", "profile-load",
                             str(ROOT / "examples" / "fixed-one-stall.toml"), "--set", "interval=20us",
                             "--duration", "1s", "--out", str(tmp_path / "load")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "load" / "profile.json").read_text())
    assert figures["origin"]["kind"] == "measured under the trial's own load"
    assert figures["duration_ns"] == pytest.approx(1e9, rel=0.05) and figures["all"]["count"] > 10
    assert figures["latency_body"]["reads"] > 40_000  # 50 000 frames, nearly all read within the threshold
    assert 50 < figures["latency_body"]["p50_ns"] < 1_000


def test_the_counterfactual_of_a_competing_process_matches_trials_with_and_without_it():
    """The competing process is the test's own, made to cost ten times what the machine's own pauses
    cost a trial measured first, so that it dominates on a noisier machine too."""
    scenario = quiet_scenario(100_000)
    without_it = run(scenario, "hw").summary.loss_fraction  # the machine's own, measured first
    cost = spinner_cost(without_it)
    period_ns = spinner_period_ns(cost, scenario.ring_slots * scenario.interval_ns)
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER, str(SPINNER_BUSY_NS), str(period_ns)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "ready"
        profile = measure_under_load(quiet_scenario(1), 3_000_000_000)
        with_it = run(scenario, "hw").summary.loss_fraction
    finally:
        spinner.kill()
        spinner.wait()
    # The machine's own loss drifts several times over within seconds (0.34 % in the trial before the
    # profile, 0.03 % predicted from the profile, once in CI): a second trial without the spinner, after
    # it, and the quieter of the two stands for the machine the profile saw.
    without_after = run(scenario, "hw").summary.loss_fraction
    without_it = min(without_it, without_after)
    assert "task rl-spinner" in profile.source_names
    predicted_with = predict(scenario, profile, repeats=30)
    predicted_without = predict(scenario, profile, repeats=30, without=["task rl-spinner"])
    spinner_drops = predicted_with.drops_by_source["background: task rl-spinner"].median
    context = (without_it, without_after, with_it, cost, predicted_with.loss_fraction, predicted_without.loss_fraction)
    assert spinner_drops > 0.5 * predicted_with.dropped.median, context  # the spinner is the main source here
    assert predicted_with.loss_fraction.median > 3 * predicted_without.loss_fraction.median, context
    assert with_it - without_it > 0.25 * cost, context  # the trials see the spinner too
    # What the source costs, predicted against measured: within 10x (the spinner's effect on a trial has
    # been seen 5 times below its effect on the profile measured just before). The trial without it is
    # nearer, in loss, the prediction without it than the one with it (not within a ratio of its band:
    # a profile from a quiet spell predicts 0 without the process, while the machine's own loss drifts).
    predicted_cost = predicted_with.loss_fraction.median - predicted_without.loss_fraction.median
    measured_cost = with_it - without_it
    assert 0.1 <= measured_cost / predicted_cost <= 10, context
    assert abs(without_it - predicted_without.loss_fraction.median) < \
        abs(without_it - predicted_with.loss_fraction.median), context


def test_size_verify_runs_trials_at_the_answer_and_the_next_size_down(tmp_path):
    """``size --verify`` runs its trials on real XDP at the answer and below it, and records each loss."""
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "size", str(ROOT / "examples" / "fixed-one-stall.toml"),
                             "--profile", str(ROOT / "examples" / "pause-profile"), "--target-loss", "0.01",
                             "--set", "interval=10us", "--set", "packets=20000", "--repeats", "10", "--verify", "2",
                             "--out", str(tmp_path / "size")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "size" / "size.json").read_text())
    verified = document["verified"]
    assert verified["answer"] == document["answer"] and verified["below"] == document["answer"] - 1
    assert verified["trials"] == 2 and len(verified["losses_at_answer"]) == len(verified["losses_below"]) == 2
    assert verified["met_at_answer"] == sum(loss <= 0.01 for loss in verified["losses_at_answer"])
    runs = [Path(path) for path in verified["runs"]]
    assert len(runs) == 4 and all(json.loads((run / "summary.json").read_text())["backend"] == "hw" for run in runs)
    slots = sorted(json.loads((run / "summary.json").read_text())["scenario"]["ring_slots"] for run in runs)
    assert slots == [document["answer"] - 1] * 2 + [document["answer"]] * 2
    assert f"trials at {document['answer']} met the target" in result.stdout
