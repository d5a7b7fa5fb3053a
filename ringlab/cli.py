"""The ``ringlab`` command line: each command parses its arguments, calls one function, and prints
one line. Bad input: one line naming the field and the problem, exit 2 (see ringlab/errors.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from pathlib import Path

from ringlab.errors import (
    EXIT_BUG,
    EXIT_CHECK_FAILED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    HardwareError,
    InputError,
    RinglabError,
    environment_message,
    one_line,
)

# ringlab computes nothing that a BLAS thread pool speeds up, and its worker threads cost: they spin
# beside the simulator's loop, and wake on the CPU a trial keeps for its poller. (Nothing above has
# loaded NumPy yet.)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

DESCRIPTION = ("ringlab: loss and reordering when an XDP program hands packets to a stalling busy-poller "
               "through a BPF map ring, simulated (sim), measured on real XDP (hw), and compared (compare).")
SET_HELP = "override a scenario field, e.g. writer.policy=fixed or interval=2us (repeatable)"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

    def error(self, message):
        self.exit(InputError.exit_status, f"ringlab: error: {message}\n")


def output_directory(path: Path) -> Path:
    """``--out`` as a directory ringlab may write into (created if absent), or an InputError."""
    from ringlab.runs.run_directory import check_output_path

    path = check_output_path(path)  # not a file, not special, writable
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError("--out", f"cannot create {path}: {error.strerror}") from None
    return path


def _out_path(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty: name the directory for the results")
    return Path(value)


def _time_option(value: str, allow_zero: bool = True) -> int:
    from ringlab.scenario.units import parse_time_ns

    try:
        return parse_time_ns(value, "time", allow_zero=allow_zero)
    except InputError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def _positive_time_option(value: str) -> int:
    return _time_option(value, allow_zero=False)


def _report(out_dir: Path, result) -> None:
    """The run's notes on stderr, and its summary in one line."""
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    s = result.summary
    print(f"{result.scenario.name} [{result.backend}]: {s.packets} packets, {s.delivered} delivered, {s.dropped_full} "
          f"dropped (ring full), {s.in_ring} left in ring; loss {100 * s.loss_fraction:.3f}%; {s.out_of_order} read "
          f"out of order (max displacement {s.max_displacement}); {s.warnings} warnings; {s.stalls} stalls; "
          f"lasting offset k={s.lasting_offset_slots} -> {out_dir}")


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
    _report(out_dir, result)
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


def cmd_hw_trial(args) -> int:
    from ringlab.runs.run_directory import run_into_directory, run_output_directory
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = run_output_directory(args.out, args.scenario)
    result = run_into_directory(scenario, out_dir, "hw", {"interface": args.iface or "testbed"}, iface=args.iface,
                                force=args.force)
    _report(out_dir, result)
    holds = result.details.conservation["holds"]
    print(f"conservation (sent = written + dropped_full + lost before XDP, counters agree): "
          f"{'holds' if holds else 'VIOLATED'}")
    return 0 if holds else EXIT_CHECK_FAILED


def cmd_replay(args) -> int:
    from ringlab.compare.model.replay import replay_into_directory
    from ringlab.runs.run_directory import REPLAY_FILE

    result, agreed = replay_into_directory(args.run, args.out, engine=args.engine, costs=args.costs,
                                           without=tuple(args.without))
    _report(Path(args.out), result)
    print(f"replay of {args.run}: {agreed.describe()} -> {Path(args.out) / REPLAY_FILE}")
    return 0


def cmd_predict(args) -> int:
    from ringlab.compare.model.predict import predict, write_prediction
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    check_output_path(args.out)
    prediction = predict(scenario, args.profile, repeats=args.repeats, level=args.level, without=args.without,
                         workers=args.workers, scheduler=args.scheduler)
    path = write_prediction(output_directory(args.out), prediction)
    print(f"{prediction.describe()} -> {path}")
    return 0


