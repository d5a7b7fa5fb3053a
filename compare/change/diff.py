"""Did a change work: two sides (runs, sweeps or pause profiles) compared, with what changed on
the machine, each pause source's rate before and after with an exact test, the loss and latency
percentiles with bootstrap intervals, and, given a prediction made before the change, whether the
trials after it fell inside its band. ``diff.json`` holds every figure; the verdict lines come first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.compare.change.sides import Side, read_side
from ringlab.compare.change.statistics import (
    RESAMPLES,
    binomial_interval,
    compare_rates,
    interval,
    loss_resamples,
    percentile_resamples,
    resample_weights,
)
from ringlab.errors import InputError

DIFF_FILE = "diff.json"
FIGURE_FILE = "diff.png"
SIGNIFICANT = 0.01  # a source's rate "changed" below this p-value (the verdict lines)
VERDICT_SOURCES = 5
LATENCY_QUANTILES = {"p50_ns": 0.5, "p99_ns": 0.99, "p99_9_ns": 0.999}
NOT_SETTINGS = ("poller_cpu_steal_ns",)  # a counter, not a setting: its change over a run is reported instead


@dataclass(frozen=True)
class Diff:
    """Every figure of a change (see the module's docstring); ``verdict`` is what a person reads first."""

    before: str
    after: str
    kinds: tuple[str, str]
    level: float
    machine: dict
    sources: dict
    loss: dict | None
    drops_by_cause: dict | None
    latency: dict | None
    settings: list
    predicted: dict | None
    verdict: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"before": self.before, "after": self.after, "kinds": {"before": self.kinds[0], "after": self.kinds[1]},
                "level": self.level, "verdict": list(self.verdict), "machine": self.machine, "sources": self.sources,
                "loss_fraction": self.loss, "drops_by_cause": self.drops_by_cause, "latency": self.latency,
                "settings": self.settings, "predicted": self.predicted}


def diff_paths(before, after, predicted=None, level: float = 0.95, seed: int = 0) -> tuple[Diff, Side, Side]:
    """The change from ``before`` to ``after`` (each a run, a sweep's output or a profile)."""
    if not 0 < level < 1:
        raise InputError("--level", f"must be between 0 and 1, got {level}")
    first, second = read_side(before, "BEFORE"), read_side(after, "AFTER")
    return build_diff(first, second, predicted, level, seed), first, second


def build_diff(before: Side, after: Side, predicted=None, level: float = 0.95, seed: int = 0) -> Diff:
    rng = np.random.default_rng(seed)
    machine = machine_changes(before, after)
    sources = source_changes(before, after, level)
    loss = latency = causes = None
    settings = []
    if before.runs and after.runs:
        loss = loss_change(before, after, level, rng)
        latency = latency_change(before, after, level, rng)
        causes = drops_by_cause(before, after)
        settings = setting_changes(before, after, level, rng)
    checked = check_prediction(predicted, after) if predicted is not None else None
    verdict = verdict_lines(machine, sources, loss, checked)
    return Diff(before.path, after.path, (before.kind, after.kind), level, machine, sources, loss, causes, latency,
                settings, checked, verdict)


def flatten(record, prefix: str = "") -> dict:
    """A nested record as dotted keys -> values (lists kept whole)."""
    if not isinstance(record, dict):
        return {prefix: record}
    flat = {}
    for key, value in record.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten(value, name) if isinstance(value, dict) and value else {name: value})
    return flat


def machine_changes(before: Side, after: Side) -> dict:
    """The recorded settings that differ, and each side's steal share of the poller's CPU."""
    steal = {"before": before.steal_share, "after": after.steal_share}
    if before.environment is None or after.environment is None:
        missing = [name for name, side in (("before", before), ("after", after)) if side.environment is None]
        return {"recorded": False, "why": f"no machine record on the {' and '.join(missing)} side "
                                          "(simulated runs and pooled profiles have none)",
                "changed": [], "poller_cpu_steal_share": steal}
    old, new = flatten(before.environment), flatten(after.environment)
    changed = [{"setting": key, "before": old.get(key), "after": new.get(key)}
               for key in sorted(set(old) | set(new))
               if key not in NOT_SETTINGS and old.get(key) != new.get(key)]
    return {"recorded": True, "changed": changed, "poller_cpu_steal_share": steal}


def source_changes(before: Side, after: Side, level: float) -> dict:
    """Per source seen on either side: rates with exact intervals, the test of equal rates, the
    share of time and the longest pause, before and after."""
    changes = {}
    for name in sorted(set(before.sources) | set(after.sources)):
        old, new = before.sources.get(name), after.sources.get(name)
        test = compare_rates(old.count if old else 0, before.seconds, new.count if new else 0, after.seconds, level)
        changes[name] = {"before": _side_rate(test, old, test.before_count, before.seconds),
                         "after": _side_rate(test, new, test.after_count, after.seconds),
                         "rate_ratio": test.after_per_second / test.before_per_second if test.before_count else None,
                         "rate_ratio_interval": [test.ratio_low, test.ratio_high], "p_value": test.p_value,
                         "test": "conditional binomial test of two Poisson rates (exact, two-sided)"}
    return changes


