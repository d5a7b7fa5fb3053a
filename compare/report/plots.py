"""The comparison's figures (matplotlib), each written as PNG and SVG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ringlab.compare.report.curves import CurvePoint, _value_ns  # noqa: E402
from ringlab.scenario.fields import DELIVERY_PATHS, WRITER_POLICIES  # noqa: E402
from ringlab.views.timeline_plot import draw_timeline, save_figure  # noqa: E402

COLOURS = {"sim": "tab:blue", "hw": "tab:red", "fit": "tab:green", "prediction": "tab:orange"}
# Further models of the measured points: (label, colour, line style and marker)
MODELS = {"replay": ("simulated from the measured pauses (replay)", "tab:purple", "-D")}


save = save_figure  # each figure below is written as PNG and SVG by ringlab's one saver


# Where a value that is a name, not a quantity (a delivery path, a writer policy), goes on an axis.
CATEGORIES = (*DELIVERY_PATHS, *WRITER_POLICIES)


def _position(value: str) -> float:
    """A parameter value's place on an axis: its quantity (a time in ns, a number), or for a name
    its place in CATEGORIES."""
    number = _value_ns(value)
    if np.isfinite(number):
        return number
    return float(CATEGORIES.index(value)) if value in CATEGORIES else float(len(CATEGORIES))


def _axis_values(parameter: str, settings) -> tuple[np.ndarray, str]:
    values = np.array([_position(dict(s)[parameter]) for s in settings])
    if all(np.isfinite(_value_ns(dict(s)[parameter])) for s in settings) and \
            any(("s" in dict(s)[parameter]) for s in settings):
        return values / 1e3, f"{parameter} (µs)"
    return values, parameter


def _name_categories(ax, parameter: str, points) -> None:
    """Label the axis with the names of a parameter whose values are names."""
    values = sorted({dict(p.setting)[parameter] for p in points}, key=_position)
    if values and not any(np.isfinite(_value_ns(v)) for v in values):
        ax.set_xticks([_position(v) for v in values], values)


def _series(points: list[CurvePoint], parameter: str) -> dict:
    """Points grouped by the values of the other varied parameters: one curve each."""
    groups = {}
    for p in points:
        others = tuple((k, v) for k, v in p.setting if k != parameter)
        groups.setdefault(others, []).append(p)
    return {others: sorted(group, key=lambda p: _position(dict(p.setting)[parameter])) for others, group in groups.items()}


def loss_curve_figure(points: list[CurvePoint], parameter: str, fitted: dict | None = None, title: str = "",
                      bands: dict | None = None):
    """Loss against ``parameter``: simulation as a line with its band, measurement as points with
    error bars, on a log scale; below, where something was measured, the residual (measured −
    simulated) in standard errors.
    With other varied parameters, one curve per combination of their values. ``fitted`` maps
    settings to the loss predicted with the fitted background stalls; ``bands`` maps settings to a
    prediction's band (``ringlab.compare.model.predict.Band``), drawn around its median."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]},
                                         constrained_layout=True)
    floor = 0.5 / max(p.packets for p in points)
    label = parameter
    bottom.axhline(0, color="0.5", lw=0.8)
    bottom.axhspan(-2, 2, color="0.9")
    sim_by_setting = {p.setting: p for p in points if p.backend == "sim"}
    for number, (others, group) in enumerate(_series(points, parameter).items()):
        suffix = "".join(f", {k} = {v}" for k, v in others)
        sims = [p for p in group if p.backend == "sim"]
        hws = [p for p in group if p.backend == "hw"]
        if sims:
            x, label = _axis_values(parameter, [p.setting for p in sims])
            colour = COLOURS["sim"] if not others else f"C{2 * number}"
            top.plot(x, np.maximum([p.loss for p in sims], floor), "-o", color=colour, ms=3, label=f"simulated{suffix}")
            top.fill_between(x, np.maximum([p.loss_low for p in sims], floor),
                             np.maximum([p.loss_high for p in sims], floor), color=colour, alpha=0.25,
                             label=f"simulated, 95 % interval{suffix}")
        if hws:
            x, label = _axis_values(parameter, [p.setting for p in hws])
            colour = COLOURS["hw"] if not others else f"C{2 * number + 1}"
            errors = np.array([[p.loss - p.loss_low for p in hws], [p.loss_high - p.loss for p in hws]])
            top.errorbar(x, np.maximum([p.loss for p in hws], floor), yerr=errors, fmt="s", color=colour, capsize=3,
                         label=f"measured (real XDP), 95 % interval{suffix}")
            paired = [(h, sim_by_setting[h.setting]) for h in hws if h.setting in sim_by_setting]
            if paired:
                xs, _ = _axis_values(parameter, [h.setting for h, _ in paired])
                z = [(h.loss - s.loss) / max(np.hypot(h.loss_se, s.loss_se), 1e-12) for h, s in paired]
                bottom.plot(xs, z, "s", color=colour)
            if fitted:
                known = [h for h in hws if h.setting in fitted]
                if known:
                    xs, _ = _axis_values(parameter, [h.setting for h in known])
                    top.plot(xs, np.maximum([fitted[h.setting] for h in known], floor), "--", color=COLOURS["fit"],
                             label=f"simulated + fitted background stalls{suffix}")
        for model, (name, model_colour, style) in MODELS.items():
            modelled = [p for p in group if p.backend == model]
            if modelled:
                x, label = _axis_values(parameter, [p.setting for p in modelled])
                top.plot(x, np.maximum([p.loss for p in modelled], floor), style, color=model_colour, ms=4,
                         label=f"{name}{suffix}")
                hw_by_setting = {h.setting: h for h in hws}
                paired = [(hw_by_setting[p.setting], p) for p in modelled if p.setting in hw_by_setting]
                if paired and model == "replay":
                    xs, _ = _axis_values(parameter, [h.setting for h, _ in paired])
                    z = [(h.loss - m.loss) / max(np.hypot(h.loss_se, m.loss_se), 1e-12) for h, m in paired]
                    bottom.plot(xs, z, "D", color=model_colour, ms=4)
    if bands:
        known = [setting for setting in sorted(bands) if len(setting) == 1 and setting[0][0] == parameter]
        if known:
            x, label = _axis_values(parameter, known)
            order = np.argsort(x)
            x = np.asarray(x)[order]
            low, median, high = (np.maximum(np.asarray([getattr(bands[s], k) for s in known])[order], floor)
                                 for k in ("low", "median", "high"))
            top.fill_between(x, low, high, color=COLOURS["prediction"], alpha=0.25,
                             label="predicted from the pause profile (band)")
            top.plot(x, median, ":", color=COLOURS["prediction"], label="predicted median")
    _name_categories(bottom, parameter, points)
    top.set_yscale("log")
    top.set_ylabel("packets lost (fraction)")
    top.set_title(title or f"Loss against {parameter}")
    top.grid(True, which="both", alpha=0.3)
    top.legend(fontsize="small")
    if not bottom.lines[1:]:  # only the zero line: nothing measured, so no residual panel
        bottom.remove()
        top.tick_params(labelbottom=True)
        top.set_xlabel(label)
        return figure
    bottom.set_ylabel("residual (s.e.)")
    bottom.set_xlabel(label)
    return figure


