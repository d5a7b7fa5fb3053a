"""A pause profile: the background pauses a poller met, by source, over some stretches of time
(the *segments*: one per trial pooled, or one per measurement), with what that can and cannot say.

A profile is a directory:

- ``profile.json``: what it covers and where it came from; per source the count, the rate with its
  interval, the time taken and the longest pause; the fitted tail of the lengths (a generalized
  Pareto above a threshold, so that a pause longer than any seen keeps a probability); and the rate
  bound for pauses longer than the longest recorded (what the profile cannot see);
- ``pauses.npz``: the pauses (segment, start within it, length, source), the segments' durations,
  the measured read latencies of the reads no pause delayed (the costs' distribution), and per
  pause the share of its planned packets that reached the writer during it (``sender_share``: a
  hypervisor's stop halts the sender's CPU too; NaN where nothing was sent, as in a measurement of
  the loop alone);
- ``pauses.csv``: the same pauses in the ``empirical`` stall model's format (``gap_ns,length_ns``).

Profiles are made by pooling the background pauses recorded by earlier runs
(``ringlab.compare.model.pooling``, ``ringlab pool``), or by measuring (``ringlab hw profile``, or
``ringlab hw profile-load`` while a trial's own load runs); :func:`load_profile` reads one with NumPy.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.atomic_files import atomic_path, read_json, write_json, write_text
from ringlab.errors import InputError
from ringlab.provenance import provenance

PROFILE_FILE = "profile.json"
ARRAYS_FILE = "pauses.npz"
CSV_FILE = "pauses.csv"
TAIL_QUANTILE = 0.95     # the tail is fitted to the lengths above this quantile ...
TAIL_MIN_EXCESSES = 30   # ... when at least this many lie above it
TAIL_CAP = 2             # a drawn pause is at most this many times the longest recorded of its source
TAIL_BEYOND_MAX = 3.0    # a fit expecting more pauses than this beyond the longest recorded (where none was seen:
                         # Poisson, p < 0.05) contradicts its own data, and is not used
BODY_SAMPLES = 200_000   # measured read latencies kept for the costs' distribution
ARRAY_NAMES = ("segment", "start_ns", "length_ns", "source", "source_names", "segment_duration_ns", "latency_body_ns")


@dataclass(frozen=True)
class Tail:
    """One source's pause lengths above ``threshold_ns``: ``threshold_ns`` plus a generalized Pareto
    of shape ``shape`` and scale ``scale_ns`` (``scipy.stats.genpareto``), fitted to ``excesses``
    lengths, and drawn no longer than TAIL_CAP times the longest recorded (``longest_ns``)."""

    threshold_ns: float
    shape: float
    scale_ns: float
    excesses: int
    longest_ns: int

    def draw(self, count: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.stats import genpareto

        excess = genpareto(self.shape, scale=self.scale_ns)
        top = excess.cdf(TAIL_CAP * self.longest_ns - self.threshold_ns)
        return self.threshold_ns + excess.ppf(rng.uniform(0, top, size=count))

    @property
    def expected_beyond_longest(self) -> float:
        """How many of the fitted excesses the fit expects beyond the longest recorded pause (none was)."""
        from scipy.stats import genpareto

        return float(self.excesses * genpareto(self.shape, scale=self.scale_ns).sf(self.longest_ns - self.threshold_ns))

    @property
    def agrees_with_its_data(self) -> bool:
        return self.expected_beyond_longest <= TAIL_BEYOND_MAX

    def to_dict(self) -> dict:
        return {"threshold_ns": self.threshold_ns, "shape": self.shape, "scale_ns": self.scale_ns,
                "excesses": self.excesses, "longest_ns": self.longest_ns, "cap_ns": TAIL_CAP * self.longest_ns,
                "expected_beyond_longest": self.expected_beyond_longest}


def fit_tail(lengths: np.ndarray) -> Tail | None:
    """The generalized Pareto above the TAIL_QUANTILE of ``lengths``, or None when fewer than
    TAIL_MIN_EXCESSES lie above it."""
    if len(lengths) < TAIL_MIN_EXCESSES:
        return None
    threshold = float(np.quantile(lengths, TAIL_QUANTILE))
    excess = lengths[lengths > threshold] - threshold
    if len(excess) < TAIL_MIN_EXCESSES:
        return None
    from scipy.stats import genpareto

    with warnings.catch_warnings():  # the optimiser's warnings are not news; the fit is reported
        warnings.simplefilter("ignore")
        shape, _, scale = genpareto.fit(excess.astype(float), floc=0)
    return Tail(threshold, float(shape), float(scale), int(len(excess)), int(lengths.max()))


def source_matches(label: str, wanted) -> bool:
    """Whether a pause source is one of ``wanted``: by its name, or, for a task, by the name it
    ended with ("task sh → exec python3" is "task python3" too)."""
    if label in wanted:
        return True
    if label.startswith("task ") and " → " in label:
        return f"task {label.split(' → ')[-1].removeprefix('exec ')}" in wanted
    return False


@dataclass(frozen=True)
class PauseProfile:
    """The pauses of a profile, sorted by segment and start: pause ``i`` began ``start_ns[i]`` into
    segment ``segment[i]`` and lasted ``length_ns[i]``; its source is ``source_names[source[i]]``.
    ``latency_body_ns`` holds measured read latencies below ``threshold_ns`` (empty when nothing was
    read, as in a measurement of the loop alone); ``origin`` says where the profile came from (and
    ``catch_up_gap_ns``: how fast the sender sent the packets a pause held back). ``sender_share[i]``
    is the share of pause ``i``'s planned packets that reached the writer during it (NaN: unknown)."""

    segment: np.ndarray
    start_ns: np.ndarray
    length_ns: np.ndarray
    source: np.ndarray
    source_names: tuple[str, ...]
    segment_duration_ns: np.ndarray
    threshold_ns: int
    latency_body_ns: np.ndarray
    origin: dict
    sender_share: np.ndarray | None = None

    def __post_init__(self):
        if self.sender_share is None:
            object.__setattr__(self, "sender_share", np.full(len(self.start_ns), np.nan))

    @property
    def duration_ns(self) -> int:
        return int(self.segment_duration_ns.sum())

    def __len__(self) -> int:
        return len(self.start_ns)

    def labels(self) -> np.ndarray:
        return np.asarray(self.source_names, dtype=object)[self.source] if len(self) else np.zeros(0, object)

    @functools.cached_property
    def fitted_tails(self) -> dict[str, Tail]:
        """Per source with enough long pauses, its fitted tail (each source's own: the tails of
        different sources differ by orders of magnitude), whether or not it agrees with its data."""
        labels = self.labels()
        fitted = {name: fit_tail(self.length_ns[labels == name]) for name in self.source_names}
        return {name: tail for name, tail in fitted.items() if tail is not None}

    @property
    def tails(self) -> dict[str, Tail]:
        """The fitted tails that agree with their data (TAIL_BEYOND_MAX). A source mixing kinds of
        pause (a hypervisor's microsecond stops and its rare milliseconds) can fit a shape so heavy
        that it expects dozens of pauses beyond the longest recorded: its recorded lengths are drawn
        as they are instead."""
        return {name: tail for name, tail in self.fitted_tails.items() if tail.agrees_with_its_data}

    def matching(self, sources) -> np.ndarray:
        """The indices of the source names that ``sources`` name (see :func:`source_matches`)."""
        return np.asarray([i for i, name in enumerate(self.source_names) if source_matches(name, sources)], np.int64)

    def check_sources(self, sources) -> None:
        """Refuse (an InputError for ``--without``) a source this profile has no pause of."""
        unknown = [name for name in sources if not any(source_matches(s, (name,)) for s in self.source_names)]
        if unknown:
            raise InputError("--without", f"no source {unknown[0]!r} in this profile (its sources: "
                                          f"{', '.join(self.source_names) or 'none'})")

    def figures(self, level: float = 0.9) -> dict:
        """What the profile says, with its uncertainty: per source (and for all pauses) the count,
        the rate and its ``level`` interval, the time taken and the longest; the tail fit; and the
        rate bound for pauses longer than any recorded."""
        seconds = self.duration_ns / 1e9
        labels = self.labels()
        by_source = {}
        for name in self.source_names:
            lengths = self.length_ns[labels == name]
            if len(lengths):
                by_source[name] = _source_figures(lengths, seconds, level)
        unseen = -math.log(1 - 0.95) / seconds if seconds > 0 else float("inf")
        return {"duration_ns": self.duration_ns, "segments": len(self.segment_duration_ns),
                "pause_threshold_ns": self.threshold_ns, "level": level,
                "all": _source_figures(self.length_ns, seconds, level), "by_source": by_source,
                "tails": {name: tail.to_dict() for name, tail in self.tails.items()},
                "tails_not_used": {name: {**tail.to_dict(), "why": f"expects {tail.expected_beyond_longest:.1f} pauses "
                                                                   "beyond the longest recorded, where none was seen"}
                                   for name, tail in self.fitted_tails.items() if not tail.agrees_with_its_data},
                "cannot_see": {"longer_than_ns": int(self.length_ns.max()) if len(self) else 0,
                               "rate_bound_per_second": unseen, "confidence": 0.95,
                               "why": "no pause longer than the longest recorded was seen in the time covered: "
                                      "at 95 % confidence such pauses come less often than 3 / duration"},
                "latency_body": {"reads": int(len(self.latency_body_ns)),
                                 **({"p50_ns": float(np.median(self.latency_body_ns)),
                                     "p99_ns": float(np.percentile(self.latency_body_ns, 99))}
                                    if len(self.latency_body_ns) else {})},
                "origin": self.origin}


