"""How close `ringlab sim` runs to the limit of its model, what it needs at any size, and how sweeps scale.

Every figure is measured in this run, against references measured in the same run:
1. The limit: a minimal slot-exact loop of the same model (benchmarks/minimal_loop.c, one writer
   CPU), first checked equal to the fast engine (every packet's fate and the read order) on the
   benchmark scenarios; it stops the benchmark if they differ.
2. Speed at --packets (default 10^8), buggy and fixed examples: the minimal loop, the fast engine
   alone (``run_fast``, summary only, in this process) and the whole ``ringlab sim --summary-only
   --warnings summary`` process; packets per second and the fraction of the minimal loop measured
   in the same repeat; median and range over --repeats.
3. A 10^5-packet ``ringlab sim`` (trace kept) in a fresh process, beside a process that only
   imports NumPy: median of --repeats + 2.
4. Peak memory (the process's own ru_maxrss) and bytes per packet above a 10^3-packet run:
   summary only at 10^6 .. 10^9 packets, and with the trace at 10^6 and 10^7.
5. Sweeps of 200 points x 10^5 packets (the buggy example, interval 1000 .. 1199 ns): per point in
   one process beside the engine alone (the difference is the per-point overhead: plan, files,
   bookkeeping); one against two local worker processes; a Dask LocalCluster of one and of two.

Runs write into a temporary directory beside this file (on this machine /tmp creates files 25x more
slowly than the root filesystem). Usage: python benchmarks/sim_scale.py [--quick] [--repeats 3]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MINIMAL_LOOP = Path(__file__).with_name("minimal_loop.c")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI does: no BLAS threads spinning beside the loop


def minimal_loop():
    from ringlab import native

    library = native.load(MINIMAL_LOOP)
    i64, pointer = ctypes.c_int64, ctypes.c_void_p
    library.minimal_run.argtypes = [ctypes.c_int] + [i64] * 7 + [pointer, pointer, i64, i64, pointer, pointer, pointer]
    library.minimal_run.restype = ctypes.c_int
    return library


def scenario_of(example: str, packets: int):
    from ringlab.scenario.fields import load_scenario

    return load_scenario(EXAMPLES / f"{example}.toml", [f"packets={packets}"])


def run_minimal(library, scenario, keep: bool):
    """The minimal loop on ``scenario`` (no jitter, one writer CPU): its fates and read order if
    ``keep``, and its seconds."""
    from ringlab.scenario.plan import stream_plan

    plan = stream_plan(scenario)
    start = np.ascontiguousarray(plan.stalls.start_ns, np.int64)
    end = np.ascontiguousarray(plan.stalls.end_ns, np.int64)
    n = scenario.packets
    fate = np.full(n, 4, np.int8) if keep else None
    order = np.zeros(n, np.int64) if keep else None
    counts = np.zeros(2, np.int64)
    began = time.perf_counter()
    failed = library.minimal_run(
        int(scenario.writer.policy == "fixed"), scenario.ring_slots, scenario.interval_ns, n, scenario.writer.cost_ns,
        scenario.writer.lock_hold_ns, scenario.poller.cost_ns, scenario.poller.wakeup_ns, start.ctypes.data,
        end.ctypes.data, len(start), plan.end_ns, None if fate is None else fate.ctypes.data,
        None if order is None else order.ctypes.data, counts.ctypes.data)
    seconds = time.perf_counter() - began
    if failed:
        raise MemoryError("the minimal loop ran out of memory")
    return fate, None if order is None else order[:counts[0]], seconds


def check_equal(library, packets: int) -> None:
    from ringlab.sim.fast_engine import run_fast

    for example in ("buggy-one-stall", "fixed-one-stall"):
        scenario = scenario_of(example, packets)
        fate, order, _ = run_minimal(library, scenario, keep=True)
        fast = run_fast(scenario)
        same = np.array_equal(fast.trace.fate, fate) and np.array_equal(fast.delivered_ids, order)
        print(f"  {example}, {packets} packets: minimal loop and fast engine give "
              f"{'the same fates and read order' if same else 'DIFFERENT results'}")
        if not same:
            sys.exit("the minimal loop is not the engine's model: no figure below would mean anything")


# Starts the command from a small process and reports its wall time and peak memory: a process
# forked from this (large) one would count this one's memory too (ru_maxrss survives exec).
LAUNCHER = """import os, sys, time
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.perf_counter() - began} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_process(arguments: list[str], cwd: Path) -> tuple[float, float]:
    """Run a command; its wall seconds and its own peak memory in MiB (ru_maxrss)."""
    report = cwd / "process.txt"
    result = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *arguments], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds, peak_kib, status = report.read_text().split()
    if result.returncode != 0 or int(status) != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed: {result.stderr[-500:]}")
    return float(seconds), int(peak_kib) / 1024


def ringlab_sim(example: str, packets: int, out: Path, summary_only: bool = True) -> list[str]:
    command = [sys.executable, "-m", "ringlab", "sim", str(EXAMPLES / f"{example}.toml"), "--set", f"packets={packets}",
               "--out", str(out)]
    return command + (["--summary-only", "--warnings", "summary"] if summary_only else [])


