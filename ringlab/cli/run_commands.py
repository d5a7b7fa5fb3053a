"""The commands of one run: simulate it, print its map over time, draw its timeline."""

from __future__ import annotations

import sys
from pathlib import Path

from ringlab.cli.options import add_command, add_engine_option, add_set_option, out_path, report_run, time_option
from ringlab.errors import InputError


def cmd_sim(args) -> int:
    from ringlab.runs.run_directory import check_space, run_into_directory, run_output_directory
    from ringlab.scenario.fields import load_scenario
    from ringlab.scenario.memory import check_fits

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = run_output_directory(args.out, args.scenario)
    if args.warnings == "summary" and not args.summary_only:
        raise InputError("--warnings", "summary goes with --summary-only (a run with its trace keeps every warning)")
    all_warnings = not args.summary_only or args.warnings == "all"  # a huge run keeps the first and last 1000
    check_fits(scenario, args.engine, not args.summary_only)  # memory first: it names the packets
    check_space(scenario, out_dir, not args.summary_only, all_warnings)
    result = run_into_directory(scenario, out_dir, "sim", engine=args.engine, keep_trace=not args.summary_only,
                                progress=sys.stderr.isatty(), stream_warnings=args.summary_only and all_warnings)
    report_run(out_dir, result)
    return 0


def cmd_dump(args) -> int:
    from ringlab.runs.run_directory import load_run
    from ringlab.views.dump import dump_lines

    trace, _ = load_run(args.run)
    to_ns = args.to_ns if args.to_ns is not None else trace.end_ns
    if to_ns < args.from_ns:
        raise InputError("--to", "must not be before --from")
    sys.stdout.writelines(dump_lines(trace, args.from_ns, to_ns))
    return 0


def cmd_plot(args) -> int:
    from ringlab.views.timeline_plot import plot_run_directory

    for path in plot_run_directory(args.run, args.from_ns, args.to_ns):
        print(path)
    return 0


def add_commands(commands) -> None:
    sim = add_command(commands, "sim", cmd_sim, "simulate a scenario (no root needed)", [
        "ringlab sim examples/buggy-one-stall.toml --out results/buggy",
        "ringlab sim examples/buggy-one-stall.toml --out results/fixed --set writer.policy=fixed",
        "ringlab sim examples/renewal-stalls.toml --out results/huge --set packets=100000000 --summary-only"])
    sim.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/ and docs/scenarios.md)")
    sim.add_argument("--out", type=out_path, required=True,
                     help="the run directory: trace, summary and warnings (a new or empty directory, or an earlier run)")
    add_set_option(sim)
    add_engine_option(sim, "fast: the compiled engine (default); simpy: the readable reference model (same results)")
    sim.add_argument("--summary-only", action="store_true",
                     help="keep only the summary and the warnings, not the per-packet trace: the run streams in "
                          "bounded memory (for huge runs)")
    sim.add_argument("--warnings", choices=["all", "summary"], default=None,
                     help="with --summary-only: the first and last 1000 warning lines (summary, the default), or "
                          "every one (all: refused up front if they may not fit on the disk)")

    dump = add_command(commands, "dump", cmd_dump, "print the map over time, one line of slots per change", [
        "ringlab dump results/buggy --from 1ms --to 1.05ms"])
    dump.add_argument("run", type=Path, help="a run directory (ringlab sim or ringlab hw trial --out)")
    dump.add_argument("--from", dest="from_ns", type=time_option, default=0, help="start time, e.g. 5ms (default 0)")
    dump.add_argument("--to", dest="to_ns", type=time_option, default=None, help="end time, e.g. 5.1ms (default: the end)")

    plot = add_command(commands, "plot", cmd_plot, "draw a run's timeline (PNG and SVG, beside the run)", [
        "ringlab plot results/buggy", "ringlab plot results/buggy --from 0.99ms --to 1.2ms"])
    plot.add_argument("run", type=Path, help="a run directory (ringlab sim or ringlab hw trial --out)")
    plot.add_argument("--from", dest="from_ns", type=time_option, default=None, help="start time (default: the start)")
    plot.add_argument("--to", dest="to_ns", type=time_option, default=None, help="end time (default: the end)")
