"""The poller and the paced sender in C (``hot_loops.c``), with the same contracts as the Python
versions in :mod:`ringlab.hw.trial.poller` and :mod:`ringlab.hw.trial.sender`, which stay for comparison."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import numpy as np

from ringlab import native
from ringlab.bpf import RING_WIRE_HEADER
from ringlab.hw.machine.wire import LAYOUT_CODES, PAYLOAD_OFFSET
from ringlab.hw.trial.poller import PollRecord, StallPlan

_SOURCE = Path(__file__).with_name("hot_loops.c")
HOT_LOOPS_HEADER = Path(__file__).with_name("hot_loops.h")


class StallPlanStruct(ctypes.Structure):
    """struct stall_plan of hot_loops.h."""

    _fields_ = [("start", ctypes.c_void_p), ("end", ctypes.c_void_p), ("reported", ctypes.c_void_p),
                ("count", ctypes.c_void_p)]


class PollRecordStruct(ctypes.Structure):
    """struct poll_record of hot_loops.h."""

    _fields_ = [("ids", ctypes.c_void_p), ("slots", ctypes.c_void_p), ("read_ns", ctypes.c_void_p),
                ("read_capacity", ctypes.c_int64), ("reads", ctypes.c_int64), ("reads_lost", ctypes.c_int64),
                ("pause_start", ctypes.c_void_p), ("pause_length", ctypes.c_void_p), ("pause_kind", ctypes.c_void_p),
                ("pause_capacity", ctypes.c_int64), ("pauses", ctypes.c_int64), ("pauses_lost", ctypes.c_int64)]


def library() -> ctypes.CDLL:
    """hot_loops.c, built on first use: the map ring's poller and the paced sender."""
    i64, pointer, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    return native.declared(_SOURCE, (RING_WIRE_HEADER, HOT_LOOPS_HEADER), lambda: {
        "ringlab_poll": ([pointer, i64, c_int, ctypes.POINTER(StallPlanStruct), pointer, i64,
                          ctypes.POINTER(PollRecordStruct)], None),
        "ringlab_send": ([c_int, pointer, i64, c_int, i64, pointer, pointer, i64, i64, pointer], i64)})


def poll_ring_native(ring_buffer: mmap.mmap | None, ring_slots: int, layout: str, stalls: StallPlan,
                     stop_box: np.ndarray, pause_threshold_ns: int, read_capacity: int,
                     pause_capacity: int) -> PollRecord:
    """As :func:`ringlab.hw.trial.poller.poll_ring`, in C; keeps at most the capacities' reads and pauses.
    The C loop reads ``stop_box[0]`` on every iteration (and holds no Python lock meanwhile)."""
    view = ctypes.c_char.from_buffer(ring_buffer) if ring_buffer is not None else None
    address = ctypes.addressof(view) if view is not None else None
    try:
        return poll_with(lambda plan, record: library().ringlab_poll(
            address, ring_slots, LAYOUT_CODES[layout], plan, stop_box.ctypes.data, pause_threshold_ns, record),
            stalls, stop_box, read_capacity, pause_capacity)
    finally:
        del view  # release the export so the mapping can be closed


def poll_with(loop, stalls: StallPlan, stop_box: np.ndarray, read_capacity: int, pause_capacity: int) -> PollRecord:
    """Run a C poller, ``loop(stall_plan, poll_record)`` (both ctypes pointers), with room for
    ``read_capacity`` reads and ``pause_capacity`` pauses; return what it recorded."""
    assert stop_box.dtype == np.int64 and stop_box.flags.c_contiguous
    for array, dtype in ((stalls.start_ns, np.int64), (stalls.end_ns, np.int64), (stalls.reported, np.int8),
                         (stalls.count, np.int64)):  # shared with whoever may publish the stalls later
        assert array.dtype == dtype and array.flags.c_contiguous
    plan = StallPlanStruct(stalls.start_ns.ctypes.data, stalls.end_ns.ctypes.data, stalls.reported.ctypes.data,
                      stalls.count.ctypes.data)
    ids, slots, read_ns = np.zeros(read_capacity, np.int64), np.zeros(read_capacity, np.int32), np.zeros(read_capacity, np.int64)
    pause_start, pause_length = np.zeros(pause_capacity, np.int64), np.zeros(pause_capacity, np.int64)
    pause_kind = np.zeros(pause_capacity, np.int8)
    record = PollRecordStruct(ids.ctypes.data, slots.ctypes.data, read_ns.ctypes.data, read_capacity, 0, 0,
                         pause_start.ctypes.data, pause_length.ctypes.data, pause_kind.ctypes.data, pause_capacity, 0, 0)
    loop(ctypes.byref(plan), ctypes.byref(record))
    reads, pauses = record.reads, record.pauses
    return PollRecord(ids[:reads], slots[:reads], read_ns[:reads], pause_start[:pauses], pause_length[:pauses],
                      pause_kind[:pauses], int(record.reads_lost), int(record.pauses_lost))


def send_paced_native(sock, frame: bytearray, layout: str, ids: np.ndarray, arrival_ns: np.ndarray, start_ns: int,
                      sleep_ns: int = 0, payload_offset: int = PAYLOAD_OFFSET) -> np.ndarray:
    """As :func:`ringlab.hw.trial.sender.send_paced`, in C (with ``sleep_ns``, paced by sleeping instead)."""
    ids = np.ascontiguousarray(ids, np.int64)
    targets = np.ascontiguousarray(arrival_ns + start_ns, np.int64)
    sent = np.zeros(len(targets), np.int64)
    buffer = (ctypes.c_uint8 * len(frame)).from_buffer(frame)
    try:
        result = library().ringlab_send(sock.fileno(), ctypes.addressof(buffer), len(frame), LAYOUT_CODES[layout],
                                        payload_offset, ids.ctypes.data, targets.ctypes.data, len(targets), sleep_ns,
                                        sent.ctypes.data)
    finally:
        del buffer
    if result < 0:
        raise OSError(-result, f"sending a frame failed: {os.strerror(-result)}")
    return sent
