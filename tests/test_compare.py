"""compare/: sweeps (resume, Dask), curves and their statistics, the background-stall fit, plots."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ringlab.cli import main
from ringlab.compare.report import plots
from ringlab.compare.report.curves import aggregate, goodness_of_fit, load_rows
from ringlab.compare.report.fit import MeasuredPoint, background_spec, fit_background, predicted_loss
from ringlab.compare.sweeps.sweep import run_sweep
from ringlab.compare.sweeps.sweep_file import load_sweep
from ringlab.scenario.fields import scenario_from_dict
from ringlab.sim.fast_engine import run_fast

ROOT = Path(__file__).resolve().parent.parent


def write_sweep(path: Path, intervals, packets=20000, repeats=2, backends=("sim",)) -> Path:
    path.write_text(f"""
[sweep]
name = "test"
base = "{ROOT / 'examples' / 'renewal-stalls.toml'}"
backends = {list(backends)!r}
repeats = {repeats}
seed = 5
set = {{ packets = {packets} }}
[sweep.vary]
interval = {list(intervals)!r}
""".replace("'", '"'))
    return path


# --- the fit ---------------------------------------------------------------------------------------

def test_fit_recovers_background_stalls_and_the_fit_statistic_flags_the_wrong_model():
    """Synthetic measurements: the simulator with injected periodic stalls plus a known background
    (runs Exp(150 us), lengths Exp(12 us)), other seeds than the fit uses."""
    true = {"run_mean_ns": 150_000, "length_scale_ns": 12_000}
    measured = []
    for interval in ("600ns", "800ns", "1us", "1.5us", "2us"):
        scenario = scenario_from_dict({"packets": 100_000, "interval": interval, "writer": {"policy": "fixed"},
                                       "stalls": {"model": "periodic", "period": "1ms", "length": "25us",
                                                  "phase": "300us"}})
        loss, se = predicted_loss(scenario, background_spec("expon", *true.values()), seeds=(1, 2, 3))
        measured.append(MeasuredPoint(scenario, loss, se))
    fit = fit_background(measured)
    for name, value in true.items():
        assert abs(fit.values[name] - value) <= 3 * fit.stderr[name], (name, fit.values, fit.stderr)
        assert fit.stderr[name] < 0.25 * value  # the stated uncertainty is informative
    assert fit.before.p_value < 1e-6  # injected stalls alone: flagged as a wrong model
    assert fit.after.p_value > 1e-3


def test_goodness_of_fit_accepts_noise_and_rejects_a_shift():
    rng = np.random.default_rng(0)
    assert goodness_of_fit(rng.normal(size=20)).p_value > 1e-3
    assert goodness_of_fit(rng.normal(size=20) + 3).p_value < 1e-6


# --- sweeps --------------------------------------------------------------------------------------

def test_sweep_file_derives_seeds_and_grids(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path / "s.toml", ["1us", "2us"], repeats=3))
    assert len(sweep.points) == 6
    seeds = {(p.parameters, p.repeat): p.scenario.seed for p in sweep.points}
    assert seeds[((("interval", "1us"),), 0)] == seeds[((("interval", "2us"),), 0)]  # same repeat, same seed
    assert len({p.scenario.seed for p in sweep.points}) == 3
    assert len({p.key for p in sweep.points}) == 6


@pytest.mark.parametrize("old, new, field", [
    ('name = "test"', 'name = "test"\ncolour = "red"', "sweep.colour"),
    ('backends = ["sim"]', 'backends = ["sim", "gpu"]', "sweep.backends"),
    ('name = "test"', 'name = "test"\nmode = "diagonal"', "sweep.mode"),
    ('repeats = 2', 'repeats = 0', "sweep.repeats"),
])
def test_bad_sweep_file_is_one_line_naming_the_field(tmp_path, capsys, old, new, field):
    path = write_sweep(tmp_path / "s.toml", ["1us"])
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"ringlab: error: {field}: ")


def test_bad_value_in_a_sweep_names_the_scenario_field(tmp_path, capsys):
    path = write_sweep(tmp_path / "s.toml", ["1us", "-2us"])
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("ringlab: error: sweep: interval: ")


def test_killed_sweep_resumes_computing_only_the_missing_points(tmp_path):
    intervals = ["500ns", "600ns", "700ns", "800ns", "900ns", "1us", "1.2us", "1.5us", "2us", "3us"]
    path = write_sweep(tmp_path / "s.toml", intervals, packets=600_000, repeats=1)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "ringlab.cli", "sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("points/sim-*/summary.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {p.parent: p.stat().st_mtime_ns for p in out.glob("points/sim-*/summary.json")}
    assert 3 <= len(finished) < len(intervals), "the sweep was not killed part-way"
    assert not (out / "table.csv").exists()
    for point in out.glob("points/sim-*"):
        assert (point / "summary.json").exists(), f"half-written result {point}"

    counts = run_sweep(load_sweep(path), out, workers=1, progress=False)
    assert counts == {"points": len(intervals), "skipped": len(finished), "computed": len(intervals) - len(finished)}
    assert all(p.stat().st_mtime_ns == m for p, m in ((d / "summary.json", m) for d, m in finished.items()))
    assert not list((out / "points").glob(".*"))

    run_sweep(load_sweep(path), tmp_path / "whole", workers=2, progress=False)
    assert (out / "table.csv").read_text() == (tmp_path / "whole" / "table.csv").read_text()


def test_sweep_on_a_dask_cluster_gives_the_same_table():
    import tempfile

    from dask.distributed import LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sweep = load_sweep(write_sweep(tmp / "s.toml", ["800ns", "1us", "2us"], packets=20000))
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            counts = run_sweep(sweep, tmp / "dask", scheduler=cluster.scheduler_address, progress=False)
        assert counts["computed"] == 6
        run_sweep(sweep, tmp / "local", workers=1, progress=False)
        assert (tmp / "dask" / "table.csv").read_text() == (tmp / "local" / "table.csv").read_text()


# --- curves, report and plots --------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    path = write_sweep(tmp / "s.toml", ["700ns", "1us", "2us"], packets=30000, repeats=3)
    run_sweep(load_sweep(path), tmp / "out", workers=2, progress=False)
    return tmp / "out"


def test_curves_pool_repeats_with_binomial_intervals(small_sweep):
    rows, varied = load_rows([small_sweep])
    assert varied == ["interval"]
    points = aggregate(rows, varied)
    assert [dict(p.setting)["interval"] for p in points] == ["700ns", "1us", "2us"]
    for point in points:
        assert point.repeats == 3 and point.packets == 90000
        assert point.loss_low < point.loss < point.loss_high
    assert points[0].loss > points[1].loss > points[2].loss  # longer interval, fewer drops


def test_loss_curve_figure_has_both_backends_and_a_residual_panel(small_sweep, tmp_path):
    rows, varied = load_rows([small_sweep])
    sim_points = aggregate(rows, varied)
    # A "measured" curve: the simulated one shifted, standing in for hardware in this unit test.
    from dataclasses import replace
    hw_points = [replace(p, backend="hw", loss=p.loss * 1.2, loss_low=p.loss_low * 1.2, loss_high=p.loss_high * 1.2)
                 for p in sim_points]
    figure = plots.loss_curve_figure(sim_points + hw_points, "interval")
    top, bottom = figure.axes
    assert top.get_yscale() == "log" and top.get_ylabel() == "packets lost (fraction)"
    assert bottom.get_xlabel() == "interval (µs)" and bottom.get_ylabel() == "residual (s.e.)"
    labels = top.get_legend_handles_labels()[1]
    assert "simulated" in labels and "measured (real XDP), 95 % interval" in labels
    assert len(bottom.lines[-1].get_xdata()) == 3
    paths = plots.save(figure, tmp_path / "loss")
    assert all(p.stat().st_size > 1000 for p in paths)


def test_loss_curve_figure_of_simulated_points_alone_has_no_residual_panel(small_sweep):
    rows, varied = load_rows([small_sweep])
    figure = plots.loss_curve_figure(aggregate(rows, varied), "interval")
    (top,) = figure.axes
    assert top.get_xlabel() == "interval (µs)" and top.get_yscale() == "log"


def test_timeline_warning_and_stall_figures(tmp_path):
    scenario = scenario_from_dict({"packets": 3000, "writer": {"policy": "buggy"},
                                   "stalls": {"model": "scripted", "stalls": [["1ms", "40us"]]}})
    trace = run_fast(scenario).trace
    figure = plots.timelines_figure(trace, trace, 950_000, 1_200_000, "t")
    panels = [ax for ax in figure.axes if ax.get_label() != "<colorbar>"]
    id_scales = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(panels) == 4 and panels[1].get_title().startswith("measured")
    assert [ax.get_ylabel() for ax in id_scales] == ["packet id in the slot"] * 2  # the colours of ids have a scale
    from ringlab.analysis.summary import poller_warnings
    sizes = poller_warnings(trace.delivered_ids())[:, 0]
    figure = plots.warnings_figure(sizes, sizes[:10], "w")
    legend = [t.get_text() for t in figure.axes[0].get_legend().texts]
    assert legend == [f"simulated ({len(sizes)})", "measured (10)"] and len(figure.axes[0].patches) == 2
    import scipy.stats
    figure = plots.stall_distributions_figure(np.array([20_000, 30_000]), scipy.stats.expon(scale=10_000), "s")
    assert len(figure.axes[0].lines) == 1 and figure.axes[0].get_xlabel() == "stall length (µs)"
    assert all(p.exists() for p in plots.save(figure, tmp_path / "stalls"))


def test_compare_command_writes_a_report_for_a_simulated_sweep(small_sweep, tmp_path, capsys):
    assert main(["compare", str(small_sweep), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| sim | interval = 700ns | 3 |" in report and "No measured points" in report
    assert (tmp_path / "report" / "loss-interval.png").exists()


def test_a_grid_of_two_parameters_gives_one_curve_per_value_of_the_other(tmp_path):
    path = write_sweep(tmp_path / "s.toml", ["1us", "2us"], packets=20000, repeats=1)
    path.write_text(path.read_text() + 'ring_slots = [8, 16, 32]\n')
    sweep = load_sweep(path)
    assert len(sweep.points) == 6 and sweep.varied == ("interval", "ring_slots")
    run_sweep(sweep, tmp_path / "out", workers=1, progress=False)
    points = aggregate(*load_rows([tmp_path / "out"]))
    by_interval = plots.loss_curve_figure(points, "interval").axes[0]
    assert len(by_interval.lines) == 3 and "ring_slots = 8" in by_interval.lines[0].get_label()
    by_slots = plots.loss_curve_figure(points, "ring_slots").axes[0]
    assert len(by_slots.lines) == 2 and all(len(line.get_xdata()) == 3 for line in by_slots.lines)


def test_a_sweep_with_the_simpy_engine_gives_the_same_table(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path / "s.toml", ["1us", "2us"], packets=5000, repeats=1))
    run_sweep(sweep, tmp_path / "fast", workers=1, progress=False)
    run_sweep(sweep, tmp_path / "simpy", workers=1, progress=False, engine="simpy")
    assert (tmp_path / "fast" / "table.csv").read_text() == (tmp_path / "simpy" / "table.csv").read_text()


def test_the_two_sample_test_says_when_scipy_fell_back_to_the_asymptotic_p_value(monkeypatch):
    """SciPy warns on the terminal when its exact KS p-value does not converge; the report's test
    records that instead, and lets no warning through."""
    import warnings

    import scipy.stats

    from ringlab.compare.report.curves import two_sample_test

    exact = two_sample_test([1, 2, 3, 4], [2, 3, 4, 5])
    assert exact["method"].startswith("exact or asymptotic") and 0 < exact["p_value"] <= 1
    real = scipy.stats.ks_2samp

    def warning_ks(a, b):
        warnings.warn("ks_2samp: Exact calculation unsuccessful. Switching to method=asymp.", RuntimeWarning,
                      stacklevel=2)
        return real(a, b, method="asymp")

    monkeypatch.setattr(scipy.stats, "ks_2samp", warning_ks)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fallback = two_sample_test([1, 2, 3, 4], [2, 3, 4, 5])
    assert fallback["method"].startswith("asymptotic")
