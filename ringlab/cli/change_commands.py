"""The command that says whether a change worked: ``ringlab diff``."""

from __future__ import annotations

from pathlib import Path

from ringlab.cli.options import add_command, out_path, output_directory


def cmd_diff(args) -> int:
    from ringlab.compare.change.diff import diff_paths, write_diff
    from ringlab.runs.run_directory import check_output_path

    check_output_path(args.out)
    diff, before, after = diff_paths(args.before, args.after, predicted=args.predicted, level=args.level)
    path = write_diff(output_directory(args.out), diff, before, after)
    for line in diff.verdict:
        print(line)
    print(f"-> {path}")
    return 0


def add_commands(commands) -> None:
    diff = add_command(commands, "diff", cmd_diff,
                       "say what changed between two runs, sweeps or pause profiles, and whether it mattered", [
                           "ringlab diff results/before results/after --out results/diff",
                           "ringlab diff results/profile-before results/profile-after --out results/diff-profiles",
                           "ringlab diff results/before results/after --out results/diff "
                           "--predicted results/predict-without-kdamond"])
    diff.add_argument("before", type=Path, help="a run directory, a sweep's output or a pause profile: before the change")
    diff.add_argument("after", type=Path, help="a run directory, a sweep's output or a pause profile: after the change")
    diff.add_argument("--out", type=out_path, required=True, help="directory for diff.json and diff.png")
    diff.add_argument("--predicted", type=Path, default=None, metavar="PREDICTION_DIR",
                      help="a prediction made before the change ('ringlab predict --out'): did the runs after it "
                           "fall inside its band?")
    diff.add_argument("--level", type=float, default=0.95,
                      help="the confidence level of every interval (default 0.95)")
