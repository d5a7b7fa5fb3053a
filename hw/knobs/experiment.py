"""An experiment on real XDP: K trials with the knobs set and K without, interleaved in pairs whose
order within is drawn from the seed in ABBA blocks (with-without, then without-with, or the other
way round), so that a drift of the machine over minutes falls on both arms alike.

Each trial is a normal run directory (``DIR/trials/NN-with``, ``DIR/trials/NN-without``) whose
summary records its arm and every knob's value read just before it. ``DIR/plan.json`` is written
first; run again with the same arguments, the experiment resumes where it stopped (a trial with its
summary is done; a half-made one was never moved into place). System knobs are held only during a
"with" trial, journalled, and given back after it on every exit path."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.atomic_files import read_json, write_json
from ringlab.errors import HardwareError, InputError
from ringlab.hw.knobs.journal import system_knobs_held
from ringlab.hw.knobs.knob import SYSTEM, Knob
from ringlab.hw.machine.signals import signals_as_exceptions

PLAN_FILE = "plan.json"
TRIALS_DIR = "trials"
WITH, WITHOUT = "with", "without"
MIN_PAIRS = 2


@dataclass(frozen=True)
class ExperimentPlan:
    """What an experiment runs: the knobs and values of its "with" arm, what they were found at (its
    "without" arm), K pairs, the seed and the order drawn from it."""

    scenario_key: str
    knobs: tuple[tuple[str, str], ...]  # (name, value) with
    found: tuple[tuple[str, str], ...]  # (name, value) without
    pairs: int
    seed: int
    order: tuple[tuple[str, str], ...]  # per pair: (WITH, WITHOUT) or (WITHOUT, WITH)
    meant_to_remove: tuple[tuple[str, str], ...] = ()  # (name, the source it is meant to remove)

    def trials(self) -> list[tuple[int, str]]:
        """Every trial in the order it runs: (pair, arm), pairs numbered from 1."""
        return [(pair + 1, arm) for pair, arms in enumerate(self.order) for arm in arms]

    def to_dict(self) -> dict:
        return {"scenario_key": self.scenario_key, "knobs": dict(self.knobs), "found": dict(self.found),
                "pairs": self.pairs, "seed": self.seed, "order": [list(arms) for arms in self.order],
                "meant_to_remove": dict(self.meant_to_remove)}

    @classmethod
    def from_dict(cls, data: dict) -> ExperimentPlan:
        return cls(data["scenario_key"], tuple(data["knobs"].items()), tuple(data["found"].items()), int(data["pairs"]),
                   int(data["seed"]), tuple(tuple(arms) for arms in data["order"]),
                   tuple(data.get("meant_to_remove", {}).items()))


def trial_dir(out_dir: Path, pair: int, arm: str) -> Path:
    return Path(out_dir) / TRIALS_DIR / f"{pair:02d}-{arm}"


def pair_orders(pairs: int, seed: int) -> tuple[tuple[str, str], ...]:
    """The order within each pair, in ABBA blocks: pairs 1-2 are (A, B), (B, A) or (B, A), (A, B), drawn
    from ``seed``; and so on for 3-4, ...; an odd last pair's order is drawn alone."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    orders = []
    for block_start in range(0, pairs, 2):
        first = (WITH, WITHOUT) if rng.random() < 0.5 else (WITHOUT, WITH)
        orders.append(first)
        if block_start + 1 < pairs:
            orders.append(first[::-1])
    return tuple(orders)


