"""The map over time, printed as the map dump of docs/model.md (its History says where it comes from).

One frame per change of the ring: the N slots on one line (``  EMPTY  `` or ``(0001234)``), and
``^^^^^^^^^`` on the line below, under the slot the poller is waiting on. The frames are made and
printed a batch of events at a time, so a dump of any length takes little memory.
"""

from __future__ import annotations

import numpy as np

from ringlab.scenario.units import format_time_ns
from ringlab.trace.records import DELIVERED, IN_RING, NOT_SET, Trace

EMPTY_CELL = "  EMPTY  "
POINTER = "^^^^^^^^^"
BATCH_EVENTS = 1 << 16  # events ordered and turned into frames at a time


def format_slot(packet_id: int | None) -> str:
    return EMPTY_CELL if packet_id is None else f"({packet_id:07d})"


def format_frame(slots: list[int | None], read_index: int) -> str:
    """Two lines: the slots, and the pointer under the poller's slot."""
    cells = [format_slot(s) for s in slots]
    offset = sum(len(c) + 1 for c in cells[:read_index])
    return " ".join(cells) + "\n" + " " * offset + POINTER


def frames(trace: Trace, from_ns: int, to_ns: int):
    """Yield ``(time_ns, writer_index, slots, read_index)`` at ``from_ns`` and after each change up to ``to_ns``."""
    written = np.flatnonzero((trace.fate == DELIVERED) | (trace.fate == IN_RING))
    read = np.flatnonzero(trace.fate == DELIVERED)
    decided = np.flatnonzero(trace.decided_ns != NOT_SET)
    n = trace.ring_slots
    slots: list[int | None] = [None] * n
    # State at from_ns: packets written by then and not yet read.
    held = written[(trace.decided_ns[written] <= from_ns)]
    held = held[(trace.delivery_ns[held] > from_ns) | (trace.delivery_ns[held] == NOT_SET)]
    for packet in held[np.argsort(trace.decided_ns[held], kind="stable")]:
        slots[trace.slot[packet]] = int(trace.id[packet])
    done = read[trace.delivery_ns[read] <= from_ns]
    read_index = int((trace.slot[done[np.argmax(trace.delivery_ns[done])]] + 1) % n) if len(done) else 0
    before = decided[trace.decided_ns[decided] <= from_ns]
    writer_index = int(trace.writer_index_after[before[np.argmax(trace.decided_ns[before])]]) if len(before) else 0
    yield from_ns, writer_index, list(slots), read_index

    for time_ns, kind, packet in _events(trace, decided, read, from_ns, to_ns):
        if kind == 0:
            writer_index = int(trace.writer_index_after[packet])
            if trace.fate[packet] in (DELIVERED, IN_RING):
                slots[trace.slot[packet]] = int(trace.id[packet])
        else:
            slots[trace.slot[packet]] = None
            read_index = int((trace.slot[packet] + 1) % n)
        yield time_ns, writer_index, list(slots), read_index


def _events(trace: Trace, decided: np.ndarray, read: np.ndarray, from_ns: int, to_ns: int):
    """``(time_ns, kind, packet)`` of the decisions (kind 0) and reads (kind 1) in (from_ns, to_ns],
    in the engines' order: by time; at one instant decisions first, by writer CPU, then reads in
    read order. Made a batch at a time: each batch ends before an instant that begins the next."""
    decided = decided[(trace.decided_ns[decided] > from_ns) & (trace.decided_ns[decided] <= to_ns)]
    read = read[(trace.delivery_ns[read] > from_ns) & (trace.delivery_ns[read] <= to_ns)]
    decided = decided[np.argsort(trace.decided_ns[decided], kind="stable")]
    read = read[np.argsort(trace.delivery_ns[read], kind="stable")]
    decided_ns, read_ns = trace.decided_ns[decided], trace.delivery_ns[read]
    i = j = 0
    while i < len(decided) or j < len(read):
        # the batch: everything before the first instant beyond BATCH_EVENTS of either kind
        limit = min(decided_ns[i + BATCH_EVENTS] if i + BATCH_EVENTS < len(decided) else np.iinfo(np.int64).max,
                    read_ns[j + BATCH_EVENTS] if j + BATCH_EVENTS < len(read) else np.iinfo(np.int64).max)
        next_i = int(np.searchsorted(decided_ns, limit, side="left"))
        next_j = int(np.searchsorted(read_ns, limit, side="left"))
        packets = np.concatenate([decided[i:next_i], read[j:next_j]])
        kinds = np.r_[np.zeros(next_i - i, np.int64), np.ones(next_j - j, np.int64)]
        times = np.r_[decided_ns[i:next_i], read_ns[j:next_j]]
        ties = np.r_[trace.cpu[decided[i:next_i]].astype(np.int64), trace.delivery_order[read[j:next_j]]]
        for k in np.lexsort((ties, kinds, times)):
            yield int(times[k]), int(kinds[k]), int(packets[k])
        i, j = next_i, next_j


def dump_lines(trace: Trace, from_ns: int, to_ns: int):
    """The dump between two times, a frame at a time: one per change, headed by its time and the indices."""
    for time_ns, writer_index, slots, read_index in frames(trace, from_ns, to_ns):
        yield f"t={format_time_ns(time_ns)}  w={writer_index} r={read_index}\n{format_frame(slots, read_index)}\n"


def render_dump(trace: Trace, from_ns: int, to_ns: int) -> str:
    """The whole dump between two times as one string (see ``dump_lines``)."""
    return "".join(dump_lines(trace, from_ns, to_ns))
