import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringlab.errors import InputError
from ringlab.scenario.stalls import StallSchedule, stall_model_from_spec

intervals = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 2_000)), max_size=30)


@given(intervals)
def test_schedules_are_sorted_disjoint_and_cover_the_same_time(pairs):
    schedule = StallSchedule.from_intervals([p[0] for p in pairs], [p[1] for p in pairs])
    assert np.all(schedule.length_ns > 0)
    assert np.all(schedule.start_ns[1:] > schedule.end_ns[:-1])
    covered = np.zeros(13_000, bool)
    for start, length in pairs:
        covered[start:start + length] = True
    merged = np.zeros(13_000, bool)
    for start, length in zip(schedule.start_ns, schedule.length_ns):
        merged[start:start + length] = True
    assert np.array_equal(covered, merged)


@given(intervals, st.integers(0, 12_000), st.integers(0, 3_000))
def test_work_runs_only_outside_stalls(pairs, begin, work):
    schedule = StallSchedule.from_intervals([p[0] for p in pairs], [p[1] for p in pairs])
    end = schedule.work_end_ns(begin, work)
    stalled = np.zeros(20_000, bool)
    for start, length in zip(schedule.start_ns, schedule.length_ns):
        stalled[start:start + length] = True
    running = np.count_nonzero(~stalled[begin:end])
    assert running == work
    assert end == begin + work or stalled[begin:end].any()
    assert schedule.resume_ns(begin) == begin + int(np.argmax(~stalled[begin:]))


def draw(spec, horizon=10_000_000, seed=5):
    return stall_model_from_spec(spec).schedule(horizon, np.random.default_rng(seed))


RENEWAL = {"model": "renewal", "run": {"dist": "expon", "scale": "50us"}, "length": {"dist": "lognorm", "s": 0.8, "scale": "5us"}}


def test_same_seed_same_schedule_and_another_seed_another():
    a, b, c = draw(RENEWAL, seed=1), draw(RENEWAL, seed=1), draw(RENEWAL, seed=2)
    assert np.array_equal(a.start_ns, b.start_ns) and np.array_equal(a.length_ns, b.length_ns)
    assert not np.array_equal(a.start_ns[:10], c.start_ns[:10])


def test_renewal_runs_and_lengths_follow_their_distributions():
    spec = {"model": "renewal", "run": {"dist": "uniform", "loc": "20us", "scale": "20us"},
            "length": {"dist": "expon", "scale": "4us"}}
    schedule = draw(spec, horizon=200_000_000)
    runs = schedule.start_ns[1:] - schedule.end_ns[:-1]
    assert runs.min() >= 20_000 and runs.max() <= 40_000
    n = len(schedule)
    assert abs(schedule.length_ns.mean() - 4_000) < 4 * 4_000 / np.sqrt(n)
    assert schedule.start_ns[-1] < 200_000_000


def test_periodic_stalls_land_on_their_ticks():
    schedule = draw({"model": "periodic", "period": "1ms", "length": "30us", "phase": "250us"}, horizon=5_000_000)
    assert list(schedule.start_ns) == [250_000, 1_250_000, 2_250_000, 3_250_000, 4_250_000]
    assert set(schedule.length_ns) == {30_000}


def test_superposition_is_the_union_of_its_parts():
    spec = {"model": "superposition", "models": [
        {"model": "periodic", "period": "1ms", "length": "10us"},
        {"model": "scripted", "stalls": [["5us", "10us"], ["2.5ms", "1us"]]},
    ]}
    schedule = draw(spec, horizon=3_000_000)
    assert list(zip(schedule.start_ns, schedule.length_ns)) == [
        (0, 15_000), (1_000_000, 10_000), (2_000_000, 10_000), (2_500_000, 1_000)]


def test_empirical_model_resamples_only_measured_pairs(tmp_path):
    measured = tmp_path / "stalls.csv"
    measured.write_text("gap_ns,length_ns\n100000,3000\n50000,7000\n")
    schedule = draw({"model": "empirical", "file": str(measured)}, horizon=50_000_000)
    assert set(schedule.length_ns) == {3000, 7000}
    gaps = schedule.start_ns[1:] - schedule.end_ns[:-1]
    assert set(gaps) <= {100_000, 50_000}
    assert len(set(gaps)) == 2


def test_empirical_file_without_columns_is_a_named_error(tmp_path):
    measured = tmp_path / "stalls.csv"
    measured.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="^stalls.file: .*gap_ns and length_ns"):
        stall_model_from_spec({"model": "empirical", "file": str(measured)})
