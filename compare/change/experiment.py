"""What a knob did: the paired analysis of an experiment directory (``ringlab hw experiment``).

Per pause source, the rate with and without the knobs with the exact test stratified by pair and
the sign-flip test over pairs; the loss with and without and its change with a two-level bootstrap
interval (pairs, then blocks within each trial); the latency p50/p99/p99.9 of each arm with
intervals. ``experiment.json`` holds every figure; the verdict lines come first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.atomic_files import read_json
from ringlab.compare.change.diff import LATENCY_QUANTILES, SIGNIFICANT, VERDICT_SOURCES, _finite, p_text, percent
from ringlab.compare.change.paired import paired_rates, paired_resamples, percentile_of_counts
from ringlab.compare.change.sides import Side, read_side
from ringlab.compare.change.statistics import interval
from ringlab.errors import InputError

PLAN_FILE = "plan.json"  # written by ringlab.hw.knobs.experiment
EXPERIMENT_FILE = "experiment.json"
FIGURE_FILE = "experiment.png"
ARMS = ("with", "without")


@dataclass(frozen=True)
class Experiment:
    """Every figure of an experiment (see the module's docstring)."""

    path: str
    plan: dict
    level: float
    sources: dict
    loss: dict
    loss_by_pair: list
    latency: dict | None
    verdict: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"path": self.path, "knobs": self.plan["knobs"], "found": self.plan["found"],
                "meant_to_remove": self.plan.get("meant_to_remove", {}), "pairs": self.plan["pairs"],
                "seed": self.plan["seed"], "order": self.plan["order"], "level": self.level,
                "verdict": list(self.verdict), "sources": self.sources, "loss_fraction": self.loss["fraction"],
                "loss_change": self.loss["change"], "loss_by_pair": self.loss_by_pair, "latency": self.latency}


def read_plan(path) -> dict:
    """The plan of the experiment at ``path``, or an InputError naming it."""
    plan_path = Path(path) / PLAN_FILE
    if not plan_path.is_file():
        raise InputError(str(path), "is not an experiment directory (no plan.json: 'ringlab hw experiment --out')")
    return read_json(plan_path)


def read_arms(path) -> tuple[dict, list[Side], list[Side]]:
    """The plan and each pair's two trials, in pair order (with, without); an InputError where a
    trial is missing (an experiment stopped early: run it again to finish it)."""
    plan = read_plan(path)
    with_sides, without_sides = [], []
    for pair in range(1, plan["pairs"] + 1):
        for arm, sides in (("with", with_sides), ("without", without_sides)):
            trial = Path(path) / "trials" / f"{pair:02d}-{arm}"
            if not (trial / "summary.json").is_file():
                raise InputError(str(path), f"trial {trial.name} is not done: run the same 'ringlab hw experiment' "
                                            "again to finish it")
            sides.append(read_side(trial, str(trial)))
    return plan, with_sides, without_sides


def analyse_experiment(path, level: float = 0.95, seed: int = 0) -> tuple[Experiment, list[Side], list[Side]]:
    """The experiment at ``path``, analysed (see the module's docstring)."""
    plan, with_sides, without_sides = read_arms(path)
    sources = {}
    for name in sorted({name for side in with_sides + without_sides for name in side.sources}):
        rates = paired_rates(_counts(with_sides, name), [s.seconds for s in with_sides],
                             _counts(without_sides, name), [s.seconds for s in without_sides])
        sources[name] = {
            "with": {"per_second": rates.with_per_second, "count": sum(rates.with_counts),
                     "per_pair": list(rates.with_counts)},
            "without": {"per_second": rates.without_per_second, "count": sum(rates.without_counts),
                        "per_pair": list(rates.without_counts)},
            "p_value": rates.p_value, "p_value_exact": rates.p_value_exact, "dispersion": rates.dispersion,
            "rate_ratio": rates.rate_ratio, "p_value_pairs": rates.p_value_pairs,
            "pairs_lower_with": rates.pairs_lower_with}
    rng = np.random.default_rng(seed)
    with_arm, without_arm = paired_resamples([s.blocks for s in with_sides], [s.blocks for s in without_sides], rng)
    fraction = {"with": _pooled_loss(with_sides), "without": _pooled_loss(without_sides)}
    low, high = interval(with_arm.loss - without_arm.loss, level)
    loss = {"fraction": {**fraction, "with_interval": interval(with_arm.loss, level),
                         "without_interval": interval(without_arm.loss, level)},
            "change": {"value": fraction["with"] - fraction["without"], "low": low, "high": high, "level": level}}
    by_pair = [{"pair": pair + 1, "with": w.lost / w.packets if w.packets else None,
                "without": o.lost / o.packets if o.packets else None}
               for pair, (w, o) in enumerate(zip(with_sides, without_sides))]
    latency = None
    if with_arm.latency_counts is not None and without_arm.latency_counts is not None:
        latency = {}
        for key, quantile in LATENCY_QUANTILES.items():
            latency[key] = {arm: {"value": float(percentile_of_counts(
                                sum(s.blocks.latency_counts.sum(axis=0) for s in sides), quantile)[0]),
                                  "interval": interval(percentile_of_counts(resampled.latency_counts, quantile), level)}
                            for arm, sides, resampled in (("with", with_sides, with_arm),
                                                          ("without", without_sides, without_arm))}
    experiment = Experiment(str(path), plan, level, sources, loss, by_pair, latency, ())
    return Experiment(**{**experiment.__dict__, "verdict": verdict_lines(experiment)}), with_sides, without_sides


