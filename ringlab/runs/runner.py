"""One way to run a scenario, which is also the Python API: :func:`run` takes a scenario, a backend
(the simulator or real XDP) and an engine, and returns one :class:`RunResult`. The command line,
sweeps, the fit and the report all run scenarios through it."""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ringlab.analysis.summary import RunSummary
from ringlab.errors import InputError
from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import RunPlan
from ringlab.trace.records import Trace

BACKEND_GROUP = "ringlab.backends"  # the entry-point group backends register in (pyproject.toml)


@dataclass(frozen=True)
class RunResult:
    """One run of one scenario on one backend.

    ``trace`` is None for a summary-only run; so is ``delivered_ids`` (the ids in the order the
    poller read them, from which the warnings are made), and ``warnings`` then says where its
    warnings went (``ringlab.trace.warnings_log.Warnings``). ``figures`` is what the backend adds
    to the run's summary, ``files`` the arrays it adds to the run directory (by file name), and
    ``details`` what only it knows (a trial's ``ringlab.hw.trial.run.TrialResult``); ``latency_histogram``
    every read's latency, where the engine kept it (the fast engine does).
    """

    scenario: Scenario
    backend: str
    engine: str  # sim: "fast" or "simpy"; hw: "xdp"
    summary: RunSummary
    trace: Trace | None
    delivered_ids: np.ndarray | None = field(repr=False)
    notes: tuple[str, ...] = ()
    details: object | None = field(default=None, repr=False)
    warnings: object | None = field(default=None, repr=False)
    figures: dict = field(default_factory=dict, repr=False)
    files: dict = field(default_factory=dict, repr=False)
    latency_histogram: object | None = field(default=None, repr=False)  # ringlab.analysis.latency.LatencyHistogram

    def describe(self) -> str:
        """The run in one line: its fates, loss, order and the writer's lasting offset."""
        s = self.summary
        return (f"{self.scenario.name} [{self.backend}]: {s.packets} packets, {s.delivered} delivered, {s.dropped_full} "
                f"dropped (ring full), {s.in_ring} left in ring; loss {100 * s.loss_fraction:.3f}%; {s.out_of_order} "
                f"read out of order (max displacement {s.max_displacement}); {s.warnings} warnings; {s.stalls} stalls; "
                f"lasting offset k={s.lasting_offset_slots}")


@dataclass(frozen=True)
class RunRequest:
    """How to run a scenario, beyond the scenario: the engine, whether to keep the trace (else the
    run streams and keeps its warnings in a new file in ``warnings_dir``, or the first and last),
    a plan that replaces the one drawn from the seed, and where real XDP runs."""

    engine: str
    keep_trace: bool = True
    plan: RunPlan | None = None
    iface: str | None = None
    force: bool = False
    warnings_dir: Path | None = None
    progress: bool = False


class Backend(Protocol):
    """A way to run a scenario. A backend registers an object with this interface under the
    entry-point group ``ringlab.backends`` (``pyproject.toml``), and the runner finds it there:
    adding a backend touches no file of the core."""

    engines: tuple[str, ...]  # the engines it runs with, the default first
    max_ring_slots: int  # the largest ring it runs (``ringlab size`` searches no further)

    def run(self, scenario: Scenario, request: RunRequest) -> RunResult:
        """Run ``scenario`` as ``request`` says (refusing what it cannot do with an InputError)."""


def _own_entry_points() -> list:
    """The backends ringlab's own distribution registers (reading one package's metadata, not all)."""
    try:
        return [entry for entry in importlib.metadata.distribution("ringlab").entry_points
                if entry.group == BACKEND_GROUP]
    except importlib.metadata.PackageNotFoundError:
        return []


def backend_names() -> tuple[str, ...]:
    """The names of the registered backends."""
    return tuple(sorted(entry.name for entry in importlib.metadata.entry_points(group=BACKEND_GROUP)))


@functools.cache
def registered_backend(name: str) -> Backend:
    """The registered backend called ``name``, or an InputError naming the ones there are."""
    entries = [entry for entry in _own_entry_points() if entry.name == name]  # ringlab's own: quick to read
    entries = entries or list(importlib.metadata.entry_points(group=BACKEND_GROUP, name=name))  # another package's
    if not entries:
        raise InputError("backend", f"unknown backend {name!r} (choose {', '.join(backend_names())})")
    return next(iter(entries)).load()


def run(scenario: Scenario, backend: str = "sim", *, engine: str | None = None, keep_trace: bool = True,
        plan: RunPlan | None = None, iface: str | None = None, force: bool = False, warnings_dir=None,
        progress: bool = False) -> RunResult:
    """Run ``scenario`` on a registered backend and return its result.

    ``"sim"`` simulates with ``engine`` "fast" (the C engine, the default) or "simpy" (the
    readable reference; both give identical traces); ``keep_trace=False`` streams the run in
    bounded memory and keeps only the summary and the warnings (fast engine only: written to a new
    file in ``warnings_dir``, or else the first and last ones kept; ``progress`` shows a bar on a
    terminal when it takes long). ``plan`` replaces the plan drawn from the scenario's seed (a
    replay gives measured arrivals and pauses). ``"hw"`` runs the real XDP program on a veth
    testbed made for the trial, or on ``iface`` with frames from another host; ``force`` replaces
    an XDP program ringlab did not attach.
    """
    chosen = registered_backend(backend)
    notes = tuple(scenario.notes_for(backend))
    engine = chosen.engines[0] if engine is None else engine
    if engine not in chosen.engines:
        raise InputError("engine", f"unknown engine {engine!r} for the {backend} backend "
                                   f"(choose {', '.join(chosen.engines)})")
    request = RunRequest(engine, keep_trace, plan, iface, force, warnings_dir, progress)
    return dataclasses.replace(chosen.run(scenario, request), notes=notes)