def _side_rate(test, pauses, count: int, seconds: float) -> dict:
    return {"count": count, "seconds": seconds, "per_second": count / seconds,
            "per_second_interval": test.interval(count, seconds),
            "share_of_time": (pauses.total_ns / (seconds * 1e9)) if pauses else 0.0,
            "longest_ns": pauses.longest_ns if pauses else None}


def loss_change(before: Side, after: Side, level: float, rng: np.random.Generator) -> dict:
    """The pooled loss of each side with its interval, and the change with its interval (a bootstrap
    over blocks of packets, each side resampled on its own)."""
    old, new = _loss_resamples(before, rng), _loss_resamples(after, rng)
    change = new - old if old is not None and new is not None else None
    figures = {"before": before.lost / before.packets, "after": after.lost / after.packets, "level": level,
               "before_interval": _loss_interval(before, old, level), "after_interval": _loss_interval(after, new, level)}
    figures["change"] = figures["after"] - figures["before"]
    if change is not None:
        figures["change_interval"] = interval(change, level)
        figures["method"] = (f"bootstrap over blocks of arrivals (100 ms, or a twentieth of a shorter run; {RESAMPLES} "
                             "resamples): drops come in bursts, one per pause, so packets are not independent")
    else:
        figures["change_interval"] = None
        figures["method"] = ("exact binomial intervals taking packets as independent (a side has one run and no "
                             "trace): narrower than the truth where drops come in bursts")
    return figures


def _loss_resamples(side: Side, rng) -> np.ndarray | None:
    if side.blocks is None or len(side.blocks.packets) < 2:
        return None
    return loss_resamples(side.blocks, resample_weights(len(side.blocks.packets), rng))


def _loss_interval(side: Side, resamples, level: float) -> list[float]:
    if resamples is None:
        return binomial_interval(side.lost, side.packets, level)
    return interval(resamples, level)


def latency_change(before: Side, after: Side, level: float, rng) -> dict | None:
    """The latency percentiles of the delivered packets, each side with its bootstrap interval
    (needs the runs' traces)."""
    sides = []
    for side in (before, after):
        if side.blocks is None or side.blocks.latency_counts is None or len(side.blocks.packets) < 2:
            return None
        sides.append((side.blocks, resample_weights(len(side.blocks.packets), rng)))
    (old, old_w), (new, new_w) = sides
    figures = {}
    for name, quantile in LATENCY_QUANTILES.items():
        figures[name] = {"before": _percentile_of_all(old, quantile), "after": _percentile_of_all(new, quantile),
                         "before_interval": interval(percentile_resamples(old, old_w, quantile), level),
                         "after_interval": interval(percentile_resamples(new, new_w, quantile), level)}
    return figures


def _percentile_of_all(blocks, quantile: float) -> float:
    """The percentile of every block's reads together (each block taken once)."""
    return float(percentile_resamples(blocks, np.ones((1, len(blocks.packets)), np.int64), quantile)[0])


def drops_by_cause(before: Side, after: Side) -> dict:
    """The drops each cause made, per million packets, before and after."""
    causes = {}
    for side_name, side in (("before", before), ("after", after)):
        for run in side.runs:
            for cause, count in run.drops_by_cause.items():
                causes.setdefault(cause, {"before": 0, "after": 0})[side_name] += int(count)
    return {cause: {**counts, "before_per_million": 1e6 * counts["before"] / before.packets,
                    "after_per_million": 1e6 * counts["after"] / after.packets}
            for cause, counts in sorted(causes.items()) if counts["before"] or counts["after"]}


def setting_changes(before: Side, after: Side, level: float, rng) -> list:
    """Per setting run on both sides (policy, ring slots, interval), the loss before and after."""
    rows = []
    for setting in sorted(set(before.blocks_by_setting) & set(after.blocks_by_setting)):
        row = {"policy": setting[0], "ring_slots": setting[1], "interval_ns": setting[2]}
        for name, side in (("before", before), ("after", after)):
            blocks = side.blocks_by_setting[setting]
            row[name] = blocks.loss_fraction
            row[f"{name}_interval"] = (interval(loss_resamples(blocks, resample_weights(len(blocks.packets), rng)), level)
                                       if len(blocks.packets) > 1 else
                                       binomial_interval(int(blocks.lost.sum()), int(blocks.packets.sum()), level))
        rows.append(row)
    return rows


