"""A pause profile pooled from earlier runs: the background pauses each run's poller recorded (one
segment per run), what each pause did to the sender (the share of its planned packets that
arrived), and the read latencies no pause delayed, which give the costs' distribution."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ringlab.analysis.profile_segment import background_pauses_inside, catch_up_gaps, latency_body, sender_share_during
from ringlab.runs.run_directory import load_run
from ringlab.trace.pause_profile import PauseProfile, check_profile, profile_from_pauses, subsample


def pool_runs(run_dirs) -> PauseProfile:
    """The background pauses recorded by the runs in ``run_dirs`` (each a segment of its own), and
    the read latencies no pause delayed. The runs need their traces; the pause threshold is the
    largest of theirs."""
    segments, starts, lengths, labels, durations, body, names, shares, gaps = [], [], [], [], [], [], [], [], []
    threshold = 0
    for index, run_dir in enumerate(run_dirs):
        trace, summary = load_run(run_dir)
        run_threshold = _threshold_of(summary, run_dir)
        threshold = max(threshold, run_threshold)
        start, length, label = background_pauses_inside(trace)
        segments.append(np.full(len(start), index))
        starts.append(start)
        lengths.append(length)
        labels.extend(label.tolist())
        shares.append(sender_share_during(trace, start, length, _planned_arrivals(summary, run_dir)))
        gaps.append(catch_up_gaps(trace))
        durations.append(trace.end_ns)
        names.append(str(Path(run_dir).resolve()))
        if summary.backend == "hw":
            body.append(latency_body(trace, run_threshold))
    body_ns = np.concatenate(body) if body else np.zeros(0, np.int64)
    profile = profile_from_pauses(np.concatenate(segments) if segments else [],
                                  np.concatenate(starts) if starts else [], np.concatenate(lengths) if lengths else [],
                                  labels, durations, threshold, subsample(body_ns),
                                  {"kind": "pooled from runs", "runs": names, "catch_up_gap_ns": median_gap(gaps)},
                                  np.concatenate(shares) if shares else None)
    check_profile(profile, "pool")
    return profile


def median_gap(gaps: list[np.ndarray]) -> float | None:
    """The median of the sender's catch-up gaps over the runs (None where it never caught up)."""
    every = np.concatenate(gaps) if gaps else np.zeros(0)
    return float(np.median(every)) if len(every) else None


def _planned_arrivals(summary, run_dir) -> np.ndarray:
    """When the run's scenario planned its packets to arrive (its plan, drawn again from its seed)."""
    from ringlab.scenario.fields import scenario_from_dict
    from ringlab.scenario.plan import draw_plan

    return draw_plan(scenario_from_dict(summary.scenario, base_dir=Path(run_dir))).arrival_ns


def _threshold_of(summary, run_dir) -> int:
    """The pause threshold a run recorded with (its scenario's ``hw.pause_threshold``, in ns)."""
    from ringlab.scenario.units import parse_time_ns

    value = summary.scenario.get("hw", {}).get("pause_threshold", "1us")
    return parse_time_ns(value, f"{run_dir}: hw.pause_threshold") if isinstance(value, str) else int(value)


