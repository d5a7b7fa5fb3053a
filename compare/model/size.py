"""How big the ring must be: the smallest number of slots (or the shortest packet interval) whose
predicted loss, at the high end of its interval, is at most a target.

Each candidate is a prediction (:mod:`ringlab.compare.model.predict`) with the same repeats' seeds, so
candidates differ by the ring, not by the draws. The search doubles until the target is met, then
halves the gap: the loss falls as the ring grows or the interval lengthens (an AF_XDP RX ring
only doubles: its size is a power of two). It searches only rings the chosen backend runs (real
XDP by default: an answer is meant to be loaded), and
:func:`verify_answer` runs trials at the answer and at the next size down to check it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlab.compare.model.band_method import DEFAULT_METHOD, BandMethod
from ringlab.compare.model.predict import Prediction, predict
from ringlab.errors import InputError
from ringlab.scenario.fields import Scenario
from ringlab.scenario.units import MAX_TIME_NS, format_time_ns

SIZE_FILE = "size.json"
INTERVAL_PRECISION = 0.02  # the shortest interval is found to within 2 %


@dataclass(frozen=True)
class SizeAnswer:
    """The smallest ``ring_slots`` (or shortest ``interval``, in ns) whose predicted high bound of
    loss is at most ``target_loss``, or None where none within the limits is; and every prediction
    the search made, by the value it tried."""

    field: str  # "ring_slots" or "interval"
    target_loss: float
    answer: int | None
    tried: dict  # value -> Prediction

    def to_dict(self) -> dict:
        table = []
        for value in sorted(self.tried):
            prediction: Prediction = self.tried[value]
            table.append({self.field: value, "loss_fraction": prediction.loss_fraction.to_dict(),
                          "lasting_reorder_share": prediction.lasting_reorder_share,
                          "out_of_order_fraction": prediction.out_of_order_fraction.to_dict(),
                          "meets_target": prediction.loss_fraction.high <= self.target_loss})
        best = self.tried.get(self.answer)
        return {"field": self.field, "target_loss": self.target_loss, "answer": self.answer,
                "answer_text": self.describe(), "table": table,
                "at_answer": best.to_dict() if best is not None else None}

    def describe(self) -> str:
        if self.answer is None:
            return f"no {self.field} within ringlab's limits keeps the predicted loss at most {self.target_loss:g}"
        prediction = self.tried[self.answer]
        value = self.answer if self.field == "ring_slots" else format_time_ns(self.answer)
        reorder = (f"; the writer is left at an offset in {100 * prediction.lasting_reorder_share:.0f}% of the repeats "
                   "(lasting reorder)" if prediction.lasting_reorder_share else "")
        return (f"{self.field} = {value}: predicted loss {100 * prediction.loss_fraction.median:.4f}% "
                f"(high {100 * prediction.loss_fraction.high:.4f}%) <= target {100 * self.target_loss:g}%" + reorder)


def size_ring(scenario: Scenario, profile_ref, target_loss: float, field: str = "ring_slots", repeats: int = 40,
              level: float = 0.9, without=(), workers: int | None = None, scheduler: str | None = None,
              backend: str = "hw", method: BandMethod = DEFAULT_METHOD) -> SizeAnswer:
    """Search ``field`` ("ring_slots" or "interval") for the smallest value whose prediction meets
    ``target_loss`` at its high bound, among those ``backend`` runs; the other fields are the scenario's."""
    start, limit = _search_start(scenario, target_loss, field, backend)
    tried: dict[int, Prediction] = {}

    def meets(value: int) -> bool:
        if value not in tried:
            values = {"ring_slots": value} if field == "ring_slots" else {"interval": f"{value}ns"}
            tried[value] = predict(scenario.with_values(values), profile_ref, repeats=repeats, level=level,
                                   without=without, workers=workers, scheduler=scheduler, method=method)
        return tried[value].loss_fraction.high <= target_loss

    low, high = 0, start
    if meets(start):  # then smaller ones may do: halve until one does not
        while high > 1:
            candidate = high // 2
            if not meets(candidate):
                low = candidate
                break
            high = candidate
        else:
            return SizeAnswer(field, target_loss, high, tried)
    else:
        low = start
        while True:
            high = min(low * 2, limit)
            if meets(high):
                break
            if high >= limit:
                return SizeAnswer(field, target_loss, None, tried)
            low = high
    if field == "ring_slots" and scenario.delivery.kind.ring_slots_power_of_two:
        return SizeAnswer(field, target_loss, high, tried)  # an RX ring is a power of two: low and high are adjacent
    while high - low > (1 if field == "ring_slots" else max(1, int(high * INTERVAL_PRECISION))):
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return SizeAnswer(field, target_loss, high, tried)


