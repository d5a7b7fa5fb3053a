"""How long does the machine's state last? One long real-XDP trial (fixed writer, no injected
stall, so every drop is the machine's own), cut into windows: per window the loss and the pause
rate of each source. Prints the loss of every window, the correlation of the log loss between
windows k apart, and how much two windows k apart differ (median |log ratio|) against two windows
drawn at random: the lag at which nearby windows stop being more alike than random ones is how long
a state lasts. A band that resamples whole states needs segments about that long.

Needs root and the hardware prerequisites ('ringlab hw doctor'); give it the machine to itself.
Usage: python benchmarks/machine_drift.py [--seconds 60] [--window 1] [--slots 16] [--interval 10us]
"""

import argparse
import platform
import time

import numpy as np

from ringlab.analysis.profile_segment import background_pauses_inside
from ringlab.runs.runner import run
from ringlab.scenario.fields import scenario_from_dict
from ringlab.scenario.units import parse_time_ns
from ringlab.trace.records import DROPPED_FULL, LOST_BEFORE_RING

FLOOR = 1e-5  # a window that lost nothing counts as this loss in the log (a tenth of a packet in 10^4)


def windows(trace, window_ns: int):
    """Per window of planned arrivals: packets, lost, and the long pauses (over the ring time) by source."""
    per_window = window_ns // trace.interval_ns
    index = trace.id // per_window
    count = int(index.max()) + 1
    packets = np.bincount(index, minlength=count)
    lost = np.bincount(index, weights=np.isin(trace.fate, (DROPPED_FULL, LOST_BEFORE_RING)), minlength=count)
    start, length, label = background_pauses_inside(trace)
    ring_ns = trace.ring_slots * trace.interval_ns
    long = length > ring_ns
    sources = {}
    for name in np.unique(label[long]):
        mine = long & (label == name)
        sources[str(name)] = np.bincount((start[mine] // window_ns).astype(np.int64), minlength=count)[:count]
    whole = packets >= 0.9 * per_window
    return packets[whole], lost[whole], {name: counts[whole] for name, counts in sources.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--window", type=float, default=1.0, help="window length in seconds")
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--interval", default="10us")
    args = parser.parse_args()
    interval_ns = parse_time_ns(args.interval, "--interval")
    scenario = scenario_from_dict({"name": "drift", "seed": 1, "ring_slots": args.slots, "interval": f"{interval_ns}ns",
                                   "packets": int(args.seconds * 1e9 / interval_ns), "drain": "2ms",
                                   "writer": {"policy": "fixed"}, "stalls": {"model": "none"}})
    print(f"machine: {platform.node()} {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"one trial of {args.seconds:g} s at N = {args.slots}, T = {interval_ns / 1e3:g} us, fixed writer, no stall; "
          f"started {time.strftime('%H:%M:%S')}")
    trace = run(scenario, "hw").trace
    packets, lost, sources = windows(trace, int(args.window * 1e9))
    loss = lost / packets
    print(f"windows of {args.window:g} s: {len(loss)}; loss over the trial {100 * lost.sum() / packets.sum():.3f}%")
    print("loss per window (%): " + " ".join(f"{100 * value:.2f}" for value in loss))
    log_loss = np.log(np.maximum(loss, FLOOR))
    rng = np.random.default_rng(0)
    random_pairs = rng.integers(len(loss), size=(20_000, 2))
    random_pairs = random_pairs[random_pairs[:, 0] != random_pairs[:, 1]]
    random_difference = float(np.median(np.abs(log_loss[random_pairs[:, 0]] - log_loss[random_pairs[:, 1]])))
    print(f"two windows at random differ by a factor of {np.exp(random_difference):.2f} (median)")
    print(f"{'lag (s)':>8}{'correlation':>13}{'median factor':>15}")
    lasts = None
    for lag in range(1, min(len(loss) // 2, 30) + 1):
        a, b = log_loss[:-lag], log_loss[lag:]
        correlation = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        difference = float(np.median(np.abs(a - b)))
        if lasts is None and difference >= 0.9 * random_difference:
            lasts = lag * args.window
        print(f"{lag * args.window:>8g}{correlation:>13.2f}{np.exp(difference):>15.2f}")
    print(f"a state lasts about {lasts if lasts is not None else '> ' + str(min(len(loss) // 2, 30) * args.window)} s "
          "(the first lag at which two windows differ by 90 % of what two random ones do, in log loss)")
    seconds = len(loss) * args.window
    print("long pauses (over the ring time) per window, by source: mean, variance/mean (1: Poisson, steady rate)")
    for name, counts in sorted(sources.items(), key=lambda item: -item[1].sum()):
        mean = counts.mean()
        print(f"  {name[:40]:<40} {counts.sum():>6} in {seconds:g} s  mean {mean:6.2f}  "
              f"variance/mean {counts.var() / mean if mean else float('nan'):6.2f}")


if __name__ == "__main__":
    main()