def cause_order(causes_by_setting: dict, most: int = 6) -> list[str]:
    """The causes in the order of ringlab.analysis.attribution, background sources (the ``most`` largest, the
    rest as "background: other sources") where the background pauses stand."""
    from ringlab.analysis.attribution import CAUSE_NAMES

    totals = {}
    for counts in causes_by_setting.values():
        for cause, count in counts.items():
            totals[cause] = totals.get(cause, 0) + count
    sources = sorted((c for c in totals if c.startswith("background: ") and totals[c]), key=lambda c: -totals[c])
    order = []
    for cause in CAUSE_NAMES:
        if cause == "background pause":
            order += sources[:most] + (["background: other sources"] if len(sources) > most else [])
        elif totals.get(cause):
            order.append(cause)
    return order


def cause_count(counts: dict, cause: str, order: list[str]) -> int:
    if cause == "background: other sources":
        return sum(n for c, n in counts.items() if c.startswith("background: ") and c not in order)
    return counts.get(cause, 0)


def causes_figure(causes_by_setting: dict, parameter: str, title: str):
    """Measured drops per cause, stacked, one bar per setting (ordered by ``parameter``)."""
    settings = sorted(causes_by_setting, key=lambda s: _position(dict(s)[parameter]))
    figure, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    x = np.arange(len(settings))
    bottom = np.zeros(len(settings))
    order = cause_order(causes_by_setting)
    for number, cause in enumerate(order):
        counts = np.array([cause_count(causes_by_setting[s], cause, order) for s in settings], float)
        if counts.any():
            ax.bar(x, counts, bottom=bottom, color=f"C{number % 10}", label=cause)
            bottom += counts
    ax.set_xticks(x, [", ".join(f"{k} = {v}" for k, v in s) for s in settings], rotation=20, ha="right",
                  fontsize="small")
    ax.set_ylabel("dropped packets (all repeats)")
    ax.set_title(title)
    if ax.patches:
        ax.legend(fontsize="small")
    return figure


LATENCY_PERCENTILES = {"latency_p50_ns": ("p50", "-"), "latency_p99_ns": ("p99", "--"),
                       "latency_p99_9_ns": ("p99.9", ":")}
BACKEND_NAMES = {"sim": "simulated", "hw": "measured", "replay": "replayed"}


