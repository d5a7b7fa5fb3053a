"""The userspace poller: busy-waits on one mmapped slot, copies, zeroes, advances, exactly like the
original; and stalls, busy-waiting so that it holds its CPU, at the times of a stall schedule."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ringlab.hw.wire import PAYLOAD_DTYPES, PAYLOAD_MAGIC

if TYPE_CHECKING:  # importing it costs scipy's import time, which the sender cannot afford
    from ringlab.stalls import StallSchedule


@dataclass(frozen=True)
class PollRecord:
    """What the poller read: ids, slots and read times (CLOCK_MONOTONIC ns), in read order."""

    ids: np.ndarray
    slots: np.ndarray
    read_ns: np.ndarray


def poll_ring(ring_buffer, ring_slots: int, layout: str, stalls: StallSchedule, start_ns: int,
              stop_box: np.ndarray) -> PollRecord:
    """Poll until ``stop_box[0]`` (which another thread may move); stall during ``start_ns + stalls``
    (busy, holding the CPU)."""
    dtype = PAYLOAD_DTYPES[layout]
    words = memoryview(ring_buffer).cast("I")
    per_slot = dtype.itemsize // 4
    magic_word = dtype.fields["magic"][1] // 4
    id_word = dtype.fields["id"][1] // 4
    id_is_u64 = dtype.fields["id"][0].itemsize == 8
    zero_slot = memoryview(bytes(dtype.itemsize)).cast("I")
    never = np.iinfo(np.int64).max
    stall_starts = (stalls.start_ns + start_ns).tolist() + [never]
    stall_ends = (stalls.end_ns + start_ns).tolist() + [never]
    stop_ns = int(stop_box[0])
    polls = 0
    next_stall = 0
    clock = time.monotonic_ns
    ids, slots, read_ns = [], [], []
    read_index = 0
    now = clock()
    while True:
        polls += 1
        if now >= stop_ns or polls & 0xFFF == 0:
            stop_ns = int(stop_box[0])
            if now >= stop_ns:
                break
        if now >= stall_starts[next_stall]:
            end = stall_ends[next_stall]
            while clock() < end:
                pass
            next_stall += 1
        base = read_index * per_slot
        if words[base + magic_word] == PAYLOAD_MAGIC:
            packet_id = words[base + id_word]
            if id_is_u64:
                packet_id |= words[base + id_word + 1] << 32
            words[base:base + per_slot] = zero_slot
            ids.append(packet_id)
            slots.append(read_index)
            read_ns.append(clock())
            read_index = (read_index + 1) % ring_slots
        now = clock()
    return PollRecord(np.asarray(ids, np.int64), np.asarray(slots, np.int32), np.asarray(read_ns, np.int64))
