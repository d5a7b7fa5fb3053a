"""Predict a trial's loss before it runs: simulate the scenario again and again with background
pauses drawn from a pause profile, and report the spread as an interval.

Each repeat is a trial like one of those the profile covers, drawn as a :class:`BandMethod`
says. By default it draws one of the profile's segments (a trial pooled, or a measurement: one
state of the machine) at random, and builds the run from blocks of 0.5 s taken at random points of
that segment, wrapping round (a circular block bootstrap within the state). Inside a block the
pauses keep their arrangement: a periodic source (DAMON's kdamond wakes at its own intervals) stays
periodic. A source's pause lengths above its tail threshold are drawn from that source's fitted
generalized Pareto where the fit agrees with its data, so a pause longer than any recorded can
occur (up to twice the longest of its source: a bound, not a measurement). The scenario's own
stalls are injected as always, and each repeat has a seed of its own.

The sender pauses with the poller where the profile says it did: each drawn pause brings the share
of its planned packets that arrived during it when it was recorded (a hypervisor's stop halts the
sender's CPU too: on a VM, 40-80 % arrive during such pauses). The rest of those packets arrive when
the pause ends, as fast as the sender caught up in the profile's trials (``catch_up_gap_ns``), and
the packets after them no earlier than that. With ``sender="schedule"`` every packet arrives as
planned (the model before this joint draw; kept to compare).

Latency: the simulator's costs are constants, so its latency body is one value. Where the profile
holds measured read latencies (reads no pause delayed), each simulated read below the pause
threshold takes a measured one instead, and each later read the same measured cost in place of
the model's constant.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.analysis.latency import bucket_middle_ns
from ringlab.compare.model.band_method import DEFAULT_METHOD, BandMethod
from ringlab.errors import InputError
from ringlab.runs.runner import run
from ringlab.runs.workers import run_batches
from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import RunPlan, draw_plan
from ringlab.scenario.stalls import StallSchedule
from ringlab.sim.fast_engine import load_engine
from ringlab.trace.pause_profile import PauseProfile, load_profile
from ringlab.trace.pauses import BACKGROUND, INJECTED, INJECTED_SOURCE, Pauses

PREDICTION_FILE = "prediction.json"
MIN_REPEATS = 10
LATENCY_FIGURES = {"p50_ns": 0.5, "p99_ns": 0.99, "p99_9_ns": 0.999}
LATENCY_SAMPLES = 200_000


@dataclass(frozen=True)
class Band:
    """A predicted figure: the median of the repeats and the interval holding ``level`` of them."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values, level: float) -> Band:
        values = np.asarray(values, float)
        values = values[np.isfinite(values)]
        if not len(values):
            return cls(float("nan"), float("nan"), float("nan"))
        low, median, high = np.quantile(values, [(1 - level) / 2, 0.5, (1 + level) / 2])
        return cls(float(median), float(low), float(high))

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict:
        return {"median": self.median, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Prediction:
    """What ``repeats`` simulations with the profile's pauses say a trial of ``scenario_name`` will
    show, each figure as a band holding ``level`` of the repeats."""

    scenario_name: str
    repeats: int
    level: float
    loss_fraction: Band
    dropped: Band
    drops_by_source: dict  # source -> Band
    latency: dict  # figure -> Band
    latency_body: str  # where the latency body came from
    lasting_reorder_share: float  # the repeats left with the writer at an offset (the buggy writer's lasting reorder)
    out_of_order_fraction: Band
    profile: dict
    without: tuple[str, ...]
    losses: tuple[float, ...]  # every repeat's loss: the distribution the band summarizes
    setting: dict  # what was predicted: policy, ring_slots, interval_ns (ringlab diff checks trials against it)
    method: dict  # how the repeats were drawn (BandMethod.to_dict)

    def to_dict(self) -> dict:
        return {"scenario_name": self.scenario_name, "repeats": self.repeats, "level": self.level,
                "loss_fraction": {**self.loss_fraction.to_dict(), "level": self.level},
                "dropped": self.dropped.to_dict(),
                "drops_by_source": {name: band.to_dict() for name, band in self.drops_by_source.items()},
                "latency": {name: band.to_dict() for name, band in self.latency.items()},
                "latency_body": self.latency_body, "lasting_reorder_share": self.lasting_reorder_share,
                "out_of_order_fraction": self.out_of_order_fraction.to_dict(), "without": list(self.without),
                "profile": self.profile, "losses": list(self.losses), "setting": self.setting,
                "method": self.method}

    def describe(self) -> str:
        """The prediction in one line."""
        loss = self.loss_fraction
        return (f"{self.scenario_name}: predicted loss {100 * loss.median:.3f}% ({100 * self.level:g}% of {self.repeats} "
                f"repeats in {100 * loss.low:.3f}%..{100 * loss.high:.3f}%); latency p99 "
                f"{self.latency['p99_ns'].median / 1e3:.2f} us"
                + (f"; without {', '.join(self.without)}" if self.without else ""))


def background_pauses(profile: PauseProfile, end_ns: int, rng: np.random.Generator,
                      method: BandMethod = DEFAULT_METHOD) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One trial's background pauses up to ``end_ns``, drawn from ``profile`` as ``method`` says
    (see the module's docstring and :class:`BandMethod`): their starts, lengths, sources (indices
    into ``profile.source_names``) and the share of their planned packets that arrived during them
    (NaN: unknown)."""
    durations = np.maximum(profile.segment_duration_ns, 1)
    weights = durations / durations.sum()
    whole = method.block_ns is None
    one_segment = whole or method.blocks_from == "one segment"
    segment = int(rng.integers(len(durations))) if one_segment else None
    starts, indices, position = [], [], 0
    while position < end_ns:
        if not one_segment:
            segment = int(rng.choice(len(durations), p=weights))
        duration = int(durations[segment])
        block = max(1, min(end_ns if whole else method.block_ns, duration))
        first, last = np.searchsorted(profile.segment, [segment, segment + 1])
        offset = int(rng.integers(duration))
        shifted = (profile.start_ns[first:last] - offset) % duration
        inside = np.flatnonzero(shifted < block)
        starts.append(shifted[inside] + position)
        indices.append(first + inside)
        position += block
    start = np.concatenate(starts)
    index = np.concatenate(indices)
    length = profile.length_ns[index].astype(np.int64)
    drawn = profile.source[index]
    tails = profile.tails if method.tails == "checked" else profile.fitted_tails
    for name, tail in tails.items():
        beyond = (drawn == profile.source_names.index(name)) & (length > tail.threshold_ns)
        length[beyond] = np.round(tail.draw(int(beyond.sum()), rng)).astype(np.int64)
    keep = start < end_ns
    return start[keep], length[keep], drawn[keep], profile.sender_share[index][keep]


def sender_through_pauses(arrival_ns: np.ndarray, start_ns: np.ndarray, length_ns: np.ndarray, share: np.ndarray,
                          catch_up_gap_ns: float | None) -> np.ndarray:
    """The arrivals when the sender pauses with the poller: of the packets planned during each pause,
    the first ``share`` arrive as planned and the rest when it ends, back to back at the catch-up gap;
    a later packet arrives no earlier than the one before it plus that gap (packets planned further
    apart than the gap keep their plan). A share of 1 or NaN leaves a pause's packets as planned."""
    held = np.isfinite(share) & (share < 1)
    if not held.any() or catch_up_gap_ns is None:
        return arrival_ns
    earliest = arrival_ns.copy()
    end = start_ns[held] + length_ns[held]
    low = np.searchsorted(arrival_ns, start_ns[held])
    high = np.searchsorted(arrival_ns, end)
    first_held = low + np.round(share[held] * (high - low)).astype(np.int64)
    for first, last, resume in zip(first_held, high, end):
        if first < last:
            earliest[first:last] = np.maximum(earliest[first:last], resume)
    spacing = np.diff(arrival_ns)
    gap = int(min(catch_up_gap_ns, spacing.min() if len(spacing) else catch_up_gap_ns))
    steps = np.arange(len(earliest), dtype=np.int64) * gap
    return steps + np.maximum.accumulate(earliest - steps)


def merged_pauses(injected: StallSchedule, start, length, source, source_names) -> Pauses:
    """The injected stalls and the background pauses as one sorted set of pauses that do not
    overlap: overlapping ones become one, named after the longest of them."""
    names = (INJECTED_SOURCE, *source_names)
    all_start = np.concatenate([injected.start_ns, start]).astype(np.int64)
    all_length = np.concatenate([injected.length_ns, length]).astype(np.int64)
    kind = np.concatenate([np.full(len(injected), INJECTED, np.int8), np.full(len(start), BACKGROUND, np.int8)])
    label = np.concatenate([np.zeros(len(injected), np.int16), np.asarray(source, np.int16) + 1])
    order = np.argsort(all_start, kind="stable")
    all_start, all_length, kind, label = all_start[order], all_length[order], kind[order], label[order]
    end = all_start + all_length
    if len(all_start) > 1:
        running_end = np.maximum.accumulate(end)
        group = np.concatenate([[0], np.cumsum(all_start[1:] >= running_end[:-1])])
        group_end = np.maximum.reduceat(end, np.flatnonzero(np.diff(group, prepend=-1)))
        longest = np.lexsort((-all_length, group))
        first = longest[np.flatnonzero(np.diff(group[longest], prepend=-1))]
        group_start = all_start[np.flatnonzero(np.diff(group, prepend=-1))]
        all_start, all_length = group_start, group_end - group_start
        kind, label = kind[first], label[first]
    return Pauses(all_start, all_length, kind, label, names)


def repeat_seed(scenario: Scenario, repeat: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([scenario.seed, 0x9E3779B9, repeat])


@functools.lru_cache(maxsize=4)
def _cached_profile(directory: str) -> PauseProfile:
    return load_profile(directory)


def _profile_of(reference) -> PauseProfile:
    return reference if isinstance(reference, PauseProfile) else _cached_profile(str(reference))


def repeat_plan(scenario: Scenario, profile: PauseProfile, repeat: int, without=(),
                method: BandMethod = DEFAULT_METHOD) -> tuple[Scenario, RunPlan]:
    """Repeat ``repeat``'s scenario (its own seed) and plan: the scenario's arrivals (held back by
    the pauses that held the sender, unless the method's sender is "schedule") and injected stalls, and
    background pauses drawn from ``profile``, less those of the sources ``without`` (the same draws
    with or without them, so that two predictions differ by those pauses alone)."""
    sequence = repeat_seed(scenario, repeat)
    trial = scenario.with_values({"seed": int(sequence.generate_state(1, np.uint64)[0] >> 2)})
    plan = draw_plan(trial)
    start, length, source, share = background_pauses(profile, plan.end_ns, np.random.default_rng(sequence), method)
    removed = profile.matching(without)
    keep = ~np.isin(source, removed)
    pauses = merged_pauses(plan.stalls, start[keep], length[keep], source[keep], profile.source_names)
    arrival = plan.arrival_ns
    if method.sender == "measured":
        arrival = sender_through_pauses(arrival, start[keep], length[keep], share[keep],
                                        profile.origin.get("catch_up_gap_ns"))
    end_ns = max(plan.end_ns, int(arrival[-1]) + trial.drain_ns) if len(arrival) else plan.end_ns
    return trial, RunPlan(arrival, plan.cpu, pauses.schedule(), end_ns, pauses)


def simulate_repeats(repeats: list[int], scenario: Scenario, profile_ref, without: tuple[str, ...] = (),
                     method: BandMethod = DEFAULT_METHOD) -> list[dict]:
    """Run the given repeats of the prediction; each gives its figures (a batch for the workers)."""
    profile = _profile_of(profile_ref)
    results = []
    for repeat in repeats:
        trial, plan = repeat_plan(scenario, profile, repeat, without, method)
        result = run(trial, plan=plan, keep_trace=False)
        summary = result.summary
        rng = np.random.default_rng(repeat_seed(scenario, repeat).spawn(1)[0])
        results.append({"loss": summary.loss_fraction, "dropped": summary.dropped_full,
                        "by_source": dict(summary.drops_by_source), "at_offset": summary.lasting_offset_slots != 0,
                        "out_of_order": summary.out_of_order / max(1, summary.delivered),
                        "latency": _latency(result.latency_histogram, profile, rng)})
    return results


def _latency(histogram, profile: PauseProfile, rng: np.random.Generator) -> dict:
    """The latency figures of one repeat: the simulated histogram's, with the measured body in
    place of the model's constant costs where the profile has one (see the module's docstring)."""
    if histogram is None or histogram.count == 0:
        return dict.fromkeys(LATENCY_FIGURES, float("nan"))
    if not len(profile.latency_body_ns):
        return {name: histogram.percentile_ns(q) for name, q in LATENCY_FIGURES.items()}
    buckets = np.flatnonzero(histogram.counts)
    weights = histogram.counts[buckets] / histogram.count
    simulated = bucket_middle_ns(buckets)[rng.choice(len(buckets), size=LATENCY_SAMPLES, p=weights)]
    measured = rng.choice(profile.latency_body_ns, size=LATENCY_SAMPLES)
    model_body = histogram.percentile_ns(0.5)
    predicted = np.where(simulated < profile.threshold_ns, measured, simulated - model_body + measured)
    return dict(zip(LATENCY_FIGURES, np.quantile(predicted, list(LATENCY_FIGURES.values())).tolist()))


def predict(scenario: Scenario, profile_ref, repeats: int = 100, level: float = 0.9, without=(),
            workers: int | None = None, scheduler: str | None = None, method: BandMethod = DEFAULT_METHOD) -> Prediction:
    """Predict ``scenario``'s figures from the profile (a :class:`PauseProfile`, or the directory of
    one, which workers then load themselves): ``repeats`` simulations, spread over ``workers``
    local processes or a Dask ``scheduler``; ``without`` removes those sources' pauses; ``method``
    says how the repeats are drawn (:class:`BandMethod`)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < MIN_REPEATS:
        raise InputError("--repeats", f"must be a whole number of at least {MIN_REPEATS}, got {repeats!r}")
    if not 0 < level < 1:
        raise InputError("--level", f"must be between 0 and 1, got {level}")
    profile = _profile_of(profile_ref)
    without = tuple(sorted(set(without)))
    profile.check_sources(without)
    results = []
    for done in run_batches(simulate_repeats, list(range(repeats)), workers=workers, scheduler=scheduler,
                            prepare=load_engine, scenario=scenario, profile_ref=profile_ref, without=without,
                            method=method):
        results.extend(done)
    return summarize_repeats(scenario, results, level, profile, without, method)


def summarize_repeats(scenario: Scenario, results: list[dict], level: float, profile: PauseProfile,
                      without, method: BandMethod = DEFAULT_METHOD) -> Prediction:
    sources = sorted({source for r in results for source in r["by_source"]})
    body = ("measured: the profile's read latencies" if len(profile.latency_body_ns)
            else "the scenario's constant costs (the profile holds no measured reads)")
    return Prediction(
        scenario_name=scenario.name, repeats=len(results), level=level,
        loss_fraction=Band.of([r["loss"] for r in results], level),
        dropped=Band.of([r["dropped"] for r in results], level),
        drops_by_source={source: Band.of([r["by_source"].get(source, 0) for r in results], level) for source in sources},
        latency={figure: Band.of([r["latency"][figure] for r in results], level) for figure in LATENCY_FIGURES},
        latency_body=body, lasting_reorder_share=float(np.mean([r["at_offset"] for r in results])),
        out_of_order_fraction=Band.of([r["out_of_order"] for r in results], level),
        profile=describe_profile(profile), without=tuple(without), losses=tuple(float(r["loss"]) for r in results),
        setting={"policy": scenario.writer.policy, "ring_slots": scenario.ring_slots, "interval_ns": scenario.interval_ns},
        method=method.to_dict())


def describe_profile(profile: PauseProfile) -> dict:
    """What a prediction says of the profile it drew from."""
    figures = profile.figures()
    return {"origin": profile.origin, "duration_ns": profile.duration_ns, "segments": figures["segments"],
            "pauses": figures["all"]["count"], "per_second": figures["all"]["per_second"],
            "threshold_ns": profile.threshold_ns, "tails": figures["tails"], "cannot_see": figures["cannot_see"]}


def write_prediction(out_dir: Path, prediction: Prediction) -> Path:
    """``prediction.json`` in ``out_dir``, whole."""
    from ringlab.atomic_files import write_json
    from ringlab.provenance import provenance

    path = Path(out_dir) / PREDICTION_FILE
    write_json(path, {**provenance("sim"), **prediction.to_dict()})
    return path


@dataclass(frozen=True)
class PredictedLoss:
    """What is read back of a ``prediction.json``: its loss band and level, the setting it was made
    for (policy, ring slots, interval in ns; None for an earlier ringlab's), and the sources left
    out. ``ringlab diff --predicted`` checks runs against it."""

    path: str
    low: float
    median: float
    high: float
    level: float | None
    setting: tuple | None
    without: tuple[str, ...]

    @classmethod
    def load(cls, directory, field: str = "--predicted") -> PredictedLoss:
        """The prediction in ``directory``; an InputError naming ``field`` if there is none, or it is
        damaged, or of a newer format."""
        from ringlab.atomic_files import read_json

        path = Path(directory) / PREDICTION_FILE
        if not path.is_file():
            raise InputError(field, f"{directory} has no {PREDICTION_FILE} (make one with 'ringlab predict')")
        document = read_json(path)
        try:
            band = document["loss_fraction"]
            setting = document.get("setting")
            return cls(str(path), float(band["low"]), float(band["median"]), float(band["high"]), band.get("level"),
                       None if setting is None else (setting["policy"], setting["ring_slots"], setting["interval_ns"]),
                       tuple(document.get("without", [])))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(field, f"{path}: damaged ({error!r})") from None