def _source_figures(lengths: np.ndarray, seconds: float, level: float) -> dict:
    count = len(lengths)
    low, high = rate_interval(count, seconds, level)
    return {"count": count, "per_second": count / seconds if seconds > 0 else 0.0,
            "per_second_interval": [low, high], "total_ns": int(lengths.sum()),
            "share_of_time": float(lengths.sum() / (seconds * 1e9)) if seconds > 0 else 0.0,
            "longest_ns": int(lengths.max()) if count else None,
            "p50_ns": float(np.median(lengths)) if count else None}


def rate_interval(count: int, seconds: float, level: float) -> tuple[float, float]:
    """The exact (Garwood) ``level`` interval of a Poisson rate seen ``count`` times in ``seconds``."""
    from scipy.stats import chi2

    if seconds <= 0:
        return 0.0, float("inf")
    alpha = 1 - level
    low = chi2.ppf(alpha / 2, 2 * count) / 2 if count else 0.0
    high = chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2
    return float(low / seconds), float(high / seconds)


def profile_from_pauses(segment, start_ns, length_ns, labels, segment_duration_ns, threshold_ns: int,
                        latency_body_ns=(), origin: dict | None = None, sender_share=None) -> PauseProfile:
    """A profile from pauses given by segment, start, length and source name (and, where a sender
    ran, the share of each pause's planned packets that arrived during it)."""
    segment = np.asarray(segment, np.int64)
    start_ns, length_ns = np.asarray(start_ns, np.int64), np.asarray(length_ns, np.int64)
    order = np.lexsort((start_ns, segment))
    labels = np.asarray(list(labels), dtype=str)
    names, source = np.unique(labels, return_inverse=True) if len(labels) else (np.zeros(0, str), np.zeros(0, int))
    durations = np.asarray(segment_duration_ns, np.int64)
    share = np.full(len(start_ns), np.nan) if sender_share is None else np.asarray(sender_share, float)
    profile = PauseProfile(segment[order], start_ns[order], length_ns[order], np.asarray(source, np.int16)[order],
                           tuple(str(n) for n in names), durations, int(threshold_ns),
                           np.asarray(latency_body_ns, np.int64), origin or {}, share[order])
    return profile