def check_prediction(prediction_dir, after: Side) -> dict:
    """Whether the runs after the change fell inside the band of a prediction made before it, and by
    what factor the median missed."""
    from ringlab.compare.model.predict import PredictedLoss

    prediction = PredictedLoss.load(prediction_dir)
    if not after.runs:
        raise InputError("--predicted", "AFTER is a pause profile: a prediction is checked against runs")
    low, median, high = prediction.low, prediction.median, prediction.high
    if prediction.setting is not None:
        wanted = prediction.setting
        other = [run for run in after.runs if run.setting != wanted]
        if other:
            raise InputError("--predicted", f"predicted for {_setting_text(wanted)}, but {other[0].path} ran "
                                            f"{_setting_text(other[0].setting)}")
    losses = [run.lost / run.packets for run in after.runs]
    pooled = after.lost / after.packets
    inside = [low <= loss <= high for loss in losses]
    factor = (max(pooled, median) / min(pooled, median)) if min(pooled, median) > 0 else float("inf")
    return {"prediction": prediction.path, "without": list(prediction.without), "level": prediction.level,
            "band": {"median": median, "low": low, "high": high}, "losses_after": losses, "inside": sum(inside),
            "runs": len(losses), "pooled_after": pooled, "median_missed_by": factor,
            "direction": "above" if pooled > median else "below" if pooled < median else "at"}


def _setting_text(setting) -> str:
    return f"policy {setting[0]}, {setting[1]} slots, interval {setting[2]} ns"


def _share_change(figures: dict) -> float:
    return abs(figures["after"]["share_of_time"] - figures["before"]["share_of_time"])


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def percent(value: float) -> str:
    return f"{100 * value:.3f}%" if value == value else "n/a"


def verdict_lines(machine: dict, sources: dict, loss: dict | None, predicted: dict | None) -> tuple[str, ...]:
    """What a person reads first: the sources whose rate changed (exact test below SIGNIFICANT), those
    whose share of the poller's time changed most first (with thousands of pauses a second, a small
    drift is significant too); the loss, what changed on the machine, and the prediction's check."""
    lines = []
    changed = sorted(((figures["p_value"], name) for name, figures in sources.items()
                      if figures["p_value"] < SIGNIFICANT), key=lambda item: (-_share_change(sources[item[1]]), item[1]))
    for p_value, name in changed[:VERDICT_SOURCES]:
        figures = sources[name]
        lines.append(f"{name}: {figures['before']['per_second']:.3g}/s -> {figures['after']['per_second']:.3g}/s "
                     f"({p_text(p_value)})")
    if len(changed) > VERDICT_SOURCES:
        lines.append(f"... and {len(changed) - VERDICT_SOURCES} more sources changed (diff.json)")
    steady = len(sources) - len(changed)
    lines.append(f"{steady} of {len(sources)} pause sources show no change in rate at p < {SIGNIFICANT}"
                 if sources else "no background pause on either side")
    if loss is not None:
        change_interval = loss["change_interval"]
        if change_interval is None:
            word = "(one run a side: see diff.json)"
        elif change_interval[1] < 0:
            word = "fell"
        elif change_interval[0] > 0:
            word = "rose"
        else:
            word = "no change shown"
        span = (f", change {100 * loss['change']:+.3f}% ({100 * loss['level']:g}% interval "
                f"{100 * change_interval[0]:+.3f}..{100 * change_interval[1]:+.3f}%)" if change_interval else "")
        lines.append(f"loss {percent(loss['before'])} -> {percent(loss['after'])}: {word}{span}")
    if not machine["recorded"]:
        lines.append(f"machine: {machine['why']}")
    elif machine["changed"]:
        shown = "; ".join(f"{c['setting']} {c['before']!r} -> {c['after']!r}" for c in machine["changed"][:4])
        more = f" (and {len(machine['changed']) - 4} more)" if len(machine["changed"]) > 4 else ""
        lines.append(f"machine: {len(machine['changed'])} recorded settings changed: {shown}{more}")
    else:
        lines.append("machine: no recorded setting changed")
    if predicted is not None:
        band = predicted["band"]
        without = f" without {', '.join(predicted['without'])}" if predicted["without"] else ""
        lines.append(f"prediction{without}: {predicted['inside']} of {predicted['runs']} runs after inside its band "
                     f"{percent(band['low'])}..{percent(band['high'])}; pooled {percent(predicted['pooled_after'])} is "
                     f"{predicted['median_missed_by']:.2f}x {predicted['direction']} its median {percent(band['median'])}")
    return tuple(lines)


def write_diff(out_dir, diff: Diff, before: Side, after: Side) -> Path:
    """``diff.json`` and the figure in ``out_dir``, each whole."""
    from ringlab.atomic_files import write_json
    from ringlab.compare.change.diff_plot import diff_figure
    from ringlab.provenance import provenance
    from ringlab.views.timeline_plot import save_figure

    out_dir = Path(out_dir)
    save_figure(diff_figure(diff, before, after), out_dir / FIGURE_FILE)
    path = out_dir / DIFF_FILE
    write_json(path, {**provenance("sim"), **_finite(diff.to_dict())})
    return path


def _finite(value):
    """JSON has no infinity: an unbounded figure is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
