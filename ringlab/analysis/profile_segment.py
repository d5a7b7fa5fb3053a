"""A run as one segment of a pause profile: its background pauses, cut to the run, the share of
each pause's planned packets that reached the writer during it, how fast the sender caught up,
and the body of its reads' latencies. Pooling trials (``ringlab pool``) and a profile measured under a
trial's load (``hw profile-load``) both take their segments from here."""

from __future__ import annotations

import numpy as np

from ringlab.analysis.latency import latencies
from ringlab.trace.pauses import BACKGROUND


def background_pauses_inside(trace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A run's background pauses as a profile segment holds them: start, length and label, each cut
    to the run (a trial's first pause can begin before its clock's zero: the part inside is kept)."""
    pauses = trace.pauses
    start = np.maximum(pauses.start_ns, 0)
    length = pauses.end_ns - start
    background = (pauses.kind == BACKGROUND) & (length > 0)
    return start[background], length[background], pauses.labels()[background]


def latency_body(trace, threshold_ns: int) -> np.ndarray:
    """The measured latencies of the reads no pause delayed (those below the pause threshold)."""
    read = latencies(trace).latency_ns
    return read[read < threshold_ns]


def sender_share_during(trace, start_ns: np.ndarray, length_ns: np.ndarray, planned_ns: np.ndarray) -> np.ndarray:
    """Per pause, the packets that reached the writer during it over those planned during it (NaN
    where none was planned). A hypervisor that stops the whole machine stops the sender with the
    poller: fewer arrive, and the rest come when it resumes."""
    arrived = np.sort(trace.arrival_ns[trace.arrival_ns >= 0])
    planned = np.sort(np.asarray(planned_ns))
    end = start_ns + length_ns
    measured = np.searchsorted(arrived, end) - np.searchsorted(arrived, start_ns)
    expected = np.searchsorted(planned, end) - np.searchsorted(planned, start_ns)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, measured / np.maximum(expected, 1), np.nan)


CATCH_UP_SHARE = 0.5  # a gap under half the interval is the sender sending packets it was late with


def catch_up_gaps(trace) -> np.ndarray:
    """The gaps between arrivals while the sender caught up (back to back, under CATCH_UP_SHARE of
    the interval): how fast it sends the packets a pause held back."""
    arrived = np.sort(trace.arrival_ns[trace.arrival_ns >= 0])
    gaps = np.diff(arrived)
    return gaps[(gaps > 0) & (gaps < CATCH_UP_SHARE * trace.interval_ns)]
