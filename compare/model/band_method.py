"""How a prediction draws its repeats: the choices that decide a band's width and calibration.

- ``sender``: "measured" (each drawn pause holds the sender back as it did when recorded) or
  "schedule" (every packet arrives as planned).
- ``block_ns``: None draws each repeat from one segment of the profile, a stretch as long as the
  run (so the band spans the segments: one machine state each); a length draws the run as blocks
  of that length, each from a segment drawn at random (by its time) at a random point: the band then
  holds what a run of that length meets when states last about a block. The default, 1 s, is how
  long a state lasted on this machine kind (``benchmarks/machine_drift.py``: the loss of 1 s windows
  of one trial is no more alike one window apart than at random), and it keeps the periodic sources
  periodic (``kdamond.0`` wakes about twice a second here; 100 ms windows made it Poisson).
- ``tails``: "checked" uses only fitted tails that agree with their data; "every fit" uses every
  fitted tail (what ringlab did before the check).
"""

from __future__ import annotations

from dataclasses import dataclass

from ringlab.errors import InputError

SENDER_MODES = ("measured", "schedule")
BLOCK_NS = 1_000_000_000
TAIL_MODES = ("checked", "every fit")


@dataclass(frozen=True)
class BandMethod:
    sender: str = "measured"
    block_ns: int | None = BLOCK_NS
    tails: str = "checked"

    def __post_init__(self):
        if self.sender not in SENDER_MODES:
            raise InputError("--sender-model", f"unknown {self.sender!r} (choose {', '.join(SENDER_MODES)})")
        if self.block_ns is not None and (isinstance(self.block_ns, bool) or not isinstance(self.block_ns, int)
                                          or self.block_ns <= 0):
            raise InputError("--block", f"must be a positive time, got {self.block_ns!r}")
        if self.tails not in TAIL_MODES:
            raise InputError("tails", f"unknown {self.tails!r} (choose {', '.join(TAIL_MODES)})")

    def describe(self) -> str:
        block = "one segment per repeat" if self.block_ns is None else f"blocks of {self.block_ns / 1e9:g} s"
        return f"sender {self.sender}, {block}, tails {self.tails}"

    def to_dict(self) -> dict:
        return {"sender": self.sender, "block_ns": self.block_ns, "tails": self.tails}


ORIGINAL = BandMethod(sender="schedule", block_ns=None, tails="every fit")  # ringlab's method before these choices
DEFAULT_METHOD = BandMethod()
