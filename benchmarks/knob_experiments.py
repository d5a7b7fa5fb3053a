"""Which knob helps on this machine: every offered knob in an experiment of its own
(``ringlab hw experiment``, K interleaved pairs of trials with and without it, no injected stall:
every drop is the machine's own), then one table: per knob, the sources whose rate changed
(p < 0.01), the source it is meant to act on, and the loss without and with, with the change's
interval. The competing process (``competitor.cpu=0``) is the control: a source planted on the
poller's CPU that the experiment must find.

System knobs are changed only during their "with" trials and given back after each (--apply, as
the command documents); nothing else on the machine is touched. Needs root and the hardware
prerequisites ('ringlab hw doctor'). Give it the machine to itself, and run it again at another
time: one run is one state of a drifting machine. Each experiment resumes if interrupted.
Usage: python benchmarks/knob_experiments.py [--trials 5] [--out results/knobs-RUN] [--knobs a=1,b=2]
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "examples" / "machine-noise.toml"
KNOBS = ("competitor.cpu=0", "poller.mlock=on", "poller.thp_disable=on", "hw.loops=python", "poller.cpu=1",
         "vm.stat_interval=10",
         "kernel.watchdog_cpumask=1", "kernel.timer_migration=0", "workqueue.cpumask=1", "kdamond.cpus=1")
SIGNIFICANT = 0.01


def run_one(knob: str, trials: int, out: Path) -> dict | None:
    """The experiment of ``knob`` (resumed if its directory holds part of it); its figures, or None
    where the knob is refused here (its line printed)."""
    command = [sys.executable, "-m", "ringlab", "hw", "experiment", str(SCENARIO), "--knob", knob, "--trials",
               str(trials), "--out", str(out), "--apply", "--quiet"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{knob}: not run: {result.stderr.strip().splitlines()[-1]}")
        return None
    return json.loads((out / "experiment.json").read_text())


def row(knob: str, figures: dict) -> list[str]:
    changed = sorted(((f["p_value"], name) for name, f in figures["sources"].items() if f["p_value"] < SIGNIFICANT))
    shown = "; ".join(f"{name} {figures['sources'][name]['without']['per_second']:.3g}->"
                      f"{figures['sources'][name]['with']['per_second']:.3g}/s (p {p:.1g})" for p, name in changed[:3])
    loss, change = figures["loss_fraction"], figures["loss_change"]
    return [knob, shown or "none at p < 0.01", f"{100 * loss['without']:.3f}% -> {100 * loss['with']:.3f}%",
            f"{100 * change['low']:+.3f}..{100 * change['high']:+.3f}%"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5, help="pairs per knob (default 5)")
    parser.add_argument("--out", type=Path, default=None, help="where the experiments go (default results/knobs-TIME)")
    parser.add_argument("--knobs", default=",".join(KNOBS), help="comma-separated NAME=VALUE (default: every one)")
    args = parser.parse_args()
    out = args.out or ROOT / "results" / f"knobs-{time.strftime('%Y%m%d-%H%M')}"
    print(f"{platform.node()} {platform.release()}, {time.strftime('%Y-%m-%d %H:%M %Z')}, {args.trials} pairs per knob, "
          f"scenario {SCENARIO.name} -> {out}")
    rows = []
    for knob in args.knobs.split(","):
        started = time.monotonic()
        figures = run_one(knob, args.trials, out / knob.replace("=", "-"))
        if figures is not None:
            rows.append(row(knob, figures))
            acts_on = next(iter(figures["meant_to_remove"].values()), "")
            print(f"{knob} ({time.monotonic() - started:.0f} s; acts on: {acts_on})")
            for line in figures["verdict"][1:]:
                print(f"    {line}")
    print()
    print("| knob | sources changed (p < 0.01), without -> with | loss without -> with | change, 95% interval |")
    print("| --- | --- | --- | --- |")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
