"""Are predictions right out of sample, on real XDP? A profile is pooled from trials at some (N, T)
settings; then each of the other settings is predicted (its 90 % band) before its own trial runs,
by ringlab's band method and, in the same run, by the method it used before (``ORIGINAL``); with
--refresh, also from a profile measured under that setting's load right before its trial.
Prints each setting's band, the measured loss, whether it fell inside, the median's ratio to the
measurement and the band's width; then per method the coverage, the share of medians within a
factor of 2 and the mean interval score (lower is better), and the trial-to-trial spread of the
profile's own trials. Last, `ringlab size`'s answer for this machine from the same profile.

The fixed writer, no stall injected: every drop comes from the machine's own pauses. Needs root and
the hardware prerequisites ('ringlab hw doctor'); give it the machine to itself.
Usage: python benchmarks/prediction_coverage.py [--seconds 1.5] [--repeats 100] [--refresh 3] [--out DIR]
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from quiet_trials import quiet_trial

from ringlab.compare.model.band_method import DEFAULT_METHOD, ORIGINAL, interval_score
from ringlab.compare.model.pooling import pool_runs
from ringlab.compare.model.predict import predict
from ringlab.compare.model.size import size_ring
from ringlab.hw.trial.load_profile import measure_under_load
from ringlab.runs.run_directory import run_into_directory

PROFILE_SETTINGS = [(16, 10_000), (8, 20_000), (32, 5_000)]  # (ring slots, interval ns), two trials each
PREDICTED_SETTINGS = [(4, 10_000), (8, 10_000), (16, 20_000), (4, 20_000), (32, 10_000), (16, 5_000), (8, 5_000),
                      (64, 5_000), (4, 40_000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="length of each trial")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--refresh", type=float, default=3.0,
                        help="seconds of a profile measured under each setting's load right before its trial (0: none)")
    parser.add_argument("--out", type=Path, default=None, help="keep the trials here (default: a scratch directory)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="coverage-", dir=Path(__file__).resolve().parent.parent))
    print(f"machine: {platform.node()} {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"started {time.strftime('%Y-%m-%d %H:%M:%S')}; trials of {args.seconds} s, fixed writer, no injected stall; "
          f"{args.repeats} repeats per prediction")
    profile_runs, profile_losses = [], []
    for slots, interval_ns in PROFILE_SETTINGS:
        for trial in range(2):
            directory = out / f"profile-N{slots}-T{interval_ns}-{trial}"
            result = run_into_directory(quiet_trial("coverage", slots, interval_ns, args.seconds, trial), directory, "hw")
            profile_runs.append(directory)
            profile_losses.append(result.summary.loss_fraction)
            print(f"profile trial N={slots:<3} T={interval_ns / 1e3:g} us: loss {100 * result.summary.loss_fraction:.3f}%")
    profile = pool_runs(profile_runs)
    pairs = [profile_losses[i:i + 2] for i in range(0, len(profile_losses), 2)]
    spread = float(np.median([max(p) / max(min(p), 1e-6) for p in pairs]))
    print(f"profile: {len(profile)} pauses in {profile.duration_ns / 1e9:.1f} s from {len(profile_runs)} trials; "
          f"trial-to-trial spread at one setting (max/min of two): median {spread:.2f}x")
    methods = {"ringlab's": DEFAULT_METHOD, "before": ORIGINAL}
    if args.refresh > 0:
        methods[f"refreshed {args.refresh:g} s"] = DEFAULT_METHOD
    print(f"{'N':>4}{'T':>8}{'method':>14}{'predicted median':>18}{'90 % band':>22}{'measured':>10}{'inside':>8}"
          f"{'ratio':>7}{'width (high/low)':>18}")
    results = {name: {"inside": [], "ratios": [], "scores": []} for name in methods}
    for index, (slots, interval_ns) in enumerate(PREDICTED_SETTINGS):
        planned = quiet_trial("coverage", slots, interval_ns, args.seconds, 100 + index)
        bands = {}
        for name, method in methods.items():
            source = profile
            if name.startswith("refreshed"):
                source = measure_under_load(quiet_trial("coverage", slots, interval_ns, 1, 0), int(args.refresh * 1e9))
            bands[name] = predict(planned, source, repeats=args.repeats, method=method).loss_fraction
        measured = run_into_directory(planned, out / f"test-N{slots}-T{interval_ns}", "hw").summary.loss_fraction
        for name, band in bands.items():
            figures = results[name]
            figures["inside"].append(band.contains(measured))
            figures["ratios"].append(measured / band.median if band.median > 0 else float("inf"))
            figures["scores"].append(interval_score(100 * band.low, 100 * band.high, 100 * measured))
            print(f"{slots:>4}{interval_ns / 1e3:>6g}us{name:>14}{100 * band.median:>17.3f}%{100 * band.low:>11.3f}-"
                  f"{100 * band.high:.3f}%{100 * measured:>9.3f}%{'yes' if figures['inside'][-1] else 'no':>8}"
                  f"{figures['ratios'][-1]:>7.2f}{band.high / max(band.low, 1e-6):>17.1f}x")
    reference = float(np.mean(results["before"]["scores"]))
    for name, figures in results.items():
        inside, ratios = figures["inside"], figures["ratios"]
        within_2 = np.mean([0.5 <= r <= 2 for r in ratios])
        score = float(np.mean(figures["scores"]))
        print(f"{name} method: {sum(inside)} of {len(inside)} inside their 90 % band ({100 * np.mean(inside):.0f}%); "
              f"medians within a factor of 2: {100 * within_2:.0f}%; interval score {score:.3f} "
              f"({score / reference:.2f}x the method before)")
    answer = size_ring(quiet_trial("coverage", 16, 10_000, args.seconds, 7), profile, target_loss=0.001, repeats=40)
    print(f"size for T = 10 us, target loss 0.1%: {answer.describe()}")


if __name__ == "__main__":
    main()
