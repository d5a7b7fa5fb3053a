"""Are the bands sharp enough to decide with, and still right? A profile is pooled from trials at
other settings; then, before any trial at the predicted setting runs, each band method predicts it;
then trials at that setting run, spread over minutes (the machine drifts: one trial is not a
result). Optionally a profile refreshed right before those trials (the trial's own load for a few
seconds) predicts them too.

Prints per method: how many trials fell inside its 90 % band, the band (low, median, high) and its
width (high/low), beside the trials' own spread (max/min); and the mean interval score (Gneiting
and Raftery's proper scoring rule for a central interval: its width, plus 2/alpha times how far a
trial fell outside; lower is better), also as a ratio to the method ringlab used before
(``ORIGINAL``), measured in the same run.

Needs root and the hardware prerequisites ('ringlab hw doctor'); give it the machine to itself.
Usage: python benchmarks/prediction_sharpness.py [--trials 10] [--spread 300] [--seconds 2] [--refresh 10]
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from quiet_trials import quiet_trial

from ringlab.compare.model.band_method import ORIGINAL, BandMethod, interval_score
from ringlab.compare.model.pooling import pool_runs
from ringlab.compare.model.predict import predict
from ringlab.hw.trial.load_profile import measure_under_load
from ringlab.runs.run_directory import run_into_directory

PROFILE_SETTINGS = [(8, 10_000), (32, 10_000)]  # (ring slots, interval ns), PROFILE_TRIALS trials each
PROFILE_TRIALS = 3
PREDICTED = (16, 10_000)
LEVEL = 0.9
METHODS = {
    "original (before)": ORIGINAL,
    "whole segment, sender measured": BandMethod(block_ns=None),
    "1 s blocks, any segment": BandMethod(block_ns=1_000_000_000, blocks_from="any segment"),
    "ringlab's: 0.5 s blocks, one segment": BandMethod(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials at the predicted setting")
    parser.add_argument("--spread", type=float, default=300, help="seconds from the first trial's start to the last's")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each trial")
    parser.add_argument("--refresh", type=float, default=10.0,
                        help="seconds of a profile measured under the trial's load right before the trials (0: none)")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="keep the trials here (default: a scratch directory)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="sharpness-", dir=Path(__file__).resolve().parent.parent))
    print(f"machine: {platform.node()} {platform.machine()}, {platform.release()}, Python {platform.python_version()}; "
          f"started {time.strftime('%Y-%m-%d %H:%M:%S')}; trials of {args.seconds:g} s, fixed writer, no injected "
          f"stall; {args.repeats} repeats per band")
    runs = []
    for slots, interval_ns in PROFILE_SETTINGS:
        for trial in range(PROFILE_TRIALS):
            directory = out / f"profile-N{slots}-T{interval_ns}-{trial}"
            result = run_into_directory(quiet_trial("sharpness", slots, interval_ns, args.seconds, trial), directory, "hw")
            runs.append(directory)
            print(f"profile trial N={slots:<3} T={interval_ns / 1e3:g} us: loss {100 * result.summary.loss_fraction:.3f}%")
    profile = pool_runs(runs)
    planned = quiet_trial("sharpness", *PREDICTED, args.seconds, 100)
    bands = {name: predict(planned, profile, repeats=args.repeats, level=LEVEL, method=method).loss_fraction
             for name, method in METHODS.items()}
    if args.refresh > 0:
        fresh = measure_under_load(quiet_trial("sharpness", *PREDICTED, 1, 0), int(args.refresh * 1e9))
        bands[f"refreshed {args.refresh:g} s before, ringlab's"] = predict(
            planned, fresh, repeats=args.repeats, level=LEVEL).loss_fraction
    measured = []
    began = time.monotonic()
    gap = args.spread / max(1, args.trials - 1)
    for trial in range(args.trials):
        time.sleep(max(0.0, began + trial * gap - time.monotonic()))
        result = run_into_directory(quiet_trial("sharpness", *PREDICTED, args.seconds, 200 + trial), out / f"trial-{trial}", "hw")
        measured.append(result.summary.loss_fraction)
        print(f"trial {trial + 1:>2} at {time.monotonic() - began:5.0f} s: loss {100 * measured[-1]:.3f}%")
    measured = np.array(measured)
    spread = measured.max() / max(measured.min(), 1e-6)
    print(f"trials at N={PREDICTED[0]}, T={PREDICTED[1] / 1e3:g} us over {time.monotonic() - began:.0f} s: "
          f"{100 * measured.min():.3f}-{100 * measured.max():.3f}% (max/min {spread:.1f}x)")
    reference = None
    print(f"{'method':<48}{'inside':>8}{'low':>9}{'median':>9}{'high':>9}{'high/low':>10}{'score':>9}{'vs before':>11}")
    for name, band in bands.items():
        inside = int(np.sum((measured >= band.low) & (measured <= band.high)))
        score = float(np.mean([interval_score(100 * band.low, 100 * band.high, 100 * m) for m in measured]))
        reference = reference if reference is not None else score
        print(f"{name:<48}{inside:>5}/{len(measured):<2}{100 * band.low:>8.3f}%{100 * band.median:>8.3f}%"
              f"{100 * band.high:>8.3f}%{band.high / max(band.low, 1e-6):>9.1f}x{score:>9.3f}{score / reference:>10.2f}x")


if __name__ == "__main__":
    main()
