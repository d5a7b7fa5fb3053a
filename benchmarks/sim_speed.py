"""Simulated packets per second of both engines, the fast engine's compile time, and peak memory.

Each measurement runs in a fresh process, so peak memory (ru_maxrss) belongs to that run alone,
and the fast engine's first call in a process pays for loading its compiled library from the cache
(or for compiling it, the first time ever: reported on its own line).
Usage: python benchmarks/sim_speed.py [--packets 100000 1000000] [--huge 10000000]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def measure(engine: str, example: str, packets: int) -> dict:
    """Simulate in this process: wall time of the run, rate, peak memory; for the fast engine also
    the one-time cost of its first call (building the engine, or loading it from the cache)."""
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(EXAMPLES / f"{example}.toml", [f"packets={packets}"])
    first_call = 0.0
    if engine == "simpy":
        from ringlab.sim.model import simulate as run
    else:
        began = time.perf_counter()
        from ringlab.sim.fast_engine import run_fast

        began = time.perf_counter()
        run_fast(load_scenario(EXAMPLES / f"{example}.toml", ["packets=100"]))
        first_call = time.perf_counter() - began

        def run(scenario):
            return run_fast(scenario, keep_trace=(engine == "fast"))
    began = time.perf_counter()
    run(scenario)
    seconds = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "example": example, "packets": packets, "seconds": round(seconds, 3),
            "first_call_seconds": round(first_call, 3),
            "packets_per_second": round(packets / seconds), "peak_rss_mib": round(peak_mib)}


def in_fresh_process(engine: str, example: str, packets: int, env=None) -> dict:
    output = subprocess.run([sys.executable, __file__, "--one", engine, example, str(packets)],
                            check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(output)


def trace_load_seconds(packets: int) -> float:
    """Best of five loads of a saved trace of ``packets`` packets."""
    from ringlab.scenario.fields import load_scenario
    from ringlab.sim.fast_engine import run_fast
    from ringlab.trace.records import Trace

    trace = run_fast(load_scenario(EXAMPLES / "buggy-one-stall.toml", [f"packets={packets}"])).trace
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.npz"
        trace.save(path)
        times = []
        for _ in range(5):
            began = time.perf_counter()
            Trace.load(path)
            times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--huge", type=int, default=10_000_000, help="packets for the summary-only run")
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "EXAMPLE", "PACKETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], int(args.one[2]))))
        return
    print(f"machine: {platform.machine()}, {platform.release()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as empty_cache:
        cold = in_fresh_process("fast", "buggy-one-stall", 1000, {**os.environ, "RINGLAB_CACHE": empty_cache})
    warm = in_fresh_process("fast", "buggy-one-stall", 1000)
    print(f"fast engine's one-time cost: first call ever (compiles the C engine, then caches it) "
          f"{cold['first_call_seconds']} s; first call in a new process (loads the cached library) "
          f"{warm['first_call_seconds']} s")
    print("(the runs below are timed after that first call; the simpy rows run the model alone, the fast rows"
          " include the summary)")
    print(f"{'engine':<14}{'example':<18}{'packets':>10}{'seconds':>10}{'packets/s':>12}{'peak MiB':>10}")
    rates = {}
    for example in ("buggy-one-stall", "fixed-one-stall"):
        for packets in args.packets:
            for engine in ("simpy", "fast"):
                r = in_fresh_process(engine, example, packets)
                rates[engine, example, packets] = r["packets_per_second"]
                print(f"{engine:<14}{example:<18}{packets:>10}{r['seconds']:>10}{r['packets_per_second']:>12}"
                      f"{r['peak_rss_mib']:>10}")
    for example in ("buggy-one-stall", "fixed-one-stall"):
        r = in_fresh_process("fast-summary", example, args.huge)
        print(f"{'fast-summary':<14}{example:<18}{args.huge:>10}{r['seconds']:>10}{r['packets_per_second']:>12}"
              f"{r['peak_rss_mib']:>10}")
    print(f"loading a 10^6-packet trace: {trace_load_seconds(1_000_000):.3f} s (best of 5)")
    for example in ("buggy-one-stall", "fixed-one-stall"):
        packets = max(args.packets)
        ratio = rates["fast", example, packets] / rates["simpy", example, packets]
        print(f"speed-up of the fast engine on {example} at {packets} packets: {ratio:.0f}x")


if __name__ == "__main__":
    main()