def _search_start(scenario: Scenario, target_loss: float, field: str, backend: str) -> tuple[int, int]:
    """Where the search starts and the most it may try; an InputError for what cannot be searched."""
    from ringlab.runs.runner import registered_backend

    if not 0 < target_loss < 1:
        raise InputError("--target-loss", f"must be between 0 and 1 (a fraction of the packets), got {target_loss}")
    if field not in ("ring_slots", "interval"):
        raise InputError("field", f"unknown field {field!r}")
    if field == "ring_slots" and not scenario.delivery.kind.has_ring:
        raise InputError("delivery", "a UDP socket has no ring: its room is udp_socket.rcvbuf_bytes (search the "
                                     "interval, or predict buffer sizes with --set)")
    start = scenario.ring_slots if field == "ring_slots" else scenario.interval_ns
    limit = registered_backend(backend).max_ring_slots if field == "ring_slots" else MAX_TIME_NS // max(1, scenario.packets)
    if field == "ring_slots" and start > limit:
        raise InputError("ring_slots", f"{start} slots: the {backend} backend runs at most {limit}")
    return start, limit


@dataclass(frozen=True)
class Verification:
    """Trials at the answer and at the next size down, each trial's loss against the target."""

    field: str
    target_loss: float
    answer: int
    below: int | None  # the next value down the search tried (it did not meet the target), or None
    losses_at_answer: tuple[float, ...]
    losses_below: tuple[float, ...]
    runs: tuple[str, ...]  # the run directories written, if any

    @property
    def met_at_answer(self) -> int:
        return sum(loss <= self.target_loss for loss in self.losses_at_answer)

    def to_dict(self) -> dict:
        return {"field": self.field, "target_loss": self.target_loss, "answer": self.answer, "below": self.below,
                "losses_at_answer": list(self.losses_at_answer), "losses_below": list(self.losses_below),
                "met_at_answer": self.met_at_answer, "trials": len(self.losses_at_answer),
                "met_below": sum(loss <= self.target_loss for loss in self.losses_below), "runs": list(self.runs)}

    def describe(self) -> str:
        def listed(losses):
            return ", ".join(f"{100 * loss:.3f}%" for loss in losses)

        below = (f"; at {self.below}: {listed(self.losses_below)} "
                 f"({sum(loss <= self.target_loss for loss in self.losses_below)} of {len(self.losses_below)} met it)"
                 if self.below is not None else "")
        return (f"verified on real XDP: {self.met_at_answer} of {len(self.losses_at_answer)} trials at {self.answer} "
                f"met the target {100 * self.target_loss:g}% ({listed(self.losses_at_answer)}){below}")


def next_value_down(answer: SizeAnswer) -> int | None:
    """The largest value the search tried below the answer (one that missed the target), if any."""
    below = [value for value in answer.tried if value < answer.answer]
    return max(below) if below else None


def verify_answer(scenario: Scenario, answer: SizeAnswer, trials: int, out_dir=None) -> Verification:
    """Run ``trials`` trials on real XDP at the answer and as many at the next value down, in turn
    (answer, below, answer, ...: the machine's drift touches both alike); each trial's run directory
    goes under ``out_dir/verify`` when given."""
    from pathlib import Path

    from ringlab.runs.run_directory import write_run_directory
    from ringlab.runs.runner import run

    if answer.answer is None:
        raise InputError("--verify", "there is no answer to verify")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise InputError("--verify", f"must be a whole number of trials, at least 1, got {trials!r}")
    below = next_value_down(answer)
    losses = {answer.answer: [], below: []}
    runs = []
    for trial in range(trials):
        for value in (answer.answer, below):
            if value is None:
                continue
            values = {"ring_slots": value} if answer.field == "ring_slots" else {"interval": f"{value}ns"}
            result = run(scenario.with_values({**values, "seed": scenario.seed + trial}), "hw")
            losses[value].append(result.summary.loss_fraction)
            if out_dir is not None:
                path = Path(out_dir) / "verify" / f"{answer.field}-{value}-trial-{trial + 1}"
                write_run_directory(path, result)
                runs.append(str(path))
    return Verification(answer.field, answer.target_loss, answer.answer, below, tuple(losses[answer.answer]),
                        tuple(losses[below]) if below is not None else (), tuple(runs))
