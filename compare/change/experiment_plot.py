"""The figure of an experiment: each source's rate in every pair, without (left) and with (right)
the knobs, a line per pair, for the sources whose rate changed most; and the loss of every pair
the same way, with the pooled loss and its interval beside."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ringlab.compare.change.diff import p_text  # noqa: E402

SOURCES_SHOWN = 4


def experiment_figure(experiment, with_sides, without_sides):
    sources = experiment.sources
    ranked = sorted(sources, key=lambda name: (sources[name]["p_value"],
                                               -abs(sources[name]["with"]["per_second"] -
                                                    sources[name]["without"]["per_second"])))[:SOURCES_SHOWN]
    figure, axes = plt.subplots(1, len(ranked) + 1, figsize=(3.2 * (len(ranked) + 1), 4), constrained_layout=True,
                                squeeze=False)
    axes = axes[0]
    for ax, name in zip(axes, ranked):
        figures = sources[name]
        for pair, (w, o) in enumerate(zip(with_sides, without_sides)):
            rates = [figures["without"]["per_pair"][pair] / o.seconds, figures["with"]["per_pair"][pair] / w.seconds]
            ax.plot([0, 1], rates, "o-", color="0.5", alpha=0.7)
        ax.plot([0, 1], [figures["without"]["per_second"], figures["with"]["per_second"]], "s-", color="C3", lw=2.5,
                label="pooled")
        ax.set_title(f"{name}\n{p_text(figures['p_value'])}", fontsize=9)
        ax.set_ylabel("pauses per second")
        ax.set_xticks([0, 1], ["without", "with"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylim(bottom=0)
    loss_ax = axes[-1]
    for row in experiment.loss_by_pair:
        if row["with"] is not None and row["without"] is not None:
            loss_ax.plot([0, 1], [100 * row["without"], 100 * row["with"]], "o-", color="0.5", alpha=0.7)
    fraction = experiment.loss["fraction"]
    for x, arm in ((0, "without"), (1, "with")):
        low, high = fraction[f"{arm}_interval"]
        value = 100 * fraction[arm]
        loss_ax.errorbar([x], [value], yerr=[[value - 100 * low], [100 * high - value]], fmt="s", color="C3",
                         capsize=5, lw=2)
    change = experiment.loss["change"]
    loss_ax.set_title(f"loss, change {100 * change['value']:+.3f}%\n"
                      f"({100 * change['low']:+.3f}..{100 * change['high']:+.3f}%)", fontsize=9)
    loss_ax.set_ylabel("lost (%)")
    loss_ax.set_xticks([0, 1], ["without", "with"])
    loss_ax.set_xlim(-0.3, 1.3)
    loss_ax.set_ylim(bottom=0)
    knobs = ", ".join(f"{name}={value}" for name, value in experiment.plan["knobs"].items())
    figure.suptitle(f"{knobs}: {experiment.plan['pairs']} interleaved pairs (grey: one pair each)")
    return figure
