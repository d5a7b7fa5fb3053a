"""``ringlab hw experiment`` without root: the paired statistics against cases worked out by hand
and against synthetic experiments (no effect: p-values no smaller than chance; a planted effect:
found), the order of the trials, the journal of system knobs (a SIGKILLed child's knob given back;
a value someone else changed kept), and every refusal, each leaving the machine as it was."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from ringlab.cli import main
from ringlab.compare.change.paired import (
    paired_rates,
    paired_resamples,
    sign_flip_p_value,
    stratified_p_value,
    widened_test,
)
from ringlab.compare.change.statistics import Blocks, interval
from ringlab.errors import InputError
from ringlab.hw.knobs import KNOBS, NOT_OFFERED, parse_knob_option
from ringlab.hw.knobs.experiment import WITH, WITHOUT, ExperimentPlan, pair_orders
from tests.helpers import _default_sigint

EXAMPLE = "examples/fixed-one-stall.toml"


# --- the paired statistics, by hand ---------------------------------------------------------------

def test_one_pair_is_the_conditional_binomial_test():
    assert stratified_p_value([3], [1.0], [10], [1.0]) == pytest.approx(binomtest(3, 13, 0.5).pvalue, rel=1e-9)


def test_pairs_add_their_binomials():
    """With 3 and 4 pauses with the knob and none without, in equal times: under equal rates the
    "with" total is binomial(3, 1/2) + binomial(4, 1/2) = binomial(7, 1/2); seeing 7 (or 0) has
    probability 2 / 2^7."""
    assert stratified_p_value([3, 4], [1.0, 1.0], [0, 0], [1.0, 1.0]) == pytest.approx(2 / 128, rel=1e-9)


def test_unequal_times_shift_the_binomial():
    """2 pauses in 1 s with, none in 3 s without: "with" is binomial(2, 1/4); seeing 2 has 1/16, and
    the other outcomes (9/16, 6/16) are more likely, so p = 1/16."""
    assert stratified_p_value([2], [1.0], [0], [3.0]) == pytest.approx(1 / 16, rel=1e-9)


def test_the_sign_flip_test_counts_sign_patterns():
    assert sign_flip_p_value([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)  # only all + or all - reach |mean| 2
    assert sign_flip_p_value([1.0, -2.0, 3.0]) == pytest.approx(6 / 8)  # |mean| >= 2/3: 6 of 8 patterns
    assert sign_flip_p_value([0.0, 0.0]) == 1.0


def test_pairs_that_agree_have_dispersion_one_and_pairs_that_scatter_widen_the_test():
    p_agree, dispersion_agree, ratio = widened_test([40, 40], [2.0, 2.0], [20, 20], [2.0, 2.0])
    assert dispersion_agree == 1.0 and ratio == pytest.approx(40.5 / 20.5)
    # the same totals, but one pair with far more "with" and the other far more "without": a drift
    p_scatter, dispersion_scatter, _ = widened_test([70, 10], [2.0, 2.0], [5, 35], [2.0, 2.0])
    assert dispersion_scatter > 10 and p_scatter > 0.05
    assert stratified_p_value([70, 10], [2.0, 2.0], [5, 35], [2.0, 2.0]) < 0.01  # the exact test alone is fooled
    assert paired_rates([70, 10], [2.0, 2.0], [5, 35], [2.0, 2.0]).p_value == pytest.approx(p_scatter)


def _synthetic_p_values(rng, experiments, pairs, effect=1.0, overdispersed=False):
    """p-values of synthetic experiments: each pair its own rate (the drift), 2 s trials."""
    p_values = []
    for _ in range(experiments):
        rates = rng.uniform(2, 60, pairs) * 2.0
        if overdispersed:  # bursts: each trial's rate itself drawn (gamma, shape 5)
            with_counts = rng.poisson(rng.gamma(5, rates * effect / 5))
            without_counts = rng.poisson(rng.gamma(5, rates / 5))
        else:
            with_counts, without_counts = rng.poisson(rates * effect), rng.poisson(rates)
        p_values.append(paired_rates(with_counts, [2.0] * pairs, without_counts, [2.0] * pairs).p_value)
    return np.array(p_values)


def test_a_knob_with_no_effect_gives_p_values_no_smaller_than_chance():
    rng = np.random.default_rng(2026)
    p_values = _synthetic_p_values(rng, 1500, pairs=4)
    for alpha in (0.01, 0.05, 0.2):
        assert np.mean(p_values <= alpha) <= alpha + 3 * np.sqrt(alpha / 1500) + 0.005
    assert np.mean(p_values <= 0.2) >= 0.1  # conservative, not blind
    assert 0.4 < p_values.mean() < 0.65


def test_bursty_pauses_with_no_effect_are_held_by_the_dispersion():
    rng = np.random.default_rng(7)
    p_values = _synthetic_p_values(rng, 800, pairs=5, overdispersed=True)
    assert np.mean(p_values <= 0.05) <= 0.09  # the exact test alone: far more (see the test above)


def test_a_planted_rate_change_is_found():
    """The rate with the knob 0.4 times the rate without, in 4 pairs: found at 5 % nearly always."""
    rng = np.random.default_rng(11)
    p_values = _synthetic_p_values(rng, 200, pairs=4, effect=0.4)
    assert np.mean(p_values < 0.05) > 0.95 and np.mean(p_values < 0.01) > 0.7


def test_a_source_planted_in_three_pairs_is_found_below_one_percent():
    """20 pauses a second in 2 s trials with the knob, none without (the competing process)."""
    rates = paired_rates([40, 41, 39], [2.0] * 3, [0, 0, 0], [2.0] * 3)
    assert rates.p_value < 0.01 and rates.pairs_lower_with == 0 and rates.rate_ratio > 50


def _blocks(rng, loss, blocks=20, packets=10_000):
    lost = rng.binomial(packets, loss, blocks)
    return Blocks(np.full(blocks, packets), lost, None)


def test_the_paired_loss_interval_holds_zero_without_an_effect_and_not_with_one():
    rng = np.random.default_rng(3)
    drift = [0.002, 0.01, 0.004, 0.006]  # each pair's own loss
    without = [_blocks(rng, loss) for loss in drift]
    same = [_blocks(rng, loss) for loss in drift]
    higher = [_blocks(rng, 2 * loss + 0.004) for loss in drift]
    for with_blocks, holds_zero in ((same, True), (higher, False)):
        with_arm, without_arm = paired_resamples(with_blocks, without, np.random.default_rng(0))
        low, high = interval(with_arm.loss - without_arm.loss, 0.95)
        assert (low <= 0 <= high) == holds_zero


# --- the order of the trials ----------------------------------------------------------------------

def test_pairs_come_in_abba_blocks_drawn_from_the_seed():
    for seed in range(20):
        orders = pair_orders(5, seed)
        assert len(orders) == 5 and all(set(arms) == {WITH, WITHOUT} for arms in orders)
        assert orders[0] == orders[1][::-1] and orders[2] == orders[3][::-1]
        assert orders == pair_orders(5, seed)
    assert len({pair_orders(6, seed) for seed in range(20)}) > 1


def test_a_plan_round_trips_through_its_file_form():
    plan = ExperimentPlan("key", (("vm.stat_interval", "10"),), (("vm.stat_interval", "1"),), 3, 4, pair_orders(3, 4),
                          (("vm.stat_interval", "kworker"),))
    assert ExperimentPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert [arm for _, arm in plan.trials()].count(WITH) == 3


# --- the journal ----------------------------------------------------------------------------------

CHILD = """
import os, sys, time
from pathlib import Path
from ringlab.hw import knobs
from ringlab.hw.knobs.journal import system_knobs_held
from ringlab.hw.knobs.system_knobs import IntegerKnob
knob = IntegerKnob("test.file", "system", "nothing", "0..100", sys.argv[1], low=0, high=100)
knobs.KNOBS[knob.name] = knob
with system_knobs_held([(knob, "42")], Path(sys.argv[2])):
    print("held", flush=True)
    time.sleep(60)
