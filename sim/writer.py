"""The XDP program as SimPy processes: one per writer CPU, one policy per index discipline.

Each policy is a generator that handles one packet and returns ``(slot, written, index_after)``.
They differ only in when the write index moves relative to the look at the slot:

* ``buggy``: take ``key = w`` and advance ``w`` under the lock, then look; a full slot drops the
  packet, but ``w`` has already moved on.
* ``fixed``: as buggy, but after a drop take the lock again and set ``w = key`` so the next packet
  retries the slot. The lock is released in between, which is the race.
* ``locked``: look at the slot and advance ``w`` only if it is free, in one critical section.
"""

from __future__ import annotations

from sim.ring import MapRing


def _hold_lock(env, hold_ns: int):
    if hold_ns:
        yield env.timeout(hold_ns)


def buggy(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int):
    """Advance, then drop if full."""
    with ring.lock.request() as request:
        yield request
        yield from _hold_lock(env, lock_hold_ns)
        key = ring.write_index
        ring.write_index = (key + 1) % len(ring)
        index_after = ring.write_index
    if cost_ns:
        yield env.timeout(cost_ns)
    return key, ring.try_write(key, packet), index_after


def fixed(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int):
    """Advance, then look; on a full slot take the lock again and reset the index to it."""
    key, written, index_after = yield from buggy(env, ring, packet, cost_ns, lock_hold_ns)
    if not written:
        with ring.lock.request() as request:
            yield request
            yield from _hold_lock(env, lock_hold_ns)
            ring.write_index = key
            index_after = key
    return key, written, index_after


def locked(env, ring: MapRing, packet: int, cost_ns: int, lock_hold_ns: int):
    """Decide "slot is free" and "advance the index" under the same lock, then copy."""
    with ring.lock.request() as request:
        yield request
        yield from _hold_lock(env, lock_hold_ns)
        key = ring.write_index
        free = not ring.is_full(key)
        if free:
            ring.write_index = (key + 1) % len(ring)
        index_after = ring.write_index
    if not free:
        return key, False, index_after
    if cost_ns:
        yield env.timeout(cost_ns)
    return key, ring.try_write(key, packet), index_after


POLICIES = {"buggy": buggy, "fixed": fixed, "locked": locked}


def writer_cpu(env, ring: MapRing, policy: str, packets, arrival_ns, cost_ns: int, lock_hold_ns: int, record):
    """One CPU running the XDP program: handles its packets in arrival order, one at a time.

    ``record(packet, slot, written, index_after, decided_ns)`` is called once per packet.
    """
    handle = POLICIES[policy]
    for packet in packets:
        arrival = int(arrival_ns[packet])
        if arrival > env.now:
            yield env.timeout(arrival - env.now)
        slot, written, index_after = yield from handle(env, ring, packet, cost_ns, lock_hold_ns)
        record(packet, slot, written, index_after, env.now)
