"""The per-packet trace both backends write: one flat record per packet, and the stalls.

Analysis is done on traces, never inside an engine. A trace is one uncompressed NumPy ``.npz``
file, so a million-packet trace loads in a fraction of a second; it carries a format version, and
a trace of another version is refused with one line saying so.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ringlab.atomic_files import atomic_path
from ringlab.errors import InputError
from ringlab.scenario.fields import MAX_RING_SLOTS, Scenario
from ringlab.scenario.plan import RunPlan
from ringlab.scenario.stalls import StallSchedule
from ringlab.trace.pauses import Pauses

# Version 1: the first format (no version stored). 2: the version is stored. 3: the poller's
# pauses with their kinds and sources, the packet each drop was blocked by, the planned interval.
FORMAT_VERSION = 3

# What became of a packet.
DELIVERED = 0         # the poller read it
DROPPED_FULL = 1      # the writer found its slot still full
IN_RING = 2           # written, still in the ring when the run ended
LOST_BEFORE_RING = 3  # sent but never seen by the XDP program (hardware only)
PENDING = 4           # not yet handled by the writer when the run ended
FATE_NAMES = {
    DELIVERED: "delivered",
    DROPPED_FULL: "dropped_full",
    IN_RING: "in_ring",
    LOST_BEFORE_RING: "lost_before_ring",
    PENDING: "pending",
}
NOT_SET = -1


@dataclass(frozen=True)
class Trace:
    """Per-packet records (index ``i`` is packet id ``id[i]``), the planned stalls and the pauses.

    Times are nanoseconds from the start of the run; ``NOT_SET`` (-1) where a field does not apply.
    ``arrival_ns`` is when the packet reached the writer (on hardware: when the XDP program saw
    it), ``slot`` the slot the writer chose, ``decided_ns`` when it wrote or dropped there,
    ``writer_index_after`` the write index it left behind, ``blocked_by`` (drops only) the id of
    the packet that held the slot, ``delivery_order`` the poller's 0-based read order.
    ``stall_*`` are the stalls the scenario planned; ``pause_*`` the poller's pauses as observed
    (see :class:`ringlab.trace.pauses.Pauses`). ``interval_ns`` is the planned packet interval.
    """

    id: np.ndarray
    arrival_ns: np.ndarray
    cpu: np.ndarray
    slot: np.ndarray
    fate: np.ndarray
    decided_ns: np.ndarray
    writer_index_after: np.ndarray
    blocked_by: np.ndarray
    delivery_ns: np.ndarray
    delivery_order: np.ndarray
    stall_start_ns: np.ndarray
    stall_length_ns: np.ndarray
    pause_start_ns: np.ndarray
    pause_length_ns: np.ndarray
    pause_kind: np.ndarray
    pause_source: np.ndarray
    pause_source_names: np.ndarray
    ring_slots: int
    interval_ns: int
    end_ns: int

    @property
    def packets(self) -> int:
        return len(self.id)

    @property
    def stalls(self) -> StallSchedule:
        return StallSchedule(self.stall_start_ns, self.stall_length_ns)

    @property
    def pauses(self) -> Pauses:
        return Pauses(self.pause_start_ns, self.pause_length_ns, self.pause_kind, self.pause_source,
                      tuple(str(name) for name in self.pause_source_names))

    def delivered_ids(self) -> np.ndarray:
        """Packet ids in the order the poller read them."""
        delivered = np.flatnonzero(self.fate == DELIVERED)
        return self.id[delivered[np.argsort(self.delivery_order[delivered], kind="stable")]]

    def fate_counts(self) -> dict[str, int]:
        counts = np.bincount(self.fate.astype(np.int64), minlength=len(FATE_NAMES))
        return {FATE_NAMES[f]: int(counts[f]) for f in FATE_NAMES}

    PER_PACKET = ("id", "arrival_ns", "cpu", "slot", "fate", "decided_ns", "writer_index_after", "blocked_by",
                  "delivery_ns", "delivery_order")

    def columns(self) -> dict[str, np.ndarray]:
        """The per-packet records as NumPy columns (one row per packet), with the fate's name."""
        table = {name: getattr(self, name) for name in self.PER_PACKET}
        table["fate_name"] = np.array(list(FATE_NAMES.values()))[self.fate]
        return table

    def to_dataframe(self):
        """The per-packet records as a pandas DataFrame (needs pandas; :meth:`columns` does not)."""
        try:
            import pandas
        except ImportError:
            raise InputError("to_dataframe", "needs pandas (pip install pandas); Trace.columns() gives NumPy columns") from None
        return pandas.DataFrame(self.columns())

    def save(self, path) -> None:
        """Write atomically: a reader sees the old file or the whole new one, never half."""
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, format_version=np.int64(FORMAT_VERSION), **arrays)

    @classmethod
    def load(cls, path) -> Trace:
        """Read a trace written by :meth:`save`, checked whole (``check_columns``); a damaged file, or one
        of another format version, is an InputError naming the file and the problem."""
        try:
            with np.load(path, allow_pickle=False) as data:
                version = int(data["format_version"]) if "format_version" in data.files else 1
                if version != FORMAT_VERSION:
                    raise InputError(str(path), f"trace format version {version}; this ringlab reads version "
                                                f"{FORMAT_VERSION} (run it again to write it in this version)")
                missing = [f.name for f in fields(cls) if f.name not in data.files]
                if missing:
                    raise InputError(str(path), f"damaged: no {missing[0]} array")
                values = {f.name: data[f.name] for f in fields(cls)}
        except InputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError) as error:
            raise InputError(str(path), f"damaged or not a trace ({type(error).__name__}: {error})") from None
        problem = check_columns(values)
        if problem:
            raise InputError(str(path), f"damaged: {problem}")
        for scalar in ("ring_slots", "interval_ns", "end_ns"):
            values[scalar] = int(values[scalar])
        return cls(**values)



