"""What the comparison explains about its measured points: the loss replayed from what each trial
measured, the loss predicted from a pause profile (``ringlab predict``, as a band), the measured
drops by cause, and the background pauses really recorded, against which a fitted background can
be judged.

The replayed runs become table rows of a backend of their own ("replay"), so the curves and their
statistics treat them like the simulated ones; the predictions are bands, one per setting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from ringlab.analysis.latency import latencies
from ringlab.analysis.summary import poller_warnings
from ringlab.compare.model.predict import predict
from ringlab.compare.model.replay import agreement, load_measured, replay
from ringlab.compare.sweeps.table import FIGURES, LATENCY_COLUMNS
from ringlab.trace.pause_profile import load_profile
from ringlab.trace.pauses import BACKGROUND

REPLAY = "replay"


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
    predictions: dict  # setting -> ringlab.compare.model.predict.Prediction, with a pause profile
    measured_losses: dict  # setting -> each trial's loss
    saved_by_source: dict  # source -> drops the replays without it saved, summed over the trials


def _row(hw_row: dict, backend: str, summary) -> dict:
    row = {key: value for key, value in hw_row.items() if key not in FIGURES and key not in LATENCY_COLUMNS}
    row["backend"] = backend
    row.update({name: getattr(summary, name) for name in FIGURES})
    row.update({column: getattr(summary, figure)[key] for column, (figure, key) in LATENCY_COLUMNS.items()})
    return row


SAVED_SOURCES = 5  # per trial, the sources that dropped most are replayed without, one at a time
REPORT_REPEATS = 40  # repeats of each setting's prediction in a report


def saved_drops(measured, scenario, replayed, by_source: dict) -> dict:
    """Per background source that dropped packets in the trial (the SAVED_SOURCES that dropped
    most): the drops a replay without its pauses saves. Not the drops attributed to it: a packet
    a removed pause dropped may still fall to the next pause."""
    saved = {}
    sources = sorted((s for s in by_source if s.startswith("background: ")), key=lambda s: -by_source[s])
    for source in sources[:SAVED_SOURCES]:
        without = replay(measured, scenario, without=(source.removeprefix("background: "),))
        saved[source] = replayed.summary.dropped_full - without.summary.dropped_full
    return saved


def explain(rows: list, varied: list, point_dir, profile_dir=None) -> Explanation:
    """Replay every measured point of ``rows``; predict it from ``profile_dir``'s pause profile if
    given; gather its drops by cause and its background pauses. ``point_dir(row)`` is the row's
    run directory."""
    if profile_dir is not None:
        load_profile(profile_dir)  # refuses, in one line, a directory that is not a profile
    predictions, measured_losses, saved = {}, defaultdict(list), defaultdict(int)
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
        if profile_dir is not None and setting not in predictions:
            predictions[setting] = predict(scenario, str(profile_dir), repeats=REPORT_REPEATS)
        measured_losses[setting].append(summary.summary.loss_fraction)
        figures = summary.summary  # the measured run's, loaded with its trace
        for source, count in saved_drops(measured, scenario, replayed, figures.drops_by_source).items():
            saved[source] += count
        for cause, count in figures.drops_by_cause.items():
            if cause != "background pause":  # given by its sources instead
                causes[setting][cause] += count
        for source, count in figures.drops_by_source.items():
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
                       {name: {"count": c, "total_ns": t} for name, (c, t) in by_source.items()},
                       predictions, dict(measured_losses), dict(saved))
