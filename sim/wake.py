"""Wake-ups with an explicit order among processes that wake at the same nanosecond."""

from __future__ import annotations

import simpy
from simpy.events import NORMAL

# At one instant the poller goes first, then the writer CPUs in order. Every process has at most
# one pending wake-up, so (time, priority) orders all events of a run without ties: both engines
# (SimPy and the fast one) therefore agree packet for packet.
POLLER_PRIORITY = NORMAL


def writer_priority(cpu: int) -> int:
    return NORMAL + 1 + cpu


class Wake(simpy.events.Event):
    """An event that fires ``delay_ns`` from now, before events of larger ``priority`` at that time."""

    def __init__(self, env: simpy.Environment, delay_ns: int, priority: int):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, delay_ns)
