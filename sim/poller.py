"""The userspace poller as a SimPy process: wait on one slot, read it, clear it, move on."""

from __future__ import annotations

from ringlab.scenario.stalls import StallSchedule
from ringlab.sim.ring import Slots
from ringlab.sim.wake import POLLER_PRIORITY, Wake


def poller(env, ring: Slots, stalls: StallSchedule, cost_ns: int, wakeup_ns: int, record):
    """Busy-wait on slot ``r`` until it is valid; copy, zero, advance ``r``; stall as scheduled.

    Event-driven: it sleeps until its slot becomes valid, and then until its stall (if any) ends.
    A slot that becomes valid while the poller spins is noticed ``wakeup_ns`` later; one that is
    already valid when the poller arrives is noticed at once. Reading takes ``cost_ns`` of running
    time, which stalls stretch. ``record(packet, slot, delivered_ns)`` is called per packet read.
    """
    read_index = 0
    while True:
        became_valid = ring.when_valid(read_index)
        if became_valid is not None:
            yield became_valid
            notice_ns = env.now + wakeup_ns
        else:
            notice_ns = env.now
        start_ns = stalls.resume_ns(notice_ns)
        done_ns = stalls.work_end_ns(start_ns, cost_ns)
        yield Wake(env, done_ns - env.now, POLLER_PRIORITY)
        packet = ring.read(read_index)
        ring.clear(read_index)
        record(packet, read_index, env.now)
        read_index = (read_index + 1) % len(ring)