def spread(values: list[float], digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def speed(library, packets: int, repeats: int, work: Path) -> None:
    from ringlab.sim.fast_engine import run_fast

    print(f"\n2. Speed at {packets:.0e} packets, one writer CPU; median (range) of {repeats} repeats; "
          "fraction: of the minimal loop in the same repeat")
    print(f"  {'example':<17}{'what':<34}{'seconds':>22}{'M packets/s':>22}{'fraction':>22}")
    for example in ("buggy-one-stall", "fixed-one-stall"):
        scenario = scenario_of(example, packets)
        rows = {"minimal slot-exact loop (the limit)": [], "fast engine alone (run_fast)": [],
                "whole `ringlab sim` process": []}
        for _ in range(repeats):
            _, _, limit = run_minimal(library, scenario, keep=False)
            began = time.perf_counter()
            run_fast(scenario, keep_trace=False)
            engine = time.perf_counter() - began
            whole, _ = run_process(ringlab_sim(example, packets, work / "speed"), work)
            for name, seconds in zip(rows, (limit, engine, whole)):
                rows[name].append((seconds, limit / seconds))
        for name, measured in rows.items():
            seconds = [s for s, _ in measured]
            print(f"  {example:<17}{name:<34}{spread(seconds):>22}{spread([packets / s / 1e6 for s in seconds], 1):>22}"
                  f"{spread([f for _, f in measured]):>22}")


def fresh_process(repeats: int, work: Path) -> None:
    sim = [run_process(ringlab_sim("buggy-one-stall", 100_000, work / "fresh", summary_only=False), work)[0]
           for _ in range(repeats)]
    numpy_only = [run_process([sys.executable, "-c", "import numpy"], work)[0] for _ in range(repeats)]
    print(f"\n3. A 10^5-packet `ringlab sim` (trace kept, buggy-one-stall) in a fresh process: {spread(sim, 3)} s; "
          f"a process that only imports NumPy: {spread(numpy_only, 3)} s (median (range) of {repeats})")


def memory(sizes: list[int], traced: list[int], work: Path) -> None:
    print("\n4. Peak memory of the whole `ringlab sim` process (buggy-one-stall), and bytes per packet above "
          "a 10^3-packet run")
    _, base = run_process(ringlab_sim("buggy-one-stall", 1000, work / "memory"), work)
    print(f"  {'run':<28}{'packets':>14}{'seconds':>10}{'peak MiB':>10}{'bytes/packet':>14}")
    print(f"  {'summary only':<28}{1000:>14}{'':>10}{base:>10.0f}")
    for summary_only, counts in ((True, sizes), (False, traced)):
        for packets in counts:
            seconds, peak = run_process(ringlab_sim("buggy-one-stall", packets, work / "memory", summary_only), work)
            name = "summary only" if summary_only else "trace kept"
            print(f"  {name:<28}{packets:>14.0e}{seconds:>10.1f}{peak:>10.0f}"
                  f"{(peak - base) * 2**20 / packets:>14.2f}")


def sweep_file(work: Path) -> Path:
    intervals = ", ".join(str(1000 + i) for i in range(200))
    path = work / "sweep200.toml"
    path.write_text(f'[sweep]\nname = "scale"\nbase = "{EXAMPLES / "buggy-one-stall.toml"}"\nbackends = ["sim"]\n'
                    f'seed = 3\n\n[sweep.set]\npackets = 100000\n\n[sweep.vary]\ninterval = [{intervals}]\n')
    return path


def timed_sweep(sweep, out: Path, **options) -> float:
    from ringlab.compare.sweeps.sweep import run_sweep

    shutil.rmtree(out, ignore_errors=True)
    began = time.perf_counter()
    run_sweep(sweep, out, progress=False, **options)
    return time.perf_counter() - began


def sweeps(repeats: int, work: Path, dask: bool) -> None:
    from ringlab.compare.sweeps.sweep_file import load_sweep
    from ringlab.sim.fast_engine import run_fast

    sweep = load_sweep(sweep_file(work))
    points = len(sweep.points)
    engine, one, two = [], [], []
    for _ in range(repeats):
        began = time.perf_counter()
        for point in sweep.points:
            run_fast(point.scenario, keep_trace=False)
        engine.append(time.perf_counter() - began)
        one.append(timed_sweep(sweep, work / "sweep", workers=1))
        two.append(timed_sweep(sweep, work / "sweep", workers=2))
    per_point = [1e3 * s / points for s in one]
    overhead = [1e3 * (s - e) / points for s, e in zip(one, engine)]
    print(f"\n5. Sweep of {points} points x 10^5 packets; median (range) of {repeats}")
    print(f"  per point, one worker (in this process): {spread(per_point)} ms, of which the engine "
          f"{spread([1e3 * e / points for e in engine])} ms: overhead {spread(overhead)} ms per point "
          f"({spread([o / p * 100 for o, p in zip(overhead, per_point)], 0)} %)")
    print(f"  local workers: one {spread(one)} s, two {spread(two)} s: "
          f"{spread([a / b for a, b in zip(one, two)])}x")
    if dask:
        times = {}
        from dask.distributed import LocalCluster

        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                timed_sweep(sweep, work / "sweep", scheduler=cluster.scheduler_address)  # workers import ringlab
                times[workers] = [timed_sweep(sweep, work / "sweep", scheduler=cluster.scheduler_address)
                                  for _ in range(repeats)]
        print(f"  Dask LocalCluster (worker processes, warm): one {spread(times[1])} s, two {spread(times[2])} s: "
              f"{spread([a / b for a, b in zip(times[1], times[2])])}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^7 packets for speed, memory up to 10^8, no Dask")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, kernel {platform.release()}, "
          f"Python {platform.python_version()}")
    library = minimal_loop()
    print("1. The minimal loop is the engine's model:")
    check_equal(library, 1_000_000)
    from ringlab.sim.fast_engine import load_engine

    load_engine()
    with tempfile.TemporaryDirectory(prefix=".sim-scale-", dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        speed(library, 10**7 if args.quick else 10**8, args.repeats, work)
        fresh_process(args.repeats + 2, work)
        memory([10**6, 10**7, 10**8] + ([] if args.quick else [10**9]), [10**6, 10**7], work)
        sweeps(args.repeats, work, dask=not args.quick)


if __name__ == "__main__":
    main()
