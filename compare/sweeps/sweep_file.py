"""The sweep file: a base scenario, what to vary (grid or zipped lists), repeats with derived
seeds, and which backends to run. Validated like a scenario: one line naming the field."""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.errors import InputError
from ringlab.provenance import code_digest
from ringlab.scenario.fields import Scenario, read_toml, scenario_from_dict, set_fields

BACKENDS = ("sim", "hw")
MAX_REPEATS = 10_000
MAX_POINTS = 1_000_000  # points of one sweep, counted before any is built
SWEEP_KEYS = {"name", "base", "vary", "mode", "repeats", "seed", "backends", "set", "keep_traces"}


@dataclass(frozen=True)
class SweepPoint:
    """One scenario of the sweep, for one repeat and one backend."""

    backend: str
    parameters: tuple[tuple[str, object], ...]  # the varied fields and their values here
    repeat: int
    scenario: Scenario

    @property
    def key(self) -> str:
        """Names the point's result: the backend, and a hash of its full scenario and of the code
        that computes that backend's results (so a changed ringlab recomputes, never reuses)."""
        code = code_digest(self.backend)
        return f"{self.backend}-{hashlib.sha256((self.scenario.key() + code).encode()).hexdigest()[:16]}"


@dataclass(frozen=True)
class Sweep:
    name: str
    points: tuple[SweepPoint, ...]
    varied: tuple[str, ...]
    backends: tuple[str, ...]
    keep_traces: bool


def repeat_seeds(seed: int, repeats: int) -> list[int]:
    """One seed per repeat, derived with SeedSequence; the same for every point and backend."""
    return [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(repeats)]


def load_sweep(path) -> Sweep:
    """Read and validate a sweep file; the base scenario path is relative to the sweep file."""
    path = Path(path)
    data = read_toml(path, "sweep")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict) or len(data) != 1:
        raise InputError("sweep", "a sweep file has exactly one table, [sweep]")
    for key in sweep:
        if key not in SWEEP_KEYS:
            raise InputError(f"sweep.{key}", "unknown field")

    base = _base_scenario(sweep, path)
    vary = _vary(sweep)
    repeats = sweep.get("repeats", 1)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise InputError("sweep.repeats", f"expected a whole number from 1 to {MAX_REPEATS}, got {repeats!r}")
    seed = sweep.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError("sweep.seed", f"expected a whole number >= 0, got {seed!r}")
    backends = sweep.get("backends", ["sim"])
    if not isinstance(backends, list) or not backends or any(b not in BACKENDS for b in backends):
        raise InputError("sweep.backends", f"expected a list drawn from {', '.join(BACKENDS)}, got {backends!r}")
    name = sweep.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise InputError("sweep.name", f"expected a non-empty string, got {name!r}")
    keep_traces = sweep.get("keep_traces", False)
    if not isinstance(keep_traces, bool):
        raise InputError("sweep.keep_traces", f"expected true or false, got {keep_traces!r}")
    combos = _combinations(vary, sweep.get("mode", "grid"), repeats * len(backends))

    points = []
    seeds = repeat_seeds(seed, repeats)
    for combo in combos:
        for repeat, repeat_seed in enumerate(seeds):
            values = {**dict(zip(vary, combo)), "seed": repeat_seed}
            try:
                scenario = scenario_from_dict(set_fields(base, values), base_dir=path.parent)
            except InputError as error:
                raise InputError(f"sweep: {error.field}", error.problem) from None
            for backend in backends:
                points.append(SweepPoint(backend, tuple(zip(vary, combo)), repeat, scenario))
    return Sweep(name, tuple(points), tuple(vary), tuple(backends), keep_traces)


def _base_scenario(sweep: dict, path: Path) -> dict:
    """The sweep's base scenario (a file beside the sweep, or a table) with its ``set`` fields."""
    base = sweep.get("base")
    if isinstance(base, str):
        try:
            base = read_toml(path.parent / base, "base scenario")
        except InputError as error:
            raise InputError("sweep.base", str(error)) from None
    if not isinstance(base, dict):
        raise InputError("sweep.base", "give a scenario file path or an inline scenario table")
    fixed = sweep.get("set", {})
    if not isinstance(fixed, dict):
        raise InputError("sweep.set", "expected a table of dotted keys and values")
    if "seed" in fixed:
        raise InputError("sweep.set.seed", "each repeat's seed comes from [sweep] seed; set that instead")
    return set_fields(base, fixed)


def _vary(sweep: dict) -> dict:
    """The fields the sweep varies, each with its non-empty list of values."""
    vary = sweep.get("vary", {})
    if not isinstance(vary, dict) or not vary:
        raise InputError("sweep.vary", "expected a table of field = [values, ...]")
    for field, values in vary.items():
        if field == "seed":
            raise InputError("sweep.vary.seed", "each repeat's seed comes from [sweep] seed: use repeats for more seeds")
        if not isinstance(values, list) or not values:
            raise InputError(f"sweep.vary.{field}", "expected a non-empty list of values")
    return vary


def _combinations(vary: dict, mode, runs_each: int) -> list[tuple]:
    """The combinations of values, every one with every other (``grid``) or list by list (``zip``);
    refused if, with ``runs_each`` points per combination, they make more than MAX_POINTS."""
    if mode == "grid":
        count = math.prod(len(values) for values in vary.values())
    elif mode == "zip":
        lengths = {len(v) for v in vary.values()}
        if len(lengths) != 1:
            raise InputError("sweep.vary", "with mode = \"zip\" every list must have the same length")
        count = lengths.pop()
    else:
        raise InputError("sweep.mode", f"unknown mode {mode!r} (choose grid, zip)")
    if count * runs_each > MAX_POINTS:
        raise InputError("sweep", f"{count * runs_each} points ({count} combinations x repeats x backends), more "
                                  f"than {MAX_POINTS}")
    return list(itertools.product(*vary.values())) if mode == "grid" else list(zip(*vary.values()))


POINTS_DIR = "points"


def point_dir(out_dir, point: SweepPoint) -> Path:
    """Where a point's run directory lives in a sweep's output."""
    return Path(out_dir) / POINTS_DIR / point.key
