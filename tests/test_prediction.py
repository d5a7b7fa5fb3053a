"""Prediction from a pause profile: pooling runs, the tail fit, the interval's calibration against
a known pause process, removing a source, and sizing the ring on a profile whose answer can be
worked out by hand. None of it needs root."""

import json

import numpy as np
import pytest
from scipy import stats

import ringlab
from ringlab.cli import main
from ringlab.compare.model.band_method import BandMethod
from ringlab.compare.model.pooling import pool_runs
from ringlab.compare.model.predict import merged_pauses, predict, repeat_plan
from ringlab.compare.model.size import size_ring
from ringlab.scenario.plan import RunPlan, draw_plan
from ringlab.trace.pause_profile import load_profile, profile_from_pauses, save_profile
from ringlab.trace.pauses import BACKGROUND, INJECTED, Pauses
from tests.helpers import run_with_pauses, scenario

RING_TIME_NS = 16_000  # N = 16 at T = 1 us


def known_process(duration_ns, rng, rate_per_s=400, mean_ns=12_000):
    """Pauses at Poisson times, lengths 1 us plus an exponential, alternating two named sources."""
    count = rng.poisson(rate_per_s * duration_ns / 1e9)
    start = np.sort(rng.integers(0, duration_ns, count))
    length = 1_000 + rng.exponential(mean_ns, count).astype(np.int64)
    keep = np.concatenate([[True], start[1:] > (start + length)[:-1] + 1])  # no overlaps
    start, length = start[keep], length[keep]
    labels = np.where(np.arange(len(start)) % 2, "timer interrupt", "task kdamond.0")
    return start, length, labels


def test_pooling_runs_keeps_each_runs_background_pauses_as_a_segment(tmp_path):
    sc = scenario(50_000, "fixed", interval="1us")
    rng = np.random.default_rng(3)
    expected = []
    for index in range(2):
        start, length, labels = known_process(40_000_000, rng)
        result = run_with_pauses(sc, start, length, labels)
        ringlab.write_run_directory(tmp_path / f"run{index}", result)
        expected.append((start, length, labels, result.trace.end_ns))
    profile = pool_runs([tmp_path / "run0", tmp_path / "run1"])
    assert len(profile.segment_duration_ns) == 2
    for index, (start, length, labels, end_ns) in enumerate(expected):
        mine = profile.segment == index
        inside = start < end_ns
        assert np.array_equal(profile.start_ns[mine], start[inside])
        assert np.array_equal(profile.length_ns[mine], length[inside])
        assert profile.labels()[mine].tolist() == labels[inside].tolist()
        assert profile.segment_duration_ns[index] == end_ns
    assert profile.threshold_ns == 1_000


def test_pooling_keeps_the_part_of_a_pause_inside_its_run(tmp_path):
    """A trial's first pause can begin before its clock's zero (the poller was paused when the run
    began): the profile keeps the part inside the run."""
    sc = scenario(20_000, "fixed", interval="1us")
    plan = draw_plan(sc)
    pauses = Pauses.from_labels([-5_000, 1_000_000], [8_000, 4_000], [BACKGROUND, BACKGROUND], ["a", "b"])
    result = ringlab.run(sc, plan=RunPlan(plan.arrival_ns, plan.cpu, pauses.schedule(), plan.end_ns, pauses))
    ringlab.write_run_directory(tmp_path / "run", result)
    profile = pool_runs([tmp_path / "run"])
    assert profile.start_ns.tolist() == [0, 1_000_000] and profile.length_ns.tolist() == [3_000, 4_000]


def test_pooling_refuses_runs_without_background_pauses(tmp_path):
    ringlab.write_run_directory(tmp_path / "run", ringlab.run(scenario(2_000, "fixed")))
    with pytest.raises(ringlab.errors.InputError, match="holds no pauses"):
        pool_runs([tmp_path / "run"])


def test_the_tail_fit_recovers_a_known_generalized_pareto_tail():
    rng = np.random.default_rng(7)
    shape, scale = 0.3, 2_000.0
    lengths = (1_000 + stats.genpareto(shape, scale=scale).rvs(size=40_000, random_state=rng)).astype(np.int64)
    profile = profile_from_pauses(np.zeros(len(lengths)), np.arange(len(lengths)) * 100_000, lengths,
                                  ["x"] * len(lengths), [len(lengths) * 100_000], 1_000)
    tail = profile.tails["x"]
    assert tail.excesses == pytest.approx(0.05 * len(lengths), rel=0.02)
    assert tail.shape == pytest.approx(shape, abs=0.08)
    # threshold stability: above u, the excess is GPD with the same shape and scale + shape * (u - 1000)
    assert tail.scale_ns == pytest.approx(scale + shape * (tail.threshold_ns - 1_000), rel=0.12)
    draws = tail.draw(20_000, rng)
    assert draws.min() >= tail.threshold_ns and lengths.max() < draws.max() <= 2 * lengths.max()


