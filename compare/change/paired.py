"""The statistics of a paired experiment: K pairs of trials, one with a knob and one without, whose
machine may drift from pair to pair.

- A source's rate: the exact test of equal rates stratified by pair. Within pair i, given the n_i
  pauses of both trials, equal rates make the "with" count binomial (n_i, t_with_i / (t_with_i +
  t_without_i)), whatever that pair's own rate; the sum over pairs has the convolution of those
  binomials, and the p-value is the two-sided sum of the outcomes no more likely than the one seen.
  A drift between pairs cannot make it significant. A drift within a pair, or pauses that come in
  bursts, can (they are not Poisson): the pairs themselves show how much more their log rate ratios
  scatter than Poisson counts would (the dispersion, at least 1), and the inverse-variance pooled
  log ratio is tested against its standard error widened by that much (with Student's t of K - 1
  degrees of freedom where the dispersion is estimated above 1). ``p_value`` is the exact test's
  where the pairs scatter no more than Poisson counts would, else the larger of the two. The
  sign-flip test over pairs is given beside them: it assumes only that, without an effect, "with"
  is as likely as "without" to be the higher in each pair, and it cannot go below 2 / 2^K.
- The loss and the latency percentiles: a two-level bootstrap, pairs drawn with replacement and
  blocks of packets within each trial drawn with replacement (drops come in bursts, blocks are
  independent), each arm's figure pooled over its drawn trials."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ringlab.analysis.latency import BUCKETS, bucket_middle_ns
from ringlab.compare.change.statistics import RESAMPLES, Blocks, resample_weights


@dataclass(frozen=True)
class PairedRates:
    """One source in K pairs: counts and seconds per pair and arm, the exact stratified p-value and
    the sign-flip p-value over pairs, and the pooled rate ratio with / without."""

    with_counts: tuple[int, ...]
    with_seconds: tuple[float, ...]
    without_counts: tuple[int, ...]
    without_seconds: tuple[float, ...]
    p_value: float  # the exact stratified test's; where the pairs scatter beyond Poisson, the widened one's if larger
    p_value_exact: float
    dispersion: float
    rate_ratio: float  # with / without, pooled over pairs (inverse-variance weights)
    p_value_pairs: float

    @property
    def with_per_second(self) -> float:
        return sum(self.with_counts) / sum(self.with_seconds)

    @property
    def without_per_second(self) -> float:
        return sum(self.without_counts) / sum(self.without_seconds)

    @property
    def pairs_lower_with(self) -> int:
        """In how many pairs the "with" trial's rate was below the "without" one's."""
        return sum(wc / ws < oc / os_ for wc, ws, oc, os_ in
                   zip(self.with_counts, self.with_seconds, self.without_counts, self.without_seconds))


def stratified_p_value(with_counts, with_seconds, without_counts, without_seconds) -> float:
    """The exact two-sided p-value of equal rates within every pair (see the module's docstring)."""
    from scipy.signal import fftconvolve
    from scipy.stats import binom

    distribution = np.ones(1)
    for wc, ws, oc, os_ in zip(with_counts, with_seconds, without_counts, without_seconds):
        n = int(wc) + int(oc)
        if n == 0:
            continue
        share = ws / (ws + os_)
        distribution = np.clip(fftconvolve(distribution, binom.pmf(np.arange(n + 1), n, share)), 0, None)
    observed = int(sum(with_counts))
    if len(distribution) == 1:
        return 1.0
    distribution /= distribution.sum()
    likelihood = distribution[observed]
    return float(min(1.0, distribution[distribution <= likelihood * (1 + 1e-7)].sum()))


def widened_test(with_counts, with_seconds, without_counts, without_seconds) -> tuple[float, float, float]:
    """The pooled log rate ratio over pairs (half a pause added to each count), tested against its
    standard error widened by the pairs' dispersion: (p-value, dispersion, rate ratio)."""
    from scipy.stats import norm, t

    rows = [(np.log((wc + 0.5) / ws) - np.log((oc + 0.5) / os_), 1 / (wc + 0.5) + 1 / (oc + 0.5))
            for wc, ws, oc, os_ in zip(with_counts, with_seconds, without_counts, without_seconds) if wc + oc > 0]
    if not rows:
        return 1.0, 1.0, 1.0
    log_ratio, variance = np.array(rows).T
    weight = 1 / variance
    pooled = float((weight * log_ratio).sum() / weight.sum())
    heterogeneity = float((weight * (log_ratio - pooled) ** 2).sum())
    dispersion = max(1.0, heterogeneity / (len(rows) - 1)) if len(rows) > 1 else 1.0
    z = pooled / np.sqrt(dispersion / weight.sum())
    tail = t(len(rows) - 1).sf(abs(z)) if dispersion > 1 else norm.sf(abs(z))  # a dispersion estimated: Student's t
    return float(2 * tail), dispersion, float(np.exp(pooled))


def sign_flip_p_value(differences) -> float:
    """The exact two-sided p-value of the sign-flip test on per-pair differences: the share of the 2^K
    sign patterns whose mean is at least as far from 0 as the one seen."""
    differences = np.asarray(differences, dtype=float)
    if not len(differences) or not np.any(differences):
        return 1.0
    observed = abs(differences.mean())
    signs = np.array(list(itertools.product((1, -1), repeat=len(differences))))
    means = np.abs((signs * differences).mean(axis=1))
    return float(np.mean(means >= observed * (1 - 1e-12)))


def paired_rates(with_counts, with_seconds, without_counts, without_seconds) -> PairedRates:
    """One source's rates in K pairs, both tests (per-pair differences in log rate, with half a pause
    added to each count so that a pair with none on one side still counts)."""
    log_ratio = [np.log((wc + 0.5) / ws) - np.log((oc + 0.5) / os_)
                 for wc, ws, oc, os_ in zip(with_counts, with_seconds, without_counts, without_seconds)]
    if all(c == 0 for c in (*with_counts, *without_counts)):
        log_ratio = [0.0] * len(log_ratio)
    exact = stratified_p_value(with_counts, with_seconds, without_counts, without_seconds)
    widened, dispersion, ratio = widened_test(with_counts, with_seconds, without_counts, without_seconds)
    return PairedRates(tuple(int(c) for c in with_counts), tuple(float(s) for s in with_seconds),
                       tuple(int(c) for c in without_counts), tuple(float(s) for s in without_seconds),
                       exact if dispersion <= 1 else max(exact, widened), exact, dispersion, ratio,
                       sign_flip_p_value(log_ratio))


@dataclass(frozen=True)
class ArmResamples:
    """One arm's bootstrap: per resample, the packets, the lost and the latency histogram pooled
    over the trials drawn."""

    packets: np.ndarray
    lost: np.ndarray
    latency_counts: np.ndarray | None

    @property
    def loss(self) -> np.ndarray:
        return np.where(self.packets > 0, self.lost / np.maximum(self.packets, 1), np.nan)


def paired_resamples(with_blocks: list[Blocks], without_blocks: list[Blocks], rng: np.random.Generator,
                     resamples: int = RESAMPLES) -> tuple[ArmResamples, ArmResamples]:
    """The two-level bootstrap of both arms, the same pairs drawn for both in each resample."""
    pairs = len(with_blocks)
    pair_weights = rng.multinomial(pairs, np.full(pairs, 1 / pairs), size=resamples)  # resamples x pairs
    arms = []
    for trials in (with_blocks, without_blocks):
        packets = np.zeros(resamples)
        lost = np.zeros(resamples)
        keep_latency = all(b.latency_counts is not None for b in trials)
        latency = np.zeros((resamples, BUCKETS)) if keep_latency else None
        for pair, blocks in enumerate(trials):
            weights = resample_weights(len(blocks.packets), rng, resamples) * pair_weights[:, [pair]]
            packets += weights @ blocks.packets
            lost += weights @ blocks.lost
            if latency is not None:
                latency += weights @ blocks.latency_counts
        arms.append(ArmResamples(packets, lost, latency))
    return arms[0], arms[1]


def percentile_of_counts(counts: np.ndarray, quantile: float) -> np.ndarray:
    """The latency at ``quantile`` (nearest rank, to the histogram's resolution) of each row of counts."""
    counts = np.atleast_2d(counts)
    cumulative = np.cumsum(counts, axis=1)
    rank = np.maximum(1, np.ceil(quantile * cumulative[:, -1]))
    bucket = (cumulative < rank[:, None]).sum(axis=1)
    return np.where(cumulative[:, -1] > 0, bucket_middle_ns(np.minimum(bucket, BUCKETS - 1)), np.nan)