def check_columns(values: dict) -> str | None:
    """What is wrong with a trace's arrays (types, lengths, ranges), or None."""
    return _shape_problem(values) or _value_problem(values)


def _shape_problem(values: dict) -> str | None:
    """What is wrong with the arrays' types and lengths, or None."""
    for name, value in values.items():
        kinds = "U" if name == "pause_source_names" else "iu"
        if value.dtype.kind not in kinds:
            return f"{name} holds {value.dtype}, not {'text' if kinds == 'U' else 'integers'}"
    for name in ("ring_slots", "interval_ns", "end_ns"):
        if values[name].shape != ():
            return f"{name} is not one number"
    n = len(values["id"])
    for name in Trace.PER_PACKET:
        if values[name].shape != (n,):
            return f"{name} has {values[name].shape} values for {n} packets"
    for name in ("stall_length_ns", "pause_length_ns", "pause_kind", "pause_source"):
        start = "stall_start_ns" if name.startswith("stall") else "pause_start_ns"
        if values[name].shape != values[start].shape:
            return f"{name} and {start} differ in length"
    return None


def _value_problem(values: dict) -> str | None:
    """What is wrong with the values of arrays of the right shapes, or None."""
    n = len(values["id"])
    ring_slots = int(values["ring_slots"])
    if not 1 <= ring_slots <= MAX_RING_SLOTS:
        return f"ring_slots is {ring_slots}"
    if int(values["end_ns"]) < 0 or int(values["interval_ns"]) < 0:
        return "a negative end or interval"
    if n and not np.array_equal(values["id"], np.arange(1, n + 1)):
        return "ids are not 1, 2, ... in order"
    if np.any(~np.isin(values["fate"], list(FATE_NAMES))):
        return "an unknown fate"
    for name, low, high in (("slot", NOT_SET, ring_slots - 1), ("writer_index_after", NOT_SET, ring_slots - 1),
                            ("delivery_order", NOT_SET, n - 1), ("blocked_by", NOT_SET, np.iinfo(np.int64).max)):
        if n and (values[name].min() < low or values[name].max() > high):
            return f"{name} outside {low}..{high}"
    for name in ("decided_ns", "delivery_ns"):
        if n and values[name].min() < NOT_SET:
            return f"a negative {name}"
    delivered = values["fate"] == DELIVERED
    if np.any(values["delivery_order"][delivered] == NOT_SET) or np.any(values["slot"][delivered] == NOT_SET):
        return "a delivered packet without its read or its slot"
    if len(values["pause_source_names"]) and len(values["pause_source"]) and \
            values["pause_source"].max() >= len(values["pause_source_names"]):
        return "a pause source without a name"
    return None


def empty_columns(packets: int) -> dict[str, np.ndarray]:
    """Per-packet columns filled with NOT_SET (and fate PENDING), for an engine to fill in."""
    return {
        "slot": np.full(packets, NOT_SET, np.int32),
        "fate": np.full(packets, PENDING, np.int8),
        "decided_ns": np.full(packets, NOT_SET, np.int64),
        "writer_index_after": np.full(packets, NOT_SET, np.int32),
        "blocked_by": np.full(packets, NOT_SET, np.int64),
        "delivery_ns": np.full(packets, NOT_SET, np.int64),
        "delivery_order": np.full(packets, NOT_SET, np.int64),
    }


def pause_columns(pauses: Pauses) -> dict[str, np.ndarray]:
    """A :class:`Pauses` as the trace's ``pause_*`` columns."""
    return {"pause_start_ns": np.asarray(pauses.start_ns, np.int64),
            "pause_length_ns": np.asarray(pauses.length_ns, np.int64),
            "pause_kind": np.asarray(pauses.kind, np.int8), "pause_source": np.asarray(pauses.source, np.int16),
            "pause_source_names": np.asarray(pauses.source_names, dtype=str)}


def largest_before(ids: np.ndarray) -> np.ndarray:
    """For each read, the largest id read before it (0 before the first)."""
    current = np.empty(len(ids), np.int64)
    if len(ids):
        current[0] = 0
        np.maximum.accumulate(ids[:-1], out=current[1:])
    return current


def late_mask(delivered_ids: np.ndarray) -> np.ndarray:
    """True for each delivered packet whose id is below one already read (an "old" packet)."""
    ids = np.asarray(delivered_ids)
    return ids < largest_before(ids)


def poller_pauses(plan: RunPlan) -> Pauses:
    """The pauses a run of ``plan`` (a RunPlan) gives its poller: the plan's own (a replay's measured
    ones), else its stall schedule's, all injected."""
    return plan.pauses if plan.pauses is not None else Pauses.injected(plan.stalls)


def trace_of_plan(scenario: Scenario, plan: RunPlan, columns: dict) -> Trace:
    """A simulated run's trace: the engine's per-packet ``columns`` and what the plan fixed."""
    return Trace(id=np.arange(1, plan.packets + 1, dtype=np.int64), arrival_ns=plan.arrival_ns, cpu=plan.cpu,
                 stall_start_ns=plan.stalls.start_ns, stall_length_ns=plan.stalls.length_ns,
                 **pause_columns(poller_pauses(plan)), ring_slots=scenario.capacity_packets,
                 interval_ns=scenario.interval_ns, end_ns=plan.end_ns, **columns)
