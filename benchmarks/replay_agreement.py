"""How far a replay (the simulator fed the measured arrivals and pauses) agrees with real XDP trials,
packet for packet, for each policy, with the costs measured in the trial and with the scenario's.

Each trial runs on the local veth testbed (generic XDP, C hot loops): --packets frames at
--interval, a 600 us stall injected every 20 ms. Prints every trial, then per policy the median and
the range (min - max) over trials. Needs root and the hardware prerequisites ('ringlab hw doctor');
run it on a quiet machine.
Usage: python benchmarks/replay_agreement.py [--trials 5] [--packets 100000] [--interval 5us]
"""

import argparse
import platform

import numpy as np

from ringlab.compare.model.replay import agreement, replay
from ringlab.hw.trial.run import run_trial
from ringlab.scenario.fields import WRITER_POLICIES, scenario_from_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--interval", default="5us")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"{args.packets} frames at {args.interval}, a 600 us stall every 20 ms, {args.trials} trials per policy")
    print(f"{'policy':<8}{'trial':>6}{'dropped':>9}{'costs':>10}{'same fate %':>13}{'replayed drops':>16}"
          f"{'same order %':>14}{'k same':>8}")
    results = {}
    for policy in WRITER_POLICIES:
        scenario = scenario_from_dict({"name": f"replay-{policy}", "packets": args.packets, "interval": args.interval,
                                       "drain": "2ms", "writer": {"policy": policy},
                                       "stalls": {"model": "periodic", "period": "20ms", "length": "600us",
                                                  "phase": "5ms"}})
        for trial in range(args.trials):
            measured = run_trial(scenario).trace
            dropped = measured.fate_counts()["dropped_full"]
            for costs in ("measured", "scenario"):
                agreed = agreement(measured, replay(measured, scenario, costs=costs).trace)
                k_same = sum(m == r for m, r in agreed.offsets_after_stalls)
                results.setdefault((policy, costs), []).append(
                    (agreed.same_fate_share, agreed.same_order_share, k_same / max(1, len(agreed.offsets_after_stalls))))
                print(f"{policy:<8}{trial:>6}{dropped:>9}{costs:>10}{100 * agreed.same_fate_share:>13.4f}"
                      f"{agreed.fate_counts_replayed['dropped_full']:>16}{100 * agreed.same_order_share:>14.3f}"
                      f"{k_same:>4}/{len(agreed.offsets_after_stalls):<3}")
    print()
    print(f"{'policy':<8}{'costs':>10}{'same fate %: median (min - max)':>36}{'same order %: median (min - max)':>36}"
          f"{'k same after a stall: median':>30}")
    for (policy, costs), values in results.items():
        fate, order, k = (np.array(v) * 100 for v in zip(*values))
        print(f"{policy:<8}{costs:>10}{np.median(fate):>14.4f} ({fate.min():.4f} - {fate.max():.4f})"
              f"{np.median(order):>17.3f} ({order.min():.3f} - {order.max():.3f}){np.median(k):>22.0f} %")


if __name__ == "__main__":
    main()
