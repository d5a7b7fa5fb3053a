"""The poller's pauses: the stalls it was told to make (injected) and the ones the machine made
(background), each with its source.

A simulated run's pauses are its stall schedule (all injected, unless a replay gives it measured
ones). A hardware trial's are what its poller observed: every injected stall as it was really
executed, and every gap between two iterations of its loop longer than ``hw.pause_threshold``,
named by the kernel events traced on its CPU (:mod:`ringlab.hw.kernel.pause_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.scenario.stalls import StallSchedule

INJECTED, BACKGROUND = 0, 1
KIND_NAMES = {INJECTED: "injected", BACKGROUND: "background"}
INJECTED_SOURCE = "injected stall"
NOT_TRACED = "not traced"


@dataclass(frozen=True)
class Pauses:
    """Sorted, non-overlapping pauses: ``start_ns[i]`` for ``length_ns[i]``, of ``kind[i]``
    (INJECTED or BACKGROUND), caused by ``source_names[source[i]]``."""

    start_ns: np.ndarray
    length_ns: np.ndarray
    kind: np.ndarray
    source: np.ndarray
    source_names: tuple[str, ...]

    @classmethod
    def injected(cls, stalls: StallSchedule) -> Pauses:
        """A stall schedule's stalls, as injected pauses."""
        count = len(stalls)
        return cls(np.asarray(stalls.start_ns, np.int64), np.asarray(stalls.length_ns, np.int64),
                   np.full(count, INJECTED, np.int8), np.zeros(count, np.int16), (INJECTED_SOURCE,))

    @classmethod
    def from_labels(cls, start_ns, length_ns, kind, labels) -> Pauses:
        """Pauses with a source name each (sorted by start here)."""
        start_ns, length_ns = np.asarray(start_ns, np.int64), np.asarray(length_ns, np.int64)
        order = np.argsort(start_ns, kind="stable")
        names, source = np.unique(np.asarray(list(labels), dtype=str), return_inverse=True) if len(order) else ([], [])
        return cls(start_ns[order], length_ns[order], np.asarray(kind, np.int8)[order],
                   np.asarray(source, np.int16).reshape(-1)[order] if len(order) else np.zeros(0, np.int16),
                   tuple(str(n) for n in names))

    def __len__(self) -> int:
        return len(self.start_ns)

    @property
    def end_ns(self) -> np.ndarray:
        return self.start_ns + self.length_ns

    def labels(self) -> np.ndarray:
        """Each pause's source name."""
        return np.asarray(self.source_names, dtype=str)[self.source] if len(self) else np.zeros(0, str)

    def select(self, mask) -> Pauses:
        return Pauses(self.start_ns[mask], self.length_ns[mask], self.kind[mask], self.source[mask], self.source_names)

    def schedule(self) -> StallSchedule:
        """The pauses as a stall schedule an engine can run."""
        return StallSchedule(self.start_ns.copy(), self.length_ns.copy())


def length_statistics(length_ns: np.ndarray, duration_ns: int) -> dict:
    """Count, rate, total time, percentiles and the longest of a set of pause lengths."""
    length_ns = np.asarray(length_ns, np.int64)
    seconds = duration_ns / 1e9 if duration_ns > 0 else float("nan")
    figures = {"count": int(len(length_ns)), "per_second": len(length_ns) / seconds if seconds == seconds else 0.0,
               "total_ns": int(length_ns.sum()),
               "share_of_time": float(length_ns.sum() / duration_ns) if duration_ns > 0 else 0.0}
    if len(length_ns):
        p50, p90, p99 = np.percentile(length_ns, [50, 90, 99])
        figures.update(p50_ns=float(p50), p90_ns=float(p90), p99_ns=float(p99), longest_ns=int(length_ns.max()))
    else:
        figures.update(p50_ns=None, p90_ns=None, p99_ns=None, longest_ns=None)
    return figures
