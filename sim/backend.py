"""The simulator as a backend of :func:`ringlab.run` (registered in ``pyproject.toml``): the fast
engine by default, or the SimPy model, which gives the same trace."""

from __future__ import annotations

from ringlab.analysis.summary import summarize
from ringlab.errors import InputError
from ringlab.runs.runner import RunRequest, RunResult
from ringlab.scenario.fields import MAX_RING_SLOTS, Scenario
from ringlab.scenario.memory import check_fits


class Simulator:
    """Runs a scenario's plan through the model of the writer, the ring and the poller."""

    engines = ("fast", "simpy")
    max_ring_slots = MAX_RING_SLOTS

    def run(self, scenario: Scenario, request: RunRequest) -> RunResult:
        check_fits(scenario, request.engine, request.keep_trace or request.plan is not None)
        if request.engine == "simpy":
            if not request.keep_trace:
                raise InputError("--summary-only", "needs the fast engine (the SimPy model always keeps its trace)")
            from ringlab.sim.model import simulate

            trace = simulate(scenario, request.plan)
            return RunResult(scenario, "sim", "simpy", summarize(trace), trace, trace.delivered_ids())
        from ringlab.sim.fast_engine import run_fast

        fast = run_fast(scenario, request.plan, keep_trace=request.keep_trace, warnings_dir=request.warnings_dir,
                        progress=request.progress)
        return RunResult(scenario, "sim", "fast", fast.summary, fast.trace, fast.delivered_ids, warnings=fast.warnings,
                         latency_histogram=fast.latency_histogram, figures={"engine_mode": fast.mode.to_dict()})


BACKEND = Simulator()