def cmd_size(args) -> int:
    from ringlab.atomic_files import write_json
    from ringlab.compare.model.size import SIZE_FILE, size_ring
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    if args.out is not None:
        check_output_path(args.out)
    if args.interval_ns is not None:
        scenario = scenario.with_values({"interval": f"{args.interval_ns}ns"})
    if args.slots is not None:
        scenario = scenario.with_values({"ring_slots": args.slots})
    answer = size_ring(scenario, args.profile, args.target_loss, "interval" if args.slots is not None else "ring_slots",
                       repeats=args.repeats, level=args.level, without=args.without, workers=args.workers,
                       scheduler=args.scheduler)
    if args.out is not None:
        write_json(output_directory(args.out) / SIZE_FILE, answer.to_dict())
    print(answer.describe() + (f" -> {Path(args.out) / SIZE_FILE}" if args.out is not None else ""))
    return 0 if answer.answer is not None else EXIT_CHECK_FAILED


def cmd_hw_testbed(args) -> int:
    from ringlab.hw.machine import testbed

    if args.action == "up":
        if testbed.exists():
            raise HardwareError(f"a testbed ({testbed.NETNS}) already exists ('ringlab hw testbed down' removes it)")
        links = testbed.up(args.queues, manual=True)
        print(f"testbed up: attach XDP to {links.host_iface} ({links.host_mac}); "
              f"send from {links.peer_iface} in namespace {links.netns}")
    else:
        testbed.down()
        print("testbed down")
    return 0


def cmd_hw_cleanup(args) -> int:
    from ringlab.hw.trial.cleanup import cleanup_stale

    removed = cleanup_stale(everything=True)
    print("\n".join(removed) if removed else "nothing to clean up")
    return 0


def cmd_hw_doctor(args) -> int:
    from ringlab.hw.doctor import run_checks

    checks = run_checks(args.iface)
    for check in checks:
        print(f"[{'ok' if check.ok else 'MISSING'}] {check.name}: {check.detail}" + ("" if check.ok else f"\n      fix: {check.fix}"))
    return 0 if all(c.ok for c in checks) else EXIT_CHECK_FAILED


def cmd_hw_profile(args) -> int:
    if args.from_runs or args.load is not None:
        return _pooled_or_loaded_profile(args)
    from ringlab.hw.trial.noise import measure_noise, write_noise_profile
    from ringlab.runs.run_directory import check_output_path

    check_output_path(args.out)
    profile = measure_noise(args.duration_ns, args.cpu, args.threshold_ns, args.loops, trace_kernel=not args.no_trace)
    out_dir = output_directory(args.out)
    summary = write_noise_profile(out_dir, profile)
    pauses = summary["pauses"]
    longest = pauses["longest_ns"] or 0
    print(f"CPU {args.cpu}: {pauses['count']} pauses over {args.threshold_ns} ns in {args.duration_ns / 1e9:g} s "
          f"({pauses['per_second']:.0f} per second, {100 * pauses['share_of_time']:.2f}% of the time), the longest "
          f"{longest / 1e3:.1f} us -> {out_dir / 'pauses.csv'}")
    return 0


def _pooled_or_loaded_profile(args) -> int:
    """``hw profile --from RUN ...`` (no root, no hardware) or ``hw profile --load SCENARIO``."""
    from ringlab.runs.run_directory import check_output_path
    from ringlab.trace.pause_profile import check_profile, save_profile

    if args.from_runs and args.load is not None:
        raise InputError("--from", "goes without --load: pool earlier runs, or measure under a scenario's load")
    check_output_path(args.out)
    if args.from_runs:
        from ringlab.compare.model.pooling import pool_runs

        profile = pool_runs(args.from_runs)
    else:
        from ringlab.hw.trial.load_noise import measure_under_load
        from ringlab.scenario.fields import load_scenario

        profile = measure_under_load(load_scenario(args.load, args.overrides), args.duration_ns)
        check_profile(profile, "--load")
    figures = save_profile(output_directory(args.out), profile)
    every = figures["all"]
    print(f"{every['count']} pauses in {figures['duration_ns'] / 1e9:g} s over {figures['segments']} segments "
          f"({every['per_second']:.0f} per second, {100 * every['share_of_time']:.2f}% of the time), from "
          f"{len(figures['by_source'])} sources -> {Path(args.out) / 'profile.json'}")
    return 0


