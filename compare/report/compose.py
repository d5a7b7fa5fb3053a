"""The comparison report: curves of both backends and of the models that explain the measurement
(the replay from measured pauses, the machine's pause profile, fitted background stalls), their
residuals and goodness of fit, trace-level tests, the measured drops by cause, the recorded
background against the fitted one, the plots; report.json of the figures, and report.md made from
it (``markdown.py``)."""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.stats

from ringlab.analysis.latency import latencies
from ringlab.atomic_files import write_json, write_text
from ringlab.compare.model.remedies import remedy
from ringlab.compare.report import plots
from ringlab.compare.report.curves import aggregate, goodness_of_fit, load_rows, pair, two_sample_test, warning_sizes
from ringlab.compare.report.explain import Explanation, explain
from ringlab.compare.report.fit import BackgroundFit, MeasuredPoint, fit_background
from ringlab.compare.report.markdown import render_markdown, setting_text
from ringlab.compare.sweeps.sweep_file import POINTS_DIR
from ringlab.errors import InputError
from ringlab.runs.run_directory import check_output_path, load_summary, load_trace
from ringlab.runs.runner import run
from ringlab.scenario.fields import load_scenario
from ringlab.scenario.stalls import Distribution
from ringlab.views.pause_plot import survival_figure


def _point_dirs(rows, backend, setting):
    return [Path(r["_dir"]) / POINTS_DIR / r["point"] for r in rows
            if r["backend"] == backend and tuple((p, r[p]) for p, _ in setting) == setting]


def _pooled_sizes(directories) -> np.ndarray:
    sizes = [warning_sizes(d) for d in directories]
    return np.concatenate(sizes) if sizes else np.zeros(0, np.int64)


MODEL_NAMES = {"sim": "simulated (injected stalls only)", "replay": "replayed from the measured pauses",
               "fit": "simulated + fitted background stalls"}


def _comparison(points, model: str, sizes_of=None) -> dict:
    """The model's points against the measured ones: per setting residual and z (and a KS test of
    the warnings' sizes where ``sizes_of(setting)`` gives (model, measured) sizes), and χ²."""
    pairs = pair(points, model)
    rows = []
    for pp in pairs:
        row = {"setting": dict(pp.setting), "model_loss": pp.sim.loss, "hw_loss": pp.hw.loss, "residual": pp.residual,
               "z": pp.z}
        if sizes_of is not None:
            model_sizes, hw_sizes = sizes_of(pp.setting)
            row["warnings_test"] = two_sample_test(model_sizes, hw_sizes)
            row["gaps_test"] = two_sample_test(model_sizes[model_sizes > 0], hw_sizes[hw_sizes > 0])
        rows.append(row)
    return {"model": model, "name": MODEL_NAMES[model], "pairs": rows, **asdict(goodness_of_fit([p.z for p in pairs]))}


def _fitted_comparison(hw_points, background: BackgroundFit) -> dict:
    """The fitted background's predictions as a comparison like the others."""
    rows = []
    for point, predicted in zip(hw_points, background.predicted_after):
        se = point.loss_se
        rows.append({"setting": dict(point.setting), "model_loss": predicted, "hw_loss": point.loss,
                     "residual": point.loss - predicted, "z": (point.loss - predicted) / se if se > 0 else float("nan")})
    return {"model": "fit", "name": MODEL_NAMES["fit"], "pairs": rows, **asdict(background.after)}


