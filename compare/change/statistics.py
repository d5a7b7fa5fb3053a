"""The statistics of a change: two Poisson rates compared exactly, and a loss and latency
percentiles compared by a bootstrap over blocks of packets (drops come in bursts, one burst per
pause, so packets are not independent; blocks of BOOTSTRAP_BLOCK_NS of arrivals are)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.analysis.latency import BUCKETS, bucket_middle_ns
from ringlab.trace.pause_profile import rate_interval

BOOTSTRAP_BLOCK_NS = 100_000_000  # a bootstrap block: 100 ms of arrivals (far longer than any pause's burst of drops) ...
MIN_BLOCK_NS = 1_000_000  # ... or a twentieth of a short run, not under 1 ms
BLOCKS_PER_RUN = 20
RESAMPLES = 2_000


@dataclass(frozen=True)
class RateChange:
    """One source's pauses before and after: counts over seconds of exposure, each rate with its
    exact (Garwood) interval, the ratio after/before with its exact interval, and the two-sided
    p-value of the conditional binomial test of equal rates."""

    before_count: int
    before_seconds: float
    after_count: int
    after_seconds: float
    level: float
    p_value: float
    ratio_low: float
    ratio_high: float

    @property
    def before_per_second(self) -> float:
        return self.before_count / self.before_seconds

    @property
    def after_per_second(self) -> float:
        return self.after_count / self.after_seconds

    def interval(self, count: int, seconds: float) -> list[float]:
        return list(rate_interval(count, seconds, self.level))


def compare_rates(before_count: int, before_seconds: float, after_count: int, after_seconds: float,
                  level: float = 0.95) -> RateChange:
    """Two Poisson counts over their exposures. Given the total n = before + after, equal rates make
    ``after`` binomial (n, t_after / (t_before + t_after)); the p-value is that binomial test's
    (two-sided), and the ratio's interval comes from the exact (Clopper-Pearson) interval of its
    proportion. With no pause on either side the p-value is 1 and the ratio unbounded."""
    from scipy.stats import binomtest

    total = before_count + after_count
    share = after_seconds / (before_seconds + after_seconds)
    if total == 0:
        return RateChange(0, before_seconds, 0, after_seconds, level, 1.0, 0.0, float("inf"))
    test = binomtest(after_count, total, share)
    low, high = test.proportion_ci(confidence_level=level, method="exact")
    odds = before_seconds / after_seconds  # the proportion p of pauses after gives the ratio (p / (1 - p)) * odds

    def ratio(p: float) -> float:
        return float("inf") if p >= 1 else p / (1 - p) * odds

    return RateChange(before_count, before_seconds, after_count, after_seconds, level, float(test.pvalue),
                      ratio(low), ratio(high))


@dataclass(frozen=True)
class Blocks:
    """A side's packets cut into blocks: per block, the packets, the lost ones, and (where traces
    were kept) the histogram of the delivered packets' latencies (``ringlab.analysis.latency``'s
    buckets)."""

    packets: np.ndarray
    lost: np.ndarray
    latency_counts: np.ndarray | None  # blocks x BUCKETS

    @classmethod
    def join(cls, parts: list[Blocks]) -> Blocks:
        histograms = [p.latency_counts for p in parts]
        return cls(np.concatenate([p.packets for p in parts]), np.concatenate([p.lost for p in parts]),
                   np.concatenate(histograms) if histograms and all(h is not None for h in histograms) else None)

    @property
    def loss_fraction(self) -> float:
        total = int(self.packets.sum())
        return float(self.lost.sum() / total) if total else float("nan")


def block_ns_of(end_ns: int) -> int:
    """The block of a run lasting ``end_ns``: BOOTSTRAP_BLOCK_NS, or a twentieth of a shorter run (at least MIN_BLOCK_NS)."""
    return int(min(BOOTSTRAP_BLOCK_NS, max(MIN_BLOCK_NS, end_ns // BLOCKS_PER_RUN)))


def blocks_of_trace(trace, block_ns: int | None = None) -> Blocks:
    """A trace's packets in blocks of ``block_ns`` of planned arrivals (by packet id: id times the
    interval; by default :func:`block_ns_of` the run), each with its lost packets and its delivered
    packets' latencies."""
    block_ns = block_ns or block_ns_of(trace.end_ns)
    from ringlab.analysis.latency import bucket_of
    from ringlab.trace.records import DELIVERED, DROPPED_FULL, LOST_BEFORE_RING

    per_block = max(1, block_ns // max(1, trace.interval_ns))
    block = trace.id // per_block
    count = int(block.max()) + 1 if len(block) else 0
    packets = np.bincount(block, minlength=count)
    lost = np.bincount(block, weights=np.isin(trace.fate, (DROPPED_FULL, LOST_BEFORE_RING)), minlength=count)
    delivered = trace.fate == DELIVERED
    latency = trace.delivery_ns[delivered] - trace.arrival_ns[delivered]
    cells = block[delivered] * BUCKETS + bucket_of(np.maximum(latency, 0).astype(np.int64))
    counts = np.bincount(cells, minlength=count * BUCKETS).reshape(count, BUCKETS)
    return Blocks(packets.astype(np.int64), lost.astype(np.int64), counts.astype(np.int64))


def resample_weights(blocks: int, rng: np.random.Generator, resamples: int = RESAMPLES) -> np.ndarray:
    """Bootstrap weights: each row draws ``blocks`` blocks with replacement (a multinomial count per block)."""
    return rng.multinomial(blocks, np.full(blocks, 1 / blocks), size=resamples)


def loss_resamples(blocks: Blocks, weights: np.ndarray) -> np.ndarray:
    """The loss fraction of each bootstrap resample."""
    packets = weights @ blocks.packets
    return np.where(packets > 0, (weights @ blocks.lost) / np.maximum(packets, 1), np.nan)


def percentile_resamples(blocks: Blocks, weights: np.ndarray, quantile: float) -> np.ndarray:
    """The latency at ``quantile`` (nearest rank, to the histogram's resolution) of each resample."""
    counts = weights @ blocks.latency_counts
    cumulative = np.cumsum(counts, axis=1)
    rank = np.maximum(1, np.ceil(quantile * cumulative[:, -1]))
    bucket = (cumulative < rank[:, None]).sum(axis=1)
    return np.where(cumulative[:, -1] > 0, bucket_middle_ns(np.minimum(bucket, BUCKETS - 1)), np.nan)


def interval(values: np.ndarray, level: float) -> list[float]:
    """The central ``level`` interval of bootstrap values."""
    values = values[np.isfinite(values)]
    if not len(values):
        return [float("nan"), float("nan")]
    return [float(v) for v in np.quantile(values, [(1 - level) / 2, (1 + level) / 2])]


def binomial_interval(lost: int, packets: int, level: float) -> list[float]:
    """The exact (Clopper-Pearson) interval of a loss fraction, taking packets as independent: too
    narrow where drops come in bursts (used only where a side has one block, no trace)."""
    from scipy.stats import binomtest

    if packets <= 0:
        return [float("nan"), float("nan")]
    ci = binomtest(int(lost), int(packets)).proportion_ci(confidence_level=level, method="exact")
    return [float(ci.low), float(ci.high)]
