"""``ringlab diff``: the statistics of a change against cases worked out by hand, the sides it
reads (runs, sweeps, profiles), its verdict lines, diff.json, the check of a prediction made before
the change, and its refusals. None of it needs root."""

import json
import math

import numpy as np
import pytest

import ringlab
from ringlab.analysis.latency import BUCKETS, bucket_of
from ringlab.cli import main
from ringlab.compare.change.diff import build_diff, diff_paths, verdict_lines
from ringlab.compare.change.sides import read_side
from ringlab.compare.change.statistics import (
    Blocks,
    binomial_interval,
    compare_rates,
    interval,
    loss_resamples,
    percentile_resamples,
    resample_weights,
)
from ringlab.formats import FORMAT_VERSIONS
from ringlab.trace.pause_profile import profile_from_pauses, rate_interval, save_profile
from tests.helpers import run_with_pauses, scenario


def test_ten_pauses_before_and_none_after_in_equal_times_is_the_binomial_tail():
    """Given 10 pauses in all and equal exposure, "after" is binomial(10, 1/2) under equal rates:
    seeing 0 (or 10) has probability 2 / 2^10 = 0.001953125."""
    change = compare_rates(10, 1.0, 0, 1.0, level=0.95)
    assert change.p_value == pytest.approx(2 / 1024, rel=1e-9)
    # the exact interval of the proportion 0 of 10 is [0, 1 - 0.025^(1/10)] = [0, 0.30850]; the ratio's
    # high end is p / (1 - p) times the exposures' ratio (1): 0.44613
    assert change.ratio_low == 0.0
    assert change.ratio_high == pytest.approx(0.30850 / (1 - 0.30850), rel=1e-3)


def test_a_halved_rate_seen_in_five_pauses_is_no_evidence():
    """4 pauses in 2 s, then 1 in 1 s (2/s, then 1/s): equal rates make "after" binomial(5, 1/3),
    whose most likely outcomes are 1 and 2 (80/243 each), so every outcome is as extreme and p = 1."""
    change = compare_rates(4, 2.0, 1, 1.0)
    assert change.p_value == pytest.approx(1.0)
    assert (change.before_per_second, change.after_per_second) == (2.0, 1.0)


def test_the_exact_rate_interval_of_no_pause_is_minus_the_log_of_half_alpha():
    low, high = rate_interval(0, 1.0, 0.95)
    assert low == 0.0 and high == pytest.approx(-math.log(0.025), rel=1e-9)


def test_no_pause_on_either_side_is_no_evidence():
    change = compare_rates(0, 1.0, 0, 3.0)
    assert change.p_value == 1.0 and change.ratio_high == float("inf")


def test_the_loss_bootstrap_of_equal_blocks_has_no_spread():
    blocks = Blocks(np.full(20, 1_000), np.full(20, 7), None)
    values = loss_resamples(blocks, resample_weights(20, np.random.default_rng(0)))
    assert np.allclose(values, 0.007)


def test_the_loss_bootstrap_of_one_bursty_block_follows_the_binomial_count_of_that_block():
    """All 50 drops in one of 20 equal blocks: a resample holds that block k ~ binomial(20, 1/20)
    times, so the loss is 50 k / 20 000; the 95 % interval is k in [0, 3] (P(k <= 2) = 0.925,
    P(k <= 3) = 0.984), while the binomial interval of independent packets is far narrower."""
    lost = np.zeros(20, np.int64)
    lost[4] = 50
    blocks = Blocks(np.full(20, 1_000), lost, None)
    values = loss_resamples(blocks, resample_weights(20, np.random.default_rng(1)))
    assert interval(values, 0.95) == [0.0, pytest.approx(3 * 50 / 20_000)]
    independent = binomial_interval(50, 20_000, 0.95)
    assert independent[0] > 0.0018 and independent[1] < 0.0034