def background_against_fit(explanation: Explanation, background: BackgroundFit | None, shortest_ring_ns: int) -> dict:
    """The background pauses the trials recorded against the fitted background model: rate, lengths
    and share of time, all of them and those at least as long as the shortest ring time (the ones
    that can drop packets here), with a KS test of the fitted length family on the latter."""
    lengths = explanation.background_lengths_ns
    seconds = explanation.background_running_ns / 1e9 if explanation.background_running_ns else float("nan")
    long_ones = lengths[lengths >= shortest_ring_ns]
    measured = {"per_second": len(lengths) / seconds, "mean_length_ns": float(lengths.mean()) if len(lengths) else None,
                "share_of_time": float(lengths.sum() / explanation.background_running_ns) if len(lengths) else 0.0,
                "long_per_second": len(long_ones) / seconds, "long_count": int(len(long_ones)),
                "long_mean_length_ns": float(long_ones.mean()) if len(long_ones) else None}
    result = {"measured": measured, "shortest_ring_ns": shortest_ring_ns, "fitted": None, "long_lengths_test": None}
    if background is not None:
        frozen = Distribution.from_spec(background.background_spec()["length"], "fit.length").frozen()
        cycle_ns = background.values["run_mean_ns"] + frozen.mean()
        beyond = float(frozen.sf(shortest_ring_ns))
        result["fitted"] = {"per_second": 1e9 / cycle_ns, "mean_length_ns": float(frozen.mean()),
                            "share_of_time": float(frozen.mean() / cycle_ns), "long_per_second": 1e9 / cycle_ns * beyond,
                            "long_mean_length_ns": _conditional_mean(frozen, shortest_ring_ns) if beyond > 0 else None}
        if len(long_ones) and beyond > 0:
            below = float(frozen.cdf(shortest_ring_ns))
            test = scipy.stats.kstest(long_ones, lambda x: (frozen.cdf(x) - below) / (1 - below))
            result["long_lengths_test"] = {"statistic": float(test.statistic), "p_value": float(test.pvalue),
                                           "count": int(len(long_ones))}
    return result


def _conditional_mean(frozen, lower: float) -> float:
    """E[X | X >= lower] of a frozen distribution (quadrature; its accuracy warnings are not news)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(frozen.expect(lambda x: x, lb=lower, conditional=True))


def check_family(family: str) -> None:
    """Refuse a name that is not a continuous distribution of ``scipy.stats``."""
    import scipy.stats

    if not family or not isinstance(getattr(scipy.stats, family, None), scipy.stats.rv_continuous):
        raise InputError("--family", f"{family!r} is not a continuous distribution of scipy.stats (such as expon, "
                                     "lognorm, gamma, weibull_min)")


def build_report(sweep_dirs, out_dir, fit: bool = True, family: str = "expon", fit_seeds=(101, 202, 303),
                 fit_grids: dict | None = None, profile_dir=None) -> dict:
    """Write ``report.md``, ``report.json`` and the figures into ``out_dir``; return the figures.

    Measured points are also replayed from what their trials measured, and, with ``profile_dir`` (a
    ``ringlab hw profile`` profile), predicted from the machine's pauses with nothing fitted."""
    for directory in sweep_dirs:
        if not (Path(directory) / "table.csv").is_file():
            raise InputError(str(directory), "not a finished sweep (no table.csv): run 'ringlab sweep' first")
    check_family(family)
    check_output_path(out_dir)
    rows, varied = load_rows(sweep_dirs)
    if not rows:
        raise InputError(", ".join(str(d) for d in sweep_dirs), "the sweeps hold no finished points")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)  # only now: a refusal leaves no empty directory behind
    measured_rows = [r for r in rows if r["backend"] == "hw"]
    explanation = explain(rows, varied, _row_dir, profile_dir) if measured_rows else None
    points = aggregate(rows + (explanation.rows if explanation else []), varied)
    comparisons = []
    warning_sizes_by_setting = {}
    if measured_rows:
        def sim_sizes(setting):
            sizes = (_pooled_sizes(_point_dirs(rows, "sim", setting)), _pooled_sizes(_point_dirs(rows, "hw", setting)))
            warning_sizes_by_setting[setting] = sizes
            return sizes

        comparisons.append(_comparison(points, "sim", sim_sizes))
        comparisons.append(_comparison(points, "replay", lambda setting: (
            explanation.replay_warning_sizes.get(setting, np.zeros(0, np.int64)),
            _pooled_sizes(_point_dirs(rows, "hw", setting)))))
    sim_comparison = comparisons[0] if comparisons else {"chi2": 0.0, "dof": 0, "p_value": float("nan"), "pairs": []}
    figures = {"varied": varied, "points": [], "comparisons": comparisons,
               "overall": {k: sim_comparison[k] for k in ("chi2", "dof", "p_value")}, "fit": None,
               "replay_agreement": {setting_text(s): v for s, v in explanation.agreement_by_setting.items()} if explanation else {},
               "drops_by_cause": {setting_text(s): v for s, v in explanation.causes_by_setting.items()} if explanation else {},
               "background_by_source": explanation.background_by_source if explanation else {},
               "background": None,
               "prediction": prediction_figures(explanation, {_row_dir(r).resolve() for r in measured_rows})
               if explanation else None,
               "saved_by_source": saved_figures(explanation) if explanation else {}}
    for p in points:
        figures["points"].append({"backend": p.backend, "setting": dict(p.setting), "repeats": p.repeats,
                                  "loss": p.loss, "loss_interval": [p.loss_low, p.loss_high], "loss_se": p.loss_se,
                                  **{k: {"mean": m, "half_width": h} for k, (m, h) in p.means.items()}})

    background: BackgroundFit | None = None
    hw_points = [p for p in points if p.backend == "hw"]
    if fit and hw_points:
        measured = [MeasuredPoint(load_scenario(_point_dirs(rows, "hw", p.setting)[0] / "scenario.toml"),
                                  p.loss, p.loss_se) for p in hw_points]
        background = fit_background(measured, family, fit_seeds, **(fit_grids or {}))
        figures["fit"] = {"family": background.family, "values_ns": background.values, "stderr_ns": background.stderr,
                          "before": asdict(background.before), "after": asdict(background.after),
                          "evaluations": background.evaluations}
        comparisons.append(_fitted_comparison(hw_points, background))
    if explanation is not None:
        shortest_ring_ns = min(m.scenario.ring_slots * m.scenario.interval_ns for m in
                               [MeasuredPoint(load_scenario(_row_dir(r) / "scenario.toml"), 0, 0) for r in measured_rows])
        figures["background"] = background_against_fit(explanation, background, shortest_ring_ns)

    images = _draw_figures(out_dir, rows, points, varied, comparisons, explanation, background, hw_points,
                           warning_sizes_by_setting)
    write_json(out_dir / "report.json", figures)
    write_text(out_dir / "report.md", render_markdown(figures, [Path(i).name for i in images], sweep_dirs))
    return figures