def cmd_hw_send(args) -> int:
    from ringlab.hw.trial.remote_send import send_to_host
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = output_directory(args.out) if args.out else None
    figures = send_to_host(scenario, args.iface, args.dst_mac, out_dir)
    print(f"sent {figures['frames']} frames from {args.iface} in {figures['seconds']:.3f} s, "
          f"{figures['late_sends']} more than 10 us late, {figures['bursts']} closer than half the interval"
          + (f"; the sender's record -> {out_dir}" if out_dir is not None else ""))
    return 0


def cmd_sweep(args) -> int:
    from ringlab.compare.sweeps.sweep import run_sweep_file

    counts = run_sweep_file(args.sweep, args.out, scheduler=args.scheduler, workers=args.workers,
                            progress=not args.quiet, engine=args.engine)
    print(f"{counts['name']}: {counts['points']} points, {counts['skipped']} already done, {counts['computed']} "
          f"computed -> {Path(args.out) / 'table.csv'}")
    return 0


def cmd_compare(args) -> int:
    if args.sender is not None:
        from ringlab.compare.report.two_hosts import write_two_host_report

        if len(args.sweeps) != 1:
            raise InputError("--sender", "goes with one receiver's run directory ('ringlab hw trial --iface ... --out')")
        from ringlab.runs.run_directory import check_output_path

        out_dir = check_output_path(args.out)  # made when the report is written: a refusal leaves none
        figures = write_two_host_report(out_dir, args.sweeps[0], args.sender)
        print(f"report: {out_dir / 'report.md'}; {figures['sent']} frames sent, {figures['seen_by_xdp']} seen by "
              f"the XDP program")
        return 0
    from ringlab.compare.report.compose import build_report

    figures = build_report(args.sweeps, args.out, fit=not args.no_fit, family=args.family, profile_dir=args.profile)
    if figures["fit"] is None and args.family != "expon":
        print("note: --family: nothing was fitted (no measured points, or --no-fit)", file=sys.stderr)
    overall = figures["overall"]
    print(f"report: {Path(args.out) / 'report.md'}"
          + (f"; simulated vs measured: chi2 {overall['chi2']:.1f} over {overall['dof']} points, "
             f"p = {overall['p_value']:.3g}" if overall["dof"] else "; simulator only"))
    return 0


def cmd_version(args) -> int:
    from ringlab.provenance import git_commit, version

    print(f"ringlab {version()} (git commit {git_commit() or 'unknown: not run from a checkout'})")
    return 0


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print ringlab's version and git commit, and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        cmd_version(namespace)
        parser.exit(0)


