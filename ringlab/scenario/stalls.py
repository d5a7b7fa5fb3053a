"""Stall models, and the stall schedules they draw.

A stall model is a recipe; a :class:`StallSchedule` is what one draw of it gives: the start times
and lengths of the poller's stalls. Schedules are drawn up front from the scenario's seed, so the
simulator and the hardware poller consume the very same stalls.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ringlab.atomic_files import read_bounded
from ringlab.errors import InputError
from ringlab.scenario.units import MAX_TIME_NS, parse_time_ns

TIME_PARAMETERS = ("loc", "scale")
MAX_STALL_FILE_BYTES = 256 << 20  # an empirical stall file (gap_ns, length_ns per row)


@dataclass(frozen=True)
class StallSchedule:
    """Sorted, non-overlapping poller stalls: ``start_ns[i]`` for ``length_ns[i]`` nanoseconds."""

    start_ns: np.ndarray
    length_ns: np.ndarray

    @classmethod
    def from_intervals(cls, start_ns, length_ns) -> StallSchedule:
        """Build a schedule from any intervals: sorts them, merges overlaps, drops empty ones."""
        start = np.asarray(start_ns, dtype=np.int64).ravel()
        end = start + np.asarray(length_ns, dtype=np.int64).ravel()
        keep = end > start
        start, end = start[keep], end[keep]
        order = np.argsort(start, kind="stable")
        start, end = start[order], end[order]
        if len(start) > 1:
            running_end = np.maximum.accumulate(end)
            new_group = np.empty(len(start), dtype=bool)
            new_group[0] = True
            new_group[1:] = start[1:] > running_end[:-1]
            end = np.maximum.reduceat(end, np.flatnonzero(new_group))
            start = start[new_group]
        return cls(start.astype(np.int64), (end - start).astype(np.int64))

    @classmethod
    def empty(cls) -> StallSchedule:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64))

    @property
    def end_ns(self) -> np.ndarray:
        return self.start_ns + self.length_ns

    def __len__(self) -> int:
        return len(self.start_ns)

    def resume_ns(self, time_ns: int) -> int:
        """The first moment at or after ``time_ns`` at which the poller is not stalled."""
        i = int(np.searchsorted(self.start_ns, time_ns, side="right")) - 1
        if i >= 0 and time_ns < self.start_ns[i] + self.length_ns[i]:
            return int(self.start_ns[i] + self.length_ns[i])
        return int(time_ns)

    def work_end_ns(self, time_ns: int, work_ns: int) -> int:
        """When ``work_ns`` of running time, begun at ``time_ns``, ends; stalls pause the work."""
        now = self.resume_ns(time_ns)
        i = int(np.searchsorted(self.start_ns, now, side="right"))
        remaining = work_ns
        while i < len(self.start_ns) and self.start_ns[i] < now + remaining:
            remaining -= int(self.start_ns[i]) - now
            now = int(self.start_ns[i] + self.length_ns[i])
            i += 1
        return now + remaining

    def clipped(self, horizon_ns: int) -> StallSchedule:
        """The stalls that start before ``horizon_ns``."""
        keep = self.start_ns < horizon_ns
        return StallSchedule(self.start_ns[keep], self.length_ns[keep])


@dataclass(frozen=True)
class Distribution:
    """A frozen ``scipy.stats`` continuous distribution of times in nanoseconds."""

    name: str
    parameters: tuple[tuple[str, float], ...]

    @classmethod
    def from_spec(cls, spec, field_name: str) -> Distribution:
        """Parse ``{dist = "expon", scale = "20us"}``: loc and scale are times, shapes are numbers."""
        if not isinstance(spec, dict):
            raise InputError(field_name, f"expected a table like {{dist = \"expon\", scale = \"20us\"}}, got {spec!r}")
        spec = dict(spec)
        name = spec.pop("dist", None)
        if not isinstance(name, str):
            raise InputError(f"{field_name}.dist", "missing: name a scipy.stats distribution, e.g. \"expon\"")
        import scipy.stats  # here, not at import: half a second that scripted stalls do not need

        family = getattr(scipy.stats, name, None)
        if not isinstance(family, scipy.stats.rv_continuous):
            raise InputError(f"{field_name}.dist", f"unknown continuous scipy.stats distribution {name!r}")
        shapes = [s.strip() for s in (family.shapes or "").split(",") if s.strip()]
        parameters = {}
        for key, value in spec.items():
            where = f"{field_name}.{key}"
            if key in TIME_PARAMETERS:
                parameters[key] = float(parse_time_ns(value, where))
            elif key in shapes:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(where, f"expected a number, got {value!r}")
                parameters[key] = float(value)
            else:
                allowed = ", ".join(shapes + list(TIME_PARAMETERS))
                raise InputError(where, f"unknown parameter of {name} (it takes {allowed})")
        missing = [s for s in shapes if s not in parameters]
        if missing:
            raise InputError(f"{field_name}.{missing[0]}", f"missing shape parameter of {name}")
        distribution = cls(name, tuple(sorted(parameters.items())))
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):  # refused below, in one line
                warnings.simplefilter("ignore")
                sample = distribution.frozen().rvs(size=8, random_state=np.random.default_rng(0))
        except (ValueError, OverflowError) as error:
            raise InputError(field_name, f"invalid parameters for {name}: {error}") from None
        if not np.all(np.isfinite(sample)):
            raise InputError(field_name, f"invalid parameters for {name}: samples are not finite")
        return distribution

    @functools.cached_property
    def _frozen(self):
        import scipy.stats

        return getattr(scipy.stats, self.name)(**dict(self.parameters))

    def frozen(self):
        """The scipy.stats frozen distribution (made once)."""
        return self._frozen

    def mean_ns(self) -> float:
        return float(self.frozen().mean())

    def sample_ns(self, size: int, rng: np.random.Generator) -> np.ndarray:
        """``size`` draws rounded to whole nanoseconds; negative draws count as zero, and draws beyond
        MAX_TIME_NS as that."""
        draws = self.frozen().rvs(size=size, random_state=rng)
        return np.clip(np.rint(draws), 0, MAX_TIME_NS).astype(np.int64)


class StallModel:
    """A recipe for stalls: ``schedule(horizon_ns, rng)`` draws every stall that starts before the horizon."""

    def schedule(self, horizon_ns: int, rng: np.random.Generator) -> StallSchedule:
        raise NotImplementedError

    def expected_count(self, horizon_ns: int) -> float:
        """About how many stalls ``schedule`` draws before the horizon (infinite if it would never end)."""
        raise NotImplementedError


def _cycles(horizon_ns: int, mean_cycle_ns: float) -> float:
    return horizon_ns / mean_cycle_ns if mean_cycle_ns > 0 else math.inf


@dataclass(frozen=True)
class NoStalls(StallModel):
    """The poller never stalls."""

    def schedule(self, horizon_ns, rng):
        return StallSchedule.empty()

    def expected_count(self, horizon_ns):
        return 0.0


def _renewal_schedule(horizon_ns, draw_cycles, mean_cycle_ns) -> StallSchedule:
    """Alternate a gap (running) and a stall until the horizon; ``draw_cycles(n)`` gives n of each."""
    starts, lengths = [], []
    clock = 0
    batch = int(min(1_000_000, max(16, 1.2 * horizon_ns / max(mean_cycle_ns, 1.0))))
    while clock < horizon_ns:
        gaps, stall_lengths = draw_cycles(batch)
        cycle_end = clock + np.cumsum(gaps + stall_lengths)
        start = cycle_end - stall_lengths
        starts.append(start)
        lengths.append(stall_lengths)
        clock = int(cycle_end[-1])
    schedule = StallSchedule.from_intervals(np.concatenate(starts), np.concatenate(lengths))
    return schedule.clipped(horizon_ns)


@dataclass(frozen=True)
class RenewalStalls(StallModel):
    """Runs and stalls alternate: each run length and stall length drawn independently."""

    run: Distribution
    length: Distribution

    def schedule(self, horizon_ns, rng):
        mean_cycle = self.run.mean_ns() + self.length.mean_ns()
        return _renewal_schedule(
            horizon_ns, lambda n: (self.run.sample_ns(n, rng), self.length.sample_ns(n, rng)), mean_cycle
        )

    @functools.cached_property
    def _drawn_mean_cycle_ns(self) -> float:
        """The mean of whole-ns draws of a run and a stall (one of 0.3 ns on average rounds to 0)."""
        rng = np.random.default_rng(0)
        return float(np.mean(self.run.sample_ns(4096, rng) + self.length.sample_ns(4096, rng)))

    def expected_count(self, horizon_ns):
        return _cycles(horizon_ns, self._drawn_mean_cycle_ns)


@dataclass(frozen=True)
class PeriodicStalls(StallModel):
    """A stall of ``length_ns`` every ``period_ns``, the first at ``phase_ns`` (timer-tick style)."""

    period_ns: int
    length_ns: int
    phase_ns: int = 0

    def schedule(self, horizon_ns, rng):
        starts = np.arange(self.phase_ns, horizon_ns, self.period_ns, dtype=np.int64)
        return StallSchedule.from_intervals(starts, np.full(len(starts), self.length_ns))

    def expected_count(self, horizon_ns):
        return max(0.0, (horizon_ns - self.phase_ns) / self.period_ns)


@dataclass(frozen=True)
class ScriptedStalls(StallModel):
    """Exactly the listed stalls."""

    start_ns: tuple[int, ...]
    length_ns: tuple[int, ...]

    def schedule(self, horizon_ns, rng):
        return StallSchedule.from_intervals(self.start_ns, self.length_ns).clipped(horizon_ns)

    def expected_count(self, horizon_ns):
        return float(len(self.start_ns))


@dataclass(frozen=True)
class EmpiricalStalls(StallModel):
    """Resamples measured (gap, length) pairs, with replacement, from a CSV file.

    The file has a header with columns ``gap_ns`` (running time before the stall) and ``length_ns``.
    """

    path: str
    gap_ns: tuple[int, ...] = field(repr=False)
    length_ns: tuple[int, ...] = field(repr=False)

    @classmethod
    def from_file(cls, path: str, field_name: str) -> EmpiricalStalls:
        try:
            text = read_bounded(path, "stall file", MAX_STALL_FILE_BYTES).decode("utf-8")
        except InputError as error:
            raise InputError(field_name, f"{path}: {error.problem}") from None
        except UnicodeDecodeError:
            raise InputError(field_name, f"{path} is not UTF-8 text") from None
        header, _, body = text.partition("\n")
        columns = [name.strip() for name in header.split(",")]
        if "gap_ns" not in columns or "length_ns" not in columns:
            raise InputError(field_name, f"{path} needs numeric columns gap_ns and length_ns")
        wanted = (columns.index("gap_ns"), columns.index("length_ns"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file's warning: refused below
                values = np.loadtxt(io.StringIO(body), delimiter=",", usecols=wanted, dtype=float, ndmin=2,
                                    comments=None)
        except (ValueError, IndexError):
            raise InputError(field_name, f"{path} needs numeric columns gap_ns and length_ns") from None
        if not len(values):
            raise InputError(field_name, f"{path} has no rows")
        if not np.all(np.isfinite(values)) or values.max() > MAX_TIME_NS:
            raise InputError(field_name, f"{path} has a gap or length that is not a time of at most {MAX_TIME_NS} ns")
        if values.min() < 0:
            raise InputError(field_name, f"{path} has a negative gap or length")
        gaps, lengths = (tuple(column.astype(np.int64).tolist()) for column in values.T)
        if sum(gaps) + sum(lengths) == 0:
            raise InputError(field_name, f"{path} has only zero gaps and lengths")
        return cls(path, gaps, lengths)

    def schedule(self, horizon_ns, rng):
        gaps = np.asarray(self.gap_ns, dtype=np.int64)
        lengths = np.asarray(self.length_ns, dtype=np.int64)
        mean_cycle = float(gaps.mean() + lengths.mean())

        def draw_pairs(n):
            picks = rng.integers(0, len(gaps), size=n)
            return gaps[picks], lengths[picks]

        return _renewal_schedule(horizon_ns, draw_pairs, mean_cycle)

    def expected_count(self, horizon_ns):
        return _cycles(horizon_ns, (sum(self.gap_ns) + sum(self.length_ns)) / len(self.gap_ns))


@dataclass(frozen=True)
class SuperposedStalls(StallModel):
    """The union of several models' stalls; each draws from its own child stream of the seed."""

    models: tuple[StallModel, ...]

    def schedule(self, horizon_ns, rng):
        children = rng.spawn(len(self.models))
        parts = [model.schedule(horizon_ns, child) for model, child in zip(self.models, children)]
        if not parts:
            return StallSchedule.empty()
        return StallSchedule.from_intervals(
            np.concatenate([p.start_ns for p in parts]), np.concatenate([p.length_ns for p in parts])
        )

    def expected_count(self, horizon_ns):
        return sum(model.expected_count(horizon_ns) for model in self.models)


