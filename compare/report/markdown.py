"""The report as a person reads it: report.md made from the report's figures (report.json), one
section per question: loss per setting, why the measured packets were dropped, the prediction, the
models against the measurement, the stalls nobody injected."""

from __future__ import annotations

import numpy as np

from ringlab.compare.report import plots
from ringlab.scenario.units import format_time_ns


def format_figure(value, digits=4):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def setting_text(setting) -> str:
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
        lines.append(f"| {p['backend']} | {setting_text(p['setting'].items())} | {p['repeats']} | {format_figure(p['loss'])} | "
                     f"{format_figure(p['loss_interval'][0])} – {format_figure(p['loss_interval'][1])} | "
                     f"{format_figure(p['reorder_fraction']['mean'])} | {format_figure(p['drops_per_stall_mean']['mean'])} | "
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
                         + f" | {format_figure(100 * agreed, 5) + ' %' if agreed is not None else '–'} |")
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
            lines.append(f"| {setting} | {format_figure(band['median'])} | {format_figure(band['low'])} – {format_figure(band['high'])} | "
                         f"{', '.join(format_figure(x) for x in entry['measured'])} | {sum(entry['inside'])} of "
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
            ks = [format_figure(p["warnings_test"]["p_value"], 3) for p in c["pairs"] if p.get("warnings_test")]
            latency_ks = [format_figure(p["latency_test"]["p_value"], 3) for p in c["pairs"] if p.get("latency_test")]
            lines.append(f"| {c['name']} | {c['chi2']:.1f} | {c['dof']} | {format_figure(c['p_value'], 3)} | "
                         f"{', '.join(ks) if ks else '–'} | {', '.join(latency_ks) if latency_ks else '–'} |")
        lines += ["", "| setting | measured loss | " + " | ".join(f"{c['model']}: loss (z)" for c in figures["comparisons"])
                  + " |", "| --- | ---: | " + " | ".join("---:" for _ in figures["comparisons"]) + " |"]
        by_setting = {}
        for c in figures["comparisons"]:
            for p in c["pairs"]:
                entry = by_setting.setdefault(setting_text(p["setting"].items()), {"hw": p["hw_loss"]})
                entry[c["model"]] = f"{format_figure(p['model_loss'])} ({format_figure(p['z'], 3)})"
        for setting, entry in by_setting.items():
            lines.append(f"| {setting} | {format_figure(entry['hw'])} | "
                         + " | ".join(entry.get(c["model"], "–") for c in figures["comparisons"]) + " |")
        lines += ["", "z is the residual (measured − model) over the combined standard error (the repeat-to-repeat "
                  "spread where there are repeats, at least the binomial one); the KS tests compare the distributions "
                  "of the poller warnings' missed counts, and of every read's latency, pooled over repeats."]
        lines += ["", "Latency (from reaching the writer to being read; percentiles within 0.4 %, means over repeats):",
                  "", "| backend | setting | p50 | p99 | p99.9 |", "| --- | --- | ---: | ---: | ---: |"]
        for p in figures["points"]:
            lines.append(f"| {p['backend']} | {setting_text(p['setting'].items())} | "
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
                lines.append(f"| {name} | {format_figure(values['per_second'], 4)} | {_time(values['mean_length_ns'])} | "
                             f"{format_figure(100 * values['share_of_time'], 3)} % | {format_figure(values['long_per_second'], 3)} | "
                             f"{_time(values['long_mean_length_ns'])} |")
        test = background["long_lengths_test"]
        if test:
            lines += ["", f"KS test of the recorded pauses ≥ {ring} ({test['count']}) against the fitted length "
                      f"distribution beyond {ring}: D = {test['statistic']:.3f}, p = {test['p_value']:.3g}."]
    return lines


def _time(ns) -> str:
    return format_time_ns(ns, 3) if ns is not None and np.isfinite(ns) else "–"
