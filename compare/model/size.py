"""How big the ring must be: the smallest number of slots (or the shortest packet interval) whose
predicted loss, at the high end of its interval, is at most a target.

Each candidate is a prediction (:mod:`ringlab.compare.model.predict`) with the same repeats' seeds, so
candidates differ by the ring, not by the draws. The search doubles until the target is met, then
halves the gap: the loss falls as the ring grows or the interval lengthens.
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlab.compare.model.predict import Prediction, predict
from ringlab.errors import InputError
from ringlab.scenario.fields import MAX_RING_SLOTS, Scenario
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
        reorder = (f"; the writer is left misaligned in {100 * prediction.lasting_reorder_share:.0f}% of the repeats "
                   "(lasting reorder)" if prediction.lasting_reorder_share else "")
        return (f"{self.field} = {value}: predicted loss {100 * prediction.loss_fraction.median:.4f}% "
                f"(high {100 * prediction.loss_fraction.high:.4f}%) <= target {100 * self.target_loss:g}%" + reorder)


def size_ring(scenario: Scenario, profile_ref, target_loss: float, field: str = "ring_slots", repeats: int = 40,
              level: float = 0.9, without=(), workers: int | None = None, scheduler: str | None = None) -> SizeAnswer:
    """Search ``field`` ("ring_slots" or "interval") for the smallest value whose prediction meets
    ``target_loss`` at its high bound; the other fields are the scenario's."""
    if not 0 < target_loss < 1:
        raise InputError("--target-loss", f"must be between 0 and 1 (a fraction of the packets), got {target_loss}")
    if field not in ("ring_slots", "interval"):
        raise InputError("field", f"unknown field {field!r}")
    tried: dict[int, Prediction] = {}

    def meets(value: int) -> bool:
        if value not in tried:
            values = {"ring_slots": value} if field == "ring_slots" else {"interval": f"{value}ns"}
            tried[value] = predict(scenario.with_values(values), profile_ref, repeats=repeats, level=level,
                                   without=without, workers=workers, scheduler=scheduler)
        return tried[value].loss_fraction.high <= target_loss

    start = scenario.ring_slots if field == "ring_slots" else scenario.interval_ns
    limit = MAX_RING_SLOTS if field == "ring_slots" else MAX_TIME_NS // max(1, scenario.packets)
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
    while high - low > (1 if field == "ring_slots" else max(1, int(high * INTERVAL_PRECISION))):
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return SizeAnswer(field, target_loss, high, tried)
