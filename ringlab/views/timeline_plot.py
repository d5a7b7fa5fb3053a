"""A run's timeline with matplotlib: which id each slot holds over time, the indices, stalls and
pauses, warnings, and each read's latency."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ringlab.analysis.latency import latencies  # noqa: E402
from ringlab.analysis.summary import index_timeline, poller_warnings  # noqa: E402
from ringlab.atomic_files import atomic_path  # noqa: E402
from ringlab.errors import InputError  # noqa: E402
from ringlab.trace.pauses import BACKGROUND  # noqa: E402
from ringlab.trace.records import DELIVERED, IN_RING, NOT_SET, Trace  # noqa: E402

US = 1e3
MAX_DRAWN = 20_000  # marks of one series beyond which a wide window is drawn decimated
BINS = 2_000        # time bins of a decimated series (more than the figure has pixel columns)
ID_COLOURS = plt.get_cmap("viridis")  # a slot's packet, by id
STALL_COLOUR, PAUSE_COLOUR = "0.85", "navajowhite"  # shading: an injected stall, a pause of the machine's


def decimated(time_ns: np.ndarray, values: np.ndarray, from_ns: int, to_ns: int) -> np.ndarray:
    """Which points of a series (in time order) to draw: all of them up to MAX_DRAWN; beyond, in each
    of BINS time bins the lowest and the highest, so the drawing keeps the series' envelope (what
    a figure can show of millions of points) and every extreme."""
    if len(time_ns) <= MAX_DRAWN:
        return np.arange(len(time_ns))
    bins = np.clip((time_ns - from_ns) * BINS // max(1, to_ns - from_ns), 0, BINS - 1)
    order = np.lexsort((values, bins))
    edge = np.diff(bins[order]) != 0
    return np.sort(order[np.r_[True, edge] | np.r_[edge, True]])


def merged_bars(starts: np.ndarray, ends: np.ndarray, pixel_ns: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One slot's bars (by start) with those less than a pixel apart merged, beyond MAX_DRAWN bars:
    the merged bars' starts, ends, and the index of the first bar of each."""
    first = np.arange(len(starts))
    if len(starts) <= MAX_DRAWN:
        return starts, ends, first
    reach = np.maximum.accumulate(ends)
    new = np.r_[True, starts[1:] - reach[:-1] > pixel_ns]
    heads = first[new]
    return starts[heads], np.maximum.reduceat(ends, heads), heads


def default_window_ns(trace: Trace) -> tuple[int, int]:
    """Around the first stall: from a few ring-fulls before it to several ring-fulls after it."""
    interval_ns = int(np.median(np.diff(trace.arrival_ns))) if trace.packets > 1 else 1000
    span = 4 * trace.ring_slots * max(1, interval_ns)
    if len(trace.stall_start_ns):
        start = int(trace.stall_start_ns[0])
        return max(0, start - span // 4), min(trace.end_ns, start + int(trace.stall_length_ns[0]) + 2 * span)
    return 0, min(trace.end_ns, span)


def draw_timeline(ax_slots, ax_index, trace: Trace, from_ns: int, to_ns: int, title: str = "") -> None:
    """Draw the slots × time panel on ``ax_slots`` and the index panel on ``ax_index``."""
    n = trace.ring_slots
    held = np.flatnonzero((trace.fate == DELIVERED) | (trace.fate == IN_RING))
    until = np.where(trace.delivery_ns[held] == NOT_SET, trace.end_ns, trace.delivery_ns[held])
    visible = (trace.decided_ns[held] < to_ns) & (until > from_ns)
    held, until = held[visible], until[visible]
    ids = trace.id[held]
    id_scale = Normalize(ids.min(), max(ids.max(), ids.min() + 1)) if len(ids) else Normalize(0, 1)
    colour = ID_COLOURS(id_scale(ids))
    pixel_ns = (to_ns - from_ns) / BINS
    for slot in range(n):
        mine = np.flatnonzero(trace.slot[held] == slot)
        mine = mine[np.argsort(trace.decided_ns[held][mine], kind="stable")]
        starts, ends, heads = merged_bars(trace.decided_ns[held][mine], until[mine], pixel_ns)
        ax_slots.broken_barh(list(zip(starts / US, (ends - starts) / US)), (slot - 0.4, 0.8),
                             facecolors=colour[mine][heads], edgecolor="none")
    timeline = index_timeline(trace)
    in_window = np.flatnonzero((timeline.time_ns >= from_ns) & (timeline.time_ns <= to_ns))
    t_ns = timeline.time_ns[in_window]
    for ax, values, style in (
            (ax_slots, timeline.reader_index, dict(color="tab:red", lw=1.2, label="poller index r")),
            (ax_slots, timeline.writer_index, dict(color="black", lw=0.8, ls="--", label="writer index w")),
            (ax_index, timeline.occupancy, dict(color="tab:blue", label="packets in ring")),
            (ax_index, timeline.offset_k(n), dict(color="tab:purple", label="writer's offset k (w - r - packets in ring, mod N)"))):
        drawn = decimated(t_ns, values[in_window], from_ns, to_ns)
        ax.step(t_ns[drawn] / US, values[in_window][drawn], where="post", **style)
    delivered = trace.delivered_ids()
    warned = poller_warnings(delivered)[:, 2]
    warn_times = np.sort(trace.delivery_ns[warned - 1])
    warn_times = warn_times[(warn_times >= from_ns) & (warn_times <= to_ns)]
    warn_times = warn_times[decimated(warn_times, np.zeros(len(warn_times)), from_ns, to_ns)] / US
    ax_slots.plot(warn_times, np.full(len(warn_times), n - 0.3), "v", color="crimson", ms=4, label="poller warning")
    pauses = trace.pauses
    background = pauses.select(pauses.kind == BACKGROUND)
    for ax in (ax_slots, ax_index):
        for start, length in zip(trace.stall_start_ns, trace.stall_length_ns):
            if start < to_ns and start + length > from_ns:
                ax.axvspan(start / US, (start + length) / US, color=STALL_COLOUR, zorder=0)
        for start, length in zip(background.start_ns, background.length_ns):
            if start < to_ns and start + length > from_ns:
                ax.axvspan(start / US, (start + length) / US, color=PAUSE_COLOUR, zorder=0)
        ax.set_xlim(from_ns / US, to_ns / US)
    for start, length, source in zip(background.start_ns, background.length_ns, background.labels()):
        if start < to_ns and start + length > from_ns and length > (to_ns - from_ns) / 20:  # name the long ones
            middle = (max(start, from_ns) + min(start + length, to_ns)) / 2 / US
            ax_index.text(middle, 0.5, str(source), transform=ax_index.get_xaxis_transform(), ha="center",
                          va="center", fontsize="small", color="saddlebrown")
    ax_slots.set_ylim(-0.6, n - 0.1)
    ax_slots.set_ylabel("slot")
    shading = [Patch(color=STALL_COLOUR, label="poller stalled (injected)"),
               Patch(color=PAUSE_COLOUR, label="the machine paused it")]
    note = " (decimated: extremes per time bin)" if len(held) > MAX_DRAWN or len(in_window) > MAX_DRAWN else ""
    if title or note:
        ax_slots.set_title(title + note, fontsize="medium")
    # Legends and the id scale beside the panels, where they cover no data.
    handles, _ = ax_slots.get_legend_handles_labels()
    ax_slots.legend(handles=handles + shading, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="x-small")
    colour_bar = plt.colorbar(ScalarMappable(id_scale, ID_COLOURS), ax=ax_slots, location="left", pad=0.01,
                              fraction=0.03)
    colour_bar.set_label("packet id in the slot", fontsize="small")
    ax_index.set_ylabel("slots")
    ax_index.set_xlabel("time since start of run (µs)")
    ax_index.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="x-small")


