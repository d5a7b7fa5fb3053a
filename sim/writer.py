"""The XDP program as SimPy processes: one per writer CPU, one policy per index discipline
(docs/model.md states the rules and where each also lives in the fast engine and in bpf/).

Each policy is a generator that handles one packet and returns ``(slot, blocked_by, index_after)``:
``blocked_by`` is EMPTY when the packet was written, else the packet that held the slot.
They differ only in when the write index moves relative to the look at the slot:

* ``buggy``: take ``key = w`` and advance ``w`` under the lock, then look; a full slot drops the
  packet, but ``w`` has already moved on.
* ``fixed``: as buggy, but after a drop take the lock again and set ``w = key`` so the next packet
  retries the slot. The lock is released in between, which is the race.
* ``locked``: look at the slot, and only if it is free claim it (the magic without its commit bit)
  and advance ``w``, in one critical section; copy, then set the commit bit. A claimed slot is full
  to other writers, so even a writer delayed for a whole ring cycle cannot share its slot.

A critical section's effects take place when the lock is taken; the lock then stays held for
``lock_hold_ns``, so the next holder sees them.
"""

from __future__ import annotations

from ringlab.scenario.fields import WRITER_POLICIES
from ringlab.sim.kernel_queue import KernelQueue
from ringlab.sim.ring import EMPTY, MapRing
from ringlab.sim.wake import Wake


def take_lock(env, ring: MapRing, lock_hold_ns: int, priority: int):
    """Spin until the lock is free, then take it for ``lock_hold_ns``."""
    while ring.lock_free_at_ns > env.now:
        yield Wake(env, ring.lock_free_at_ns - env.now, priority)
    ring.lock_free_at_ns = env.now + lock_hold_ns


def spend(env, time_ns: int, priority: int):
    """Let ``time_ns`` pass on this CPU."""
    if time_ns:
        yield Wake(env, time_ns, priority)


def buggy(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int, priority: int):
    """Advance, then drop if full."""
    yield from take_lock(env, ring, lock_hold_ns, priority)
    key = ring.write_index
    ring.write_index = (key + 1) % len(ring)
    index_after = ring.write_index
    yield from spend(env, lock_hold_ns + cost_ns, priority)
    blocked_by = ring.occupant(key)
    if blocked_by == EMPTY:
        ring.try_write(key, packet)
    return key, blocked_by, index_after


def fixed(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int, priority: int):
    """Advance, then look; on a full slot take the lock again and reset the index to it."""
    key, blocked_by, index_after = yield from buggy(env, ring, packet, cost_ns, lock_hold_ns, priority)
    if blocked_by != EMPTY:
        yield from take_lock(env, ring, lock_hold_ns, priority)
        ring.write_index = key
        index_after = key
        yield from spend(env, lock_hold_ns, priority)
    return key, blocked_by, index_after


def locked(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int, priority: int):
    """Decide "slot is free" and "advance the index" under the same lock, then copy."""
    yield from take_lock(env, ring, lock_hold_ns, priority)
    key = ring.write_index
    blocked_by = ring.occupant(key)
    if blocked_by == EMPTY:
        ring.reserve(key, packet)
        ring.write_index = (key + 1) % len(ring)
    index_after = ring.write_index
    if blocked_by != EMPTY:
        yield from spend(env, lock_hold_ns, priority)
        return key, blocked_by, index_after
    yield from spend(env, lock_hold_ns + cost_ns, priority)
    ring.commit(key)
    return key, EMPTY, index_after


POLICIES = {policy: globals()[policy] for policy in WRITER_POLICIES}  # one generator per policy, named after it


def kernel_receive(env, queue: KernelQueue, packet: int, cost_ns: int, lock_hold_ns: int, priority: int):
    """Another delivery path's kernel (sim/kernel_queue.py): the packet is refused at once if its queue
    has no room, else taken at the producer's position and valid ``cost_ns`` later (the copy). There
    is no write index to get wrong and no spin lock (``lock_hold_ns`` is not used)."""
    blocked_by = queue.refusal()
    if blocked_by != EMPTY:
        return queue.write_index, blocked_by, queue.write_index
    key = queue.reserve(packet)
    index_after = queue.write_index
    yield from spend(env, cost_ns, priority)
    queue.commit(key)
    return key, EMPTY, index_after


def writer_cpu(env, ring: MapRing | KernelQueue, policy: str, packets, arrival_ns, cost_ns: int, lock_hold_ns: int, priority: int, record):
    """One CPU running the XDP program: handles its packets in arrival order, one at a time.

    ``record(packet, slot, blocked_by, index_after, decided_ns)`` is called once per packet.
    """
    handle = POLICIES[policy] if isinstance(ring, MapRing) else kernel_receive
    for packet in packets:
        arrival = int(arrival_ns[packet])
        if arrival > env.now:
            yield Wake(env, arrival - env.now, priority)
        slot, blocked_by, index_after = yield from handle(env, ring, packet, cost_ns, lock_hold_ns, priority)
        record(packet, slot, blocked_by, index_after, env.now)
