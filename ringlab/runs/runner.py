"""One way to run a scenario, which is also the Python API: :func:`run` takes a scenario, a backend
(the simulator or real XDP) and an engine, and returns one :class:`RunResult`. The command line,
sweeps, the fit and the report all run scenarios through it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringlab.analysis.analysis import RunSummary, summarize
from ringlab.errors import InputError
from ringlab.scenario.memory import check_fits
from ringlab.scenario.plan import RunPlan
from ringlab.scenario.scenario import Scenario
from ringlab.trace.trace import Trace

BACKENDS = ("sim", "hw")
ENGINES = ("fast", "simpy")


@dataclass(frozen=True)
class RunResult:
    """One run of one scenario on one backend.

    ``trace`` is None for a summary-only run; so is ``delivered_ids`` (the ids in the order the
    poller read them, from which the warnings are made), and ``warnings`` then says where its
    warnings went (``ringlab.sim.fast_engine.Warnings``). ``hardware`` holds what only a real trial
    knows (counters, send times, conservation), None for a simulated run.
    """

    scenario: Scenario
    backend: str
    engine: str  # sim: "fast" or "simpy"; hw: "xdp"
    summary: RunSummary
    trace: Trace | None
    delivered_ids: np.ndarray | None = field(repr=False)
    notes: tuple[str, ...] = ()
    hardware: object | None = field(default=None, repr=False)  # ringlab.hw.trial.TrialResult
    warnings: object | None = field(default=None, repr=False)  # ringlab.sim.fast_engine.Warnings


def run(scenario: Scenario, backend: str = "sim", *, engine: str = "fast", keep_trace: bool = True,
        plan: RunPlan | None = None, iface: str | None = None, force: bool = False, warnings_dir=None,
        progress: bool = False) -> RunResult:
    """Run ``scenario`` and return its result.

    ``backend="sim"`` simulates with ``engine`` "fast" (the C engine, the default) or "simpy"
    (the readable reference; both give identical traces); ``keep_trace=False`` streams the run in
    bounded memory and keeps only the summary and the warnings (fast engine only: written to a new
    file in ``warnings_dir``, or else the first and last ones kept; ``progress`` shows a bar on a
    terminal when it takes long). ``plan`` replaces the plan drawn from the
    scenario's seed (a replay gives measured arrivals and pauses). ``backend="hw"`` runs the real
    XDP program on a veth testbed made for the trial, or on ``iface`` with frames from another
    host; ``force`` replaces an XDP program ringlab did not attach.
    """
    if backend not in BACKENDS:
        raise InputError("backend", f"unknown backend {backend!r} (choose {', '.join(BACKENDS)})")
    notes = tuple(scenario.notes_for(backend))
    if engine not in ENGINES:
        raise InputError("engine", f"unknown engine {engine!r} (choose {', '.join(ENGINES)})")
    check_fits(scenario, "xdp" if backend == "hw" else engine, keep_trace or backend == "hw" or plan is not None)
    if backend == "hw":
        from ringlab.hw.trial import run_trial

        trial = run_trial(scenario, iface=iface, force=force)
        return RunResult(scenario, "hw", "xdp", summarize(trial.trace), trial.trace, trial.trace.delivered_ids(),
                         notes, trial)
    if engine == "simpy":
        if not keep_trace:
            raise InputError("--summary-only", "needs the fast engine (the SimPy model always keeps its trace)")
        from ringlab.sim.model import simulate

        trace = simulate(scenario, plan)
        return RunResult(scenario, "sim", "simpy", summarize(trace), trace, trace.delivered_ids(), notes)
    from ringlab.sim.fast_engine import run_fast

    fast = run_fast(scenario, plan, keep_trace=keep_trace, warnings_dir=warnings_dir, progress=progress)
    return RunResult(scenario, "sim", "fast", fast.summary, fast.trace, fast.delivered_ids, notes,
                     warnings=fast.warnings)