def _command(commands, name: str, handler, help_text: str, examples: list[str], aliases=()):
    """A subcommand whose help ends with examples."""
    parser = commands.add_parser(name, aliases=list(aliases), help=help_text,
                                 description=help_text[0].upper() + help_text[1:] + ".",
                                 epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def _add_sim_commands(commands) -> None:
    sim = _command(commands, "sim", cmd_sim, "simulate a scenario (no root needed)", [
        "ringlab sim examples/buggy-one-stall.toml --out results/buggy",
        "ringlab sim examples/buggy-one-stall.toml --out results/fixed --set writer.policy=fixed",
        "ringlab sim examples/renewal-stalls.toml --out results/huge --set packets=100000000 --summary-only"])
    sim.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/ and docs/scenarios.md)")
    sim.add_argument("--out", type=_out_path, required=True,
                     help="the run directory: trace, summary and warnings (a new or empty directory, or an earlier run)")
    sim.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    sim.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                     help="fast: the compiled engine (default); simpy: the readable reference model (same results)")
    sim.add_argument("--summary-only", action="store_true",
                     help="keep only the summary and the warnings, not the per-packet trace: the run streams in "
                          "bounded memory (for huge runs)")
    sim.add_argument("--warnings", choices=["all", "summary"], default=None,
                     help="with --summary-only: the first and last 1000 warning lines (summary, the default), or "
                          "every one (all: refused up front if they may not fit on the disk)")

    dump = _command(commands, "dump", cmd_dump, "print the map over time, one line of slots per change", [
        "ringlab dump results/buggy --from 1ms --to 1.05ms"])
    dump.add_argument("run", type=Path, help="a run directory (ringlab sim or ringlab hw trial --out)")
    dump.add_argument("--from", dest="from_ns", type=_time_option, default=0, help="start time, e.g. 5ms (default 0)")
    dump.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time, e.g. 5.1ms (default: the end)")

    plot = _command(commands, "plot", cmd_plot, "draw a run's timeline (PNG and SVG, beside the run)", [
        "ringlab plot results/buggy", "ringlab plot results/buggy --from 0.99ms --to 1.2ms"])
    plot.add_argument("run", type=Path, help="a run directory (ringlab sim or ringlab hw trial --out)")
    plot.add_argument("--from", dest="from_ns", type=_time_option, default=None, help="start time (default: the start)")
    plot.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time (default: the end)")

    sweep = _command(commands, "sweep", cmd_sweep, "run every point of a sweep file (resumes where it stopped)", [
        "ringlab sweep examples/sweeps/interval.toml --out results/sweep-interval",
        "ringlab sweep examples/sweeps/interval.toml --out results/sweep-interval --scheduler tcp://127.0.0.1:8786"])
    sweep.add_argument("sweep", type=Path, help="the sweep, a TOML file (see examples/sweeps/)")
    sweep.add_argument("--out", type=_out_path, required=True,
                       help="the sweep's directory: one run directory per point and table.csv")
    sweep.add_argument("--scheduler", help="a Dask scheduler address: run simulation points on that cluster (start one "
                                           "with 'dask scheduler', and its workers with 'dask worker ADDRESS')")
    sweep.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                       help="simulation engine for sim points (the same results; simpy is the slow reference)")

    compare = _command(commands, "compare", cmd_compare, "compare simulated and measured sweeps: report and plots", [
        "ringlab compare results/sweep-interval --out results/report",
        "ringlab compare results/sweep-hw-interval --out results/report --profile results/profile",
        "ringlab compare results/receiver --sender results/sender --out results/two-hosts"])
    compare.add_argument("sweeps", type=Path, nargs="+",
                         help="sweep output directories (with --sender: one receiver's run directory)")
    compare.add_argument("--out", type=_out_path, required=True, help="directory for report.md and the figures")
    compare.add_argument("--no-fit", action="store_true", help="skip the fit of background stalls")
    compare.add_argument("--family", default="expon", help="scipy.stats family of background stall lengths (default expon)")
    compare.add_argument("--sender", type=Path, default=None,
                         help="a sender's record ('ringlab hw send --out DIR'): put it beside the receiver's run given")
    compare.add_argument("--profile", "--noise", dest="profile", type=Path, default=None,
                         help="a pause profile ('ringlab hw profile --out DIR'): also predict the measured points from it")

    replay = _command(commands, "replay", cmd_replay, "simulate a measured trial from its measured arrivals and pauses", [
        "ringlab replay results/hw-buggy-one-stall --out results/replay-buggy",
        "ringlab replay results/hw-buggy-one-stall --out results/replay-buggy-costs --costs scenario"])
    replay.add_argument("run", type=Path, help="a hardware run directory ('ringlab hw trial --out')")
    replay.add_argument("--out", type=_out_path, required=True, help="directory for the replay's run and replay.json")
    replay.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                        help="simulation engine (the same results; simpy is the slow reference)")
    replay.add_argument("--costs", choices=["measured", "scenario"], default="measured",
                        help="the model's costs: measured in the trial (default), or the scenario's")
    replay.add_argument("--without", action="append", default=[], metavar="SOURCE",
                        help="replay without the pauses of this source, as the trial names it, e.g. 'task kdamond.0' "
                             "(repeatable): what the trial would have lost without it")

    predict = _command(commands, "predict", cmd_predict,
                       "predict a trial's loss and latency from a pause profile, with an interval", [
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict",
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict "
                           "--set ring_slots=32 --repeats 200 --level 0.95",
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict-quiet "
                           "--without 'task kdamond.0'"])
    _prediction_arguments(predict, repeats=100)
    predict.add_argument("--out", type=_out_path, required=True, help="directory for prediction.json")

    size = _command(commands, "size", cmd_size, "find how big the ring must be (or how long the interval) "
                                                "for a target loss", [
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001",
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001 "
                        "--interval 5us",
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001 --slots 16"])
    _prediction_arguments(size, repeats=40)
    size.add_argument("--target-loss", type=float, required=True,
                      help="the largest acceptable loss, a fraction of the packets (0.001 is 0.1%%)")
    fixed = size.add_mutually_exclusive_group()
    fixed.add_argument("--interval", dest="interval_ns", type=_positive_time_option, default=None,
                       help="find the smallest ring for this packet interval (default: the scenario's interval)")
    fixed.add_argument("--slots", type=int, default=None, help="find the shortest interval for this many slots")
    size.add_argument("--out", type=_out_path, default=None, help="also write the table behind the answer as size.json")


def _prediction_arguments(parser, repeats: int) -> None:
    """The arguments ``predict`` and ``size`` share."""
    parser.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/)")
    parser.add_argument("--profile", "--noise", dest="profile", type=Path, required=True,
                        help="a pause profile: 'ringlab hw profile --out DIR', or --from earlier runs, or --load")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"simulations, each a trial drawn from the profile (default {repeats}, at least 10)")
    parser.add_argument("--level", type=float, default=0.9,
                        help="the share of the repeats each interval holds (default 0.9)")
    parser.add_argument("--without", action="append", default=[], metavar="SOURCE",
                        help="predict without the pauses of this source, as the profile names it (repeatable)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="a Dask scheduler address: run the repeats on that cluster (start one with "
                                            "'dask scheduler', and its workers with 'dask worker ADDRESS')")


def _add_hw_commands(commands) -> None:
    hw = commands.add_parser("hw", help="the hardware backend: real XDP through BCC (needs root)",
                             description="The hardware backend: real XDP through BCC (needs root).")
    hw_commands = hw.add_subparsers(dest="hw_command", required=True, parser_class=_Parser, metavar="COMMAND")
    trial = _command(hw_commands, "trial", cmd_hw_trial, "run a scenario on real XDP and write the same files as sim", [
        "ringlab hw trial examples/buggy-one-stall.toml --testbed --out results/hw-buggy --set interval=20us",
        "ringlab hw trial examples/fixed-one-stall.toml --iface rl-xdp0 --out results/receiver"])
    trial.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/)")
    where = trial.add_mutually_exclusive_group(required=True)
    where.add_argument("--testbed", action="store_true", help="on a local veth testbed made for the trial")
    where.add_argument("--iface", help="on this interface; frames come from 'ringlab hw send' on another host")
    trial.add_argument("--out", type=_out_path, required=True,
                       help="the run directory (a new or empty directory, or an earlier run)")
    trial.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    trial.add_argument("--force", action="store_true", help="replace an XDP program ringlab did not attach")

    bed = _command(hw_commands, "testbed", cmd_hw_testbed, "create or remove the veth testbed", [
        "ringlab hw testbed up", "ringlab hw testbed down"])
    bed.add_argument("action", choices=["up", "down"], help="up: create it; down: remove it")
    bed.add_argument("--queues", type=int, default=0, help="RX/TX queues per veth end (for several writer CPUs)")

    _command(hw_commands, "cleanup", cmd_hw_cleanup, "detach ringlab's XDP programs and remove its testbed",
             ["ringlab hw cleanup"])
    doctor = _command(hw_commands, "doctor", cmd_hw_doctor, "check the prerequisites of real XDP runs", [
        "ringlab hw doctor", "ringlab hw doctor --iface eth1"])
    doctor.add_argument("--iface", default=None,
                        help="also check that this interface's driver runs XDP natively (briefly attaches a pass-all program)")

    profile = _command(hw_commands, "profile", cmd_hw_profile,
                       "measure this machine's pause profile: the poller's loop with no ring (old name: noise)", [
                         "ringlab hw profile --duration 10s --out results/profile",
                         "ringlab hw profile --duration 2s --cpu 1 --threshold 5us --out results/profile-cpu1",
                         "ringlab hw profile --from results/hw-buggy-one-stall results/hw-fixed-one-stall --out results/pooled",
                         "ringlab hw profile --load examples/fixed-one-stall.toml --set interval=20us --duration 5s "
                         "--out results/profile-load"], aliases=["noise"])
    profile.add_argument("--duration", dest="duration_ns", type=_positive_time_option, default=10_000_000_000,
                         help="how long to measure (default 10s)")
    profile.add_argument("--cpu", type=int, default=0, help="the CPU to measure (default 0, the poller's in a trial)")
    profile.add_argument("--threshold", dest="threshold_ns", type=_positive_time_option, default=1_000,
                         help="a gap between two iterations longer than this is a pause (default 1us)")
    profile.add_argument("--loops", choices=["native", "python"], default="native",
                         help="the loop that measures: native (C, default) or python")
    profile.add_argument("--no-trace", action="store_true", help="do not trace the kernel's events to name the sources")
    profile.add_argument("--out", type=_out_path, required=True,
                         help="directory for the profile (profile.json, pauses.npz, pauses.csv), summary.json and the plot")
    profile.add_argument("--from", dest="from_runs", type=Path, nargs="+", default=[], metavar="RUN",
                         help="pool the background pauses these runs recorded instead of measuring (no root needed)")
    profile.add_argument("--load", type=Path, default=None, metavar="SCENARIO",
                         help="measure while this scenario's own load runs (sender, XDP program, poller), no stall injected")
    profile.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="with --load: " + SET_HELP)

    send = _command(hw_commands, "send", cmd_hw_send, "send a scenario's paced frames from IFACE (on another host)", [
        "ip netns exec ringlab-testbed ringlab hw send examples/fixed-one-stall.toml --iface rl-peer0 "
        "--dst-mac 02:00:00:00:00:01 --out results/sender"])
    send.add_argument("scenario", type=Path, help="the scenario, a TOML file: the same as the receiver's trial")
    send.add_argument("--iface", required=True, help="the interface to send from")
    send.add_argument("--dst-mac", required=True, help="the receiver's MAC address, e.g. 02:00:00:00:00:01")
    send.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    send.add_argument("--out", type=_out_path, default=None,
                      help="directory for the sender's own record (sender.json, sent.npy), to put beside the "
                           "receiver's run with 'ringlab compare RUN --sender DIR'")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ringlab", description=DESCRIPTION,
                     epilog="examples:\n  ringlab sim examples/buggy-one-stall.toml --out results/buggy\n"
                            "  ringlab plot results/buggy\n  ringlab COMMAND --help",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _add_sim_commands(commands)
    _add_hw_commands(commands)
    return parser