def check_profile(profile: PauseProfile, where: str) -> None:
    """Refuse (an InputError naming ``where``) a profile that cannot predict: no pauses, no time."""
    if len(profile.segment_duration_ns) == 0 or profile.duration_ns <= 0:
        raise InputError(where, "covers no time (a profile of zero duration)")
    if len(profile) == 0:
        raise InputError(where, "holds no pauses: nothing to predict from (was the pause threshold too high?)")
    if np.any(profile.length_ns <= 0) or np.any(profile.start_ns < 0):
        raise InputError(where, "has a pause of no length or before its segment's start")
    if profile.segment.min() < 0 or profile.segment.max() >= len(profile.segment_duration_ns):
        raise InputError(where, "has a pause outside its segments")


def subsample(values: np.ndarray, limit: int = BODY_SAMPLES) -> np.ndarray:
    if len(values) <= limit:
        return values
    return np.random.default_rng(0).choice(values, size=limit, replace=False)


def save_profile(out_dir, profile: PauseProfile, level: float = 0.9) -> dict:
    """Write the profile's three files into ``out_dir`` (each whole); return its figures."""
    out_dir = Path(out_dir)
    arrays = {"segment": profile.segment, "start_ns": profile.start_ns, "length_ns": profile.length_ns,
              "source": profile.source, "source_names": np.asarray(profile.source_names, dtype=str),
              "segment_duration_ns": profile.segment_duration_ns, "latency_body_ns": profile.latency_body_ns,
              "sender_share": profile.sender_share}
    with atomic_path(out_dir / ARRAYS_FILE) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # the reads' latencies compress 6x
    write_text(out_dir / CSV_FILE, _empirical_csv(profile))
    figures = {**provenance("sim"), "kind": "ringlab pause profile", "threshold_ns": profile.threshold_ns,
               **profile.figures(level)}
    write_json(out_dir / PROFILE_FILE, figures)
    return figures


