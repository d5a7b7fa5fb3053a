"""The comparison report: curves of both backends, their residuals and goodness of fit, trace-level
tests, the fitted background stalls, the plots, all in one Markdown page beside a JSON of figures."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from ringlab.atomic_files import write_json, write_text
from ringlab.compare import plots
from ringlab.compare.curves import aggregate, goodness_of_fit, load_rows, pair, two_sample_test, warning_sizes
from ringlab.compare.fit import BackgroundFit, MeasuredPoint, fit_background
from ringlab.compare.sweep import POINTS_DIR
from ringlab.run_directory import load_trace
from ringlab.runner import run
from ringlab.scenario import load_scenario
from ringlab.stalls import Distribution
from ringlab.units import format_time_ns


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


def build_report(sweep_dirs, out_dir, fit: bool = True, family: str = "expon", fit_seeds=(101, 202, 303),
                 fit_grids: dict | None = None) -> dict:
    """Write ``report.md``, ``report.json`` and the figures into ``out_dir``; return the figures."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, varied = load_rows(sweep_dirs)
    if not rows:
        raise ValueError("the sweeps hold no finished points")
    points = aggregate(rows, varied)
    pairs = pair(points)
    overall = goodness_of_fit([p.z for p in pairs])
    figures = {"varied": varied, "points": [], "pairs": [], "overall": asdict(overall), "fit": None}

    for p in points:
        figures["points"].append({"backend": p.backend, "setting": dict(p.setting), "repeats": p.repeats,
                                  "loss": p.loss, "loss_interval": [p.loss_low, p.loss_high], "loss_se": p.loss_se,
                                  **{k: {"mean": m, "half_width": h} for k, (m, h) in p.means.items()}})
    warning_sizes_by_setting = {}  # setting -> (simulated, measured) warning sizes, pooled over repeats
    for pp in pairs:
        sim_sizes = _pooled_sizes(_point_dirs(rows, "sim", pp.setting))
        hw_sizes = _pooled_sizes(_point_dirs(rows, "hw", pp.setting))
        warning_sizes_by_setting[pp.setting] = (sim_sizes, hw_sizes)
        figures["pairs"].append({
            "setting": dict(pp.setting), "sim_loss": pp.sim.loss, "hw_loss": pp.hw.loss, "residual": pp.residual,
            "z": pp.z, "warnings_test": two_sample_test(sim_sizes, hw_sizes),
            "gaps_test": two_sample_test(sim_sizes[sim_sizes > 0], hw_sizes[hw_sizes > 0]),
        })

    background: BackgroundFit | None = None
    hw_points = [p for p in points if p.backend == "hw"]
    if fit and hw_points:
        measured = [MeasuredPoint(load_scenario(_point_dirs(rows, "hw", p.setting)[0] / "scenario.toml"),
                                  p.loss, p.loss_se) for p in hw_points]
        background = fit_background(measured, family, fit_seeds, **(fit_grids or {}))
        figures["fit"] = {"family": background.family, "values_ns": background.values, "stderr_ns": background.stderr,
                          "before": asdict(background.before), "after": asdict(background.after),
                          "evaluations": background.evaluations}

    images = []
    for parameter in varied:
        fitted = None
        if background is not None:
            fitted = {p.setting: v for p, v in zip(hw_points, background.predicted_after)}
        figure = plots.loss_curve_figure(points, parameter, fitted, f"Loss against {parameter}")
        images += plots.save(figure, out_dir / f"loss-{parameter.replace('.', '-')}")[:1]
    if pairs:
        first = pairs[0]
        hw_dir = _point_dirs(rows, "hw", first.setting)[0]
        hw_trace = load_trace(hw_dir)
        scenario = load_scenario(hw_dir / "scenario.toml")
        sim_trace = run(scenario).trace
        stalls = hw_trace.stalls
        start, length = (int(stalls.start_ns[0]), int(stalls.length_ns[0])) if len(stalls) else (0, 0)
        span = 6 * scenario.ring_slots * scenario.interval_ns
        window = (max(0, start - span // 3), start + length + span)
        setting_text = ", ".join(f"{k} = {v}" for k, v in first.setting)
        figure = plots.timelines_figure(sim_trace, hw_trace, *window,
                                        f"The same scenario simulated and measured ({setting_text})")
        images += plots.save(figure, out_dir / "timelines")[:1]
        figure = plots.warnings_figure(*warning_sizes_by_setting[first.setting], f"Poller warnings ({setting_text})")
        images += plots.save(figure, out_dir / "warnings")[:1]
        if background is not None:
            injected = hw_trace.stall_length_ns
            frozen = Distribution.from_spec(background.background_spec()["length"], "fit.length").frozen()
            figure = plots.stall_distributions_figure(injected, frozen,
                                                      "Fitted background stall lengths against the injected ones")
            images += plots.save(figure, out_dir / "stalls")[:1]
    write_json(out_dir / "report.json", figures)
    write_text(out_dir / "report.md", render_markdown(figures, [Path(i).name for i in images], sweep_dirs))
    return figures


def render_markdown(figures: dict, images: list[str], sweep_dirs) -> str:
    lines = ["# ringlab comparison report", "",
             f"Sweeps: {', '.join(str(d) for d in sweep_dirs)}. Varied: {', '.join(figures['varied'])}.", "",
             "## Loss per setting", "",
             "| backend | setting | repeats | loss | 95 % interval (Wilson) | old reads (fraction) | drops per stall | median recovery |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for p in figures["points"]:
        setting = ", ".join(f"{k} = {v}" for k, v in p["setting"].items())
        recovery = p["recovery_median_ns"]["mean"]
        lines.append(f"| {p['backend']} | {setting} | {p['repeats']} | {_fmt(p['loss'])} | "
                     f"{_fmt(p['loss_interval'][0])} – {_fmt(p['loss_interval'][1])} | "
                     f"{_fmt(p['reorder_fraction']['mean'])} | {_fmt(p['drops_per_stall_mean']['mean'])} | "
                     f"{format_time_ns(recovery, 3) if np.isfinite(recovery) else '–'} |")
    lines += ["", "## Simulated against measured", ""]
    if figures["pairs"]:
        lines += ["| setting | simulated loss | measured loss | residual | z | warnings: KS p | gaps: KS p |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for p in figures["pairs"]:
            setting = ", ".join(f"{k} = {v}" for k, v in p["setting"].items())
            warn = p["warnings_test"]["p_value"] if p["warnings_test"] else None
            gaps = p["gaps_test"]["p_value"] if p["gaps_test"] else None
            lines.append(f"| {setting} | {_fmt(p['sim_loss'])} | {_fmt(p['hw_loss'])} | {_fmt(p['residual'])} | "
                         f"{_fmt(p['z'], 3)} | {_fmt(warn, 3)} | {_fmt(gaps, 3)} |")
        o = figures["overall"]
        lines += ["", f"Overall: χ² = {o['chi2']:.1f} over {o['dof']} points, p = {o['p_value']:.3g}. "
                  "z is the residual over the combined standard error (the repeat-to-repeat spread where there are "
                  "repeats, at least the binomial one); the KS tests compare the distributions of the warnings' "
                  "missed counts (all, and the positive ones: the gaps)."]
    else:
        lines.append("No measured points: these sweeps ran the simulator only.")
    fit = figures["fit"]
    if fit:
        v, e = fit["values_ns"], fit["stderr_ns"]
        lines += ["", "## Stalls nobody injected", "",
                  f"Background stalls fitted to the measured loss (runs between them exponential, lengths "
                  f"{fit['family']}): mean run **{format_time_ns(v['run_mean_ns'], 3)} ± {format_time_ns(e['run_mean_ns'], 2)}**, "
                  f"length scale **{format_time_ns(v['length_scale_ns'], 3)} ± {format_time_ns(e['length_scale_ns'], 2)}**.",
                  "", f"Fit before (injected stalls only): χ² = {fit['before']['chi2']:.1f} over {fit['before']['dof']} "
                  f"points, p = {fit['before']['p_value']:.3g}. After: χ² = {fit['after']['chi2']:.1f} with "
                  f"{fit['after']['dof']} degrees of freedom, p = {fit['after']['p_value']:.3g} "
                  f"({fit['evaluations']} evaluations)."]
    lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in images]
    return "\n".join(lines) + "\n"
