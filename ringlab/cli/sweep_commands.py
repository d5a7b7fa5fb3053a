"""The commands of many runs: a sweep, and the report that compares simulated and measured."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ringlab.cli.options import add_command, add_engine_option, add_worker_options, out_path
from ringlab.errors import InputError


def cmd_sweep(args) -> int:
    from ringlab.compare.sweeps.sweep import run_sweep_file

    counts = run_sweep_file(args.sweep, args.out, scheduler=args.scheduler, workers=args.workers,
                            progress=not args.quiet, engine=args.engine)
    print(f"{counts['name']}: {counts['points']} points, {counts['skipped']} already done, {counts['computed']} "
          f"computed -> {Path(args.out) / 'table.csv'}")
    return 0


def cmd_two_hosts(args) -> int:
    """``two-hosts RUN --sender DIR``: a receiver's trial beside the sender's own record."""
    from ringlab.compare.report.two_hosts import write_two_host_report
    from ringlab.runs.run_directory import check_output_path

    out_dir = check_output_path(args.out)  # made when the report is written: a refusal leaves none
    figures = write_two_host_report(out_dir, args.run, args.sender)
    print(f"report: {out_dir / 'report.md'}; {figures['sent']} frames sent, {figures['seen_by_xdp']} seen by "
          f"the XDP program")
    return 0


def cmd_compare(args) -> int:
    if args.sender is not None:  # became a command of its own
        raise InputError("--sender", "is now a command of its own: 'ringlab two-hosts RUN --sender DIR --out DIR'")
    from ringlab.compare.report.compose import build_report

    figures = build_report(args.sweeps, args.out, fit=not args.no_fit, family=args.family, profile_dir=args.profile)
    if figures["fit"] is None and args.family != "expon":
        print("note: --family: nothing was fitted (no measured points, or --no-fit)", file=sys.stderr)
    overall = figures["overall"]
    print(f"report: {Path(args.out) / 'report.md'}"
          + (f"; simulated vs measured: chi2 {overall['chi2']:.1f} over {overall['dof']} points, "
             f"p = {overall['p_value']:.3g}" if overall["dof"] else "; simulator only"))
    return 0


def add_commands(commands) -> None:
    sweep = add_command(commands, "sweep", cmd_sweep, "run every point of a sweep file (resumes where it stopped)", [
        "ringlab sweep examples/sweeps/interval.toml --out results/sweep-interval",
        "ringlab sweep examples/sweeps/interval.toml --out results/sweep-interval --scheduler tcp://127.0.0.1:8786"])
    sweep.add_argument("sweep", type=Path, help="the sweep, a TOML file (see examples/sweeps/)")
    sweep.add_argument("--out", type=out_path, required=True,
                       help="the sweep's directory: one run directory per point and table.csv")
    add_worker_options(sweep, "simulation points")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_option(sweep, "simulation engine for sim points (the same results; simpy is the slow reference)")

    compare = add_command(commands, "compare", cmd_compare, "compare simulated and measured sweeps: report and plots", [
        "ringlab compare results/sweep-interval --out results/report",
        "ringlab compare results/sweep-hw-interval --out results/report --profile results/profile"])
    compare.add_argument("sweeps", type=Path, nargs="+", help="sweep output directories")
    compare.add_argument("--out", type=out_path, required=True, help="directory for report.md and the figures")
    compare.add_argument("--no-fit", action="store_true", help="skip the fit of background stalls")
    compare.add_argument("--family", default="expon", help="scipy.stats family of background stall lengths (default expon)")
    compare.add_argument("--sender", type=Path, default=None, help=argparse.SUPPRESS)  # now 'ringlab two-hosts'
    two_hosts = add_command(commands, "two-hosts", cmd_two_hosts,
                            "put a receiver's trial beside the sender's own record (two hosts): report and figures", [
                                "ringlab two-hosts results/receiver --sender results/sender --out results/two-hosts"])
    two_hosts.add_argument("run", type=Path, help="the receiver's run directory ('ringlab hw trial --iface ... --out')")
    two_hosts.add_argument("--sender", type=Path, required=True,
                           help="the sender's record ('ringlab hw send --out DIR' on the sending host)")
    two_hosts.add_argument("--out", type=out_path, required=True, help="directory for report.md and report.json")
    compare.add_argument("--profile", "--noise", dest="profile", type=Path, default=None,
                         help="a pause profile ('ringlab hw profile --out DIR'): also predict the measured points from it")
