"""Band methods scored on trials already run: the output folders of prediction_coverage.py or
prediction_sharpness.py (``--out``) hold the profile's trials (``profile-*``) and the trials it
predicted (``test-*``, ``trial-*``). For each folder and each method, the profile is pooled again,
each trial predicted (its 90 % band), and the coverage, the bands' width and the mean interval
score printed; then all folders together. Trials of several runs at different times are what
decide between methods; one run is not a result. No root needed (it simulates only).

Usage: python benchmarks/band_methods.py OUT [OUT ...] [--repeats 100]
"""

import argparse
from pathlib import Path

import numpy as np

from ringlab.compare.model.band_method import DEFAULT_METHOD, ORIGINAL, BandMethod, interval_score
from ringlab.compare.model.pooling import pool_runs
from ringlab.compare.model.predict import predict
from ringlab.runs.run_directory import load_summary
from ringlab.scenario.fields import scenario_from_dict

METHODS = {
    "before (ORIGINAL)": ORIGINAL,
    "whole segment, sender measured": BandMethod(block_ns=None),
    "0.5 s blocks, any segment": BandMethod(block_ns=500_000_000, blocks_from="any segment"),
    "1 s blocks, any segment": BandMethod(block_ns=1_000_000_000, blocks_from="any segment"),
    "0.25 s blocks, one segment": BandMethod(block_ns=250_000_000, blocks_from="one segment"),
    "0.5 s blocks, one segment": BandMethod(block_ns=500_000_000, blocks_from="one segment"),
}
LEVEL = 0.9



def score_folder(folder: Path, repeats: int) -> dict:
    profile = pool_runs(sorted(folder.glob("profile-*")))
    trials = sorted([*folder.glob("test-*"), *folder.glob("trial-*")])
    figures = {}
    for name, method in METHODS.items():
        rows = []
        for trial in trials:
            summary = load_summary(trial)
            scenario = scenario_from_dict(summary.scenario)
            band = predict(scenario, profile, repeats=repeats, level=LEVEL, method=method).loss_fraction
            measured = summary.summary.loss_fraction
            rows.append((band.contains(measured), band.high / max(band.low, 1e-5),
                         interval_score(100 * band.low, 100 * band.high, 100 * measured)))
        figures[name] = rows
    return figures


def report(title: str, figures: dict) -> None:
    reference = np.mean([row[2] for row in figures["before (ORIGINAL)"]])
    print(title)
    for name, rows in figures.items():
        inside = sum(row[0] for row in rows)
        widths = np.array([row[1] for row in rows])
        score = np.mean([row[2] for row in rows])
        print(f"  {name:<34}{inside:>4}/{len(rows):<3} inside   width median {np.median(widths):8.1f}x   "
              f"score {score:6.3f} ({score / reference:.2f}x before)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    print(f"ringlab's default: {DEFAULT_METHOD.describe()}")
    every = {name: [] for name in METHODS}
    for folder in args.folders:
        figures = score_folder(folder, args.repeats)
        report(str(folder), figures)
        for name, rows in figures.items():
            every[name].extend(rows)
    if len(args.folders) > 1:
        report("all folders", every)


if __name__ == "__main__":
    main()
