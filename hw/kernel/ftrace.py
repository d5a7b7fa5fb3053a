"""The kernel's own account of one CPU, from a private ftrace instance: an independent check of
ringlab's BPF tracer (:mod:`ringlab.hw.kernel.tracer`).

The instance (``instances/ringlab-PID`` under tracefs) has its own buffer, the ``mono`` clock (the
one BPF's ``bpf_ktime_get_ns`` reads), only the watched CPU, and only the events asked for; the
global trace state is left as it was. It is removed on every exit path, and a later instance
removes the ones a killed process left.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.hw.kernel.tracer import (
    EVENT_IRQ_ENTRY,
    EVENT_IRQ_EXIT,
    EVENT_SOFTIRQ_ENTRY,
    EVENT_SOFTIRQ_EXIT,
    EVENT_SWITCH,
    TRACEFS,
    ensure_tracefs,
)
from ringlab.hw.machine.signals import signals_deferred
from ringlab.hw.machine.state import owner_alive

INSTANCE_PREFIX = "ringlab-"
EVENTS = ("sched/sched_switch", "irq/irq_handler_entry", "irq/irq_handler_exit", "irq/softirq_entry",
          "irq/softirq_exit")
# "  <idle>-0  [000] d..2.  1234.567890: sched_switch: prev_comm=... prev_pid=0 ... next_pid=123 ..."
LINE = re.compile(r"\[(?P<cpu>\d+)\]\s+\S+\s+(?P<seconds>\d+)\.(?P<micros>\d{6}): (?P<event>\w+): (?P<fields>.*)$")
FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class FtraceEvent:
    """One event the kernel recorded: when (ns on CLOCK_MONOTONIC, to the microsecond ftrace prints),
    which, and its fields as the trace printed them."""

    ts_ns: int
    event: str
    fields: dict


def parse_trace(text: str) -> list[FtraceEvent]:
    """The events of an ftrace ``trace`` file's text (comment lines skipped)."""
    events = []
    for line in text.splitlines():
        match = LINE.search(line)
        if match is None:
            continue
        ts_ns = int(match["seconds"]) * 1_000_000_000 + int(match["micros"]) * 1_000
        events.append(FtraceEvent(ts_ns, match["event"], dict(FIELD.findall(match["fields"]))))
    return events


def _remove(instance: Path) -> None:
    with contextlib.suppress(OSError):
        (instance / "tracing_on").write_text("0")
    with contextlib.suppress(OSError):
        (instance / "events" / "enable").write_text("0")
    with contextlib.suppress(OSError):
        instance.rmdir()  # the kernel frees the buffer; it refuses while the instance is in use


def remove_stale_instances() -> list[str]:
    """Remove the instances of ringlab processes that no longer run; what was removed."""
    removed = []
    for instance in (TRACEFS / "instances").glob(f"{INSTANCE_PREFIX}*"):
        pid = instance.name.removeprefix(INSTANCE_PREFIX)
        if pid.isdigit() and not owner_alive(int(pid)):
            _remove(instance)
            removed.append(f"removed the ftrace instance {instance.name}")
    return removed


class FtraceInstance:
    """Context manager: a private ftrace instance recording ``events`` on ``cpu`` while the block
    runs; :meth:`stop` ends the recording and returns what it holds. Removed on leaving."""

    def __init__(self, cpu: int, events=EVENTS, buffer_kb: int = 65_536):
        self.cpu, self.events, self.buffer_kb = cpu, tuple(events), buffer_kb
        self.path = TRACEFS / "instances" / f"{INSTANCE_PREFIX}{os.getpid()}"

    def __enter__(self) -> FtraceInstance:
        ensure_tracefs()
        remove_stale_instances()
        with signals_deferred():
            self.path.mkdir()
        try:
            (self.path / "trace_clock").write_text("mono")
            (self.path / "tracing_cpumask").write_text(f"{1 << self.cpu:x}")
            (self.path / "buffer_size_kb").write_text(str(self.buffer_kb))
            for event in self.events:
                (self.path / "events" / event / "enable").write_text("1")
            (self.path / "tracing_on").write_text("1")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def stop(self) -> tuple[list[FtraceEvent], int]:
        """Stop recording; the events recorded, and how many the buffer lost (overrun)."""
        (self.path / "tracing_on").write_text("0")
        stats = (self.path / "per_cpu" / f"cpu{self.cpu}" / "stats").read_text()
        overrun = int(re.search(r"overrun: (\d+)", stats)[1])
        return parse_trace((self.path / "trace").read_text()), overrun

    def __exit__(self, *exc) -> None:
        with signals_deferred():
            _remove(self.path)


def ringlab_events(events: np.ndarray, kind: int, number_field: str = "number") -> tuple[np.ndarray, np.ndarray]:
    """ringlab's log of one kind of event as (sorted times, their numbers): what a match looks in."""
    chosen = events[events["kind"] == kind]
    order = np.argsort(chosen["ts_ns"], kind="stable")
    return chosen["ts_ns"][order].astype(np.int64), chosen[number_field][order].astype(np.int64)


# Which of ringlab's event kinds records each ftrace event, and the field that carries its number.
RINGLAB_KIND = {"sched_switch": (EVENT_SWITCH, "next_pid"), "irq_handler_entry": (EVENT_IRQ_ENTRY, "irq"),
                "irq_handler_exit": (EVENT_IRQ_EXIT, "irq"), "softirq_entry": (EVENT_SOFTIRQ_ENTRY, "vec"),
                "softirq_exit": (EVENT_SOFTIRQ_EXIT, "vec")}


def missing_from_log(seen: list[FtraceEvent], log: np.ndarray, tolerance_ns: int = 5_000) -> list[FtraceEvent]:
    """The events ftrace saw, within the span of ringlab's ``log``, that the log lacks: none of the
    same kind and number within ``tolerance_ns`` (ftrace prints microseconds; the two probes of one
    tracepoint run a few hundred ns apart)."""
    if len(log) == 0:
        return list(seen)
    first, last = int(log["ts_ns"].min()), int(log["ts_ns"].max())
    by_kind = {name: ringlab_events(log, kind) for name, (kind, _) in RINGLAB_KIND.items()}
    missing = []
    for event in seen:
        if event.event not in by_kind or not first <= event.ts_ns <= last:
            continue
        times, numbers = by_kind[event.event]
        number = int(event.fields[RINGLAB_KIND[event.event][1]])
        low, high = np.searchsorted(times, [event.ts_ns - tolerance_ns, event.ts_ns + 1_000 + tolerance_ns])
        if not np.any(numbers[low:high] == number):
            missing.append(event)
    return missing


def as_ringlab_log(seen: list[FtraceEvent]) -> np.ndarray:
    """ftrace's events in the layout of ringlab's log (kernel_trace.EVENT_DTYPE), so that the same
    naming of pauses can run on the kernel's own account."""
    from ringlab.hw.kernel.tracer import EVENT_DTYPE

    chosen = [event for event in seen if event.event in RINGLAB_KIND]
    log = np.zeros(len(chosen), EVENT_DTYPE)
    for row, event in zip(log, chosen):
        kind, field = RINGLAB_KIND[event.event]
        row["ts_ns"], row["kind"], row["number"] = event.ts_ns, kind, int(event.fields[field])
        if event.event == "sched_switch":
            row["prev_pid"] = int(event.fields["prev_pid"])
            row["comm"], row["prev_comm"] = event.fields["next_comm"].encode()[:15], event.fields["prev_comm"].encode()[:15]
    return log