def plot_run(trace: Trace, out_stem, from_ns: int | None = None, to_ns: int | None = None,
             title: str = "") -> list[Path]:
    """Write the timeline of one run between two times (by default around its first stall) as
    ``out_stem.png`` and ``out_stem.svg``; return their paths."""
    default_from, default_to = default_window_ns(trace)
    from_ns = default_from if from_ns is None else from_ns
    to_ns = default_to if to_ns is None else to_ns
    if to_ns <= from_ns:
        raise InputError("--to", "must be after --from")
    figure, (ax_slots, ax_index, ax_latency) = plt.subplots(
        3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.2]}, constrained_layout=True
    )
    draw_timeline(ax_slots, ax_index, trace, from_ns, to_ns, title)
    ax_index.set_xlabel("")
    draw_latency(ax_latency, trace, from_ns, to_ns)
    return save_figure(figure, Path(out_stem))


def draw_latency(ax, trace: Trace, from_ns: int, to_ns: int) -> None:
    """Each read's latency (from reaching the writer to being read) at the time it was read; the
    packets read out of order (after a larger id) apart."""
    lat = latencies(trace)
    read_ns = trace.delivery_ns[lat.ids - 1]
    shown = (read_ns >= from_ns) & (read_ns <= to_ns)
    for late, colour, label in ((False, "tab:green", "read in order"), (True, "tab:red", "read out of order (old)")):
        mine = np.flatnonzero(shown & (lat.out_of_order == late))
        mine = mine[np.argsort(read_ns[mine], kind="stable")]
        mine = mine[decimated(read_ns[mine], lat.latency_ns[mine], from_ns, to_ns)]
        if len(mine):
            ax.plot(read_ns[mine] / US, np.maximum(lat.latency_ns[mine], 1) / US, ".", ms=2, color=colour, label=label)
    ax.set_yscale("log")
    ax.set_ylabel("latency (µs)")
    ax.set_xlabel("time since start of run (µs)")
    ax.set_xlim(from_ns / US, to_ns / US)
    if ax.lines:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="x-small")


def save_figure(figure, stem: Path) -> list[Path]:
    """Write ``figure`` as ``stem.png`` and ``stem.svg`` (each atomically) and close it."""
    paths = []
    for suffix in (".png", ".svg"):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=120, format=suffix[1:])
        paths.append(path)
    plt.close(figure)
    return paths


def plot_run_directory(run_dir, from_ns: int | None = None, to_ns: int | None = None) -> list[Path]:
    """Draw the timeline of the run in ``run_dir`` beside it (``timeline.png``, ``timeline.svg``),
    titled with its scenario, backend and policy; return the paths."""
    from ringlab.runs.run_directory import load_run

    trace, summary = load_run(run_dir)
    from ringlab.scenario.fields import DEFAULTS

    policy = summary.scenario.get("writer", {}).get("policy", DEFAULTS["writer"]["policy"])
    title = f"{summary.scenario_name} [{summary.backend}], policy {policy}"
    return plot_run(trace, Path(run_dir) / "timeline", from_ns, to_ns, title)
