"""The delivery paths (docs/delivery.md): how packets reach the poller, each one object that carries
every rule in which the paths differ: what a scenario says of it, how the simulator models its
queue, and how a trial runs it on real XDP. Code asks the path (``scenario.delivery.kind``), never
its name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class DeliveryPath:
    """One way packets reach the poller."""

    name: str
    table: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # its own table's defaults
    # the scenario
    has_writer_policy: bool = False  # the map ring's writer: writer.policy, writer.lock_hold, several CPUs
    ring_slots_power_of_two: bool = False  # an RX ring's descriptors
    has_ring: bool = True  # ring_slots sets its room (a socket buffer's room is in bytes)
    pause_threshold: str | None = None  # the scenario's hw.pause_threshold unless it gives one
    # the simulator
    queue: str = "map ring"  # the model of its queue: "map ring", "descriptor ring", "socket buffer"
    # real XDP
    xdp_program: str = "ring_writer"  # bpf/ring_writer.c, or bpf/xdp_handoff.c which hands the frame on
    payload_offset_bytes: int = 20  # where the payload starts after the Ethernet header
    datagrams: bool = False  # the sender sends UDP datagrams (a real IPv4 header, a UDP header), not raw frames
    socket: str | None = None  # the kernel's socket the poller reads: None, "af_xdp", "udp"
    xskmap: bool = False  # the XDP program redirects each frame into an XSKMAP entry
    receiver_in_namespace: bool = False  # the testbed's roles turn round (the socket lives in its namespace)
    native_poller_only: bool = False  # its poller exists in C only
    one_queue: bool = False  # one socket on one receive queue
    reads_carry_slots: bool = False  # each read says where in the queue it was (an RX ring's descriptor index)
    measures_packet_bytes: bool = False  # a trial measures what one packet takes of the buffer

    def capacity_packets(self, ring_slots: int, frames: int = 0, rcvbuf_bytes: int = 0, packet_bytes: int = 1) -> int:
        """The most packets the path holds unread."""
        if self.queue == "descriptor ring":
            return min(ring_slots, frames)
        if self.queue == "socket buffer":
            return 2 * rcvbuf_bytes // packet_bytes + 1  # accepted while held <= the limit (twice SO_RCVBUF)
        return ring_slots


MAP_RING = DeliveryPath("map_ring", has_writer_policy=True)
AF_XDP = DeliveryPath(
    "af_xdp", MappingProxyType({"frames": 4096}), ring_slots_power_of_two=True, queue="descriptor ring",
    xdp_program="handoff", socket="af_xdp", xskmap=True, native_poller_only=True, one_queue=True, reads_carry_slots=True)
# packet_bytes: what one 1 024-byte frame's datagram takes of the buffer, as trials measure it here
# (2 934-2 996 bytes at three buffer sizes: docs/delivery.md); a replay uses its trial's own.
# pause_threshold: a UDP socket's poller spends 1.2-1.5 us in each recvmsg here (the median and 90th
# percentile of its loop's period): a gap of 1 us between two of its iterations is the loop itself.
UDP_SOCKET = DeliveryPath(
    "udp_socket", MappingProxyType({"rcvbuf_bytes": 106496, "packet_bytes": 2960}), has_ring=False,
    pause_threshold="5us", queue="socket buffer", xdp_program="handoff", payload_offset_bytes=28, datagrams=True,
    socket="udp",
    receiver_in_namespace=True, native_poller_only=True, measures_packet_bytes=True)

PATHS = {path.name: path for path in (MAP_RING, AF_XDP, UDP_SOCKET)}
