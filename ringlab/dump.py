"""The map over time, printed in the format of the original debugging: see docs/model.md.

One frame per change of the ring: the N slots on one line (``  EMPTY  `` or ``(0001234)``), and
``^^^^^^^^^`` on the line below, under the slot the poller is waiting on.
"""

from __future__ import annotations

import numpy as np

from ringlab.trace import DELIVERED, IN_RING, NOT_SET, Trace
from ringlab.units import format_time_ns

EMPTY_CELL = "  EMPTY  "
POINTER = "^^^^^^^^^"


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

    # Events after from_ns: decisions and writes before reads at equal times.
    def window(times, idx):
        return idx[(times[idx] > from_ns) & (times[idx] <= to_ns)]

    # At one instant the engines run the writer CPUs in order, and reads in read order.
    events = sorted(
        [(int(trace.decided_ns[p]), 0, int(trace.cpu[p]), p) for p in window(trace.decided_ns, decided)]
        + [(int(trace.delivery_ns[p]), 1, int(trace.delivery_order[p]), p) for p in window(trace.delivery_ns, read)]
    )
    for time_ns, kind, _, packet in events:
        if kind == 0:
            writer_index = int(trace.writer_index_after[packet])
            if trace.fate[packet] in (DELIVERED, IN_RING):
                slots[trace.slot[packet]] = int(trace.id[packet])
        else:
            slots[trace.slot[packet]] = None
            read_index = int((trace.slot[packet] + 1) % n)
        yield time_ns, writer_index, list(slots), read_index


def render_dump(trace: Trace, from_ns: int, to_ns: int) -> str:
    """The dump between two times, one frame per change, each headed by its time and the indices."""
    out = []
    for time_ns, writer_index, slots, read_index in frames(trace, from_ns, to_ns):
        out.append(f"t={format_time_ns(time_ns)}  w={writer_index} r={read_index}")
        out.append(format_frame(slots, read_index))
    return "\n".join(out) + "\n"
