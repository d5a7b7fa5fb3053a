"""The figure of a change: per source, how often pauses at least so long came, before (solid) and
after (dashed), on log-log axes; and the loss before and after with its interval, beside the band
of a prediction made before the change."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ringlab.views.pause_plot import survival  # noqa: E402

US = 1e3
SOURCES_SHOWN = 6  # the sources with the most pause time on either side


def diff_figure(diff, before, after):
    figure, (pauses_ax, loss_ax) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=[2.2, 1],
                                                constrained_layout=True)
    ranked = sorted(diff.sources, key=lambda name: -max(diff.sources[name]["before"]["share_of_time"],
                                                        diff.sources[name]["after"]["share_of_time"]))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for colour, name in zip(colours, ranked[:SOURCES_SHOWN]):
        for side, style in ((before, "-"), (after, "--")):
            pauses = side.sources.get(name)
            if pauses is not None and pauses.lengths_ns is not None and len(pauses.lengths_ns):
                x, share = survival(pauses.lengths_ns)
                pauses_ax.step(x / US, share * len(x) / side.seconds, style, where="post", color=colour,
                               label=f"{name} ({'before' if side is before else 'after'})")
    pauses_ax.set_xscale("log")
    pauses_ax.set_yscale("log")
    pauses_ax.set_xlabel("pause length (µs)")
    pauses_ax.set_ylabel("pauses at least this long, per second")
    pauses_ax.set_title("pauses by source: before (solid), after (dashed)")
    pauses_ax.grid(True, which="both", alpha=0.3)
    if pauses_ax.lines:
        pauses_ax.legend(fontsize="x-small", ncol=2)
    _loss_panel(loss_ax, diff)
    return figure


def _loss_panel(ax, diff) -> None:
    loss = diff.loss
    if loss is None:
        ax.text(0.5, 0.5, "no loss: a side is a pause profile", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    for x, name in enumerate(("before", "after")):
        value = 100 * loss[name]
        low, high = (100 * v for v in loss[f"{name}_interval"])
        ax.errorbar([x], [value], yerr=[[value - low], [high - value]], fmt="o", capsize=6, color="black")
    if diff.predicted is not None:
        band = diff.predicted["band"]
        ax.axhspan(100 * band["low"], 100 * band["high"], color="tab:green", alpha=0.2,
                   label="band predicted before the change")
        ax.axhline(100 * band["median"], color="tab:green", lw=1)
        ax.legend(fontsize="small")
    ax.set_xticks([0, 1], ["before", "after"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel("loss (% of packets)")
    ax.set_title(f"loss with its {100 * loss['level']:g}% interval")
    ax.grid(True, axis="y", alpha=0.3)
