"""What a knob is: a setting an experiment turns for its "with" trials and turns back after each.

A knob reads its value now, checks a value given on the command line (one line naming the problem
where it is wrong), and, inside :meth:`Knob.applied`, holds the value for one trial and gives back
what it found on every exit path. ``scope`` says what it touches: ``process`` (ringlab's own
processes: no ``--apply`` needed) or ``system`` (the machine: refused without ``--apply``, journalled
before it is written, see :mod:`ringlab.hw.knobs.journal`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ringlab.errors import InputError

PROCESS = "process"
SYSTEM = "system"


@dataclass(frozen=True)
class Knob:
    """A named setting with the pause source it is meant to remove."""

    name: str
    scope: str  # PROCESS or SYSTEM
    removes: str  # the pause source it acts on (meant to remove, or for a planted one, adds), in the tracer's words
    accepts: str  # what values it takes, for the refusal line and the docs
    where: str  # the file or call it reads and writes

    def parse(self, text: str) -> str:
        """``text`` in the knob's own spelling (compared with what :meth:`read` gives), or an InputError."""
        raise NotImplementedError

    def read(self, scenario) -> str:
        """The value in force now (for ``scenario``'s trial)."""
        raise NotImplementedError

    def write(self, value: str) -> None:
        """Set ``value`` (a value :meth:`parse` or :meth:`read` gave)."""
        raise NotImplementedError

    def available(self) -> bool:
        """Whether this machine has the knob."""
        return True

    def checked(self, value: str, poller_cpu: int) -> str:
        """``value`` as a value to set while the poller runs on ``poller_cpu`` (some values may be read
        but not set), or an InputError."""
        return value

    def scenario_values(self, value: str) -> dict:
        """What the value changes in the trial's scenario (most knobs: nothing)."""
        return {}

    @contextlib.contextmanager
    def applied(self, value: str, scenario):
        """``value`` held for the block, and what was there before given back after it."""
        before = self.read(scenario)
        self.write(value)
        try:
            yield
        finally:
            self.write(before)

    def refuse(self, text: str, problem: str) -> InputError:
        return InputError("--knob", f"{self.name}={text}: {problem} ({self.name} takes {self.accepts})")