def latency_percentiles_figure(points: list[CurvePoint], parameter: str, title: str):
    """Latency percentiles against ``parameter``, per backend (and per value of the other varied
    parameters: a delivery path each, say), with t intervals over repeats."""
    figure, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    label = parameter
    series = _series(points, parameter)
    for number, (others, group) in enumerate(series.items()):
        suffix = "".join(f", {k} = {v}" for k, v in others)
        for backend in BACKEND_NAMES:
            mine = [p for p in group if p.backend == backend]
            if not mine:
                continue
            x, label = _axis_values(parameter, [p.setting for p in mine])
            colour = (COLOURS.get(backend) or MODELS[backend][1]) if len(series) == 1 else f"C{number % 10}"
            marker = {"sim": "o", "hw": "s", "replay": "D"}[backend]
            named = not np.isfinite(_value_ns(dict(mine[0].setting)[parameter]))  # no line between names
            for column, (name, style) in LATENCY_PERCENTILES.items():
                means = np.array([p.means[column][0] for p in mine]) / 1e3
                half = np.nan_to_num(np.array([p.means[column][1] for p in mine]) / 1e3)
                ax.errorbar(x, means, yerr=half, fmt="none" if named else style, marker=marker, ms=4 if named else 3,
                            color=colour, capsize=2, label=f"{BACKEND_NAMES[backend]} {name}{suffix}")
    _name_categories(ax, parameter, points)
    ax.set_yscale("log")
    ax.set_xlabel(label)
    ax.set_ylabel("latency (µs)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="x-small", ncol=3)
    return figure


def latency_survival_figure(samples: dict, title: str):
    """Per setting (a panel each, four at most), the survival function of every read's latency on
    log-log axes, one curve per backend: ``samples[setting][backend]`` holds the latencies (ns)."""
    from ringlab.views.pause_plot import survival

    settings = list(samples)[:4]
    figure, axes = plt.subplots(1, max(1, len(settings)), figsize=(4.5 * max(1, len(settings)), 4), squeeze=False,
                                sharey=True, constrained_layout=True)
    for ax, setting in zip(axes[0], settings):
        for backend, values in samples[setting].items():
            if len(values):
                x, share = survival(np.maximum(values, 1))
                colour = COLOURS.get(backend) or MODELS[backend][1]
                ax.step(x / 1e3, share, where="post", color=colour, label=f"{BACKEND_NAMES[backend]} ({len(values)})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("latency (µs)")
        ax.set_title(", ".join(f"{k} = {v}" for k, v in setting), fontsize="medium")
        ax.grid(True, which="both", alpha=0.3)
        if ax.lines:
            ax.legend(fontsize="x-small")
    axes[0][0].set_ylabel("share of reads at least this late")
    figure.suptitle(title)
    return figure


def timelines_figure(sim_trace, hw_trace, from_ns: int, to_ns: int, title: str):
    """One simulated and one measured run of the same scenario, drawn as ``ringlab plot`` draws them."""
    figure, axes = plt.subplots(2, 2, figsize=(16, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]},
                                constrained_layout=True)
    draw_timeline(axes[0, 0], axes[1, 0], sim_trace, from_ns, to_ns, "simulated")
    draw_timeline(axes[0, 1], axes[1, 1], hw_trace, from_ns, to_ns, "measured (real XDP)")
    figure.suptitle(title)
    return figure


def warnings_figure(sim_sizes: np.ndarray, hw_sizes: np.ndarray, title: str):
    """Histograms of the poller's warnings by their ``missed`` count, both backends."""
    figure, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    values = np.concatenate([sim_sizes, hw_sizes]) if len(sim_sizes) + len(hw_sizes) else np.array([0])
    bins = np.arange(values.min() - 0.5, values.max() + 1.5, max(1, (values.max() - values.min() + 1) // 60))
    for sizes, backend, label in ((sim_sizes, "sim", "simulated"), (hw_sizes, "hw", "measured")):
        if len(sizes):
            ax.hist(sizes, bins=bins, histtype="step", lw=1.5, color=COLOURS[backend], label=f"{label} ({len(sizes)})")
    ax.set_yscale("log")
    ax.set_xlabel("missed packets reported by a warning (negative: an old packet read late)")
    ax.set_ylabel("warnings")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return figure


def stall_distributions_figure(injected_lengths_ns: np.ndarray, fitted_frozen, title: str):
    """The fitted background stall-length distribution against the injected stalls' lengths."""
    figure, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    top = max(float(fitted_frozen.ppf(0.995)), float(injected_lengths_ns.max()) if len(injected_lengths_ns) else 0.0)
    grid = np.linspace(0, top * 1.05, 400)
    ax.plot(grid / 1e3, fitted_frozen.pdf(grid) * 1e3, color=COLOURS["fit"], label="fitted background stalls (pdf)")
    if len(injected_lengths_ns):
        ax.hist(injected_lengths_ns / 1e3, bins=40, density=True, color=COLOURS["sim"], alpha=0.5,
                label=f"injected stalls ({len(injected_lengths_ns)})")
    ax.set_xlabel("stall length (µs)")
    ax.set_ylabel("density (1/µs)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    return figure
