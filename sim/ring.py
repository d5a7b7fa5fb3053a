"""The BPF maps as the model sees them: N payload slots and a write index under a spin lock."""

from __future__ import annotations

import simpy

EMPTY = -1
RESERVED = -2  # claimed by a writer, payload not yet committed: full to writers, invalid to the poller


class MapRing:
    """The array map of N slots (each EMPTY, RESERVED or holding one packet) and the lock map.

    ``write_index`` is only touched by a writer holding the spin lock, which is held until
    ``lock_free_at_ns``. A slot is valid from the moment ``try_write`` fills it until the poller
    clears it.
    """

    def __init__(self, env: simpy.Environment, slots: int):
        self.env = env
        self.slots = [EMPTY] * slots
        self.write_index = 0
        self.lock_free_at_ns = 0
        self._became_valid: dict[int, simpy.Event] = {}

    def __len__(self) -> int:
        return len(self.slots)

    def is_full(self, slot: int) -> bool:
        """What a writer sees: the slot holds a payload or a claim."""
        return self.slots[slot] != EMPTY

    def reserve(self, slot: int) -> None:
        """Claim an empty ``slot`` for a later :meth:`commit` (the magic without its commit bit)."""
        assert self.slots[slot] == EMPTY
        self.slots[slot] = RESERVED

    def try_write(self, slot: int, packet: int) -> bool:
        """Copy ``packet`` into ``slot`` if it is empty (magic written last); False if still full."""
        if self.slots[slot] != EMPTY:
            return False
        self._fill(slot, packet)
        return True

    def commit(self, slot: int, packet: int) -> None:
        """Copy ``packet`` into the ``slot`` this writer reserved, then set the commit bit."""
        assert self.slots[slot] == RESERVED
        self._fill(slot, packet)

    def _fill(self, slot: int, packet: int) -> None:
        self.slots[slot] = packet
        waiting = self._became_valid.pop(slot, None)
        if waiting is not None:
            waiting.succeed()  # scheduled now, at the poller's priority (NORMAL)

    def read(self, slot: int) -> int:
        """The packet in ``slot`` (only called once it is valid)."""
        return self.slots[slot]

    def clear(self, slot: int) -> None:
        """Zero ``slot``: it becomes EMPTY."""
        self.slots[slot] = EMPTY

    def when_valid(self, slot: int) -> simpy.Event | None:
        """An event that fires when ``slot`` becomes valid, or None if it already is."""
        if self.slots[slot] >= 0:
            return None
        event = self._became_valid.get(slot)
        if event is None:
            event = self._became_valid[slot] = self.env.event()
        return event