"""


def _knob_child(tmp_path, setting):
    """A child holding the test's file knob at 42 (it was 7), with its own state folder."""
    setting.write_text("7\n")
    env = {**os.environ, "RINGLAB_STATE_DIR": str(tmp_path / "state")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(setting), str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, env=env, preexec_fn=_default_sigint)
    assert child.stdout.readline().strip() == "held"
    assert setting.read_text().strip() == "42"
    return child, env


def _restore_left(setting, env) -> str:
    """What the next command's restore prints, run in a process of its own."""
    return subprocess.run([sys.executable, "-c", RESTORE, str(setting)], env=env, capture_output=True, text=True,
                          check=True).stdout


RESTORE = """
from ringlab.hw import knobs
from ringlab.hw.knobs.journal import restore_left
from ringlab.hw.knobs.system_knobs import IntegerKnob
import sys
knob = IntegerKnob("test.file", "system", "nothing", "0..100", sys.argv[1], low=0, high=100)
knobs.KNOBS[knob.name] = knob
print("\\n".join(restore_left()))
"""


def test_a_knob_of_a_sigkilled_holder_is_given_back_by_the_next_command(tmp_path):
    setting = tmp_path / "setting"
    child, env = _knob_child(tmp_path, setting)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert setting.read_text().strip() == "42" and list((tmp_path / "state").glob("knobs-*.json"))
    assert json.loads((tmp_path / "knobs-journal.json").read_text())["entries"] == [
        {"knob": "test.file", "found": "7", "set": "42"}]
    out = _restore_left(setting, env)
    assert setting.read_text().strip() == "7"
    assert "restored test.file to 7" in out
    assert not list((tmp_path / "state").glob("knobs-*.json"))


