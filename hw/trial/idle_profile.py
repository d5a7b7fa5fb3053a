"""The machine's pause profile: the poller's loop run with no ring on one CPU, as the osnoise tracer
or sysjitter do, noting every gap between two iterations longer than a threshold, each named by the
kernel events on that CPU.

The pauses are written in the empirical stall model's CSV format (``gap_ns,length_ns``: the running
time before each pause, and its length), so that a scenario can add them to its injected stalls::

    [stalls]
    model = "superposition"
    models = [{ model = "scripted", stalls = [["100ms", "1.53ms"]] },
              { model = "empirical", file = "noise/pauses.csv" }]
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.atomic_files import write_json
from ringlab.errors import InputError
from ringlab.hw.machine.environment import machine_environment, steal_ns
from ringlab.hw.trial.poller import PollerThread, StallPlan, off_cpu, poll_ring
from ringlab.trace.pause_profile import PauseProfile, profile_from_pauses, save_profile
from ringlab.trace.pauses import NOT_TRACED, length_statistics

SUMMARY_FILE = "summary.json"
NO_STALLS = StallPlan(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(1, np.int64))
MAX_DURATION_NS = 3_600 * 1_000_000_000


@dataclass(frozen=True)
class IdleProfile:
    """The pauses one CPU's busy loop met: start (CLOCK_MONOTONIC ns), length, source."""

    cpu: int
    duration_ns: int
    started_ns: int
    pause_start_ns: np.ndarray
    pause_length_ns: np.ndarray
    source: list
    threshold_ns: int
    environment: dict
    tracing: dict
    events: np.ndarray | None = None  # the kernel events on the CPU, when asked to keep them

    def gaps_ns(self) -> np.ndarray:
        """The running time before each pause (from the start, then from the previous pause's end)."""
        ends = np.concatenate([[self.started_ns], self.pause_start_ns[:-1] + self.pause_length_ns[:-1]])
        return np.maximum(self.pause_start_ns - ends, 0)


def measure_idle_profile(duration_ns: int, cpu: int, threshold_ns: int, loops: str = "native",
                  trace_kernel: bool = True, keep_events: bool = False) -> IdleProfile:
    """Busy-loop on ``cpu`` for ``duration_ns`` with the poller's loop (no ring) and note its pauses
    (and, with ``keep_events``, keep the kernel events they were named by)."""
    if not 0 < duration_ns <= MAX_DURATION_NS:
        raise InputError("--duration", f"must be more than 0 and at most 1 hour, got {duration_ns} ns")
    if cpu not in os.sched_getaffinity(0):
        raise InputError("--cpu", f"CPU {cpu} is not one this process may run on ({sorted(os.sched_getaffinity(0))})")
    from ringlab.hw.kernel.tracer import CpuEventTracer

    stop_box = np.array([np.iinfo(np.int64).max], np.int64)
    if loops == "native":
        from ringlab.hw.trial.native_loops import poll_ring_native

        capacity = max(1 << 16, int(100_000 * duration_ns / 1e9))
        poll = lambda: poll_ring_native(None, 1, "original", NO_STALLS, stop_box, threshold_ns, 0, capacity)  # noqa: E731
    else:
        poll = lambda: poll_ring(None, 1, "original", NO_STALLS, stop_box, threshold_ns)  # noqa: E731
    tracer = CpuEventTracer(cpu, duration_ns / 1e9 + 1) if trace_kernel else None
    steal_before = steal_ns(cpu)
    with off_cpu(cpu), (tracer if tracer is not None else contextlib.nullcontext()):
        started = time.monotonic_ns()
        stop_box[0] = started + duration_ns
        with PollerThread(poll, stop_box, cpu) as polling:
            record = polling.result()
        events, events_lost = tracer.events() if tracer is not None else (None, 0)
        recursion_misses = tracer.recursion_misses() if tracer is not None else None
    if events is not None:
        from ringlab.hw.kernel.pause_sources import cpu_activity, name_pauses
        from ringlab.hw.kernel.tracer import irq_names

        source, _ = name_pauses(record.pause_start_ns, record.pause_length_ns,
                                cpu_activity(events, polling.thread_id, irq_names()))
    else:
        source = [NOT_TRACED] * len(record.pause_start_ns)
    steal_after = steal_ns(cpu)
    tracing = {"kernel_traced": events is not None, "kernel_events": 0 if events is None else int(len(events)),
               "kernel_events_lost": int(events_lost), "kernel_probe_recursion_misses": recursion_misses,
               "pauses_lost": int(record.pauses_lost), "loops": loops,
               "cpu_steal_ns": None if steal_before is None or steal_after is None else steal_after - steal_before}
    return IdleProfile(cpu, duration_ns, started, record.pause_start_ns, record.pause_length_ns, source, threshold_ns,
                        machine_environment(cpu, []), tracing, events if keep_events else None)


def idle_profile_summary(profile: IdleProfile) -> dict:
    """Pauses per second, their lengths, the longest, by source; the CPU and the machine."""
    labels = np.asarray(profile.source, dtype=object)
    by_source = {}
    for name in sorted(set(profile.source)):
        mine = labels == name
        by_source[name] = {"count": int(mine.sum()), "total_ns": int(profile.pause_length_ns[mine].sum())}
    return {"cpu": profile.cpu, "duration_ns": profile.duration_ns, "pause_threshold_ns": profile.threshold_ns,
            "pauses": length_statistics(profile.pause_length_ns, profile.duration_ns), "by_source": by_source,
            "environment": profile.environment, "tracing": profile.tracing}


def as_pause_profile(profile: IdleProfile) -> PauseProfile:
    """The measurement as a pause profile of one segment (nothing was read: no latency body)."""
    return profile_from_pauses(np.zeros(len(profile.pause_start_ns), np.int64), profile.pause_start_ns - profile.started_ns,
                               profile.pause_length_ns, profile.source, [profile.duration_ns], profile.threshold_ns, (),
                               {"kind": "measured: the poller's loop with no ring", "cpu": profile.cpu,
                                "environment": profile.environment})


def write_idle_profile(out_dir, profile: IdleProfile) -> dict:
    """The pause profile (``profile.json``, ``pauses.npz``, and ``pauses.csv`` in the empirical stall
    model's format), ``summary.json`` and the survival plot."""
    from ringlab.provenance import provenance
    from ringlab.views.pause_plot import survival_figure
    from ringlab.views.timeline_plot import save_figure

    out_dir = Path(out_dir)
    save_profile(out_dir, as_pause_profile(profile))
    summary = {**provenance("hw"), **idle_profile_summary(profile)}
    labels = np.asarray(profile.source, dtype=object)
    series = {"all pauses": profile.pause_length_ns}
    for name in sorted(set(profile.source), key=lambda n: -int(np.sum(labels == n)))[:4]:
        series[name] = profile.pause_length_ns[labels == name]
    seconds = profile.duration_ns / 1e9
    figure = survival_figure(series, f"Pauses of a busy loop on CPU {profile.cpu} ({seconds:g} s, "
                                     f"{summary['pauses']['per_second']:.0f} per second)")
    save_figure(figure, out_dir / "survival")
    write_json(out_dir / SUMMARY_FILE, summary)
    return summary
