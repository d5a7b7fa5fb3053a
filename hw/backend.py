"""Real XDP as a backend of :func:`ringlab.run` (registered in ``pyproject.toml``): a trial on a
veth testbed made for it, or on an interface that another host sends to."""

from __future__ import annotations

import numpy as np

from ringlab.analysis.latency import LatencyHistogram
from ringlab.analysis.summary import summarize
from ringlab.runs.run_directory import SENT_FILE
from ringlab.runs.runner import RunRequest, RunResult
from ringlab.scenario.fields import Scenario
from ringlab.scenario.memory import check_fits


class RealXdp:
    """Runs a scenario's plan on the real XDP program, with the poller injecting its stalls."""

    engines = ("xdp",)

    @property
    def max_ring_slots(self) -> int:
        """The largest ring real XDP loads here (``ringlab.hw.machine.loader``)."""
        from ringlab.hw.machine.loader import MAX_XDP_RING_SLOTS

        return MAX_XDP_RING_SLOTS

    def run(self, scenario: Scenario, request: RunRequest) -> RunResult:
        from ringlab.hw.machine.loader import check_ring_loadable
        from ringlab.hw.trial.run import run_trial

        check_ring_loadable(scenario.ring_slots)
        check_fits(scenario, "xdp", True)

        trial = run_trial(scenario, iface=request.iface, force=request.force)
        files = {SENT_FILE: trial.sent_ns} if trial.sent_ns is not None else {}
        return RunResult(scenario, "hw", "xdp", summarize(trial.trace), trial.trace, trial.trace.delivered_ids(),
                         details=trial, figures=hardware_figures(trial), files=files)


def hardware_figures(trial) -> dict:
    """What a hardware trial adds to its summary: the XDP counters, the sender, conservation."""
    delays = trial.send_to_xdp_ns()
    if delays is None:  # the sender ran on another host: its own record has its figures
        sender = {"on_another_host": True, "planned": trial.sent}
    else:
        sender = {"sent": trial.sent, "late_sends": trial.late_sends, "mean_gap_ns": trial.mean_gap_ns,
                  "send_to_xdp": {**LatencyHistogram.of(np.maximum(delays, 0)).figures(),
                                  "negative": int(np.sum(delays < 0))}}
    figures = {"xdp_counters": trial.counters, "sender": sender, "arrivals": trial.arrival_spacing(),
               "conservation": trial.conservation, "environment": trial.environment, "pause_tracing": trial.tracing}
    if trial.delivery is not None:
        figures["delivery"] = trial.delivery
    return figures


BACKEND = RealXdp()