def _counts(sides: list[Side], name: str) -> list[int]:
    return [side.sources[name].count if name in side.sources else 0 for side in sides]


def _pooled_loss(sides: list[Side]) -> float:
    packets = sum(side.packets for side in sides)
    return sum(side.lost for side in sides) / packets if packets else float("nan")


def verdict_lines(experiment: Experiment) -> tuple[str, ...]:
    """What a person reads first: the knobs, the sources whose rate changed (stratified exact test
    below SIGNIFICANT, the largest change in rate first), the loss and the latency."""
    plan, sources = experiment.plan, experiment.sources
    knobs = ", ".join(f"{name}={value} (found {plan['found'].get(name)})" for name, value in plan["knobs"].items())
    lines = [f"{knobs}: {plan['pairs']} pairs of trials, interleaved"]
    changed = sorted((name for name, figures in sources.items() if figures["p_value"] < SIGNIFICANT),
                     key=lambda name: -abs(sources[name]["with"]["per_second"] - sources[name]["without"]["per_second"]))
    for name in changed[:VERDICT_SOURCES]:
        figures = sources[name]
        lower = figures["pairs_lower_with"]
        lines.append(f"{name}: {figures['without']['per_second']:.3g}/s without -> {figures['with']['per_second']:.3g}/s "
                     f"with ({p_text(figures['p_value'])}; lower with the knob in {lower} of {plan['pairs']} pairs, "
                     f"sign-flip {p_text(figures['p_value_pairs'])})")
    if len(changed) > VERDICT_SOURCES:
        lines.append(f"... and {len(changed) - VERDICT_SOURCES} more sources changed (experiment.json)")
    lines.append(f"{len(sources) - len(changed)} of {len(sources)} pause sources show no change in rate at "
                 f"p < {SIGNIFICANT} (of {len(sources)} tested, about {len(sources) * SIGNIFICANT:.2g} would pass by "
                 "chance alone)" if sources else "no background pause in any trial")
    for name, target in plan.get("meant_to_remove", {}).items():
        lines.append(f"{name} acts on: {target}")
    change, fraction = experiment.loss["change"], experiment.loss["fraction"]
    word = "fell" if change["high"] < 0 else "rose" if change["low"] > 0 else "change within noise"
    lines.append(f"loss {percent(fraction['without'])} without -> {percent(fraction['with'])} with: {word} "
                 f"(change {100 * change['value']:+.3f}%, {100 * change['level']:g}% interval "
                 f"{100 * change['low']:+.3f}..{100 * change['high']:+.3f}%)")
    if experiment.latency is not None:
        shown = "; ".join(f"{key.removesuffix('_ns').replace('_', '.')} {figures['without']['value'] / 1e3:.2f} -> "
                          f"{figures['with']['value'] / 1e3:.2f} us" for key, figures in experiment.latency.items())
        lines.append(f"latency without -> with: {shown}")
    return tuple(lines)


def write_experiment(out_dir, experiment: Experiment, with_sides: list[Side], without_sides: list[Side]) -> Path:
    """``experiment.json`` and ``experiment.png`` in ``out_dir``, each whole."""
    from ringlab.atomic_files import write_json
    from ringlab.compare.change.experiment_plot import experiment_figure
    from ringlab.provenance import provenance
    from ringlab.views.timeline_plot import save_figure

    out_dir = Path(out_dir)
    save_figure(experiment_figure(experiment, with_sides, without_sides), out_dir / FIGURE_FILE)
    path = out_dir / EXPERIMENT_FILE
    write_json(path, {**provenance("hw"), **_finite(experiment.to_dict())})
    return path