def test_a_tail_fit_that_expects_many_pauses_beyond_the_longest_recorded_is_not_used():
    """Lengths log-uniform over 1-10 us, and a few log-uniform over 10 us-8 ms (a mixture, as a
    hypervisor's stops are): the generalized Pareto fitted above the 95th percentile is so heavy
    (shape > 1) that it expects dozens of pauses beyond the longest, where none was seen."""
    rng = np.random.default_rng(1)
    lengths = (10 ** np.concatenate([rng.uniform(3, 4, 20_000), rng.uniform(4, 6.9, 1_000)])).astype(np.int64)
    profile = profile_from_pauses(np.zeros(len(lengths)), np.arange(len(lengths)) * 10_000_000, lengths,
                                  ["hypervisor"] * len(lengths), [len(lengths) * 10_000_000], 1_000)
    fitted = profile.fitted_tails["hypervisor"]
    assert fitted.shape > 1 and fitted.expected_beyond_longest > 10
    assert "hypervisor" not in profile.tails
    figures = profile.figures()
    assert "hypervisor" in figures["tails_not_used"] and "beyond the longest" in figures["tails_not_used"]["hypervisor"]["why"]


def test_a_profile_saves_and_loads_as_it_was_and_states_what_it_cannot_see(tmp_path):
    rng = np.random.default_rng(1)
    start, length, labels = known_process(2_000_000_000, rng)
    profile = profile_from_pauses(np.zeros(len(start)), start, length, labels, [2_000_000_000], 1_000, [200, 210])
    figures = save_profile(tmp_path, profile)
    loaded = load_profile(tmp_path)
    assert np.array_equal(loaded.start_ns, profile.start_ns) and loaded.source_names == profile.source_names
    assert figures["cannot_see"]["rate_bound_per_second"] == pytest.approx(3.0 / 2, rel=0.01)
    count = figures["by_source"]["timer interrupt"]["count"]
    low, high = figures["by_source"]["timer interrupt"]["per_second_interval"]
    assert low < count / 2 < high
    header, first = (tmp_path / "pauses.csv").read_text().splitlines()[:2]
    assert header == "gap_ns,length_ns,source" and int(first.split(",")[0]) == start[0]
    # the CSV keeps working as an empirical stall model
    stalls = {"model": "empirical", "file": str(tmp_path / "pauses.csv")}
    assert ringlab.run(scenario(20_000, "fixed", stalls=stalls)).summary.stalls > 0


def test_the_predicted_interval_covers_trials_of_the_process_it_was_drawn_from():
    """The calibration check: a profile of ten trials of a known pause process predicts the loss of
    forty new trials of the same process; about 90 % must fall inside the 90 % interval."""
    rng = np.random.default_rng(2026)
    sc = scenario(200_000, "fixed", interval="1us")
    trial_ns = draw_plan(sc).end_ns
    segments, starts, lengths, labels = [], [], [], []
    for index in range(10):
        start, length, label = known_process(trial_ns, rng)
        segments.append(np.full(len(start), index))
        starts.append(start)
        lengths.append(length)
        labels.extend(label.tolist())
    profile = profile_from_pauses(np.concatenate(segments), np.concatenate(starts), np.concatenate(lengths), labels,
                                  [trial_ns] * 10, 1_000)
    prediction = predict(sc, profile, repeats=100, workers=1)
    truths = []
    for index in range(40):
        start, length, label = known_process(trial_ns, rng)
        truths.append(run_with_pauses(sc.with_values({"seed": 1000 + index}), start, length, label).summary.loss_fraction)
    band = prediction.loss_fraction
    inside = np.mean([band.contains(loss) for loss in truths])
    assert 0.75 <= inside <= 1.0, (inside, band, truths)
    assert band.low < np.median(truths) < band.high
    assert np.median(truths) / band.median == pytest.approx(1, abs=0.35)


