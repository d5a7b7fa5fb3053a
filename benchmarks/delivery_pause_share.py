"""Whether a delivery path makes its poller pause more: the share of each trial's time the poller
spent in background pauses, per path (the fixed map ring, AF_XDP, a UDP socket, each holding 16
packets, no injected stall, the scenarios of benchmarks/delivery_paths.py), the paths taking turns
with the order rotating, and each path's pause time per source averaged over its trials.
Needs root and the hardware prerequisites; run it on a quiet machine.
Usage: python benchmarks/delivery_pause_share.py [--rounds 6] [--seconds 2] [--interval 5us]
"""

import argparse
import platform
import time
from collections import defaultdict

import numpy as np
from delivery_paths import scenario

from ringlab.analysis.summary import summarize
from ringlab.hw.trial.run import run_trial

PATHS = ["map_ring fixed", "af_xdp", "udp_socket"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--interval", default="5us")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.release()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{args.rounds} rounds of {args.seconds:g} s trials at {args.interval}")
    share, by_source = defaultdict(list), defaultdict(lambda: defaultdict(float))
    for round_number in range(args.rounds):
        for path in PATHS[round_number % 3:] + PATHS[:round_number % 3]:
            summary = summarize(run_trial(scenario(path, args.interval, args.seconds, round_number)).trace)
            share[path].append(100 * summary.background_pauses["share_of_time"])
            for source, figures in summary.pauses_by_source.items():
                by_source[path][source] += 100 * figures["total_ns"] / (args.seconds * 1e9) / args.rounds
    for path in PATHS:
        values = np.array(share[path])
        print(f"{path:<16} background pauses, % of each trial: {' '.join(f'{v:.2f}' for v in values)}; "
              f"median {np.median(values):.2f}")
        top = sorted(by_source[path].items(), key=lambda kv: -kv[1])[:5]
        print(" " * 17 + "; ".join(f"{source.removeprefix('background: ')} {value:.3f} %" for source, value in top))


if __name__ == "__main__":
    main()