def _draw_figures(out_dir: Path, rows, points, varied, comparisons, explanation, background, hw_points,
                  warning_sizes_by_setting) -> list:
    """Draw the report's figures into ``out_dir`` (adding each latency test to its comparison's
    pairs); return the PNG paths."""
    images = []
    for parameter in varied:
        fitted = None
        if background is not None:
            fitted = {p.setting: v for p, v in zip(hw_points, background.predicted_after)}
        bands = {s: p.loss_fraction for s, p in explanation.predictions.items()} if explanation else None
        figure = plots.loss_curve_figure(points, parameter, fitted, f"Loss against {parameter}", bands)
        images += plots.save(figure, out_dir / f"loss-{parameter.replace('.', '-')}")[:1]
    if explanation is not None:
        latency_samples = latency_samples_by_setting(rows, varied, explanation)
        for comparison in comparisons:
            for p in comparison["pairs"]:
                setting = tuple(p["setting"].items())
                model = latency_samples.get(setting, {}).get(comparison["model"])
                if model is not None:
                    p["latency_test"] = two_sample_test(model, latency_samples[setting]["hw"])
        figure = plots.latency_survival_figure(latency_samples, "Latency of every read: its tail")
        images += plots.save(figure, out_dir / "latency-survival")[:1]
        for parameter in varied:
            figure = plots.latency_percentiles_figure(points, parameter, f"Latency percentiles against {parameter}")
            images += plots.save(figure, out_dir / f"latency-{parameter.replace('.', '-')}")[:1]
    if explanation is not None and varied:
        figure = plots.causes_figure(explanation.causes_by_setting, varied[0], "Why the measured packets were dropped")
        images += plots.save(figure, out_dir / "causes")[:1]
        curves = None
        if background is not None:
            frozen = Distribution.from_spec(background.background_spec()["length"], "fit.length").frozen()
            lengths = explanation.background_lengths_ns
            grid = np.geomspace(max(1.0, lengths.min()) if len(lengths) else 1e3, max(lengths.max(), frozen.ppf(0.999))
                                if len(lengths) else frozen.ppf(0.999), 200)
            curves = {f"fitted background stalls ({background.family})": (grid, frozen.sf(grid))}
        figure = survival_figure({"background pauses the trials recorded": explanation.background_lengths_ns},
                                 "The pauses nobody injected: recorded, and fitted", curves)
        images += plots.save(figure, out_dir / "background")[:1]
    if comparisons:
        first = pair(points)[0]
        hw_dir = _point_dirs(rows, "hw", first.setting)[0]
        hw_trace = load_trace(hw_dir, load_summary(hw_dir))
        scenario = load_scenario(hw_dir / "scenario.toml")
        sim_trace = run(scenario).trace
        stalls = hw_trace.stalls
        start, length = (int(stalls.start_ns[0]), int(stalls.length_ns[0])) if len(stalls) else (0, 0)
        span = 6 * scenario.ring_slots * scenario.interval_ns
        window = (max(0, start - span // 3), start + length + span)
        label = setting_text(first.setting)
        figure = plots.timelines_figure(sim_trace, hw_trace, *window,
                                        f"The same scenario simulated and measured ({label})")
        images += plots.save(figure, out_dir / "timelines")[:1]
        figure = plots.warnings_figure(*warning_sizes_by_setting[first.setting], f"Poller warnings ({setting_text})")
        images += plots.save(figure, out_dir / "warnings")[:1]
    return images


def prediction_figures(explanation: Explanation, trial_dirs=frozenset()) -> dict | None:
    """Per measured setting: the predicted band, each trial's loss and whether it fell inside;
    the coverage over every trial; and how many of ``trial_dirs`` (the trials compared) the
    profile was pooled from: a prediction from them is in sample. None without a pause profile."""
    if not explanation.predictions:
        return None
    settings, inside_all = {}, []
    for setting, prediction in explanation.predictions.items():
        measured = explanation.measured_losses.get(setting, [])
        inside = [prediction.loss_fraction.contains(loss) for loss in measured]
        inside_all += inside
        settings[setting_text(setting)] = {"loss_fraction": prediction.loss_fraction.to_dict(), "level": prediction.level,
                                    "repeats": prediction.repeats, "measured": measured, "inside": inside,
                                    "median_ratio": (float(np.mean(measured)) / prediction.loss_fraction.median
                                                     if measured and prediction.loss_fraction.median > 0 else None),
                                    "latency": {k: v.to_dict() for k, v in prediction.latency.items()}}
    first = next(iter(explanation.predictions.values()))
    pooled_from = {Path(run) for run in first.profile.get("origin", {}).get("runs", [])}
    return {"settings": settings, "coverage": float(np.mean(inside_all)) if inside_all else None,
            "trials": len(inside_all), "level": first.level, "profile": first.profile,
            "profile_from_these_trials": len(pooled_from & set(trial_dirs))}


def saved_figures(explanation: Explanation) -> dict:
    """Per source: the drops replaying the trials without it saved, and the usual remedy."""
    return {source: {"saved": saved, "remedy": remedy(source)}
            for source, saved in sorted(explanation.saved_by_source.items(), key=lambda kv: -kv[1])}


def latency_samples_by_setting(rows, varied, explanation: Explanation) -> dict:
    """Every read's latency per measured setting and backend: measured and replayed (from the
    explanation) and simulated (each simulated point run again: sweeps keep no traces by default)."""
    samples = {}
    for setting, measured in explanation.measured_latencies.items():
        simulated = [latencies(run(load_scenario(directory / "scenario.toml")).trace).latency_ns
                     for directory in _point_dirs(rows, "sim", setting)]
        samples[setting] = {"sim": np.concatenate(simulated) if simulated else np.zeros(0, np.int64), "hw": measured,
                            "replay": explanation.replay_latencies[setting]}
    return samples


def _row_dir(row) -> Path:
    return Path(row["_dir"]) / POINTS_DIR / row["point"]
