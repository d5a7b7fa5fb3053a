"""A pause profile measured under a trial's own load: the scenario's sender, its XDP program and
its poller's loop, run as a real trial without the scenario's injected stalls, for a set time. The
background pauses that trial's poller met, what each did to the sender, and the latencies of its
reads, become the profile."""

from __future__ import annotations

import numpy as np

from ringlab.analysis.profile_segment import background_pauses_inside, catch_up_gaps, latency_body, sender_share_during
from ringlab.errors import InputError
from ringlab.runs.runner import run
from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import draw_plan
from ringlab.trace.pause_profile import PauseProfile, profile_from_pauses


def measure_under_load(scenario: Scenario, duration_ns: int) -> PauseProfile:
    """Run ``scenario`` on real XDP for about ``duration_ns`` (its packets at its interval, no
    injected stall) and return the pauses its poller met as a profile of one segment."""
    packets = duration_ns // scenario.interval_ns
    if packets < 1:
        raise InputError("--duration", f"shorter than the scenario's interval ({scenario.interval_ns} ns)")
    quiet = scenario.with_values({"packets": int(packets), "stalls": {"model": "none"},
                                  "name": f"{scenario.name}-load"})
    result = run(quiet, "hw")
    trace = result.trace
    start, length, label = background_pauses_inside(trace)
    gaps = catch_up_gaps(trace)
    return profile_from_pauses(np.zeros(len(start), np.int64), start, length, label, [trace.end_ns],
                               scenario.hw.pause_threshold_ns, latency_body(trace, scenario.hw.pause_threshold_ns),
                               {"kind": "measured under the trial's own load", "scenario": scenario.name,
                                "interval_ns": scenario.interval_ns, "packets": int(packets),
                                "ring_slots": scenario.ring_slots, "policy": scenario.writer.policy,
                                "environment": result.details.environment,
                                "catch_up_gap_ns": float(np.median(gaps)) if len(gaps) else None},
                               sender_share_during(trace, start, length, draw_plan(quiet).arrival_ns))
