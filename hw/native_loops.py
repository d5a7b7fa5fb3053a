"""The poller and the paced sender in C (``hot_loops.c``), with the same contracts as the Python
versions in :mod:`ringlab.hw.poller` and :mod:`ringlab.hw.sender`, which stay for comparison."""

from __future__ import annotations

import ctypes
import mmap
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ringlab import native
from ringlab.bpf import RING_WIRE_HEADER
from ringlab.hw.poller import PollRecord
from ringlab.hw.wire import LAYOUT_CODES

if TYPE_CHECKING:  # importing it costs scipy's import time, which the sender cannot afford
    from ringlab.stalls import StallSchedule

_SOURCE = Path(__file__).with_name("hot_loops.c")
_library = None


def library() -> ctypes.CDLL:
    global _library
    if _library is None:
        lib = native.load(_SOURCE, headers=(RING_WIRE_HEADER,))
        i64, pointer, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
        lib.ringlab_poll.argtypes = [pointer, i64, c_int, pointer, pointer, i64, i64, pointer, pointer, pointer,
                                     pointer, i64]
        lib.ringlab_poll.restype = i64
        lib.ringlab_send.argtypes = [c_int, pointer, i64, c_int, pointer, pointer, i64, i64, pointer]
        lib.ringlab_send.restype = i64
        _library = lib
    return _library


SLICE_NS = 50_000_000  # poll in slices this long, so that signals are handled between them


def poll_ring_native(ring_buffer: mmap.mmap, ring_slots: int, layout: str, stalls: StallSchedule, start_ns: int,
                     stop_box: np.ndarray, capacity: int) -> PollRecord:
    """As :func:`ringlab.hw.poller.poll_ring`, in C; records at most ``capacity`` reads."""
    starts = np.ascontiguousarray(stalls.start_ns + start_ns, np.int64)
    ends = np.ascontiguousarray(stalls.end_ns + start_ns, np.int64)
    ids = np.zeros(capacity, np.int64)
    slots = np.zeros(capacity, np.int32)
    read_ns = np.zeros(capacity, np.int64)
    state = np.zeros(2, np.int64)
    reads = 0
    poll = library().ringlab_poll
    view = ctypes.c_char.from_buffer(ring_buffer)
    try:
        while (now := time.monotonic_ns()) < stop_box[0]:
            reads += poll(ctypes.addressof(view), ring_slots, LAYOUT_CODES[layout], starts.ctypes.data,
                          ends.ctypes.data, len(starts), min(int(stop_box[0]), now + SLICE_NS), state.ctypes.data,
                          ids[reads:].ctypes.data, slots[reads:].ctypes.data, read_ns[reads:].ctypes.data,
                          capacity - reads)
    finally:
        del view  # release the export so the mapping can be closed
    return PollRecord(ids[:reads], slots[:reads], read_ns[:reads])


def send_paced_native(sock, frame: bytearray, layout: str, ids: np.ndarray, arrival_ns: np.ndarray, start_ns: int,
                      sleep_ns: int = 0) -> np.ndarray:
    """As :func:`ringlab.hw.sender.send_paced`, in C (with ``sleep_ns``, paced by sleeping instead)."""
    ids = np.ascontiguousarray(ids, np.int64)
    targets = np.ascontiguousarray(arrival_ns + start_ns, np.int64)
    sent = np.zeros(len(targets), np.int64)
    buffer = (ctypes.c_uint8 * len(frame)).from_buffer(frame)
    try:
        result = library().ringlab_send(sock.fileno(), ctypes.addressof(buffer), len(frame), LAYOUT_CODES[layout],
                                        ids.ctypes.data, targets.ctypes.data, len(targets), sleep_ns,
                                        sent.ctypes.data)
    finally:
        del buffer
    if result < 0:
        raise OSError(-result, f"sending a frame failed: {os.strerror(-result)}")
    return sent
