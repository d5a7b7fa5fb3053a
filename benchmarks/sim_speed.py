"""Simulated packets per second of both engines, the fast engine's compile time, and peak memory;
and the fast engine's skipping against the minimal slot-exact loop, measured in the same run.

Each measurement runs in a fresh process, so peak memory (ru_maxrss) belongs to that run alone,
and the fast engine's first call in a process pays for loading its compiled library from the cache
(or for compiling it, the first time ever: reported on its own line).

Skipping (``--skipping``, or at the end of the full run): per scenario, in each of --repeats
repeats, the minimal loop (benchmarks/minimal_loop.c, the limit of a per-packet engine), the fast
engine summary-only per packet (skip=False) and skipping (the default); packets per second, the
fraction of the minimal loop of the same repeat, median (range). Then one 2 ms stall a second at
T = 1 us: 10^10 packets skipping, and the minimal loop on 10^9 of them for its rate; and its figures
checked equal, skipping against per packet, at 10^8.
Usage: python benchmarks/sim_speed.py [--packets 100000 1000000] [--huge 10000000] [--skipping] [--repeats 3]
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


SPARSE_STALLS = {"model": "periodic", "period": "1s", "length": "2ms", "phase": "0.5s"}


def skipping_scenarios(packets: int) -> dict:
    """The scenarios the skipping figures are measured on: the examples, and sparse stalls."""
    from ringlab.scenario.fields import load_scenario, scenario_from_dict

    chosen = {name: load_scenario(EXAMPLES / f"{name}.toml", [f"packets={packets}"])
              for name in ("buggy-one-stall", "fixed-one-stall", "renewal-stalls")}
    base = load_scenario(EXAMPLES / "buggy-one-stall.toml").to_dict()
    chosen["sparse stalls, buggy"] = scenario_from_dict({**base, "name": "sparse", "packets": packets,
                                                         "stalls": SPARSE_STALLS})
    return chosen


def skipping(repeats: int, packets: int = 100_000_000, huge: int = 10_000_000_000) -> None:
    import statistics

    sys.path.insert(0, str(Path(__file__).parent))
    from sim_scale import minimal_loop, run_minimal

    from ringlab.sim.fast_engine import run_fast

    def spread(values, digits=2):
        return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    library = minimal_loop()
    print(f"\nSkipping: summary-only runs of {packets:.0e} packets, one writer CPU; median (range) of {repeats} "
          "repeats; fraction: of the minimal loop in the same repeat")
    print(f"  {'scenario':<24}{'what':<26}{'M packets/s':>24}{'fraction':>22}{'jumped over':>14}")
    for name, scenario in skipping_scenarios(packets).items():
        rows = {"minimal loop (the limit)": [], "fast engine, per packet": [], "fast engine, skipping": []}
        jumped = 0
        for _ in range(repeats):
            _, _, limit = run_minimal(library, scenario, keep=False)
            timed = []
            for skip in (False, True):
                began = time.perf_counter()
                run = run_fast(scenario, keep_trace=False, skip=skip)
                timed.append(time.perf_counter() - began)
            jumped = run.mode.skipped_packets / packets
            for row, seconds in zip(rows, (limit, *timed)):
                rows[row].append((packets / seconds / 1e6, limit / seconds))
        for row, measured in rows.items():
            print(f"  {name:<24}{row:<26}{spread([r for r, _ in measured], 1):>24}{spread([f for _, f in measured]):>22}"
                  f"{f'{100 * jumped:.2f} %' if row.endswith('skipping') else '':>14}")
    sparse = skipping_scenarios(1)["sparse stalls, buggy"]
    check = sparse.with_values({"packets": packets})
    same = run_fast(check, keep_trace=False).summary == run_fast(check, keep_trace=False, skip=False).summary
    print(f"  sparse stalls at {packets:.0e}: skipping's summary equals the per-packet run's: {same}")
    times, limits = [], []
    for _ in range(repeats):
        _, _, limit = run_minimal(library, sparse.with_values({"packets": huge // 10}), keep=False)
        limits.append(huge // 10 / limit / 1e6)
        began = time.perf_counter()
        run = run_fast(sparse.with_values({"packets": huge}), keep_trace=False)
        times.append(time.perf_counter() - began)
    print(f"  sparse stalls, {huge:.0e} packets skipping: {spread(times)} s ({run.mode.skips} jumps, "
          f"{100 * run.mode.skipped_packets / huge:.3f} % of the packets jumped over); the minimal loop's rate on "
          f"{huge // 10:.0e}: {spread(limits, 1)} M packets/s, so {spread([huge / (r * 1e6) for r in limits], 1)} s "
          f"for {huge:.0e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--huge", type=int, default=10_000_000, help="packets for the summary-only run")
    parser.add_argument("--skipping", action="store_true", help="only the skipping figures")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the skipping figures")
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "EXAMPLE", "PACKETS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], int(args.one[2]))))
        return
    print(f"machine: {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.skipping:
        skipping(args.repeats)
        return
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
    skipping(args.repeats)


if __name__ == "__main__":
    main()
