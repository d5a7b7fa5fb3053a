"""How long each packet waits: from reaching the writer (on hardware: when the XDP program saw it)
until the poller has read it. Measured from the trace alone, so both backends are measured alike.

On hardware both ends are CLOCK_MONOTONIC on one machine: the XDP program stamps a packet with
``bpf_ktime_get_ns()``, which reads CLOCK_MONOTONIC, and the poller stamps its read with
``clock_gettime(CLOCK_MONOTONIC)``; the trial subtracts the same start time from both.

Summaries keep latencies in a fixed-memory histogram with logarithmic buckets (the HdrHistogram
idea, in a few lines of NumPy here and of C in the fast engine, which fills the same buckets while
it runs): values below 2^SUB_BITS ns are exact; above, each power of two is cut into 2^SUB_BITS
equal buckets, and a bucket is reported by its midpoint, so a percentile is within RELATIVE_ERROR of
the exact one. The mean and the maximum are kept exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.trace.records import DELIVERED, Trace, late_mask

SUB_BITS = 7
SUB_BUCKETS = 1 << SUB_BITS
BUCKETS = 58 * SUB_BUCKETS  # up to 2^63 ns
RELATIVE_ERROR = 1.0 / (1 << (SUB_BITS + 1))  # half a bucket's width over its lower bound: 0.39 %
QUANTILES = {"p50_ns": 0.5, "p90_ns": 0.9, "p99_ns": 0.99, "p99_9_ns": 0.999, "p99_99_ns": 0.9999}


def bucket_of(values_ns: np.ndarray) -> np.ndarray:
    """The histogram bucket of each (non-negative) value; see the module's docstring."""
    values = np.asarray(values_ns, np.int64)
    bits = np.frexp(values.astype(np.float64))[1].astype(np.int64)  # bit length (exact below 2^53 ns)
    shift = np.maximum(bits - 1, SUB_BITS) - SUB_BITS  # how far the highest set bit is above SUB_BITS
    return np.where(values < SUB_BUCKETS, values, (shift + 1) * SUB_BUCKETS + (values >> shift) - SUB_BUCKETS)


def bucket_middle_ns(buckets: np.ndarray) -> np.ndarray:
    """The value a bucket stands for: its lower bound plus half its width (exact below 2^SUB_BITS)."""
    buckets = np.asarray(buckets, np.int64)
    shift = buckets // SUB_BUCKETS - 1
    low = np.where(buckets < SUB_BUCKETS, buckets, ((buckets % SUB_BUCKETS) + SUB_BUCKETS) << np.maximum(shift, 0))
    half = np.where(buckets < SUB_BUCKETS, 0, (1 << np.maximum(shift, 0)) // 2)
    return low + half


@dataclass(frozen=True)
class LatencyHistogram:
    """Counts per bucket, with the exact count, sum and maximum."""

    counts: np.ndarray
    total_ns: int
    max_ns: int

    @classmethod
    def of(cls, latencies_ns) -> LatencyHistogram:
        values = np.asarray(latencies_ns, np.int64)
        counts = np.bincount(bucket_of(values), minlength=BUCKETS).astype(np.int64) if len(values) \
            else np.zeros(BUCKETS, np.int64)
        return cls(counts, int(values.sum()), int(values.max()) if len(values) else 0)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def percentile_ns(self, quantile: float) -> float:
        """The value at ``quantile`` (nearest rank), within RELATIVE_ERROR."""
        rank = max(1, int(np.ceil(quantile * self.count)))
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        return float(min(bucket_middle_ns(np.array([bucket]))[0], self.max_ns))

    def figures(self) -> dict:
        """count, mean, the percentiles of QUANTILES and the maximum (None where nothing was read)."""
        if not self.count:
            return {"count": 0, "mean_ns": None, **dict.fromkeys(QUANTILES), "max_ns": None,
                    "relative_error": RELATIVE_ERROR}
        return {"count": self.count, "mean_ns": self.total_ns / self.count,
                **{name: self.percentile_ns(q) for name, q in QUANTILES.items()}, "max_ns": self.max_ns,
                "relative_error": RELATIVE_ERROR}


def exact_percentile_ns(latencies_ns: np.ndarray, quantile: float) -> float:
    """The nearest-rank percentile, exactly (what the histogram approximates)."""
    values = np.sort(np.asarray(latencies_ns))
    return float(values[max(1, int(np.ceil(quantile * len(values)))) - 1])


@dataclass(frozen=True)
class Latencies:
    """Per delivered packet, in read order: its id, its latency, whether it was read out of order."""

    ids: np.ndarray
    latency_ns: np.ndarray
    out_of_order: np.ndarray


def latencies(trace: Trace) -> Latencies:
    """Each delivered packet's latency, in read order."""
    delivered = np.flatnonzero(trace.fate == DELIVERED)
    delivered = delivered[np.argsort(trace.delivery_order[delivered], kind="stable")]
    ids = trace.id[delivered]
    return Latencies(ids, trace.delivery_ns[delivered] - trace.arrival_ns[delivered], late_mask(ids))


def worst_per_stall(trace: Trace, lat: Latencies | None = None) -> np.ndarray:
    """Per planned stall, the worst latency of the packets whose wait it overlapped most (0: none)."""
    from ringlab.analysis.attribution import pause_with_most_overlap

    lat = lat if lat is not None else latencies(trace)
    stalls = trace.stalls
    worst = np.zeros(len(stalls), np.int64)
    if not len(stalls) or not len(lat.ids):
        return worst
    arrival = trace.arrival_ns[lat.ids - 1]
    stall = pause_with_most_overlap(stalls, arrival, arrival + lat.latency_ns)
    np.maximum.at(worst, stall[stall >= 0], lat.latency_ns[stall >= 0])
    return worst


def latency_figures(all_reads: LatencyHistogram, out_of_order: LatencyHistogram, worst_by_stall: np.ndarray) -> dict:
    """The summary's latency figures: of every read, of the reads out of order, and per stall."""
    stalls = {"stalls": int(len(worst_by_stall))}
    if len(worst_by_stall):
        worst = np.asarray(worst_by_stall)
        stalls.update(median_ns=float(np.median(worst)), p90_ns=float(np.percentile(worst, 90)),
                      max_ns=int(worst.max()), worst_stall=int(np.argmax(worst)))
    return {"latency": all_reads.figures(), "latency_out_of_order": out_of_order.figures(),
            "worst_latency_per_stall": stalls}


def trace_latency_figures(trace: Trace) -> dict:
    """:func:`latency_figures` of ``trace``."""
    lat = latencies(trace)
    return latency_figures(LatencyHistogram.of(lat.latency_ns), LatencyHistogram.of(lat.latency_ns[lat.out_of_order]),
                           worst_per_stall(trace, lat))