def _take(spec: dict, key: str, field_name: str, required: bool = True):
    if key not in spec:
        if required:
            raise InputError(f"{field_name}.{key}", "missing")
        return None
    return spec.pop(key)


def _reject_rest(spec: dict, field_name: str, model: str) -> None:
    for key in spec:
        raise InputError(f"{field_name}.{key}", f"unknown field for stall model {model!r}")


def stall_model_from_spec(spec, field_name: str = "stalls", base_dir: Path | None = None) -> StallModel:
    """Parse the ``[stalls]`` table of a scenario into a stall model; errors name the field."""
    if spec is None:
        return NoStalls()
    if not isinstance(spec, dict):
        raise InputError(field_name, f"expected a table with a 'model' key, got {spec!r}")
    spec = dict(spec)
    model = _take(spec, "model", field_name)
    if model == "none":
        result = NoStalls()
    elif model == "renewal":
        result = RenewalStalls(
            run=Distribution.from_spec(_take(spec, "run", field_name), f"{field_name}.run"),
            length=Distribution.from_spec(_take(spec, "length", field_name), f"{field_name}.length"),
        )
    elif model == "periodic":
        period = parse_time_ns(_take(spec, "period", field_name), f"{field_name}.period", allow_zero=False)
        length = parse_time_ns(_take(spec, "length", field_name), f"{field_name}.length")
        phase_value = _take(spec, "phase", field_name, required=False)
        phase = 0 if phase_value is None else parse_time_ns(phase_value, f"{field_name}.phase")
        result = PeriodicStalls(period, length, phase)
    elif model == "scripted":
        entries = _take(spec, "stalls", field_name)
        if not isinstance(entries, list):
            raise InputError(f"{field_name}.stalls", "expected a list of [start, length] pairs")
        starts, lengths = [], []
        for i, entry in enumerate(entries):
            where = f"{field_name}.stalls[{i}]"
            if not isinstance(entry, list) or len(entry) != 2:
                raise InputError(where, f"expected [start, length], got {entry!r}")
            starts.append(parse_time_ns(entry[0], where + ".start"))
            lengths.append(parse_time_ns(entry[1], where + ".length"))
        result = ScriptedStalls(tuple(starts), tuple(lengths))
    elif model == "empirical":
        path = _take(spec, "file", field_name)
        if not isinstance(path, str):
            raise InputError(f"{field_name}.file", f"expected a path, got {path!r}")
        resolved = Path(path) if base_dir is None or Path(path).is_absolute() else base_dir / path
        result = EmpiricalStalls.from_file(str(resolved), f"{field_name}.file")
    elif model == "superposition":
        parts = _take(spec, "models", field_name)
        if not isinstance(parts, list) or not parts:
            raise InputError(f"{field_name}.models", "expected a non-empty list of stall models")
        result = SuperposedStalls(
            tuple(stall_model_from_spec(p, f"{field_name}.models[{i}]", base_dir) for i, p in enumerate(parts))
        )
    else:
        raise InputError(
            f"{field_name}.model",
            f"unknown stall model {model!r} (choose none, renewal, periodic, scripted, empirical, superposition)",
        )
    _reject_rest(spec, field_name, model)
    return result