def test_without_removes_exactly_that_sources_pauses():
    rng = np.random.default_rng(5)
    start, length, labels = known_process(1_000_000_000, rng)
    profile = profile_from_pauses(np.zeros(len(start)), start, length, labels, [1_000_000_000], 1_000)
    sc = scenario(100_000, "fixed", interval="1us")
    _, full = repeat_plan(sc, profile, 3)
    _, without = repeat_plan(sc, profile, 3, ("task kdamond.0",))
    kept = full.pauses.labels() != "task kdamond.0"
    assert (full.pauses.labels() == "task kdamond.0").sum() > 10
    assert np.array_equal(without.pauses.start_ns, full.pauses.start_ns[kept])
    assert np.array_equal(without.pauses.length_ns, full.pauses.length_ns[kept])
    assert "task kdamond.0" not in without.pauses.labels().tolist()
    with_it = predict(sc, profile, repeats=10, workers=1)
    removed = predict(sc, profile, repeats=10, workers=1, without=["task kdamond.0"])
    assert "background: task kdamond.0" in with_it.drops_by_source
    assert "background: task kdamond.0" not in removed.drops_by_source
    assert removed.dropped.median < with_it.dropped.median


def test_merged_pauses_do_not_overlap_and_keep_the_longest_name():
    injected = Pauses.injected(draw_plan(scenario(10, stalls={"model": "scripted", "stalls": [[1000, 500]]})).stalls)
    merged = merged_pauses(injected.schedule(), np.array([1200, 5000, 5100]), np.array([2000, 300, 50]),
                           np.array([0, 1, 0]), ("a", "b"))
    assert merged.start_ns.tolist() == [1000, 5000]
    assert merged.length_ns.tolist() == [2200, 300]
    assert merged.labels().tolist() == ["a", "b"] and merged.kind.tolist() == [BACKGROUND, BACKGROUND]
    assert INJECTED in merged_pauses(injected.schedule(), np.array([9000]), np.array([5]), np.array([0]), ("a",)).kind


