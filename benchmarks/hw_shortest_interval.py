"""The shortest packet interval at which a hardware trial with no injected stalls loses at most
0.1 % of 10^5 frames on the local veth testbed (Python sender and poller, generic XDP).

Tries intervals from long to short, each --repeats times, prints the median loss at each, and the
shortest whose median passed. Needs root and the hardware prerequisites ('ringlab hw doctor').
Usage: python benchmarks/hw_shortest_interval.py [--packets 100000] [--policy fixed] [--ring-slots 16]
       [--loops native|python]
"""

import argparse
import platform

import numpy as np

from ringlab.analysis.summary import summarize
from ringlab.hw.trial.run import run_trial
from ringlab.scenario.fields import WRITER_POLICIES, scenario_from_dict

INTERVALS_US = (50, 30, 20, 15, 10, 7, 5, 3, 2, 1.5, 1)
LOSS_LIMIT = 0.001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--policy", default="fixed", choices=WRITER_POLICIES)
    parser.add_argument("--ring-slots", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loops", default="native", choices=["native", "python"],
                        help="the poller's and sender's hot loops: C (default) or Python")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"{args.packets} frames, N = {args.ring_slots}, policy {args.policy}, {args.loops} loops, "
          f"no injected stalls, median of {args.repeats}")
    print(f"{'interval':>9}{'loss % (each run)':>30}{'median %':>10}")
    shortest = None
    for interval_us in INTERVALS_US:
        scenario = scenario_from_dict({"name": "shortest-interval", "packets": args.packets,
                                       "ring_slots": args.ring_slots, "interval": f"{interval_us}us",
                                       "writer": {"policy": args.policy}, "hw": {"loops": args.loops}})
        losses = [summarize(run_trial(scenario).trace).loss_fraction for _ in range(args.repeats)]
        median = float(np.median(losses))
        each = " ".join(f"{100 * loss:.3f}" for loss in losses)
        print(f"{interval_us:>7}us{each:>30}{100 * median:>10.3f}")
        if median <= LOSS_LIMIT:
            shortest = interval_us
    print(f"shortest interval with loss <= {100 * LOSS_LIMIT:g} %: "
          + (f"{shortest} us" if shortest else "none of those tried"))


if __name__ == "__main__":
    main()
