"""How fast a prediction is: R repeats of a scenario with a profile of the machine's rate of pauses,
against one plain simulation of the same scenario measured in the same run (the reference), and
how fast a profile loads (NumPy) against reading its pauses.csv as an empirical stall model; then
what the engine's skipping of repeating periods gains: the same prediction with it and without it
(``RINGLAB_SKIP=0``), with this machine kind's rate of pauses and with a quiet machine's.

The profiles are synthetic, with the lengths measured on this machine kind (1 us and up with a
heavy tail, three sources) at 17 000 pauses a second (this VM) and 1 000 (a quiet machine), over
20 s. Medians of ``--runs`` runs, with their spread.
Usage: python benchmarks/predict_speed.py [--repeats 200] [--packets 1000000] [--runs 3] [--workers N]
"""

import argparse
import functools
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def synthetic_profile(directory: Path, rate_per_s: int = 17_000, seconds: int = 20) -> None:
    """A profile of ``rate_per_s`` pauses a second, saved into ``directory``."""
    from ringlab.trace.pause_profile import profile_from_pauses, save_profile

    rng = np.random.default_rng(17)
    count = rate_per_s * seconds
    starts = np.sort(rng.choice(seconds * 1_000_000_000, size=count, replace=False))
    lengths = (1_000 + rng.pareto(2.5, count) * 1_500).astype(np.int64)
    starts = np.maximum(starts, np.concatenate([[0], (starts + lengths)[:-1] + 1]))  # no overlaps
    labels = rng.choice(["no kernel event (hypervisor or hardware)", "timer interrupt", "task kdamond.0"], count,
                        p=[0.93, 0.065, 0.005])
    save_profile(directory, profile_from_pauses(np.zeros(count), starts, lengths, labels, [seconds * 1_000_000_000],
                                                1_000, rng.integers(150, 400, 50_000), {"kind": "synthetic"}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    args = parser.parse_args()
    import ringlab
    from ringlab.compare.model.predict import predict
    from ringlab.scenario.stalls import EmpiricalStalls
    from ringlab.trace.pause_profile import load_profile

    scenario = ringlab.load_scenario(ROOT / "examples" / "fixed-one-stall.toml").with_values(
        {"packets": args.packets, "stalls": {"model": "none"}})
    with tempfile.TemporaryDirectory(dir=ROOT) as scratch:  # beside the checkout: /tmp creates files slowly here
        profile_dir = Path(scratch) / "profile"
        synthetic_profile(profile_dir)
        ringlab.run(scenario, keep_trace=False)  # the engine built and loaded before anything is timed
        plain, predicting, loads, csv_reads = [], [], [], []
        for _ in range(args.runs):
            began = time.perf_counter()
            ringlab.run(scenario, keep_trace=False)
            plain.append(time.perf_counter() - began)
            began = time.perf_counter()
            prediction = predict(scenario, str(profile_dir), repeats=args.repeats, workers=args.workers)
            predicting.append(time.perf_counter() - began)
            began = time.perf_counter()
            load_profile(profile_dir)
            loads.append(time.perf_counter() - began)
            began = time.perf_counter()
            EmpiricalStalls.from_file(str(profile_dir / "pauses.csv"), "stalls.file")
            csv_reads.append(time.perf_counter() - began)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"prediction: {args.repeats} repeats of {args.packets:.0e} packets, 17000 pauses/s profile, "
          f"workers {args.workers or os.cpu_count()}: median {statistics.median(predicting):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in predicting)})")
    print(f"reference: one plain simulation of the same scenario: median {statistics.median(plain) * 1e3:.1f} ms; "
          f"a repeat costs {statistics.median(predicting) / args.repeats / statistics.median(plain):.1f}x one "
          f"(cores used: {args.workers or os.cpu_count()})")
    print(f"profile of 340000 pauses: loaded with NumPy in median {statistics.median(loads) * 1e3:.1f} ms; "
          f"its pauses.csv read as an empirical stall model in {statistics.median(csv_reads) * 1e3:.0f} ms "
          f"({statistics.median(csv_reads) / statistics.median(loads):.0f}x)")
    print(f"predicted loss {100 * prediction.loss_fraction.median:.3f}% "
          f"({100 * prediction.loss_fraction.low:.3f}..{100 * prediction.loss_fraction.high:.3f}%)")
    skipping_gain(scenario, args)
    return 0


def per_packet_and_skipping(answer, runs: int) -> tuple[dict, list[float]]:
    """``answer()`` per packet (RINGLAB_SKIP=0) and skipping, back to back in each of ``runs`` runs:
    the last answer of each, and the per-packet over skipping time of each run."""
    seconds, answers = {"0": [], "1": []}, {}
    for _ in range(runs):
        for skip in ("0", "1"):
            os.environ["RINGLAB_SKIP"] = skip
            began = time.perf_counter()
            answers[skip] = answer()
            seconds[skip].append(time.perf_counter() - began)
    os.environ.pop("RINGLAB_SKIP")
    return answers, seconds


def gain_text(seconds: dict) -> str:
    gains = [a / b for a, b in zip(seconds["0"], seconds["1"])]
    return (f"per packet {statistics.median(seconds['0']):.2f} s, skipping {statistics.median(seconds['1']):.2f} s: "
            f"{statistics.median(gains):.2f}x ({min(gains):.2f}-{max(gains):.2f})")


def skipping_gain(scenario, args) -> None:
    """A prediction, and ``ringlab size`` for 0.1 % loss (a prediction per size it tries), per packet
    and skipping, at this VM's rate of pauses and a quiet machine's."""
    from ringlab.compare.model.predict import predict
    from ringlab.compare.model.size import size_ring

    print(f"skipping: {args.repeats} repeats of {args.packets:.0e} packets, per packet against skipping "
          f"(median (range) of {args.runs} runs, each pair back to back)")
    for rate in (17_000, 1_000):
        with tempfile.TemporaryDirectory(dir=ROOT) as scratch:
            profile_dir = Path(scratch) / "profile"
            synthetic_profile(profile_dir, rate)
            answers, seconds = per_packet_and_skipping(
                functools.partial(predict, scenario, str(profile_dir), repeats=args.repeats, workers=args.workers),
                args.runs)
            print(f"  {rate:>6} pauses/s: {gain_text(seconds)}; the same predicted loss: "
                  f"{answers['0'].loss_fraction == answers['1'].loss_fraction}")
            answers, seconds = per_packet_and_skipping(
                functools.partial(size_ring, scenario, str(profile_dir), 0.001, repeats=args.repeats,
                                  workers=args.workers, backend="sim"), args.runs)
            print(f"  {rate:>6} pauses/s, ringlab size (0.1 % loss, {len(answers['1'].tried)} sizes tried): "
                  f"{gain_text(seconds)}; the same answer: {answers['0'].answer == answers['1'].answer} "
                  f"({answers['1'].answer} slots)")


if __name__ == "__main__":
    sys.exit(main())
