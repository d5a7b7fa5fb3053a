"""Which delivery path on this machine: the map ring (buggy and fixed writer), an AF_XDP socket and a
UDP socket, each holding 16 packets, under the same machine's noise (no injected stall: every drop
is the machine's own), at a few packet intervals.

The paths take turns within each round (the order rotating from round to round), so that each
meets the machine in the same states. Per trial: its loss, its read latency percentiles (from the
XDP program seeing a frame to the poller reading it), the drops per source of pause, and how far a
replay of it agrees. Trials a few seconds apart still meet different pauses, so each trial is also
replayed under every path's rules (its measured arrivals and pauses, its measured costs): the loss
each path would have had under that very noise, a paired comparison. Then per path and interval:
the median over trials and the range (min - max), and the paired losses against the fixed ring's.
Needs root and the hardware prerequisites ('ringlab hw doctor'); run it on a quiet machine, and run
it again at other times: one run is one state of a drifting machine.
Usage: python benchmarks/delivery_paths.py [--rounds 3] [--seconds 2] [--intervals 5us,20us]
"""

import argparse
import platform
import time
from collections import defaultdict

import numpy as np

from ringlab.analysis.summary import summarize
from ringlab.compare.model.replay import agreement, replay, with_measured_path
from ringlab.hw.backend import hardware_figures
from ringlab.hw.trial.run import run_trial
from ringlab.scenario.fields import scenario_from_dict
from ringlab.scenario.units import parse_time_ns

HOLDS = 16  # packets each path holds unread
UDP_RCVBUF_BYTES = 22_200  # the kernel's limit 44 400 bytes: 16 datagrams of about 2 960 bytes (docs/delivery.md)
PATHS = {
    "map_ring buggy": {"writer": {"policy": "buggy"}},
    "map_ring fixed": {"writer": {"policy": "fixed"}},
    "af_xdp": {"delivery": "af_xdp"},
    "udp_socket": {"delivery": "udp_socket", "udp_socket": {"rcvbuf_bytes": UDP_RCVBUF_BYTES}},
}


def scenario(path: str, interval: str, seconds: float, seed: int):
    return scenario_from_dict({"name": f"paths-{path.replace(' ', '-')}-{interval}", "seed": seed,
                               "ring_slots": HOLDS, "interval": interval, "drain": "2ms",
                               "packets": int(seconds * 1e9 / parse_time_ns(interval, "--intervals")),
                               "stalls": {"model": "none"}, **PATHS[path]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--intervals", default="5us,20us")
    args = parser.parse_args()
    intervals = args.intervals.split(",")
    print(f"machine: {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.rounds} rounds of {args.seconds:g} s trials "
          f"per path and interval, each path holding {HOLDS} packets, no injected stall")
    print(f"{'path':<16}{'interval':>9}{'round':>6}{'loss %':>9}{'p50 us':>8}{'p99 us':>9}{'p99.9 us':>10}"
          f"{'replay same fate %':>20}  drops by source")
    results = defaultdict(list)
    paired = defaultdict(lambda: defaultdict(list))  # interval -> path -> loss under each trial's noise
    names = list(PATHS)
    for round_number in range(args.rounds):
        for interval in intervals:
            turn = names[round_number % len(names):] + names[:round_number % len(names)]
            for path in turn:
                sc = scenario(path, interval, args.seconds, seed=round_number)
                trial = run_trial(sc)
                summary = summarize(trial.trace)
                replayed = replay(trial.trace, with_measured_path(sc, hardware_figures(trial))).trace
                same = agreement(trial.trace, replayed).same_fate_share
                for other in names:  # this trial's noise under every path's rules
                    counterfactual = replay(trial.trace, scenario(other, interval, args.seconds, seed=round_number))
                    paired[interval][other].append(counterfactual.summary.loss_fraction)
                latency = summary.latency
                row = (summary.loss_fraction, latency["p50_ns"] / 1e3, latency["p99_ns"] / 1e3,
                       latency["p99_9_ns"] / 1e3, same)
                results[(path, interval)].append(row)
                sources = ", ".join(f"{source}: {count}" for source, count in
                                    sorted(summary.drops_by_source.items(), key=lambda kv: -kv[1])[:3])
                print(f"{path:<16}{interval:>9}{round_number:>6}{100 * row[0]:>9.3f}{row[1]:>8.2f}{row[2]:>9.2f}"
                      f"{row[3]:>10.1f}{100 * row[4]:>20.3f}  {sources or '-'}", flush=True)
    print()
    print(f"{'path':<16}{'interval':>9}   median (min - max) over {args.rounds} trials: loss %, p99 us, p99.9 us, "
          "replay same fate %")
    for (path, interval), rows in results.items():
        loss, _, p99, p999, same = (np.array(column) for column in zip(*rows))

        def spread(values, scale=1.0, digits=3):
            values = values * scale
            return f"{np.median(values):.{digits}f} ({values.min():.{digits}f} - {values.max():.{digits}f})"

        print(f"{path:<16}{interval:>9}   {spread(loss, 100)}   {spread(p99, digits=2)}   {spread(p999, digits=1)}   "
              f"{spread(same, 100)}")
    print()
    print(f"{'path':<16}{'interval':>9}   each path under the noise of all {len(names) * args.rounds} trials "
          "(replayed): loss % median (min - max); its loss over the fixed ring's under the same noise: median "
          "(min - max) of the trials where the fixed ring lost any")
    for interval, by_path in paired.items():
        fixed = np.array(by_path["map_ring fixed"])
        for path, losses in by_path.items():
            losses = np.array(losses)
            ratio = losses[fixed > 0] / fixed[fixed > 0]
            ratios = f"{np.median(ratio):.2f} ({ratio.min():.2f} - {ratio.max():.2f})" if len(ratio) else "-"
            print(f"{path:<16}{interval:>9}   {100 * np.median(losses):.3f} ({100 * losses.min():.3f} - "
                  f"{100 * losses.max():.3f})   {ratios}")


if __name__ == "__main__":
    main()
