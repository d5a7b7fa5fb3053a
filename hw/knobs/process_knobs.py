"""Knobs of ringlab's own processes: nothing outside them changes, so no ``--apply`` is needed.

- ``poller.mlock``: the trial's process locks and prefaults its memory (``mlockall``), so the poller
  takes no page fault;
- ``poller.thp``: transparent huge pages off for the trial's process and the senders it starts
  (``PR_SET_THP_DISABLE``), so no huge page is split or collapsed under the poller;
- ``hw.loops``: the poller's and sender's loop (``native`` C or ``python``);
- ``poller.cpu``: the CPU the poller runs on (the scenario's ``hw.poller_cpu``); the sender takes the
  lowest other one, so on two cores the two swap;
- ``competitor.cpu``: a competing process of ringlab's own (2 ms of work every 50 ms, first-in
  first-out, named ``rl-spinner``) on a CPU, or ``none``: a planted source of pauses, to check that
  an experiment finds what it should."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ringlab.hw.knobs.knob import PROCESS, Knob
from ringlab.hw.machine.environment import online_cpus

MCL_CURRENT, MCL_FUTURE = 1, 2
PR_SET_THP_DISABLE, PR_GET_THP_DISABLE = 41, 42
PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15
ON_OFF = ("on", "off")
COMPETITOR_NAME = "rl-spinner"
COMPETITOR_BUSY_NS = 2_000_000
COMPETITOR_PERIOD_NS = 50_000_000


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _on_off(knob: Knob, text: str) -> str:
    value = text.strip().lower()
    if value not in ON_OFF:
        raise knob.refuse(text, "not on or off")
    return value


@dataclass(frozen=True)
class MemoryLock(Knob):
    """This process's memory locked (``mlockall(MCL_CURRENT | MCL_FUTURE)``) or not."""

    def parse(self, text):
        return _on_off(self, text)

    def read(self, scenario):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmLck:"):
                return "on" if int(line.split()[1]) > 0 else "off"
        return "off"

    def write(self, value):
        libc = _libc()
        if value == "on":
            if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
                raise OSError(ctypes.get_errno(), "mlockall")
        elif libc.munlockall() != 0:
            raise OSError(ctypes.get_errno(), "munlockall")


@dataclass(frozen=True)
class HugePagesOff(Knob):
    """Transparent huge pages disabled for this process and the children it starts (``on``) or not."""

    def parse(self, text):
        return _on_off(self, text)

    def read(self, scenario):
        return "on" if _libc().prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1 else "off"

    def write(self, value):
        if _libc().prctl(PR_SET_THP_DISABLE, 1 if value == "on" else 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_THP_DISABLE)")


@dataclass(frozen=True)
class ScenarioKnob(Knob):
    """A knob the trial's scenario carries (``field``): nothing to set or give back outside it."""

    field: str = ""

    def read(self, scenario):
        table, _, name = self.field.partition(".")
        return str(getattr(getattr(scenario, table), name))

    def write(self, value):
        pass

    def scenario_values(self, value):
        return {self.field: int(value) if value.isdigit() else value}

    @contextlib.contextmanager
    def applied(self, value, scenario):
        yield


@dataclass(frozen=True)
class HotLoops(ScenarioKnob):
    """The scenario's ``hw.loops``: the poller's and sender's loop."""

    def parse(self, text):
        value = text.strip().lower()
        if value not in ("native", "python"):
            raise self.refuse(text, "not a loop ringlab has")
        return value


@dataclass(frozen=True)
class PollerCpu(ScenarioKnob):
    """The scenario's ``hw.poller_cpu``: the CPU the poller runs on; one sender takes the lowest other."""

    def parse(self, text):
        value = text.strip()
        online = online_cpus()
        if not value.isdigit() or int(value) not in online or len(online) < 2:
            raise self.refuse(text, f"not an online CPU of a machine with two or more (online: {sorted(online)})")
        return str(int(value))


COMPETITOR = f"""
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None)
libc.prctl({PR_SET_PDEATHSIG}, signal.SIGKILL, 0, 0, 0)  # it dies with the experiment, even a killed one
libc.prctl({PR_SET_NAME}, b"{COMPETITOR_NAME}", 0, 0, 0)
if os.getppid() != int(sys.argv[2]):
    sys.exit(0)
os.sched_setaffinity(0, {{int(sys.argv[1])}})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGINT, signal.SIG_DFL)  # whatever disposition it inherited
print("ready", flush=True)
while True:
    end = time.monotonic_ns() + {COMPETITOR_BUSY_NS}
    while time.monotonic_ns() < end:
        pass
    time.sleep({(COMPETITOR_PERIOD_NS - COMPETITOR_BUSY_NS) / 1e9})
"""


@dataclass(frozen=True)
class CompetingProcess(Knob):
    """A process of ringlab's own competing for a CPU during the trial, or none."""

    def parse(self, text):
        value = text.strip().lower()
        if value == "none":
            return value
        online = online_cpus()
        if not value.isdigit() or int(value) not in online:
            raise self.refuse(text, f"not an online CPU (online: {sorted(online)})")
        return str(int(value))

    def read(self, scenario):
        return "none"  # outside an experiment's "with" trial, it does not run

    def write(self, value):
        pass

    @contextlib.contextmanager
    def applied(self, value, scenario):
        if value == "none":
            yield
            return
        spinner = subprocess.Popen([sys.executable, "-c", COMPETITOR, value, str(os.getpid())], stdout=subprocess.PIPE,
                                   text=True)
        try:
            if spinner.stdout.readline().strip() != "ready":
                raise OSError(f"the competing process on CPU {value} did not start")
            yield
        finally:
            spinner.kill()
            spinner.wait()


KNOBS = (
    MemoryLock("poller.mlock", PROCESS, "page faults of the poller (task: the poller's own, in the kernel)",
               "on or off", "mlockall(2) of the trial's process"),
    HugePagesOff("poller.thp_disable", PROCESS, "khugepaged and huge-page faults on the poller's memory",
                 "on or off", "prctl(PR_SET_THP_DISABLE) of the trial's process"),
    HotLoops("hw.loops", PROCESS, "the interpreter's own pauses in a Python poller", "native or python",
             "the scenario's hw.loops", field="hw.loops"),
    PollerCpu("poller.cpu", PROCESS, "whatever runs on one CPU and not the other (IRQs, kernel threads, the hypervisor's "
              "share)", "an online CPU", "the scenario's hw.poller_cpu (the sender moves to the other CPU)",
              field="hw.poller_cpu"),
    CompetingProcess("competitor.cpu", PROCESS, f"task {COMPETITOR_NAME}, which it adds (a planted source: "
                     "does the experiment find it?)",
                     "an online CPU or none", f"a process of ringlab's own, {COMPETITOR_NAME}"),
)