def test_size_finds_the_ring_a_hand_count_gives():
    """Every 10 ms the poller pauses exactly 50 us; at T = 1 us about 50 packets arrive in a pause,
    so a fixed ring of N slots drops about 50 - N of them. A target of half a drop per pause
    (100 pauses a second: 50 drops in 10^6 packets) needs N of about 50."""
    period, pause, seconds = 10_000_000, 50_000, 2
    starts = np.arange(period // 2, seconds * 1_000_000_000, period)
    profile = profile_from_pauses(np.zeros(len(starts)), starts, np.full(len(starts), pause), ["x"] * len(starts),
                                  [seconds * 1_000_000_000], 1_000)
    sc = scenario(200_000, "fixed", interval="1us", ring_slots=16, writer_cost="50ns", poller_cost="50ns")
    answer = size_ring(sc, profile, target_loss=0.5 * 100 / 1e6, repeats=10, workers=1)
    assert answer.answer in (49, 50, 51)
    smaller = [n for n in answer.tried if n < answer.answer]
    assert smaller and all(answer.tried[n].loss_fraction.high > 0.5 * 100 / 1e6 for n in smaller)
    drops_per_pause = answer.tried[max(smaller)].dropped.median / 20  # 20 pauses in 0.2 s
    assert drops_per_pause == pytest.approx(50 - max(smaller), abs=1.5)


def test_size_searches_only_rings_real_xdp_loads():
    """One pause of 150 ms in a 0.3 s run at T = 1 us needs about 150 000 slots: real XDP loads at
    most 65 536, so the search for the hardware stops there with no answer; the simulator's finds one."""
    profile = profile_from_pauses([0], [100_000_000], [150_000_000], ["x"], [300_000_000], 1_000)
    sc = scenario(300_000, "fixed", interval="1us", ring_slots=16384)
    for_hardware = size_ring(sc, profile, target_loss=0.01, repeats=10, workers=1)
    assert for_hardware.answer is None and max(for_hardware.tried) == 65_536
    for_the_simulator = size_ring(sc, profile, target_loss=0.01, repeats=10, workers=1, backend="sim")
    assert 140_000 < for_the_simulator.answer < 152_000
    with pytest.raises(ringlab.errors.InputError, match="^ring_slots: 100000 slots: the hw backend runs at most 65536"):
        size_ring(sc.with_values({"ring_slots": 100_000}), profile, target_loss=0.01, repeats=10, workers=1)


@pytest.fixture
def profile_dir(tmp_path):
    rng = np.random.default_rng(9)
    start, length, labels = known_process(1_000_000_000, rng)
    save_profile(tmp_path / "profile", profile_from_pauses(np.zeros(len(start)), start, length, labels,
                                                           [1_000_000_000], 1_000))
    return tmp_path / "profile"


EXAMPLE = "examples/fixed-one-stall.toml"


def test_predict_writes_the_prediction_and_prints_one_line(profile_dir, tmp_path, capsys):
    assert main(["predict", EXAMPLE, "--profile", str(profile_dir), "--out", str(tmp_path / "out"), "--repeats", "12",
                 "--workers", "1", "--set", "packets=50000"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "predicted loss" in out
    prediction = json.loads((tmp_path / "out" / "prediction.json").read_text())
    assert prediction["repeats"] == 12 and prediction["loss_fraction"]["level"] == 0.9
    band = prediction["loss_fraction"]
    assert band["low"] <= band["median"] <= band["high"]
    assert set(prediction["latency"]) == {"p50_ns", "p99_ns", "p99_9_ns"}
    assert prediction["profile"]["pauses"] > 0 and "cannot_see" in prediction["profile"]


@pytest.mark.parametrize("arguments,field", [
    (["--repeats", "5"], "--repeats"),
    (["--without", "task nobody"], "--without"),
    (["--level", "1.5"], "--level"),
])
def test_bad_prediction_options_are_one_line_and_write_nothing(profile_dir, tmp_path, capsys, arguments, field):
    out = tmp_path / "out"
    assert main(["predict", EXAMPLE, "--profile", str(profile_dir), "--out", str(out), "--workers", "1", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ringlab: error: {field}: ") and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize("target", ["0", "1", "-0.1", "2"])
def test_a_target_loss_outside_zero_to_one_is_refused(profile_dir, tmp_path, capsys, target):
    assert main(["size", EXAMPLE, "--profile", str(profile_dir), "--target-loss", target, "--out", str(tmp_path / "o"),
                 "--workers", "1"]) == 2
    assert capsys.readouterr().err.startswith("ringlab: error: --target-loss: ")
    assert not (tmp_path / "o").exists()


def test_profiles_that_cannot_predict_are_refused(tmp_path, capsys):
    empty = profile_from_pauses([], [], [], [], [1_000_000_000], 1_000)
    save_profile(tmp_path / "empty", empty)
    zero = profile_from_pauses([0], [0], [5_000], ["x"], [0], 1_000)
    save_profile(tmp_path / "zero", zero)
    (tmp_path / "nothing").mkdir()
    for directory, problem in (("empty", "holds no pauses"), ("zero", "covers no time"), ("nothing", "not a pause profile")):
        assert main(["predict", EXAMPLE, "--profile", str(tmp_path / directory), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert problem in err and err.count("\n") == 1, err
        assert not (tmp_path / "out").exists()


def test_the_sender_held_by_a_pause_sends_the_rest_when_it_ends_back_to_back():
    """Ten packets planned 1 us apart, a pause over the 3rd to the 8th (2.5-8.5 us) that let half
    through: 3 of its 6 arrive as planned, the other 3 when it ends, 300 ns apart; the packets
    after keep their plan once the sender has caught up."""
    from ringlab.compare.model.predict import sender_through_pauses

    arrival = np.arange(10, dtype=np.int64) * 1_000
    moved = sender_through_pauses(arrival, np.array([2_500]), np.array([6_000]), np.array([0.5]), 300.0)
    assert moved.tolist() == [0, 1_000, 2_000, 3_000, 4_000, 5_000, 8_500, 8_800, 9_100, 9_400]
    untouched = sender_through_pauses(arrival, np.array([2_500]), np.array([6_000]), np.array([np.nan]), 300.0)
    assert untouched.tolist() == arrival.tolist()


def test_a_profile_whose_pauses_stop_the_sender_too_predicts_fewer_drops():
    """Every 10 ms a 50 us pause at T = 1 us: about 50 packets planned in it, N = 16 slots. When the
    sender ran through it (share 1) about 34 drop per pause; when it let only 40 % through (share
    0.4), 20 arrive and 4 drop; the rest come after it, faster than the poller needs to keep up."""
    period, pause, seconds = 10_000_000, 50_000, 1
    starts = np.arange(period // 2, seconds * 1_000_000_000, period)
    sc = scenario(200_000, "fixed", interval="1us", ring_slots=16, writer_cost="50ns", poller_cost="50ns")
    drops = {}
    for share in (1.0, 0.4):
        profile = profile_from_pauses(np.zeros(len(starts)), starts, np.full(len(starts), pause), ["hypervisor"] * len(starts),
                                      [seconds * 1_000_000_000], 1_000, origin={"catch_up_gap_ns": 200.0},
                                      sender_share=np.full(len(starts), share))
        drops[share] = predict(sc, profile, repeats=10, workers=1).dropped.median / 20  # 20 pauses in 0.2 s
    assert drops[1.0] == pytest.approx(50 - 16, abs=2)
    assert drops[0.4] == pytest.approx(20 - 16, abs=2)
    on_schedule = predict(sc, profile, repeats=10, workers=1, method=BandMethod(sender="schedule")).dropped.median / 20
    assert on_schedule == pytest.approx(drops[1.0], abs=1)


def test_a_profile_keeps_what_its_pauses_did_to_the_sender(tmp_path):
    profile = profile_from_pauses([0, 0], [1_000, 50_000], [9_000, 4_000], ["a", "b"], [100_000], 1_000,
                                  origin={"catch_up_gap_ns": 950.0}, sender_share=[0.25, np.nan])
    save_profile(tmp_path, profile)
    loaded = load_profile(tmp_path)
    assert loaded.sender_share[0] == 0.25 and np.isnan(loaded.sender_share[1])
    assert loaded.origin["catch_up_gap_ns"] == 950.0


def test_pooled_simulated_runs_show_a_sender_that_no_pause_held(tmp_path):
    sc = scenario(50_000, "fixed", interval="1us")
    start, length, labels = known_process(40_000_000, np.random.default_rng(4))
    ringlab.write_run_directory(tmp_path / "run", run_with_pauses(sc, start, length, labels))
    profile = pool_runs([tmp_path / "run"])
    planned_some = profile.length_ns > 2_000  # a pause of over 2 us at T = 1 us has packets planned in it
    assert np.allclose(profile.sender_share[planned_some], 1.0, atol=0.35)
    assert np.nanmean(profile.sender_share) == pytest.approx(1.0, abs=0.05)


def test_blocks_mix_the_segments_where_one_segment_per_repeat_keeps_them_apart():
    """Two segments of 1 s: one with a pause every 10 ms, one with none. A 1 s run drawn from one
    segment meets 100 pauses or none (as a stretch, or as blocks all from that segment); drawn as
    blocks of 0.1 s, each from a segment drawn at random, it meets 10 per busy block: 10 times a
    binomial(10, 1/2), mean 50."""
    from ringlab.compare.model.predict import background_pauses

    starts = np.arange(100) * 10_000_000 + 5_000_000
    profile = profile_from_pauses(np.zeros(100), starts, np.full(100, 2_000), ["x"] * 100,
                                  [1_000_000_000, 1_000_000_000], 1_000)
    rng = np.random.default_rng(0)
    whole = [len(background_pauses(profile, 1_000_000_000, rng)[0]) for _ in range(200)]
    assert set(whole) == {0, 100}
    mixed = BandMethod(block_ns=100_000_000, blocks_from="any segment")
    blocks = np.array([len(background_pauses(profile, 1_000_000_000, rng, mixed)[0]) for _ in range(400)])
    assert set(np.unique(blocks % 10)) == {0} and 45 < blocks.mean() < 55
    assert 12 < blocks.std() < 20  # 10 * sqrt(10 / 4) = 15.8
    kept = BandMethod(block_ns=100_000_000, blocks_from="one segment")  # the state kept: all its blocks busy or none
    assert {len(background_pauses(profile, 1_000_000_000, rng, kept)[0]) for _ in range(200)} == {0, 100}


def test_the_interval_score_is_the_width_plus_twenty_times_the_miss_of_a_90_percent_band():
    from ringlab.compare.model.band_method import interval_score

    assert interval_score(1.0, 3.0, 2.0) == pytest.approx(2.0)
    assert interval_score(1.0, 3.0, 0.5) == pytest.approx(2.0 + 20 * 0.5)
    assert interval_score(1.0, 3.0, 4.0) == pytest.approx(2.0 + 20 * 1.0)
    assert interval_score(1.0, 3.0, 4.0, level=0.5) == pytest.approx(2.0 + 4 * 1.0)
