"""How a prediction draws its repeats: the choices that decide a band's width and calibration.

- ``sender``: "measured" (each drawn pause holds the sender back as it did when recorded) or
  "schedule" (every packet arrives as planned).
- ``block_ns``: None draws each repeat from one segment of the profile, a stretch as long as the
  run; a length draws the run as blocks of that length, each at a random point.
- ``blocks_from``: "one segment" draws one segment per repeat and every block from it: the
  segment stands for the machine's state (a trial of the profile, at its time), the blocks for
  which of that state's pauses a run happens to meet. "any segment" draws each block's segment
  anew (states mixed within a run).

The default, blocks of 0.5 s from one segment, was chosen on 28 trials of three benchmark runs at
different times (``benchmarks/band_methods.py``): 23 of 28 inside their 90 % bands (the method
before: 10 of 28), interval score 0.34 times the method before's; the three runs after the choice
gave 22 of 28 (docs/prediction.md). States last longer than a trial
here (a profile's trials differ up to 100 times, and the trials minutes later lie among them), but
within a state the 1 s windows of one trial are no more alike one window apart than at random
(``benchmarks/machine_drift.py``); a half-second block keeps ``kdamond.0``'s visits (about two a
second here) periodic, where 100 ms windows had made them Poisson.
- ``tails``: "checked" uses only fitted tails that agree with their data; "every fit" uses every
  fitted tail (what ringlab did before the check).
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlab.errors import InputError

SENDER_MODES = ("measured", "schedule")
STATE_BLOCK_NS = 500_000_000  # a block of a repeat drawn from one segment of a profile
TAIL_MODES = ("checked", "every fit")
BLOCK_SOURCES = ("any segment", "one segment")


@dataclass(frozen=True)
class BandMethod:
    sender: str = "measured"
    block_ns: int | None = STATE_BLOCK_NS
    tails: str = "checked"
    blocks_from: str = "one segment"

    def __post_init__(self):
        if self.sender not in SENDER_MODES:
            raise InputError("--sender-model", f"unknown {self.sender!r} (choose {', '.join(SENDER_MODES)})")
        if self.block_ns is not None and (isinstance(self.block_ns, bool) or not isinstance(self.block_ns, int)
                                          or self.block_ns <= 0):
            raise InputError("--block", f"must be a positive time, got {self.block_ns!r}")
        if self.blocks_from not in BLOCK_SOURCES:
            raise InputError("blocks_from", f"unknown {self.blocks_from!r} (choose {', '.join(BLOCK_SOURCES)})")
        if self.tails not in TAIL_MODES:
            raise InputError("tails", f"unknown {self.tails!r} (choose {', '.join(TAIL_MODES)})")

    def describe(self) -> str:
        block = ("one segment per repeat" if self.block_ns is None
                 else f"blocks of {self.block_ns / 1e9:g} s from {self.blocks_from}")
        return f"sender {self.sender}, {block}, tails {self.tails}"

    def to_dict(self) -> dict:
        return {"sender": self.sender, "block_ns": self.block_ns, "tails": self.tails, "blocks_from": self.blocks_from}


ORIGINAL = BandMethod(sender="schedule", block_ns=None, tails="every fit")  # ringlab's method before these choices
DEFAULT_METHOD = BandMethod()


def interval_score(low: float, high: float, measured: float, level: float = 0.9) -> float:
    """Gneiting and Raftery's interval score of a central ``level`` interval [low, high] for one
    observation: its width, plus 2 / alpha times how far the observation fell outside (a proper
    scoring rule: lower is better, and no band scores better by claiming more or less than it holds)."""
    alpha = 1 - level
    return (high - low) + (2 / alpha) * max(0.0, low - measured) + (2 / alpha) * max(0.0, measured - high)
