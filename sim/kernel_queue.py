"""The queues the kernel fills for the other delivery paths (docs/delivery.md): an AF_XDP socket's RX
ring with its UMEM frames, and a UDP socket's receive buffer.

Both are first-in first-out: the kernel appends at the producer's position, the poller reads and
frees at its own, in order. They differ in the rule that refuses a packet:

* :class:`DescriptorRing` (AF_XDP): refused when the RX ring's N descriptors are all unread, or when
  the fill ring has no free frame to copy into. Every frame is in the fill ring at the start; the
  poller returns a packet's frame as it reads it.
* :class:`SocketBuffer` (UDP): refused while the bytes the socket holds are over its limit (the
  kernel's ``sk_rcvbuf``, twice what SO_RCVBUF was given); each packet holds ``packet_bytes``, and
  the kernel frees the bytes of packets read in batches.

To the poller they look like the map ring (:class:`ringlab.sim.ring.Slots`), so ``sim/poller.py``
reads all three. A position is the producer's count modulo the most packets the
queue can hold (``Scenario.capacity_packets``; the trace's ``ring_slots`` for these paths).
"""

from __future__ import annotations

import simpy

from ringlab.scenario.fields import Scenario
from ringlab.sim.ring import EMPTY, Slots


class KernelQueue(Slots):
    """A FIFO of ``positions`` entries the kernel appends to; subclasses say when it refuses one."""

    def __init__(self, env: simpy.Environment, positions: int):
        super().__init__(env, positions)
        self.write_index = 0  # the producer's next position
        self.read_index = 0   # the oldest unread position
        self.held = 0

    def refusal(self) -> int:
        """EMPTY if a packet arriving now is taken, else the oldest unread packet (whose read would
        have made room)."""
        return EMPTY if self.has_room() else self.slots[self.read_index]

    def has_room(self) -> bool:
        raise NotImplementedError

    def reserve(self, packet: int) -> int:
        """Take ``packet`` at the producer's position (valid once committed); return the position."""
        position = self.write_index
        assert self.slots[position] == EMPTY
        self.slots[position] = packet
        self.write_index = (position + 1) % len(self)
        self.held += 1
        return position

    def clear(self, position: int) -> None:
        """The poller is done with the packet at ``position``: its room is free again."""
        super().clear(position)
        self.read_index = (position + 1) % len(self)
        self.held -= 1


class DescriptorRing(KernelQueue):
    """An AF_XDP RX ring of ``slots`` descriptors, fed from ``frames`` UMEM frames."""

    def __init__(self, env: simpy.Environment, slots: int, frames: int):
        super().__init__(env, min(slots, frames))
        self.descriptors, self.free_frames = slots, frames

    def has_room(self) -> bool:
        return self.held < self.descriptors and self.free_frames > 0

    def reserve(self, packet: int) -> int:
        self.free_frames -= 1
        return super().reserve(packet)

    def clear(self, position: int) -> None:
        super().clear(position)
        self.free_frames += 1  # the poller puts the frame back on the fill ring


class SocketBuffer(KernelQueue):
    """A UDP socket's receive queue: each packet holds ``packet_bytes``; refused while the bytes held
    are over ``limit_bytes``.

    The kernel frees a read packet's bytes late (``udp_rmem_release``): the poller reads from a
    reader queue, into which the receive queue is moved whole when it is empty; the bytes of packets
    read pile up until they reach a quarter of the limit or the reader queue runs empty, and are
    freed then (and the receive queue moved again). So after a stall the buffer stays full for the
    first few reads, and packets arriving meanwhile are refused."""

    def __init__(self, env: simpy.Environment, limit_bytes: int, packet_bytes: int):
        super().__init__(env, limit_bytes // packet_bytes + 1)  # the most it can ever hold
        self.limit_bytes, self.packet_bytes = limit_bytes, packet_bytes
        self.held_bytes = 0
        self.deficit = 0  # bytes of packets read, not freed yet
        self.spliced = 0  # packets in the reader queue
        self.waiting = 0  # committed packets not read

    def has_room(self) -> bool:
        return self.held_bytes <= self.limit_bytes

    def reserve(self, packet: int) -> int:
        self.held_bytes += self.packet_bytes
        return super().reserve(packet)

    def commit(self, position: int) -> None:
        self.waiting += 1
        super().commit(position)

    def clear(self, position: int) -> None:
        if self.spliced == 0:
            self.spliced = self.waiting
        self.spliced -= 1
        self.waiting -= 1
        self.deficit += self.packet_bytes
        if self.deficit >= self.limit_bytes >> 2 or self.spliced == 0:
            self.held_bytes -= self.deficit
            self.deficit = 0
            self.spliced = self.waiting
        super().clear(position)


def kernel_queue(env: simpy.Environment, scenario: Scenario) -> KernelQueue:
    """The queue of ``scenario``'s delivery path (not the map ring)."""
    delivery = scenario.delivery
    if delivery.kind.queue == "descriptor ring":
        return DescriptorRing(env, scenario.ring_slots, delivery.frames)
    return SocketBuffer(env, 2 * delivery.rcvbuf_bytes, delivery.packet_bytes)