def _empirical_csv(profile: PauseProfile) -> str:
    """The pauses as the empirical stall model reads them: the running time before each, and its length."""
    ends = profile.start_ns + profile.length_ns
    previous_end = np.concatenate([[0], ends[:-1]])
    first = np.concatenate([[True], profile.segment[1:] != profile.segment[:-1]])
    gaps = np.maximum(profile.start_ns - np.where(first, 0, previous_end), 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["gap_ns", "length_ns", "source"])
    writer.writerows(zip(gaps.tolist(), profile.length_ns.tolist(), profile.labels().tolist()))
    return buffer.getvalue()


def load_profile(directory) -> PauseProfile:
    """The profile in ``directory``, checked; an InputError naming the directory for anything that
    is not a profile ringlab wrote."""
    directory = Path(directory)
    where = f"--profile {directory}"
    if not (directory / PROFILE_FILE).is_file() or not (directory / ARRAYS_FILE).is_file():
        raise InputError(where, f"not a pause profile (no {PROFILE_FILE} and {ARRAYS_FILE}): make one with "
                                "'ringlab hw profile --out DIR' or 'ringlab pool RUN ... --out DIR'")
    try:
        meta = read_json(directory / PROFILE_FILE)
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ARRAY_NAMES}
            share = data["sender_share"] if "sender_share" in data.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise InputError(where, f"damaged profile: {error}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("threshold_ns"), int):
        raise InputError(where, f"damaged profile: {PROFILE_FILE} has no threshold_ns")
    n = len(arrays["start_ns"])
    if any(arrays[name].shape != (n,) for name in ("segment", "length_ns", "source")) or \
            any(arrays[name].dtype.kind not in "iu" for name in ("segment", "start_ns", "length_ns", "source")):
        raise InputError(where, f"damaged profile: the arrays of {ARRAYS_FILE} differ in length or type")
    names = tuple(str(name) for name in arrays["source_names"])
    if n and (arrays["source"].min() < 0 or arrays["source"].max() >= len(names)):
        raise InputError(where, "damaged profile: a pause without a source name")
    profile = PauseProfile(arrays["segment"].astype(np.int64), arrays["start_ns"].astype(np.int64),
                           arrays["length_ns"].astype(np.int64), arrays["source"].astype(np.int16), names,
                           arrays["segment_duration_ns"].astype(np.int64), meta["threshold_ns"],
                           arrays["latency_body_ns"].astype(np.int64), meta.get("origin", {}),
                           share.astype(float) if share is not None and share.shape == (n,) else None)
    check_profile(profile, where)
    return profile
