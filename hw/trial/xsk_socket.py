"""An AF_XDP socket for a trial (``xsk_loop.c``, through libxdp's xsk API): opened, bound and entered
in the XDP program's XSKMAP inside a ``with`` block, closed on every exit. Its poller has the
contract of :func:`ringlab.hw.trial.native_loops.poll_ring_native`."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from ringlab import native
from ringlab.bpf import RING_WIRE_HEADER
from ringlab.errors import BuildError, HardwareError
from ringlab.hw.machine.signals import signals_deferred
from ringlab.hw.machine.wire import LAYOUT_CODES
from ringlab.hw.trial.native_loops import HOT_LOOPS_HEADER, PollRecordStruct, StallPlanStruct
from ringlab.hw.trial.poller import PollRecord, StallPlan

_SOURCE = Path(__file__).with_name("xsk_loop.c")
UMEM_FRAME_BYTES = 4096  # a UMEM frame (a page); the frames sent are 1 024 bytes
LIBRARIES = ("xdp", "bpf")  # libxdp-dev (and libbpf-dev, which it needs); scripts/setup.sh installs them
STEPS = {1: "allocating the UMEM's memory", 2: "xsk_umem__create", 3: "xsk_socket__create (bind)",
         4: "filling the fill ring", 5: "reading XDP_OPTIONS"}
STATISTICS = ("rx_dropped", "rx_invalid_descs", "tx_invalid_descs", "rx_ring_full", "rx_fill_ring_empty_descs",
              "tx_ring_empty_descs")


def library_or_refusal() -> ctypes.CDLL:
    """:func:`library`, or a HardwareError in one line where libxdp is missing."""
    try:
        return library()
    except BuildError as error:
        raise HardwareError(f"delivery.path = \"af_xdp\" needs libxdp, and the AF_XDP poller does not build: {error}"
                            " (make setup installs libxdp-dev)") from None


def library() -> ctypes.CDLL:
    """xsk_loop.c, built on first use and linked with libxdp: the AF_XDP socket and its poller."""
    i64, pointer, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    return native.declared(_SOURCE, (RING_WIRE_HEADER, HOT_LOOPS_HEADER), lambda: {
        "ringlab_xsk_open": ([ctypes.c_char_p, c_int, i64, i64, i64, ctypes.POINTER(c_int), ctypes.POINTER(c_int)],
                             pointer),
        "ringlab_xsk_close": ([pointer], None),
        "ringlab_xsk_fd": ([pointer], c_int),
        "ringlab_xsk_zerocopy": ([pointer], c_int),
        "ringlab_xsk_need_wakeup": ([pointer], c_int),
        "ringlab_xsk_wakeups": ([pointer], i64),
        "ringlab_xsk_unread": ([pointer], i64),
        "ringlab_xsk_statistics": ([pointer, pointer], c_int),
        "ringlab_xsk_poll": ([pointer, c_int, ctypes.POINTER(StallPlanStruct), pointer, i64,
                              ctypes.POINTER(PollRecordStruct)], None)}, libraries=LIBRARIES)


class XskSocket:
    """Context manager: an AF_XDP socket with ``frames`` UMEM frames and an RX ring of ``rx_slots``
    descriptors, made by libxdp, bound to queue ``queue`` of ``iface`` (the kernel's choice: zero-copy
    where offered, else copy mode; need-wakeup asked for) and entered in ``xskmap`` at that queue.
    Leaving the block removes the entry and closes the socket, which frees its UMEM and rings."""

    def __init__(self, iface: str, frames: int, rx_slots: int, xskmap, queue: int = 0):
        self.iface, self.frames, self.rx_slots, self.xskmap, self.queue = iface, frames, rx_slots, xskmap, queue
        self._handle = None

    def __enter__(self) -> XskSocket:
        step, error = ctypes.c_int(0), ctypes.c_int(0)
        library_or_refusal()
        with signals_deferred():
            self._handle = library().ringlab_xsk_open(self.iface.encode(), self.queue, self.frames, UMEM_FRAME_BYTES,
                                                      self.rx_slots, ctypes.byref(step), ctypes.byref(error))
        if not self._handle:
            raise HardwareError(f"{self.iface}: opening an AF_XDP socket failed at {STEPS.get(step.value, '?')}: "
                                f"{os.strerror(error.value)}")
        try:
            self.xskmap[ctypes.c_int(self.queue)] = ctypes.c_int(library().ringlab_xsk_fd(self._handle))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def bind_mode(self) -> str:
        """How the kernel bound it: "zero-copy" or "copy"."""
        return "zero-copy" if library().ringlab_xsk_zerocopy(self._handle) else "copy"

    @property
    def need_wakeup(self) -> bool:
        """Whether it was bound with XDP_USE_NEED_WAKEUP (the poller wakes the kernel only when asked)."""
        return bool(library().ringlab_xsk_need_wakeup(self._handle))

    def wakeups(self) -> int:
        """The times the poller woke the kernel because the fill ring asked for it."""
        return int(library().ringlab_xsk_wakeups(self._handle))

    def unread(self) -> int:
        """Packets on the RX ring not read yet."""
        return int(library().ringlab_xsk_unread(self._handle))

    def statistics(self) -> dict[str, int]:
        """The kernel's XDP_STATISTICS for this socket."""
        values = np.zeros(len(STATISTICS), np.uint64)
        result = library().ringlab_xsk_statistics(self._handle, values.ctypes.data)
        if result < 0:
            raise HardwareError(f"{self.iface}: reading the AF_XDP socket's statistics failed: {os.strerror(-result)}")
        return {name: int(value) for name, value in zip(STATISTICS, values)}

    def poll(self, layout: str, stalls: StallPlan, stop_box: np.ndarray, pause_threshold_ns: int, read_capacity: int,
             pause_capacity: int) -> PollRecord:
        """Read the RX ring until ``stop_box[0]``, injecting ``stalls``; as ``poll_ring_native`` (the
        slot of each read is its descriptor's index on the RX ring)."""
        from ringlab.hw.trial.native_loops import poll_with

        return poll_with(lambda plan, record: library().ringlab_xsk_poll(
            self._handle, LAYOUT_CODES[layout], plan, stop_box.ctypes.data, pause_threshold_ns, record),
            stalls, stop_box, read_capacity, pause_capacity)

    def poller(self, scenario, stalls: StallPlan, stop_box: np.ndarray, pause_threshold_ns: int, read_capacity: int,
               pause_capacity: int):
        """The trial's poller on this socket: a function of no arguments."""
        return functools.partial(self.poll, scenario.hw.payload_layout, stalls, stop_box, pause_threshold_ns,
                                 read_capacity, pause_capacity)

    def figures(self, scenario, netns: str | None) -> dict:
        """What the socket says at the end of a trial: its bind, what is unread, the kernel's counters."""
        statistics = self.statistics()
        return {"path": scenario.delivery.path, "bind_mode": self.bind_mode, "need_wakeup": self.need_wakeup,
                "wakeups": self.wakeups(), "frames": self.frames, "rx_slots": self.rx_slots,
                "unread_at_end": self.unread(), "kernel_counters": statistics,
                "kernel_drops": statistics["rx_dropped"] + statistics["rx_ring_full"]}

    def __exit__(self, *exc) -> None:
        with signals_deferred():
            if self._handle:
                with contextlib.suppress(KeyError, OSError):  # gone with the program, or never entered
                    del self.xskmap[ctypes.c_int(self.queue)]
                library().ringlab_xsk_close(self._handle)
                self._handle = None