def check_request(scenario, knobs: list[tuple[Knob, str]], pairs: int, apply: bool) -> tuple[tuple[str, str], ...]:
    """Refuse, in one line each and before anything changes: no knob, a knob twice, K < 2, a value
    that holds the "with" trials' poller CPU where it must not, a system knob without ``apply``, a
    knob already at its value. Returns each knob's value found now."""
    if not knobs:
        raise InputError("--knob", "give at least one knob (NAME=VALUE)")
    names = [knob.name for knob, _ in knobs]
    if len(set(names)) != len(names):
        raise InputError("--knob", f"a knob is given twice ({', '.join(sorted(n for n in set(names) if names.count(n) > 1))})")
    if pairs < MIN_PAIRS:
        raise InputError("--trials", f"{pairs}: at least {MIN_PAIRS} trials with and {MIN_PAIRS} without are needed "
                                     "for a paired test")
    poller_cpu = with_scenario(scenario, knobs).hw.poller_cpu
    found = []
    for knob, value in knobs:
        knob.checked(value, poller_cpu)  # as set in the "with" trials, beside the poller's CPU there
        now = knob.read(scenario)
        if now == value:
            raise InputError("--knob", f"{knob.name} is already {value}: the experiment would compare a setting "
                                       "with itself")
        if knob.scope == SYSTEM and not apply:
            raise InputError("--knob", f"{knob.name} is a system setting: the 'with' trials would change {knob.where} "
                                       f"from {now} to {value} for the whole machine (given back after each); "
                                       "add --apply to allow it")
        found.append((knob.name, now))
    return tuple(found)


def plan_experiment(scenario, knobs, pairs: int, seed: int, out_dir: Path, apply: bool) -> ExperimentPlan:
    """The plan, checked; the one in ``out_dir`` if an experiment of the same request is there (to
    resume), an InputError if another is."""
    found = check_request(scenario, knobs, pairs, apply)  # bad input first, whoever asks
    if os.geteuid() != 0:
        raise HardwareError("an experiment runs real XDP trials and needs root")
    plan = ExperimentPlan(scenario.key(), tuple((k.name, v) for k, v in knobs), found, pairs, seed,
                          pair_orders(pairs, seed), tuple((k.name, k.removes) for k, _ in knobs))
    existing = load_plan(out_dir) if (Path(out_dir) / PLAN_FILE).is_file() else None
    if existing is not None and existing.to_dict() != plan.to_dict():  # as mappings: the file sorts its keys
        raise InputError("--out", f"{out_dir} holds an experiment of another scenario, knobs, trials or seed: "
                                  "give another directory")
    return plan


def load_plan(out_dir) -> ExperimentPlan:
    return ExperimentPlan.from_dict(read_json(Path(out_dir) / PLAN_FILE))


def run_experiment(scenario, knobs: list[tuple[Knob, str]], plan: ExperimentPlan, out_dir, progress=None) -> list[Path]:
    """Run the plan's trials not yet done, in its order, into ``out_dir``; return every trial's directory.
    ``progress(done, total)`` is called after each trial."""
    from ringlab.runs.run_directory import run_into_directory

    out_dir = Path(out_dir)
    (out_dir / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    if not (out_dir / PLAN_FILE).is_file():
        write_json(out_dir / PLAN_FILE, plan.to_dict())
    trials = plan.trials()
    with signals_as_exceptions():
        for done, (pair, arm) in enumerate(trials):
            directory = trial_dir(out_dir, pair, arm)
            if not (directory / "summary.json").is_file():
                with _arm(scenario, knobs, arm, out_dir) as trial_scenario:
                    values = {knob.name: knob.read(trial_scenario) for knob, _ in knobs}
                    extra = {"interface": "testbed", "experiment": {"arm": arm, "pair": pair, "knobs": values}}
                    run_into_directory(trial_scenario, directory, "hw", extra)
            if progress is not None:
                progress(done + 1, len(trials))
    return [trial_dir(out_dir, pair, arm) for pair, arm in trials]


def with_scenario(scenario, knobs: list[tuple[Knob, str]]):
    """``scenario`` as the "with" trials run it: with what the knobs carry in it."""
    values = {}
    for knob, value in knobs:
        values.update(knob.scenario_values(value))
    return scenario.with_values(values) if values else scenario


@contextlib.contextmanager
def _arm(scenario, knobs: list[tuple[Knob, str]], arm: str, out_dir: Path):
    """The scenario of one trial of ``arm``, with the knobs held for the block in the "with" arm."""
    if arm == WITHOUT:
        yield scenario
        return
    trial_scenario = with_scenario(scenario, knobs)
    system = [(knob, value) for knob, value in knobs if knob.scope == SYSTEM]
    with contextlib.ExitStack() as stack:
        if system:
            stack.enter_context(system_knobs_held(system, out_dir))
        for knob, value in knobs:
            if knob.scope != SYSTEM:
                stack.enter_context(knob.applied(value, trial_scenario))
        yield trial_scenario
