"""``ringlab diff`` on real XDP, with a change the test controls: a process of the test's own on the
poller's CPU, then the remedy ringlab advises for a task ("move it"), applied to that process alone
(its affinity). Nothing else on the machine is changed."""

import os
import subprocess
import sys

import pytest

from ringlab.compare.change.diff import diff_paths
from ringlab.compare.model.predict import predict, write_prediction
from ringlab.hw.trial.load_profile import measure_under_load
from ringlab.runs.run_directory import write_run_directory
from ringlab.runs.runner import run
from tests.helpers import (
    POLLER_CPU,
    SPINNER,
    SPINNER_BUSY_NS,
    quiet_scenario,
    spinner_cost,
    spinner_period_ns,
)

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]


def test_moving_the_tests_own_process_off_the_pollers_cpu_is_found_and_predicted(tmp_path):
    scenario = quiet_scenario(100_000)
    own_loss = run(scenario, "hw").summary.loss_fraction  # the machine's own, so the process dominates it
    cost = spinner_cost(own_loss)
    period_ns = spinner_period_ns(cost, scenario.ring_slots * scenario.interval_ns)
    other_cpu = min(cpu for cpu in os.sched_getaffinity(0) if cpu != POLLER_CPU)
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER, str(SPINNER_BUSY_NS), str(period_ns)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert spinner.stdout.readline().strip() == "ready"
        profile = measure_under_load(quiet_scenario(1), 3_000_000_000)
        write_run_directory(tmp_path / "before", run(scenario, "hw"))
        os.sched_setaffinity(spinner.pid, {other_cpu})  # the remedy, applied to the test's own process only
        write_run_directory(tmp_path / "after", run(scenario, "hw"))
    finally:
        spinner.kill()
        spinner.wait()
    assert "task rl-spinner" in profile.source_names
    predicted_with = predict(scenario, profile, repeats=30)
    predicted_without = predict(scenario, profile, repeats=30, without=["task rl-spinner"])
    write_prediction(tmp_path / "predict", predicted_without)
    diff, before, after = diff_paths(tmp_path / "before", tmp_path / "after", predicted=tmp_path / "predict")
    context = (own_loss, cost, diff.verdict, predicted_with.loss_fraction, predicted_without.loss_fraction)

    spinner_rates = diff.sources["task rl-spinner"]
    assert spinner_rates["before"]["per_second"] > 0.5 * 1e9 / period_ns, context  # it woke on the poller's CPU
    assert spinner_rates["after"]["count"] == 0, context  # and never again once moved
    assert spinner_rates["p_value"] < 0.001, context
    assert any(line.startswith("task rl-spinner: ") for line in diff.verdict), context
    assert diff.loss["change_interval"][1] < 0, context  # the loss fell beyond its interval
    assert not [c for c in diff.machine["changed"] if c["setting"] != "poller_cpu_steal_ns"], context  # nothing else
    # The prediction made before, without that source, holds after: the loss after is nearer its band's
    # median than the prediction with the source, in loss. (Not in ratio: the machine's own loss drifts
    # several times over in seconds, and a profile taken in a quiet spell predicts near zero without the
    # source. The source was made to cost ten times the machine's own, so the two predictions lie that
    # far apart, and the loss after must drift above half of it to fail.)
    pooled_after = diff.predicted["pooled_after"]
    assert abs(pooled_after - predicted_without.loss_fraction.median) < \
        abs(pooled_after - predicted_with.loss_fraction.median), context
    assert diff.predicted["runs"] == 1 and diff.predicted["band"]["high"] == predicted_without.loss_fraction.high
