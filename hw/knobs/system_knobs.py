"""Knobs of the machine: harmless, exactly reversible settings that move kernel work off the
poller's CPU. Each is refused without ``--apply``, journalled before it is written, and given back
after every "with" trial (:mod:`ringlab.hw.knobs.journal`).

- ``vm.stat_interval`` (seconds): how often the vmstat worker folds per-CPU counters on each CPU;
- ``kernel.watchdog_cpumask`` (CPU list): the CPUs whose soft-lockup watchdog (its hrtimer and
  stopper thread) runs;
- ``kernel.timer_migration`` (0 or 1): whether timers of an idle CPU move to a busy one;
- ``workqueue.cpumask`` (CPU list): where unbound workqueues' kworkers may run;
- ``kdamond.cpus`` (CPU list): the CPUs DAMON's kdamond threads may run on.

The CPU lists must leave out the poller's CPU: that is what they are for."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ringlab.hw.knobs.knob import SYSTEM, Knob
from ringlab.hw.machine.environment import cpu_list_text, cpus_of, kdamond_affinity, online_cpus


@dataclass(frozen=True)
class FileKnob(Knob):
    """A setting in one file of /proc/sys or /sys."""

    def available(self) -> bool:
        return Path(self.where).is_file()

    def read(self, scenario=None):
        return self.parse(Path(self.where).read_text().strip())

    def write(self, value):
        Path(self.where).write_text(value + "\n")


@dataclass(frozen=True)
class IntegerKnob(FileKnob):
    low: int = 0
    high: int = 1

    def parse(self, text):
        text = text.strip()
        if not text.lstrip("-").isdigit() or not self.low <= int(text) <= self.high:
            raise self.refuse(text, f"out of its range {self.low}..{self.high}")
        return str(int(text))


@dataclass(frozen=True)
class CpuListKnob(FileKnob):
    """A set of CPUs, given as a list ("1", "1-3"), which must leave out the poller's CPU; ``mask``:
    the file spells it as a hexadecimal mask."""

    mask: bool = False

    def parse(self, text):
        text = text.strip()
        cpus, online = cpus_of(text), online_cpus()
        if not cpus or not cpus <= online or any(c not in "0123456789,-" for c in text):
            raise self.refuse(text, f"not a list of online CPUs (online: {cpu_list_text(online)})")
        return cpu_list_text(cpus)

    def checked(self, value: str, poller_cpu: int) -> str:
        """``value``, refused if it holds the poller's CPU (a value to set, not one found)."""
        if poller_cpu in cpus_of(value):
            raise self.refuse(value, f"it must leave out the poller's CPU {poller_cpu}")
        return value

    def read(self, scenario=None):
        text = Path(self.where).read_text().strip()
        if self.mask:
            mask = int(text.replace(",", ""), 16)
            return cpu_list_text(bit for bit in range(mask.bit_length()) if mask >> bit & 1)
        return cpu_list_text(cpus_of(text))

    def write(self, value):
        spelled = format(sum(1 << cpu for cpu in cpus_of(value)), "x") if self.mask else value
        Path(self.where).write_text(spelled + "\n")


@dataclass(frozen=True)
class KdamondCpus(CpuListKnob):
    """The CPUs every kdamond thread may run on (``sched_setaffinity`` of those kernel threads)."""

    def available(self) -> bool:
        return bool(kdamond_affinity())

    def read(self, scenario=None):
        """One CPU list where every thread has the same; else "pid=list;pid=list"."""
        affinity = {name.split()[0]: cpus for name, cpus in kdamond_affinity().items()}
        if len(set(affinity.values())) <= 1:
            return next(iter(affinity.values()), "")
        return ";".join(f"{pid}={cpus}" for pid, cpus in sorted(affinity.items()))

    def write(self, value):
        if "=" in value:
            plan = dict(part.split("=", 1) for part in value.split(";"))
        else:
            plan = {name.split()[0]: value for name in kdamond_affinity()}
        for pid, cpus in plan.items():
            try:
                os.sched_setaffinity(int(pid), cpus_of(cpus))
            except ProcessLookupError:
                continue  # the thread is gone: nothing to hold or give back


KNOBS = (
    IntegerKnob("vm.stat_interval", SYSTEM, "kworker vmstat_update on the poller's CPU", "whole seconds 1..3600",
                "/proc/sys/vm/stat_interval", low=1, high=3600),
    CpuListKnob("kernel.watchdog_cpumask", SYSTEM, "the watchdog's hrtimer and its stopper thread (migration/N)",
                "a list of online CPUs without the poller's", "/proc/sys/kernel/watchdog_cpumask"),
    IntegerKnob("kernel.timer_migration", SYSTEM, "timers moved onto the poller's CPU from idle ones", "0 or 1",
                "/proc/sys/kernel/timer_migration", low=0, high=1),
    CpuListKnob("workqueue.cpumask", SYSTEM, "unbound kworkers (kworker/uN:M) on the poller's CPU",
                "a list of online CPUs without the poller's", "/sys/devices/virtual/workqueue/cpumask", mask=True),
    KdamondCpus("kdamond.cpus", SYSTEM, "DAMON's kdamond threads on the poller's CPU",
                "a list of online CPUs without the poller's", "sched_setaffinity(2) of the kdamond threads"),
)
