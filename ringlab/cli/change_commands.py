"""The command that says whether a change worked: ``ringlab diff``."""

from __future__ import annotations

from pathlib import Path

from ringlab.cli.options import add_command, out_path, output_directory


def cmd_diff(args) -> int:
    from ringlab.compare.change.diff import build_diff, diff_paths, write_diff
    from ringlab.runs.run_directory import check_output_path

    check_output_path(args.out)
    if args.after is None:  # an experiment's two arms: without the knobs before, with them after
        from ringlab.compare.change.experiment import read_arms
        from ringlab.compare.change.sides import join_sides

        _, with_sides, without_sides = read_arms(args.before)
        before, after = join_sides(without_sides, f"{args.before}:without"), join_sides(with_sides, f"{args.before}:with")
        diff = build_diff(before, after, predicted=args.predicted, level=args.level)
    else:
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
                           "--predicted results/predict-without-kdamond",
                           "ringlab diff results/experiment-stat-interval --out results/diff-experiment"])
    diff.add_argument("before", type=Path, help="a run directory, a sweep's output or a pause profile: before the change")
    diff.add_argument("after", type=Path, nargs="?", default=None,
                      help="a run directory, a sweep's output or a pause profile: after the change (omitted where "
                           "BEFORE is an experiment: its trials without the knobs, then with them)")
    diff.add_argument("--out", type=out_path, required=True, help="directory for diff.json and diff.png")
    diff.add_argument("--predicted", type=Path, default=None, metavar="PREDICTION_DIR",
                      help="a prediction made before the change ('ringlab predict --out'): did the runs after it "
                           "fall inside its band?")
    diff.add_argument("--level", type=float, default=0.95,
                      help="the confidence level of every interval (default 0.95)")
