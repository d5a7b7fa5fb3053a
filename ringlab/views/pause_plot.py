"""Pause lengths as a survival function, on log-log axes: the shape people read tails from.
Used for a machine's pause profile (``ringlab hw profile``) and by the comparison report."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

US = 1e3


def survival(lengths_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lengths sorted, and the share of pauses at least that long."""
    lengths = np.sort(np.asarray(lengths_ns, float))
    return lengths, 1.0 - np.arange(len(lengths)) / max(1, len(lengths))


def survival_figure(series: dict, title: str, curves: dict | None = None):
    """One step curve per named array of pause lengths (ns); ``curves`` adds named (x_ns, share)
    lines, e.g. a fitted distribution's survival function."""
    figure, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    for name, lengths in series.items():
        if len(lengths):
            x, share = survival(lengths)
            ax.step(x / US, share, where="post", label=f"{name} ({len(lengths)})")
    for name, (x_ns, share) in (curves or {}).items():
        ax.plot(np.asarray(x_ns) / US, share, "--", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pause length (µs)")
    ax.set_ylabel("share of pauses at least this long")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    return figure
