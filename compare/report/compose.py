"""The comparison report: curves of both backends and of the models that explain the measurement
(the replay from measured pauses, the machine's pause profile, fitted background stalls), their
residuals and goodness of fit, trace-level tests, the measured drops by cause, the recorded
background against the fitted one, the plots; one Markdown page beside a JSON of figures."""

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
from ringlab.compare.sweeps.sweep_file import POINTS_DIR
from ringlab.errors import InputError
from ringlab.runs.run_directory import check_output_path, load_summary, load_trace
from ringlab.runs.runner import run
from ringlab.scenario.fields import load_scenario
from ringlab.scenario.stalls import Distribution
from ringlab.scenario.units import format_time_ns
from ringlab.views.pause_plot import survival_figure


def _point_dirs(rows, backend, setting):
    return [Path(r["_dir"]) / POINTS_DIR / r["point"] for r in rows
            if r["backend"] == backend and tuple((p, r[p]) for p, _ in setting) == setting]


def _pooled_sizes(directories) -> np.ndarray:
    sizes = [warning_sizes(d) for d in directories]
    return np.concatenate(sizes) if sizes else np.zeros(0, np.int64)


def _fmt(value, digits=4):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


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
               "replay_agreement": {_text(s): v for s, v in explanation.agreement_by_setting.items()} if explanation else {},
               "drops_by_cause": {_text(s): v for s, v in explanation.causes_by_setting.items()} if explanation else {},
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
        setting_text = _text(first.setting)
        figure = plots.timelines_figure(sim_trace, hw_trace, *window,
                                        f"The same scenario simulated and measured ({setting_text})")
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
        settings[_text(setting)] = {"loss_fraction": prediction.loss_fraction.to_dict(), "level": prediction.level,
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


def _text(setting) -> str:
    return ", ".join(f"{k} = {v}" for k, v in setting)


def render_markdown(figures: dict, images: list[str], sweep_dirs) -> str:
    lines = ["# ringlab comparison report", "",
             f"Sweeps: {', '.join(str(d) for d in sweep_dirs)}. Varied: {', '.join(figures['varied'])}.", "",
             "## Loss per setting", "",
             "Backends: `sim` simulated with the injected stalls only; `hw` measured on real XDP; `replay` simulated "
             "from what each trial measured (its arrivals and its poller's pauses, injected and background); "
             "and, "
             "with a pause profile, the prediction's band (nothing fitted).", "",
             "| backend | setting | repeats | loss | 95 % interval (Wilson) | old reads (fraction) | drops per stall | median recovery |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for p in figures["points"]:
        recovery = p["recovery_median_ns"]["mean"]
        lines.append(f"| {p['backend']} | {_text(p['setting'].items())} | {p['repeats']} | {_fmt(p['loss'])} | "
                     f"{_fmt(p['loss_interval'][0])} – {_fmt(p['loss_interval'][1])} | "
                     f"{_fmt(p['reorder_fraction']['mean'])} | {_fmt(p['drops_per_stall_mean']['mean'])} | "
                     f"{format_time_ns(recovery, 3) if np.isfinite(recovery) else '–'} |")
    lines += _causes_lines(figures) + _prediction_lines(figures) + _models_lines(figures) + _background_lines(figures)
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in images]
    return "\n".join(lines) + "\n"


def _causes_lines(figures: dict) -> list[str]:
    """The report's section on why measured packets were dropped (empty without measured points)."""
    lines = []
    if figures["drops_by_cause"]:
        causes = plots.cause_order(figures["drops_by_cause"])
        lines += ["", "## Why the measured packets were dropped", "",
                  "Each dropped packet's cause, from its trace (`ringlab/analysis/attribution.py`): the poller pause during "
                  "or right after which the ring filled (injected, or background with its source), else a sender "
                  "burst, the writer's offset, a poller too slow, or nothing found. Summed over repeats.", "",
                  "| setting | " + " | ".join(causes) + " | replay: same fate |",
                  "| --- | " + " | ".join("---:" for _ in causes) + " | ---: |"]
        for setting, counts in figures["drops_by_cause"].items():
            agreed = figures["replay_agreement"].get(setting)
            lines.append(f"| {setting} | " + " | ".join(str(plots.cause_count(counts, c, causes)) for c in causes)
                         + f" | {_fmt(100 * agreed, 5) + ' %' if agreed is not None else '–'} |")
        sources = sorted(figures["background_by_source"].items(), key=lambda kv: -kv[1]["total_ns"])
        if sources:
            lines += ["", "Background pauses the trials' pollers met, by source (all trials):", "",
                      "| source | pauses | time |", "| --- | ---: | ---: |"]
            lines += [f"| {name} | {v['count']} | {format_time_ns(v['total_ns'], 3)} |" for name, v in sources[:12]]
    return lines


def _prediction_lines(figures: dict) -> list[str]:
    """The report's section on the loss predicted from the pause profile, and what each source costs."""
    lines = []
    prediction = figures["prediction"]
    if prediction:
        level = 100 * prediction["level"]
        in_sample = prediction.get("profile_from_these_trials", 0)
        heading = (["", "## Predicted from a profile of these same trials (in sample)", "",
                    f"The pause profile was pooled from {in_sample} of the trials below, so this checks the model's "
                    "consistency, not its foresight. Out of sample (a profile of other trials, at other times), "
                    "`benchmarks/prediction_coverage.py` measures the coverage: `docs/prediction.md`."]
                   if in_sample else ["", "## Predicted before the trials"])
        lines += [*heading, "",
                  f"Each setting predicted from the pause profile ({prediction['profile']['origin'].get('kind', '?')}, "
                  f"{prediction['profile']['pauses']} pauses in {prediction['profile']['duration_ns'] / 1e9:g} s): "
                  f"the median of the repeats and the band holding {level:g} % of them, against each trial.", "",
                  "| setting | predicted loss | band | trials' loss | inside |", "| --- | ---: | --- | --- | ---: |"]
        for setting, entry in prediction["settings"].items():
            band = entry["loss_fraction"]
            lines.append(f"| {setting} | {_fmt(band['median'])} | {_fmt(band['low'])} – {_fmt(band['high'])} | "
                         f"{', '.join(_fmt(x) for x in entry['measured'])} | {sum(entry['inside'])} of "
                         f"{len(entry['inside'])} |")
        if prediction["coverage"] is not None:
            lines += ["", f"Coverage: {100 * prediction['coverage']:.0f} % of {prediction['trials']} trials inside "
                          f"their {level:g} % band."]
    if figures["saved_by_source"]:
        lines += ["", "## What each source costs", "",
                  "Drops that replaying the trials without the source's pauses saves (not the drops attributed to it: "
                  "a packet a removed pause dropped may still fall to the next one), and the usual remedy. ringlab "
                  "changes no system setting: this is advice.", "",
                  "| source | drops saved without it | usual remedy |", "| --- | ---: | --- |"]
        lines += [f"| {source} | {entry['saved']} | {entry['remedy']} |"
                  for source, entry in figures["saved_by_source"].items()]
    return lines


def _models_lines(figures: dict) -> list[str]:
    """The report's section setting each model against the measurement."""
    lines = []
    lines += ["", "## Models against the measurement", ""]
    if figures["comparisons"]:
        lines += ["| model | χ² | points | p | warnings: KS p (per setting) | latency: KS p (per setting) |",
                  "| --- | ---: | ---: | ---: | --- | --- |"]
        for c in figures["comparisons"]:
            ks = [_fmt(p["warnings_test"]["p_value"], 3) for p in c["pairs"] if p.get("warnings_test")]
            latency_ks = [_fmt(p["latency_test"]["p_value"], 3) for p in c["pairs"] if p.get("latency_test")]
            lines.append(f"| {c['name']} | {c['chi2']:.1f} | {c['dof']} | {_fmt(c['p_value'], 3)} | "
                         f"{', '.join(ks) if ks else '–'} | {', '.join(latency_ks) if latency_ks else '–'} |")
        lines += ["", "| setting | measured loss | " + " | ".join(f"{c['model']}: loss (z)" for c in figures["comparisons"])
                  + " |", "| --- | ---: | " + " | ".join("---:" for _ in figures["comparisons"]) + " |"]
        by_setting = {}
        for c in figures["comparisons"]:
            for p in c["pairs"]:
                entry = by_setting.setdefault(_text(p["setting"].items()), {"hw": p["hw_loss"]})
                entry[c["model"]] = f"{_fmt(p['model_loss'])} ({_fmt(p['z'], 3)})"
        for setting, entry in by_setting.items():
            lines.append(f"| {setting} | {_fmt(entry['hw'])} | "
                         + " | ".join(entry.get(c["model"], "–") for c in figures["comparisons"]) + " |")
        lines += ["", "z is the residual (measured − model) over the combined standard error (the repeat-to-repeat "
                  "spread where there are repeats, at least the binomial one); the KS tests compare the distributions "
                  "of the poller warnings' missed counts, and of every read's latency, pooled over repeats."]
        lines += ["", "Latency (from reaching the writer to being read; percentiles within 0.4 %, means over repeats):",
                  "", "| backend | setting | p50 | p99 | p99.9 |", "| --- | --- | ---: | ---: | ---: |"]
        for p in figures["points"]:
            lines.append(f"| {p['backend']} | {_text(p['setting'].items())} | "
                         + " | ".join(_time(p[c]["mean"]) for c in ("latency_p50_ns", "latency_p99_ns", "latency_p99_9_ns"))
                         + " |")
    else:
        lines.append("No measured points: these sweeps ran the simulator only.")
    return lines


def _background_lines(figures: dict) -> list[str]:
    """The report's section on the background stalls fitted, and those recorded."""
    lines = []
    fit = figures["fit"]
    if fit:
        v, e = fit["values_ns"], fit["stderr_ns"]
        lines += ["", "## Stalls nobody injected", "",
                  f"Background stalls fitted to the measured loss (runs between them exponential, lengths "
                  f"{fit['family']}): mean run **{format_time_ns(v['run_mean_ns'], 3)} ± "
                  f"{format_time_ns(e['run_mean_ns'], 2)}**, length scale **{format_time_ns(v['length_scale_ns'], 3)} ± "
                  f"{format_time_ns(e['length_scale_ns'], 2)}**.",
                  "", f"Fit before (injected stalls only): χ² = {fit['before']['chi2']:.1f} over {fit['before']['dof']} "
                  f"points, p = {fit['before']['p_value']:.3g}. After: χ² = {fit['after']['chi2']:.1f} with "
                  f"{fit['after']['dof']} degrees of freedom, p = {fit['after']['p_value']:.3g} "
                  f"({fit['evaluations']} evaluations)."]
    background = figures["background"]
    if background:
        measured, fitted = background["measured"], background["fitted"]
        ring = format_time_ns(background["shortest_ring_ns"], 3)
        lines += ["", "Is the fit finding the pauses that were really there? The trials recorded every pause of their "
                  f"poller; those at least as long as the shortest ring time here ({ring}) are the ones that can "
                  "drop packets.", "",
                  "| | pauses per second | mean length | share of time | pauses ≥ ring time per second | their mean length |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, values in (("recorded", measured), ("fitted", fitted)):
            if values:
                lines.append(f"| {name} | {_fmt(values['per_second'], 4)} | {_time(values['mean_length_ns'])} | "
                             f"{_fmt(100 * values['share_of_time'], 3)} % | {_fmt(values['long_per_second'], 3)} | "
                             f"{_time(values['long_mean_length_ns'])} |")
        test = background["long_lengths_test"]
        if test:
            lines += ["", f"KS test of the recorded pauses ≥ {ring} ({test['count']}) against the fitted length "
                      f"distribution beyond {ring}: D = {test['statistic']:.3f}, p = {test['p_value']:.3g}."]
    return lines


def _time(ns) -> str:
    return format_time_ns(ns, 3) if ns is not None and np.isfinite(ns) else "–"
