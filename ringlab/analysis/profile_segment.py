"""A run as one segment of a pause profile: its background pauses, cut to the run, and the body
of its reads' latencies. Pooling trials (``hw profile --from``) and a profile measured under a
trial's load (``hw profile --load``) both take their segments from here."""

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
