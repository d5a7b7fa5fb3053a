"""What the comparison explains about its measured points: the loss replayed from what each trial
measured, the loss predicted from the machine's pause profile (``ringlab hw noise``), the measured
drops by cause, and the background pauses really recorded, against which a fitted background can
be judged.

The replayed and predicted runs become table rows of their own backends ("replay", "noise"), so
the curves and their statistics treat them like the simulated ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.analysis.analysis import poller_warnings
from ringlab.analysis.latency import latencies
from ringlab.compare.replay import agreement, load_measured, replay
from ringlab.compare.table import FIGURES, LATENCY_COLUMNS
from ringlab.errors import InputError
from ringlab.runs.runner import run
from ringlab.trace.pauses import BACKGROUND

REPLAY, NOISE = "replay", "noise"


@dataclass(frozen=True)
class Explanation:
    """Rows of the replayed and noise-predicted runs (one per measured point), the replays'
    warning sizes and agreements per setting, the measured drops by cause per setting (background
    pauses given by their sources, "background: timer interrupt"), and the background pauses the
    trials recorded (pooled)."""

    rows: list
    replay_warning_sizes: dict
    replay_latencies: dict  # setting -> every read's latency in the replays (ns)
    measured_latencies: dict  # setting -> every read's latency in the trials (ns)
    agreement_by_setting: dict
    causes_by_setting: dict
    background_lengths_ns: np.ndarray
    background_running_ns: int  # the trials' time, for the rate
    background_by_source: dict


def _row(hw_row: dict, backend: str, summary) -> dict:
    row = {key: value for key, value in hw_row.items() if key not in FIGURES and key not in LATENCY_COLUMNS}
    row["backend"] = backend
    row.update({name: getattr(summary, name) for name in FIGURES})
    row.update({column: getattr(summary, figure)[key] for column, (figure, key) in LATENCY_COLUMNS.items()})
    return row


def noise_stalls(stalls: dict, noise_dir: Path) -> dict:
    """A scenario's stall table with the noise profile's pauses added (the empirical model)."""
    return {"model": "superposition",
            "models": [stalls, {"model": "empirical", "file": str(Path(noise_dir).resolve() / "pauses.csv")}]}


def explain(rows: list, varied: list, point_dir, noise_dir=None) -> Explanation:
    """Replay every measured point of ``rows``; predict it from ``noise_dir``'s pause profile if
    given; gather its drops by cause and its background pauses. ``point_dir(row)`` is the row's
    run directory."""
    if noise_dir is not None and not (Path(noise_dir) / "pauses.csv").is_file():
        raise InputError("--noise", f"{noise_dir} holds no pause profile (run 'ringlab hw noise --out {noise_dir}')")
    extra_rows, sizes, agreements = [], defaultdict(list), defaultdict(list)
    replay_latency, measured_latency = defaultdict(list), defaultdict(list)
    causes = defaultdict(lambda: defaultdict(int))
    lengths, running_ns, by_source = [], 0, defaultdict(lambda: [0, 0])
    for row in rows:
        if row["backend"] != "hw":
            continue
        setting = tuple((p, row[p]) for p in varied)
        directory = point_dir(row)
        measured, scenario, summary = load_measured(directory)
        replayed = replay(measured, scenario)
        extra_rows.append(_row(row, REPLAY, replayed.summary))
        sizes[setting].append(poller_warnings(replayed.delivered_ids)[:, 0])
        agreements[setting].append(agreement(measured, replayed.trace).same_fate_share)
        replay_latency[setting].append(latencies(replayed.trace).latency_ns)
        measured_latency[setting].append(latencies(measured).latency_ns)
        if noise_dir is not None:
            predicted = run(scenario.with_values({"stalls": noise_stalls(scenario.source["stalls"], noise_dir)}),
                            keep_trace=False)
            extra_rows.append(_row(row, NOISE, predicted.summary))
        figures = summary["summary"]  # the measured run's, loaded with its trace
        for cause, count in figures["drops_by_cause"].items():
            if cause != "background pause":  # given by its sources instead
                causes[setting][cause] += count
        for source, count in figures["drops_by_source"].items():
            if source.startswith("background: "):
                causes[setting][source] += count
        pauses = measured.pauses
        background = pauses.kind == BACKGROUND
        lengths.append(pauses.length_ns[background])
        running_ns += measured.end_ns
        for name, length in zip(pauses.labels()[background], pauses.length_ns[background]):
            by_source[str(name)][0] += 1
            by_source[str(name)][1] += int(length)
    return Explanation(extra_rows, {s: np.concatenate(v) for s, v in sizes.items()},
                       {s: np.concatenate(v) for s, v in replay_latency.items()},
                       {s: np.concatenate(v) for s, v in measured_latency.items()},
                       {s: float(np.mean(v)) for s, v in agreements.items()},
                       {s: dict(c) for s, c in causes.items()},
                       np.concatenate(lengths) if lengths else np.zeros(0, np.int64), running_ns,
                       {name: {"count": c, "total_ns": t} for name, (c, t) in by_source.items()})
