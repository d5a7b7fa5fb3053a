"""One side of a change, read from what ringlab wrote: a run directory, a sweep's output, or a
pause profile. A side holds the background pauses by source with the time they were seen in, the
packets in blocks (runs only), the machine's recorded settings, and each run's setting and loss."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ringlab.compare.change.statistics import Blocks, blocks_of_trace
from ringlab.errors import InputError
from ringlab.runs.run_record import RunRecord

BACKGROUND_PREFIX = "background: "


@dataclass(frozen=True)
class SourcePauses:
    """One source's pauses on one side: how many, in how many seconds, their total and longest, and
    their lengths where the side kept them (None from summaries alone)."""

    count: int
    total_ns: int
    longest_ns: int | None
    lengths_ns: np.ndarray | None


@dataclass(frozen=True)
class RunFigures:
    """One run of a side: its setting, packets and losses, drops by cause."""

    path: str
    setting: tuple  # (policy, ring_slots, interval_ns)
    packets: int
    lost: int
    drops_by_cause: dict


@dataclass(frozen=True)
class Side:
    """What one side of ``ringlab diff`` holds (see the module's docstring)."""

    path: str
    kind: str  # "run", "sweep" or "profile"
    seconds: float  # the time the pauses were seen in
    sources: dict  # source -> SourcePauses
    runs: tuple[RunFigures, ...] = ()
    blocks: Blocks | None = None
    blocks_by_setting: dict = field(default_factory=dict)  # setting -> Blocks
    environment: dict | None = None
    steal_share: float | None = None  # the poller CPU's time taken by the hypervisor, over the runs

    @property
    def packets(self) -> int:
        return sum(run.packets for run in self.runs)

    @property
    def lost(self) -> int:
        return sum(run.lost for run in self.runs)


def read_side(path, where: str) -> Side:
    """The side at ``path`` (a run, a sweep's output, or a pause profile); an InputError naming
    ``where`` for anything else."""
    from ringlab.runs.run_directory import load_summary
    from ringlab.trace.pause_profile import ARRAYS_FILE, PROFILE_FILE

    path = Path(path)
    if not path.is_dir():
        raise InputError(where, f"{path} is not a directory (give a run, a sweep's output or a pause profile)")
    if (path / PROFILE_FILE).is_file() and (path / ARRAYS_FILE).is_file():
        return _profile_side(path)
    if (path / "summary.json").is_file():
        return _runs_side(path, [(path, load_summary(path))], "run")
    points = path / "points"
    if points.is_dir():
        runs = [(p, load_summary(p)) for p in sorted(points.iterdir()) if (p / "summary.json").is_file()]
        if not runs:
            raise InputError(where, f"{path}: a sweep with no finished point")
        hardware = [(p, summary) for p, summary in runs if summary.backend == "hw"]
        return _runs_side(path, hardware or runs, "sweep")  # the machine's change is measured on its hardware points
    raise InputError(where, f"{path} is neither a run (summary.json), a sweep (points/) nor a pause profile "
                            "(profile.json and pauses.npz)")


def join_sides(sides: list[Side], label: str) -> Side:
    """The runs of ``sides`` as one side named ``label`` (an experiment's arm, for ``ringlab diff``)."""
    from ringlab.runs.run_directory import load_summary

    runs = [Path(run.path) for side in sides for run in side.runs]
    return _runs_side(Path(label), [(run, load_summary(run)) for run in runs], "experiment arm")


def _profile_side(path: Path) -> Side:
    from ringlab.trace.pause_profile import load_profile

    profile = load_profile(path)
    labels = profile.labels()
    sources = {}
    for name in profile.source_names:
        lengths = profile.length_ns[labels == name]
        sources[name] = SourcePauses(len(lengths), int(lengths.sum()), int(lengths.max()), lengths)
    return Side(str(path), "profile", profile.duration_ns / 1e9, sources,
                environment=profile.origin.get("environment"))


def _runs_side(path: Path, runs_and_summaries: list[tuple[Path, RunRecord]], kind: str) -> Side:
    """The runs' pauses (from their traces where kept, else from their summaries), blocks and figures."""
    from ringlab.analysis.profile_segment import background_pauses_inside
    from ringlab.runs.run_directory import load_trace

    lengths, totals, seconds, runs, blocks, by_setting = {}, {}, 0.0, [], [], {}
    environment, steal_ns, steal_seconds = None, 0, 0.0
    for run_dir, summary in runs_and_summaries:
        figures = summary.summary
        setting = _setting_of(summary)
        runs.append(RunFigures(str(run_dir), setting, figures.packets, figures.dropped_full + figures.lost_before_ring,
                               dict(figures.drops_by_cause)))
        environment = environment or summary.environment
        if summary.has_trace:
            trace = load_trace(run_dir, summary)
            start, length, label = background_pauses_inside(trace)
            for name in np.unique(label):
                lengths.setdefault(str(name), []).append(length[label == name])
            run_seconds = trace.end_ns / 1e9
            run_blocks = blocks_of_trace(trace)
        else:  # summary only: counts and time by source, over the planned duration
            for key, counts in figures.pauses_by_source.items():
                if key.startswith(BACKGROUND_PREFIX):
                    name = key.removeprefix(BACKGROUND_PREFIX)
                    totals.setdefault(name, [0, 0])
                    totals[name][0] += int(counts["count"])
                    totals[name][1] += int(counts["total_ns"])
            run_seconds = runs[-1].packets * setting[2] / 1e9
            run_blocks = Blocks(np.array([runs[-1].packets]), np.array([runs[-1].lost]), None)
        seconds += run_seconds
        blocks.append(run_blocks)
        by_setting.setdefault(setting, []).append(run_blocks)
        steal = (summary.pause_tracing or {}).get("poller_cpu_steal_ns")
        if steal is not None:
            steal_ns += int(steal)
            steal_seconds += run_seconds
    sources = {name: SourcePauses(sum(len(p) for p in parts), int(sum(int(p.sum()) for p in parts)),
                                  int(max(int(p.max()) for p in parts)), np.concatenate(parts))
               for name, parts in lengths.items()}
    for name, (count, total) in totals.items():
        known = sources.get(name)
        sources[name] = SourcePauses(count + (known.count if known else 0), total + (known.total_ns if known else 0),
                                     known.longest_ns if known else None, None)
    return Side(str(path), kind, seconds, sources, tuple(runs), Blocks.join(blocks),
                {setting: Blocks.join(parts) for setting, parts in by_setting.items()}, environment,
                steal_ns / (steal_seconds * 1e9) if steal_seconds > 0 else None)


def _setting_of(summary: RunRecord) -> tuple:
    """A run's setting: its writer policy, ring slots and interval in ns (read from its checked
    scenario table: a stall file it names need not exist any more)."""
    from ringlab.scenario.units import parse_time_ns

    scenario = summary.scenario
    interval = scenario.get("interval", 0)
    interval_ns = parse_time_ns(interval, "interval") if isinstance(interval, str) else int(interval)
    return (scenario.get("writer", {}).get("policy", "buggy"), int(scenario.get("ring_slots", 0)), interval_ns)
