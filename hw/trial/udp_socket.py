"""A UDP socket for a trial (``udp_loop.c``): made inside the testbed's namespace, bound to its
receiver address, with the scenario's receive buffer; closed on every exit. Its poller has the
contract of :func:`ringlab.hw.trial.native_loops.poll_ring_native`."""

from __future__ import annotations

import ctypes
import functools
import os
import socket
from pathlib import Path

import numpy as np

from ringlab import native
from ringlab.bpf import RING_WIRE_HEADER
from ringlab.errors import HardwareError
from ringlab.hw.machine.netns import entered as netns_entered
from ringlab.hw.machine.wire import LAYOUT_CODES
from ringlab.hw.trial.native_loops import HOT_LOOPS_HEADER, poll_with
from ringlab.hw.trial.poller import PollRecord, StallPlan

_SOURCE = Path(__file__).with_name("udp_loop.c")
SO_RCVBUFFORCE = 33  # as SO_RCVBUF, past net.core.rmem_max (root): a setting of this socket only
SO_MEMINFO = 55
MEMINFO = ("rmem_alloc", "rcvbuf", "wmem_alloc", "sndbuf", "fwd_alloc", "wmem_queued", "optmem", "backlog", "drops")
BUFFER_NOTES = 1 << 16  # room for the buffer's state at the end of stalls


class _BufferRecord(ctypes.Structure):
    """struct buffer_record of udp_loop.c."""

    _fields_ = [("at_ns", ctypes.c_void_p), ("bytes", ctypes.c_void_p), ("capacity", ctypes.c_int64),
                ("count", ctypes.c_int64)]


def library() -> ctypes.CDLL:
    """udp_loop.c, built on first use: the UDP socket's poller."""
    from ringlab.hw.trial.native_loops import PollRecordStruct, StallPlanStruct

    i64, pointer, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    return native.declared(_SOURCE, (RING_WIRE_HEADER, HOT_LOOPS_HEADER), lambda: {
        "ringlab_udp_poll": ([c_int, c_int, i64, ctypes.POINTER(StallPlanStruct), pointer, i64,
                              ctypes.POINTER(PollRecordStruct), ctypes.POINTER(_BufferRecord)], None)})


class UdpSocket:
    """Context manager: a UDP socket made in network namespace ``netns``, bound to ``address``:``port``,
    given ``rcvbuf_bytes`` with SO_RCVBUFFORCE (the kernel's limit is twice that)."""

    def __init__(self, netns: str | None, address: str, port: int, rcvbuf_bytes: int):
        self.netns, self.address, self.port, self.rcvbuf_bytes = netns, address, port, rcvbuf_bytes
        self.sock: socket.socket | None = None
        self.buffer_at_stall_ends: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))

    def __enter__(self) -> UdpSocket:
        library()  # built or loaded now, not when the poll starts
        with netns_entered(self.netns):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf_bytes)
            self.sock.bind((self.address, self.port))
            self.sock.setblocking(False)
        except OSError as error:
            self.sock.close()
            raise HardwareError(f"setting up the UDP socket on {self.address}:{self.port} failed: {error}") from None
        return self

    @property
    def limit_bytes(self) -> int:
        """The kernel's limit on what the socket holds (sk_rcvbuf)."""
        return self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def meminfo(self) -> dict[str, int]:
        """The socket's SO_MEMINFO: what it holds, its limit, and its drops (sk_drops)."""
        raw = self.sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 4 * len(MEMINFO))
        return dict(zip(MEMINFO, np.frombuffer(raw, np.uint32).tolist()))

    def drain(self) -> int:
        """Read what the socket still holds (after the poll); return how many datagrams."""
        count = 0
        while True:
            try:
                self.sock.recv(4096)
            except BlockingIOError:
                return count
            count += 1

    def poll(self, layout: str, positions: int, stalls: StallPlan, stop_box: np.ndarray, pause_threshold_ns: int,
             read_capacity: int, pause_capacity: int) -> PollRecord:
        """Busy-poll the socket until ``stop_box[0]``, injecting ``stalls``; as ``poll_ring_native``.
        Keeps what the buffer held at the end of each stall in ``buffer_at_stall_ends``."""
        at_ns, held = np.zeros(BUFFER_NOTES, np.int64), np.zeros(BUFFER_NOTES, np.int64)
        buffer = _BufferRecord(at_ns.ctypes.data, held.ctypes.data, BUFFER_NOTES, 0)
        record = poll_with(lambda plan, out: library().ringlab_udp_poll(
            self.sock.fileno(), LAYOUT_CODES[layout], positions, plan, stop_box.ctypes.data, pause_threshold_ns, out,
            ctypes.byref(buffer)), stalls, stop_box, read_capacity, pause_capacity)
        self.buffer_at_stall_ends = (at_ns[:buffer.count], held[:buffer.count])
        return record

    def poller(self, scenario, stalls: StallPlan, stop_box: np.ndarray, pause_threshold_ns: int, read_capacity: int,
               pause_capacity: int):
        """The trial's poller on this socket (positions: the packets the buffer can hold): a function of no arguments."""
        return functools.partial(self.poll, scenario.hw.payload_layout, scenario.capacity_packets, stalls, stop_box,
                                 pause_threshold_ns, read_capacity, pause_capacity)

    def figures(self, scenario, netns: str | None) -> dict:
        """What the socket says at the end of a trial (after reading what it still holds): its buffer, what
        was unread, the kernel's counters of what it refused."""
        unread = self.drain()
        meminfo = self.meminfo()
        counters = {"sk_drops": meminfo["drops"], **udp_errors(netns)}
        return {"path": scenario.delivery.path, "rcvbuf_bytes": scenario.delivery.rcvbuf_bytes,
                "limit_bytes": self.limit_bytes, "unread_at_end": unread, "kernel_counters": counters,
                "kernel_drops": meminfo["drops"]}

    def __exit__(self, *exc) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def udp_errors(netns: str) -> dict[str, int]:
    """The UDP counters of ``netns`` (/proc/net/snmp there): its only socket is the trial's."""
    with netns_entered(netns):
        fd = os.open("/proc/thread-self/net/snmp", os.O_RDONLY)
        try:
            text = os.read(fd, 1 << 16).decode()
        finally:
            os.close(fd)
    rows = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
    return {name: int(value) for name, value in zip(rows[0][1:], rows[1][1:])}