def test_a_value_someone_else_changed_meanwhile_is_kept(tmp_path):
    setting = tmp_path / "setting"
    child, env = _knob_child(tmp_path, setting)
    child.send_signal(signal.SIGKILL)
    child.wait()
    setting.write_text("13\n")  # someone else, after the experiment died
    out = _restore_left(setting, env)
    assert setting.read_text().strip() == "13"
    assert "test.file is 13, not the 42 ringlab set: someone else changed it meanwhile; left as it is" in out


def test_a_knob_is_given_back_when_its_holder_ends_on_sigterm(tmp_path):
    setting = tmp_path / "setting"
    child, _ = _knob_child(tmp_path, setting)
    child.terminate()
    child.wait()
    assert setting.read_text().strip() == "7"
    assert not list((tmp_path / "state").glob("knobs-*.json"))


# --- refusals -------------------------------------------------------------------------------------

SYSTEM_FILES = ("/proc/sys/vm/stat_interval", "/proc/sys/kernel/watchdog_cpumask", "/proc/sys/kernel/timer_migration",
                "/sys/devices/virtual/workqueue/cpumask")


def _system_state():
    return {path: Path(path).read_text() for path in SYSTEM_FILES if os.path.exists(path)}


@pytest.mark.parametrize(("arguments", "message"), [
    (["--knob", "vm.nosuch=1"], "--knob: unknown knob 'vm.nosuch'"),
    (["--knob", "vm.stat_interval=0"], "--knob: vm.stat_interval=0: out of its range 1..3600"),
    (["--knob", "vm.stat_interval=ten"], "--knob: vm.stat_interval=ten: out of its range"),
    (["--knob", "kernel.timer_migration=2"], "--knob: kernel.timer_migration=2: out of its range 0..1"),
    (["--knob", "workqueue.cpumask=0"], "--knob: workqueue.cpumask=0: it must leave out the poller's CPU 0"),
    (["--knob", "kernel.watchdog_cpumask=99"], "--knob: kernel.watchdog_cpumask=99: not a list of online CPUs"),
    (["--knob", "poller.mlock=maybe"], "--knob: poller.mlock=maybe: not on or off"),
    (["--knob", "isolcpus=1"], "--knob: isolcpus is not offered: a boot parameter"),
    (["--knob", "vm.stat_interval"], "--knob: 'vm.stat_interval' is not NAME=VALUE"),
])
def test_a_bad_knob_is_one_line_and_changes_nothing(arguments, message, tmp_path, capsys):
    before = _system_state()
    status = main(["hw", "experiment", EXAMPLE, *arguments, "--trials", "3", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and err.startswith(f"ringlab: error: {message}") and "\n" not in err
    assert _system_state() == before and not (tmp_path / "out").exists()


def _refusal(arguments, tmp_path, capsys):
    before = _system_state()
    status = main(["hw", "experiment", EXAMPLE, *arguments, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and _system_state() == before and not (tmp_path / "out").exists()
    return status, err


def test_a_system_knob_without_apply_says_what_would_change(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    now = Path("/proc/sys/vm/stat_interval").read_text().strip()
    value = "7" if now != "7" else "8"
    status, err = _refusal(["--knob", f"vm.stat_interval={value}", "--trials", "3"], tmp_path, capsys)
    assert status == 2
    assert f"vm.stat_interval is a system setting: the 'with' trials would change /proc/sys/vm/stat_interval from " \
           f"{now} to {value}" in err and "add --apply" in err


def test_fewer_than_two_pairs_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    status, err = _refusal(["--knob", "poller.mlock=on", "--trials", "1"], tmp_path, capsys)
    assert status == 2 and "--trials: 1: at least 2 trials with and 2 without" in err


def test_a_knob_already_at_its_value_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    now = Path("/proc/sys/vm/stat_interval").read_text().strip()
    status, err = _refusal(["--knob", f"vm.stat_interval={now}", "--trials", "2", "--apply"], tmp_path, capsys)
    assert status == 2 and f"vm.stat_interval is already {now}: the experiment would compare a setting with itself" in err
    status, err = _refusal(["--knob", "hw.loops=native", "--trials", "2"], tmp_path, capsys)  # the scenario's own
    assert status == 2 and "hw.loops is already native" in err


def test_a_knob_given_twice_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    status, err = _refusal(["--knob", "poller.mlock=on", "--knob", "poller.mlock=off", "--trials", "2"], tmp_path,
                           capsys)
    assert status == 2 and "a knob is given twice (poller.mlock)" in err


def test_not_root_is_refused_before_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    status, err = _refusal(["--knob", "poller.mlock=on", "--trials", "2"], tmp_path, capsys)
    assert status == 3 and "needs root" in err


def test_every_knob_says_what_it_acts_on_and_what_it_touches():
    for knob in KNOBS.values():
        assert knob.scope in ("process", "system") and knob.removes and knob.accepts and knob.where
    assert {"vm.stat_interval", "kernel.watchdog_cpumask", "kernel.timer_migration", "workqueue.cpumask",
            "kdamond.cpus"} == {name for name, knob in KNOBS.items() if knob.scope == "system"}
    assert {"kernel.sched_rt_runtime_us", "isolcpus", "nohz_full", "rcu_nocbs"} <= set(NOT_OFFERED)
    assert parse_knob_option("workqueue.cpumask=1")[1] == "1"


def test_a_cpu_list_is_checked_against_the_pollers_cpu_of_the_with_trials(tmp_path, capsys, monkeypatch):
    """Moved to CPU 1 by poller.cpu, the poller must not get the unbound workqueues there; CPU 0 is
    then free for them (the value is refused or taken as the with trials' poller CPU says)."""
    from ringlab.hw.knobs.experiment import check_request
    from ringlab.scenario.fields import load_scenario

    if len(os.sched_getaffinity(0)) < 2 or 1 not in os.sched_getaffinity(0):
        pytest.skip("needs CPUs 0 and 1")
    scenario = load_scenario(EXAMPLE)
    moved = [parse_knob_option("poller.cpu=1")]
    with pytest.raises(InputError, match="workqueue.cpumask=1: it must leave out the poller's CPU 1"):
        check_request(scenario, moved + [parse_knob_option("workqueue.cpumask=1")], 2, apply=True)
    workqueue = KNOBS["workqueue.cpumask"]
    if workqueue.available() and workqueue.read() != "0":
        check_request(scenario, moved + [parse_knob_option("workqueue.cpumask=0")], 2, apply=True)


def test_the_poller_cpu_is_a_scenario_field_and_the_sender_takes_another():
    from ringlab.errors import InputError
    from ringlab.hw.trial.sender import sender_cpus
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(EXAMPLE)
    assert scenario.hw.poller_cpu == 0 and KNOBS["poller.cpu"].read(scenario) == "0"
    moved = scenario.with_values(KNOBS["poller.cpu"].scenario_values("1"))
    assert moved.hw.poller_cpu == 1 and moved.key() != scenario.key()
    with pytest.raises(InputError, match="^hw.poller_cpu: "):
        scenario.with_values({"hw.poller_cpu": -1})
    if len(os.sched_getaffinity(0)) >= 2:
        first, second = sorted(os.sched_getaffinity(0))[:2]
        assert sender_cpus(1, first) == [second] and sender_cpus(1, second) == [first]
