"""The ``ringlab`` command line. Bad input: one line naming the field and the problem, exit 2."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from ringlab.errors import (
    EXIT_BUG,
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    HardwareError,
    InputError,
    RinglabError,
    one_line,
)

# ringlab computes nothing that a BLAS thread pool speeds up, and its worker threads cost: they spin
# beside the simulator's loop, and wake on the CPU a trial keeps for its poller. (Nothing above has
# loaded NumPy yet.)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")


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


def _time_option(value: str) -> int:
    from ringlab.scenario.units import parse_time_ns

    try:
        return parse_time_ns(value, "time")
    except InputError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def _positive_time_option(value: str) -> int:
    from ringlab.scenario.units import parse_time_ns

    try:
        return parse_time_ns(value, "time", allow_zero=False)
    except InputError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def _print_summary(name: str, backend: str, summary, out_dir: Path) -> None:
    s = summary
    print(
        f"{name} [{backend}]: {s.packets} packets, {s.delivered} delivered, {s.dropped_full} dropped (ring full), "
        f"{s.in_ring} left in ring; loss {100 * s.loss_fraction:.3f}%; {s.out_of_order} read out of order "
        f"(max displacement {s.max_displacement}); {s.warnings} warnings; {s.stalls} stalls; "
        f"lasting offset k={s.lasting_offset_slots} -> {out_dir}"
    )


def _report(out_dir: Path, result) -> None:
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    _print_summary(result.scenario.name, result.backend, result.summary, out_dir)


def cmd_sim(args) -> int:
    from ringlab.atomic_files import staged_directory
    from ringlab.runs.run_directory import run_output_directory, write_run_files
    from ringlab.runs.runner import run
    from ringlab.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = run_output_directory(args.out, args.scenario)
    if args.warnings == "summary" and not args.summary_only:
        raise InputError("--warnings", "summary goes with --summary-only (a run with its trace keeps every warning)")
    with staged_directory(out_dir) as staging:
        result = run(scenario, "sim", engine=args.engine, keep_trace=not args.summary_only,
                     progress=sys.stderr.isatty(), warnings_dir=staging if args.warnings == "all" else None)
        write_run_files(staging, result)
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
    from ringlab.runs.run_directory import load_run
    from ringlab.views.timeline_plot import plot_run

    trace, summary = load_run(args.run)
    title = f"{summary['scenario_name']} [{summary['backend']}], policy {summary['scenario']['writer']['policy']}"
    for path in plot_run(trace, Path(args.run) / "timeline", args.from_ns, args.to_ns, title):
        print(path)
    return 0


def cmd_hw_trial(args) -> int:
    from ringlab.atomic_files import staged_directory
    from ringlab.runs.run_directory import run_output_directory, write_run_files
    from ringlab.runs.runner import run
    from ringlab.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = run_output_directory(args.out, args.scenario)
    with staged_directory(out_dir) as staging:
        result = run(scenario, "hw", iface=args.iface, force=args.force)
        write_run_files(staging, result, {"interface": args.iface or "testbed"})
    _report(out_dir, result)
    holds = result.details.conservation["holds"]
    print(f"conservation (sent = written + dropped_full + lost before XDP, counters agree): "
          f"{'holds' if holds else 'VIOLATED'}")
    return 0 if holds else EXIT_CHECK_FAILED


def cmd_replay(args) -> int:
    from ringlab.atomic_files import staged_directory, write_json
    from ringlab.compare.replay import agreement, load_measured, replay
    from ringlab.runs.run_directory import REPLAY_FILE, run_output_directory, write_run_files

    measured, scenario, _ = load_measured(args.run)
    out_dir = run_output_directory(args.out)
    result = replay(measured, scenario, engine=args.engine, costs=args.costs)
    agreed = agreement(measured, result.trace)
    used = {name: result.scenario.source[name.split(".")[0]][name.split(".")[1]]
            for name in ("writer.cost", "poller.cost", "poller.wakeup")}
    with staged_directory(out_dir) as staging:
        write_json(staging / REPLAY_FILE, agreed.to_dict())
        write_run_files(staging, result, {"replay_of": str(Path(args.run).resolve()),
                                          "costs": {"from": args.costs, **used}, "agreement": agreed.to_dict()})
    _report(out_dir, result)
    offsets = agreed.to_dict()["same_offsets_after_stalls"]
    print(f"replay of {args.run}: {100 * agreed.same_fate_share:.3f}% of packets with the same fate; dropped "
          f"{agreed.fate_counts_measured['dropped_full']} measured, {agreed.fate_counts_replayed['dropped_full']} "
          f"replayed; {100 * agreed.same_order_share:.3f}% of reads in the same order; lasting offset after "
          f"{offsets} of {len(agreed.offsets_after_stalls)} stalls the same -> {out_dir / REPLAY_FILE}")
    return 0


def cmd_hw_testbed(args) -> int:
    from ringlab.hw import testbed

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
    from ringlab.hw.cleanup import cleanup_stale

    removed = cleanup_stale(everything=True)
    print("\n".join(removed) if removed else "nothing to clean up")
    return 0


def cmd_hw_doctor(args) -> int:
    from ringlab.hw.doctor import run_checks

    checks = run_checks(args.iface)
    for check in checks:
        print(f"[{'ok' if check.ok else 'MISSING'}] {check.name}: {check.detail}" + ("" if check.ok else f"\n      fix: {check.fix}"))
    return 0 if all(c.ok for c in checks) else EXIT_CHECK_FAILED


def cmd_hw_noise(args) -> int:
    from ringlab.hw.noise import measure_noise, write_noise_profile

    out_dir = output_directory(args.out)
    profile = measure_noise(args.duration_ns, args.cpu, args.threshold_ns, args.loops, trace_kernel=not args.no_trace)
    summary = write_noise_profile(out_dir, profile)
    pauses = summary["pauses"]
    longest = pauses["longest_ns"] or 0
    print(f"CPU {args.cpu}: {pauses['count']} pauses over {args.threshold_ns} ns in {args.duration_ns / 1e9:g} s "
          f"({pauses['per_second']:.0f} per second, {100 * pauses['share_of_time']:.2f}% of the time), the longest "
          f"{longest / 1e3:.1f} us -> {out_dir / 'pauses.csv'}")
    return 0


def cmd_hw_send(args) -> int:
    import numpy as np

    from ringlab.atomic_files import atomic_path, write_json
    from ringlab.hw.environment import machine_environment
    from ringlab.hw.sender import SENDER_RECORD, SENT_FILE, SenderSettings, send_scenario, sender_cpus
    from ringlab.hw.wire import parse_mac
    from ringlab.runs.provenance import provenance
    from ringlab.scenario.plan import draw_plan
    from ringlab.scenario.scenario import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    try:
        parse_mac(args.dst_mac)
    except ValueError as error:
        raise InputError("--dst-mac", str(error)) from None
    if not Path(f"/sys/class/net/{args.iface}").exists():
        raise InputError("--iface", f"no network interface {args.iface!r} here")
    out_dir = output_directory(args.out) if args.out else None
    plan = draw_plan(scenario)
    settings = SenderSettings(scenario.hw.payload_layout, scenario.hw.loops, scenario.hw.pacing, scenario.interval_ns)
    sent = send_scenario(args.iface, args.dst_mac, settings, plan.arrival_ns, scenario.writer.cpus)
    figures = sent.figures()
    print(f"sent {figures['frames']} frames from {args.iface} in {(sent.sent_ns.max() - sent.sent_ns.min()) / 1e9:.3f} s, "
          f"{figures['late_sends']} more than 10 us late, {figures['bursts']} closer than half the interval")
    if out_dir is not None:
        with atomic_path(out_dir / SENT_FILE) as tmp, open(tmp, "wb") as handle:
            np.save(handle, sent.sent_ns - sent.start_ns)
        write_json(out_dir / SENDER_RECORD, {
            **provenance("hw"), "scenario_name": scenario.name, "scenario_key": scenario.key(),
            "scenario": scenario.to_dict(), "iface": args.iface, "dst_mac": args.dst_mac, "start_ns": sent.start_ns,
            "sender": figures, "environment": machine_environment(None, sender_cpus(scenario.writer.cpus))})
        print(f"the sender's record -> {out_dir / SENDER_RECORD}")
    return 0


def cmd_sweep(args) -> int:
    from ringlab.compare.sweep import run_sweep, sweep_output_directory
    from ringlab.compare.sweep_file import load_sweep

    sweep = load_sweep(args.sweep)
    sweep_output_directory(args.out)
    if "hw" in sweep.backends:
        from ringlab.hw.doctor import hardware_ready

        ready, reason = hardware_ready()
        if not ready:
            raise HardwareError(f"the sweep asks for hw points, but real XDP cannot run here: {reason}")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", "must be at least 1")
    counts = run_sweep(sweep, args.out, scheduler=args.scheduler, workers=args.workers, progress=not args.quiet,
                       engine=args.engine)
    print(f"{sweep.name}: {counts['points']} points, {counts['skipped']} already done, {counts['computed']} computed "
          f"-> {Path(args.out) / 'table.csv'}")
    return 0


def cmd_compare(args) -> int:
    from ringlab.compare.report import build_report

    if args.sender is not None:
        from ringlab.compare.two_hosts import write_two_host_report

        if len(args.sweeps) != 1:
            raise InputError("--sender", "goes with one receiver's run directory ('ringlab hw trial --iface ... --out')")
        out_dir = output_directory(args.out)
        figures = write_two_host_report(out_dir, args.sweeps[0], args.sender)
        print(f"report: {out_dir / 'report.md'}; {figures['sent']} frames sent, {figures['seen_by_xdp']} seen by "
              f"the XDP program")
        return 0
    for directory in args.sweeps:
        if not (Path(directory) / "table.csv").is_file():
            raise InputError(str(directory), "not a finished sweep (no table.csv): run 'ringlab sweep' first")
    figures = build_report(args.sweeps, args.out, fit=not args.no_fit, family=args.family, noise_dir=args.noise)
    overall = figures["overall"]
    print(f"report: {Path(args.out) / 'report.md'}"
          + (f"; simulated vs measured: chi2 {overall['chi2']:.1f} over {overall['dof']} points, "
             f"p = {overall['p_value']:.3g}" if overall["dof"] else "; simulator only"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ringlab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = commands.add_parser("sim", help="simulate a scenario")
    sim.add_argument("scenario", type=Path, help="scenario TOML file")
    sim.add_argument("--out", type=_out_path, required=True, help="directory for trace, summary and warnings")
    sim.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario field, e.g. writer.policy=fixed (repeatable)")
    sim.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                     help="fast: the compiled engine (default); simpy: the readable reference model")
    sim.add_argument("--summary-only", action="store_true",
                     help="keep only the summary and the warnings, not the per-packet trace: the run streams in "
                          "bounded memory (for huge runs)")
    sim.add_argument("--warnings", choices=["all", "summary"], default="all",
                     help="with --summary-only: write every warning line (all), or the first and last 1000 (summary)")
    sim.set_defaults(handler=cmd_sim)

    dump = commands.add_parser("dump", help="print the map over time, one line of slots per change (see docs/model.md)")
    dump.add_argument("run", type=Path, help="a run directory")
    dump.add_argument("--from", dest="from_ns", type=_time_option, default=0, help="start time, e.g. 5ms")
    dump.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time, e.g. 5.1ms")
    dump.set_defaults(handler=cmd_dump)

    plot = commands.add_parser("plot", help="draw a run's timeline (PNG and SVG)")
    plot.add_argument("run", type=Path, help="a run directory")
    plot.add_argument("--from", dest="from_ns", type=_time_option, default=None, help="start time")
    plot.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time")
    plot.set_defaults(handler=cmd_plot)

    sweep = commands.add_parser("sweep", help="run every point of a sweep file (resumes where it stopped)")
    sweep.add_argument("sweep", type=Path, help="sweep TOML file")
    sweep.add_argument("--out", type=_out_path, required=True)
    sweep.add_argument("--scheduler", help="a Dask scheduler address: run simulation points on that cluster")
    sweep.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.add_argument("--engine", choices=["fast", "simpy"], default="fast",
                       help="simulation engine for sim points (the same results; simpy is the slow reference)")
    sweep.set_defaults(handler=cmd_sweep)

    compare = commands.add_parser("compare", help="compare simulated and measured sweeps: report and plots")
    compare.add_argument("sweeps", type=Path, nargs="+",
                         help="sweep output directories (with --sender: one receiver's run directory)")
    compare.add_argument("--out", type=_out_path, required=True, help="directory for report.md and the figures")
    compare.add_argument("--no-fit", action="store_true", help="skip the fit of background stalls")
    compare.add_argument("--family", default="expon", help="scipy.stats family of background stall lengths")
    compare.add_argument("--sender", type=Path, default=None,
                         help="a sender's record ('ringlab hw send --out DIR'): put it beside the receiver's run given")
    compare.add_argument("--noise", type=Path, default=None,
                         help="a pause profile ('ringlab hw noise --out DIR'): also predict the measured points from it")
    compare.set_defaults(handler=cmd_compare)

    replay = commands.add_parser("replay", help="simulate a measured trial from its measured arrivals and pauses")
    replay.add_argument("run", type=Path, help="a hardware run directory ('ringlab hw trial --out')")
    replay.add_argument("--out", type=_out_path, required=True, help="directory for the replay's run and replay.json")
    replay.add_argument("--engine", choices=["fast", "simpy"], default="fast")
    replay.add_argument("--costs", choices=["measured", "scenario"], default="measured",
                        help="the model's costs: measured in the trial (default), or the scenario's")
    replay.set_defaults(handler=cmd_replay)

    hw = commands.add_parser("hw", help="the hardware backend: real XDP through BCC")
    hw_commands = hw.add_subparsers(dest="hw_command", required=True, parser_class=_Parser)
    trial = hw_commands.add_parser("trial", help="run a scenario on real XDP and write the same files as sim")
    trial.add_argument("scenario", type=Path)
    where = trial.add_mutually_exclusive_group(required=True)
    where.add_argument("--testbed", action="store_true", help="on a local veth testbed made for the trial")
    where.add_argument("--iface", help="on this interface; frames come from 'ringlab hw send' on another host")
    trial.add_argument("--out", type=_out_path, required=True)
    trial.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    trial.add_argument("--force", action="store_true", help="replace an XDP program ringlab did not attach")
    trial.set_defaults(handler=cmd_hw_trial)
    bed = hw_commands.add_parser("testbed", help="create or remove the veth testbed")
    bed.add_argument("action", choices=["up", "down"])
    bed.add_argument("--queues", type=int, default=0, help="RX/TX queues per veth end (for several writer CPUs)")
    bed.set_defaults(handler=cmd_hw_testbed)
    hw_commands.add_parser("cleanup", help="detach ringlab's XDP programs and remove its testbed").set_defaults(handler=cmd_hw_cleanup)
    doctor = hw_commands.add_parser("doctor", help="check the prerequisites of real XDP runs")
    doctor.add_argument("--iface", default=None,
                        help="also check that this interface's driver runs XDP natively (briefly attaches a pass-all program)")
    doctor.set_defaults(handler=cmd_hw_doctor)
    noise = hw_commands.add_parser("noise", help="measure this machine's pause profile: the poller's loop with no ring")
    noise.add_argument("--duration", dest="duration_ns", type=_positive_time_option, default=10_000_000_000,
                       help="how long to measure (default 10s)")
    noise.add_argument("--cpu", type=int, default=0, help="the CPU to measure (default 0, the poller's in a trial)")
    noise.add_argument("--threshold", dest="threshold_ns", type=_positive_time_option, default=1_000,
                       help="a gap between two iterations longer than this is a pause (default 1us)")
    noise.add_argument("--loops", choices=["native", "python"], default="native")
    noise.add_argument("--no-trace", action="store_true", help="do not trace the kernel's events to name the sources")
    noise.add_argument("--out", type=_out_path, required=True, help="directory for pauses.csv, summary.json and the plot")
    noise.set_defaults(handler=cmd_hw_noise)
    send = hw_commands.add_parser("send", help="send a scenario's paced frames from IFACE (on a remote host)")
    send.add_argument("scenario", type=Path)
    send.add_argument("--iface", required=True)
    send.add_argument("--dst-mac", required=True)
    send.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    send.add_argument("--out", type=_out_path, default=None,
                      help="directory for the sender's own record (sender.json, sent.npy), to put beside the "
                           "receiver's run with 'ringlab compare RUN --sender DIR'")
    send.set_defaults(handler=cmd_hw_send)
    return parser


def main(argv=None) -> int:
    """Run one command. ringlab's own errors end in one line and their exit status (see
    :mod:`ringlab.errors`); anything else is a bug, shown with its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RinglabError as error:
        print(f"ringlab: {error.label}: {one_line(error)}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("ringlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - not a user's error: show it, and say so
        traceback.print_exc()
        print("ringlab: internal error: this is a bug in ringlab; please report it with the traceback above",
              file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