OLD_SPELLINGS = {"noise": ("hw", "'hw noise' is now 'hw profile'"), "--noise": (None, "'--noise' is now '--profile'")}


def note_old_spellings(argv: list[str]) -> None:
    """Say once, on stderr, that an old spelling was used (it still works)."""
    for word, (after, note) in OLD_SPELLINGS.items():
        used = any(arg == word or arg.startswith(word + "=") for arg in argv) if after is None else \
            any(a == after and b == word for a, b in zip(argv, argv[1:]))
        if used:
            print(f"ringlab: note: {note}; the old spelling still works", file=sys.stderr)


def main(argv=None) -> int:
    """Run one command. ringlab's own errors end in one line and their exit status (see
    ringlab/errors.py); anything else is a bug, shown with its traceback."""
    for stream in (sys.stdout, sys.stderr):  # a path whose name is not UTF-8 is printed as its own bytes
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="surrogateescape")
    argv = sys.argv[1:] if argv is None else list(argv)
    note_old_spellings(argv)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RinglabError as error:
        print(f"ringlab: {error.label}: {one_line(error)}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("ringlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (OSError, MemoryError) as error:  # the machine's: a full disk, a permission, a name too long
        print(f"ringlab: environment: {environment_message(error)}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except Exception:  # noqa: BLE001 - not a user's error: show it, and say so
        traceback.print_exc()
        print("ringlab: internal error: this is a bug in ringlab; please report it with the traceback above",
              file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
