"""Simulated packets per second of the SimPy model, and its peak memory.

Runs the buggy and fixed one-stall examples at 10^5 and 10^6 packets (override with --packets),
each in a fresh process so that peak memory (ru_maxrss) belongs to that run alone.
Usage: python benchmarks/sim_speed.py [--packets 100000 1000000]
"""

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def measure(example: str, packets: int) -> dict:
    """Simulate in this process and report wall time, rate and peak memory."""
    from ringlab.scenario import load_scenario
    from sim.model import simulate

    scenario = load_scenario(EXAMPLES / f"{example}.toml", [f"packets={packets}"])
    began = time.perf_counter()
    trace = simulate(scenario)
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"example": example, "packets": trace.packets, "seconds": round(seconds, 2),
            "packets_per_second": round(trace.packets / seconds), "peak_rss_mib": round(peak_mib)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--one", nargs=2, metavar=("EXAMPLE", "PACKETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]))))
        return
    print(f"machine: {platform.machine()}, {platform.processor() or 'unknown cpu'}, Python {platform.python_version()}")
    print(f"{'example':<18}{'packets':>10}{'seconds':>10}{'packets/s':>12}{'peak MiB':>10}")
    for example in ("buggy-one-stall", "fixed-one-stall"):
        for packets in args.packets:
            output = subprocess.run([sys.executable, __file__, "--one", example, str(packets)],
                                    check=True, capture_output=True, text=True).stdout
            r = json.loads(output)
            print(f"{r['example']:<18}{r['packets']:>10}{r['seconds']:>10}{r['packets_per_second']:>12}{r['peak_rss_mib']:>10}")


if __name__ == "__main__":
    main()
