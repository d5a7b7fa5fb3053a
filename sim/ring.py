"""The BPF maps as the model sees them: N payload slots and a write index under a spin lock."""

from __future__ import annotations

import simpy

EMPTY = -1


class Slots:
    """What the poller reads, on every delivery path: positions each EMPTY or holding one packet,
    which becomes valid to the poller once committed; the poller waits on one position at a time."""

    def __init__(self, env: simpy.Environment, positions: int):
        self.env = env
        self.slots = [EMPTY] * positions
        self.committed = [False] * positions
        self._became_valid: dict[int, simpy.Event] = {}

    def __len__(self) -> int:
        return len(self.slots)

    def commit(self, slot: int) -> None:
        """Set the commit bit of the payload in ``slot``: it becomes valid to the poller."""
        self.committed[slot] = True
        waiting = self._became_valid.pop(slot, None)
        if waiting is not None:
            waiting.succeed()  # scheduled now, at the poller's priority (NORMAL)

    def read(self, slot: int) -> int:
        """The packet in ``slot`` (only called once it is valid)."""
        return self.slots[slot]

    def clear(self, slot: int) -> None:
        """Zero ``slot``: it becomes EMPTY."""
        self.slots[slot] = EMPTY
        self.committed[slot] = False

    def when_valid(self, slot: int) -> simpy.Event | None:
        """An event that fires when ``slot`` becomes valid, or None if it already is."""
        if self.committed[slot]:
            return None
        event = self._became_valid.get(slot)
        if event is None:
            event = self._became_valid[slot] = self.env.event()
        return event


class MapRing(Slots):
    """The array map of N slots and the lock map (docs/model.md).

    Each slot is EMPTY or holds one packet; a held slot is either committed (valid: the magic is
    set) or only claimed by a locked writer (the magic without its commit bit: full to writers,
    invalid to the poller). ``write_index`` is only touched by a writer holding the spin lock,
    which is held until ``lock_free_at_ns``.
    """

    def __init__(self, env: simpy.Environment, slots: int):
        super().__init__(env, slots)
        self.write_index = 0
        self.lock_free_at_ns = 0

    def occupant(self, slot: int) -> int:
        """What a writer sees: the packet holding or claiming ``slot``, or EMPTY."""
        return self.slots[slot]

    def reserve(self, slot: int, packet: int) -> None:
        """Claim an empty ``slot`` for ``packet`` and a later :meth:`commit`."""
        assert self.slots[slot] == EMPTY
        self.slots[slot] = packet

    def try_write(self, slot: int, packet: int) -> bool:
        """Copy ``packet`` into ``slot`` if it is empty (magic written last); False if still full."""
        if self.slots[slot] != EMPTY:
            return False
        self.slots[slot] = packet
        self.commit(slot)
        return True