def test_latency_percentiles_of_the_blocks_are_those_of_all_their_reads():
    rng = np.random.default_rng(5)
    latencies = [rng.integers(100, 100_000, 5_000) for _ in range(10)]
    counts = np.stack([np.bincount(bucket_of(values), minlength=BUCKETS) for values in latencies])
    blocks = Blocks(np.full(10, 5_000), np.zeros(10, np.int64), counts)
    everything = np.sort(np.concatenate(latencies))
    for quantile in (0.5, 0.99):
        exact = everything[int(np.ceil(quantile * len(everything))) - 1]
        value = percentile_resamples(blocks, np.ones((1, 10), np.int64), quantile)[0]
        assert value == pytest.approx(exact, rel=0.01)


def profile_dir(path, counts: dict, seconds: float, seed: int):
    """A profile of ``counts[name]`` pauses of 5-50 us per source, spread over ``seconds``."""
    rng = np.random.default_rng(seed)
    labels = [name for name, count in counts.items() for _ in range(count)]
    duration = int(seconds * 1e9)
    start = np.sort(rng.choice(duration // 100_000, len(labels), replace=False)) * 100_000
    length = rng.integers(5_000, 50_000, len(labels))
    save_profile(path, profile_from_pauses(np.zeros(len(labels)), start, length, rng.permutation(labels), [duration],
                                           1_000))
    return path


def test_two_profiles_name_the_source_that_went_away_and_the_one_that_did_not(tmp_path):
    before = profile_dir(tmp_path / "before", {"task kdamond.0": 40, "timer interrupt": 100}, 10, 1)
    after = profile_dir(tmp_path / "after", {"timer interrupt": 95}, 10, 2)
    diff, _, _ = diff_paths(before, after)
    kdamond = diff.sources["task kdamond.0"]
    assert kdamond["before"]["per_second"] == 4.0 and kdamond["after"]["per_second"] == 0.0
    assert kdamond["p_value"] == pytest.approx(2 * 0.5 ** 40)
    assert diff.sources["timer interrupt"]["p_value"] > 0.5
    assert diff.verdict[0].startswith("task kdamond.0: 4/s -> 0/s (p < 0.001)")
    assert "1 of 2 pause sources show no change" in diff.verdict[1]
    assert diff.loss is None  # profiles hold pauses, not packets


def two_runs(tmp_path, rate_after: int):
    """Two simulated runs with known background pauses: 'task spinner' at 400/s before and
    ``rate_after``/s after (lengths 40 us: every one drops packets at N = 16, T = 1 us)."""
    sc = scenario(200_000, "fixed", interval="1us")
    paths = []
    for name, rate in (("before", 400), ("after", rate_after)):
        start = np.arange(rate // 5) * (200_000_000 // max(1, rate // 5)) + 1_000 if rate else np.zeros(0, np.int64)
        length = np.full(len(start), 40_000)
        labels = np.array(["task spinner"] * len(start) or ["task spinner"])[:len(start)]
        result = run_with_pauses(sc, start, length, labels)
        ringlab.write_run_directory(tmp_path / name, result)
        paths.append(tmp_path / name)
    return paths


def test_two_runs_show_the_loss_fall_with_the_source_and_the_drops_by_cause(tmp_path):
    before, after = two_runs(tmp_path, 0)
    diff, first, second = diff_paths(before, after)
    assert first.kind == second.kind == "run"
    spinner = diff.sources["task spinner"]
    assert spinner["before"]["count"] == 80 and spinner["after"]["count"] == 0 and spinner["p_value"] < 1e-20
    assert diff.loss["before"] == pytest.approx(first.lost / first.packets) and diff.loss["after"] == 0.0
    assert diff.loss["change_interval"][1] < 0  # the loss fell, beyond its interval
    assert any(line.startswith("loss ") and ": fell," in line for line in diff.verdict)
    assert diff.drops_by_cause["background pause"]["before"] == first.lost
    assert diff.drops_by_cause["background pause"]["after"] == 0
    assert set(diff.latency) == {"p50_ns", "p99_ns", "p99_9_ns"}
    assert diff.latency["p99_9_ns"]["before"] > diff.latency["p99_9_ns"]["after"]  # 1 % of reads waited out a pause
    assert diff.settings[0]["ring_slots"] == 16 and diff.settings[0]["before"] == diff.loss["before"]


def test_the_command_writes_diff_json_and_its_figure_and_checks_a_prediction(tmp_path, capsys):
    before, after = two_runs(tmp_path, 0)
    (tmp_path / "predict").mkdir()
    after_loss = json.loads((after / "summary.json").read_text())["summary"]["loss_fraction"]
    prediction = {"loss_fraction": {"median": 0.0, "low": 0.0, "high": 0.0001, "level": 0.9},
                  "without": ["task spinner"], "setting": {"policy": "fixed", "ring_slots": 16, "interval_ns": 1_000}}
    (tmp_path / "predict" / "prediction.json").write_text(json.dumps(prediction))
    assert main(["diff", str(before), str(after), "--out", str(tmp_path / "diff"),
                 "--predicted", str(tmp_path / "predict")]) == 0
    printed = capsys.readouterr().out
    assert "prediction without task spinner: 1 of 1 runs after inside its band" in printed
    data = json.loads((tmp_path / "diff" / "diff.json").read_text())
    assert data["format_version"] == FORMAT_VERSIONS["diff.json"]
    assert data["sources"]["task spinner"]["before"]["per_second"] > 0
    assert data["sources"]["task spinner"]["after"]["per_second"] == 0
    assert 0 <= data["sources"]["task spinner"]["p_value"] < 0.001
    assert data["loss_fraction"]["after"] == after_loss
    assert data["predicted"]["inside"] == 1
    assert (tmp_path / "diff" / "diff.png").stat().st_size > 10_000


def test_a_prediction_for_another_setting_is_refused_in_one_line(tmp_path, capsys):
    before, after = two_runs(tmp_path, 0)
    (tmp_path / "predict").mkdir()
    prediction = {"loss_fraction": {"median": 0.0, "low": 0.0, "high": 0.0001},
                  "setting": {"policy": "fixed", "ring_slots": 32, "interval_ns": 1_000}}
    (tmp_path / "predict" / "prediction.json").write_text(json.dumps(prediction))
    assert main(["diff", str(before), str(after), "--out", str(tmp_path / "diff"),
                 "--predicted", str(tmp_path / "predict")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--predicted" in error and "32 slots" in error
    assert not (tmp_path / "diff").exists()


def test_a_sweep_is_a_side_with_each_setting_kept_apart(tmp_path):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'[sweep]\nname = "s"\nbase = "{ringlab.__path__[0]}/../examples/fixed-one-stall.toml"\n'
                     'backends = ["sim"]\nrepeats = 2\nkeep_traces = true\n[sweep.vary]\nring_slots = [4, 8]\n'
                     '[sweep.set]\npackets = 20000\n')
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "a"), "--workers", "1"]) == 0
    side = read_side(tmp_path / "a", "BEFORE")
    assert side.kind == "sweep" and len(side.runs) == 4 and len(side.blocks_by_setting) == 2
    diff = build_diff(side, side)
    assert [row["ring_slots"] for row in diff.settings] == [4, 8]
    assert all(row["before"] == row["after"] for row in diff.settings)


@pytest.mark.parametrize("args, field", [
    (["nowhere", "nowhere"], "BEFORE"),
    (["{tmp}", "{tmp}"], "BEFORE"),
    (["{run}", "{run}", "--level", "1.5"], "--level"),
    (["{run}", "{profile}", "--predicted", "{run}"], "--predicted"),
])
def test_bad_sides_and_options_are_one_line_naming_the_field(tmp_path, capsys, args, field):
    ringlab.write_run_directory(tmp_path / "run", ringlab.run(scenario(2_000, "fixed")))
    profile_dir(tmp_path / "profile", {"timer interrupt": 3}, 1, 0)
    (tmp_path / "empty").mkdir()
    values = {"tmp": tmp_path / "empty", "run": tmp_path / "run", "profile": tmp_path / "profile"}
    argv = ["diff", *[a.format(**values) for a in args], "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and field in error, error
    assert not (tmp_path / "out").exists()


def test_the_verdict_names_the_machines_changed_settings():
    machine = {"recorded": True, "changed": [{"setting": "damon.kdamonds.0", "before": "on", "after": "off"}],
               "poller_cpu_steal_share": {"before": None, "after": None}}
    lines = verdict_lines(machine, {}, None, None)
    assert "machine: 1 recorded settings changed: damon.kdamonds.0 'on' -> 'off'" in lines
