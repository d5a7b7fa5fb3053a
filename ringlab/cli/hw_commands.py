"""The commands of real XDP: a trial, the testbed, cleanup, the checks, a pause profile, a remote sender."""

from __future__ import annotations

import argparse
from pathlib import Path

from ringlab.cli.options import (
    Parser,
    add_command,
    add_set_option,
    out_path,
    output_directory,
    positive_time_option,
    print_saved_profile,
    report_run,
)
from ringlab.errors import EXIT_CHECK_FAILED, HardwareError, InputError


def cmd_hw_trial(args) -> int:
    from ringlab.runs.run_directory import run_into_directory, run_output_directory
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    out_dir = run_output_directory(args.out, args.scenario)
    result = run_into_directory(scenario, out_dir, "hw", {"interface": args.iface or "testbed"}, iface=args.iface,
                                force=args.force)
    report_run(out_dir, result)
    holds = result.details.conservation["holds"]
    print(f"conservation (sent = written + dropped_full + lost before XDP, counters agree): "
          f"{'holds' if holds else 'VIOLATED'}")
    return 0 if holds else EXIT_CHECK_FAILED


def cmd_hw_experiment(args) -> int:
    import sys

    from tqdm import tqdm

    from ringlab.compare.change.experiment import analyse_experiment, write_experiment
    from ringlab.hw.knobs import parse_knob_option
    from ringlab.hw.knobs.experiment import plan_experiment, run_experiment
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    knobs = [parse_knob_option(text) for text in args.knobs]
    check_output_path(args.out)
    plan = plan_experiment(scenario, knobs, args.trials, args.seed, args.out, args.apply)
    out_dir = output_directory(args.out)
    bar = tqdm(total=2 * plan.pairs, desc="experiment", unit="trial", file=sys.stderr, disable=args.quiet)
    try:
        run_experiment(scenario, knobs, plan, out_dir, progress=lambda done, total: bar.update(done - bar.n))
    finally:
        bar.close()
    experiment, with_sides, without_sides = analyse_experiment(out_dir, level=args.level)
    path = write_experiment(out_dir, experiment, with_sides, without_sides)
    for line in experiment.verdict:
        print(line)
    print(f"-> {path}")
    return 0


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
    from ringlab.hw.knobs.journal import restore_left
    from ringlab.hw.trial.cleanup import cleanup_stale

    removed = cleanup_stale(everything=True) + restore_left(everything=True)
    print("\n".join(removed) if removed else "nothing to clean up")
    return 0


def cmd_hw_doctor(args) -> int:
    from ringlab.hw.doctor import run_checks

    checks = run_checks(args.iface)
    for check in checks:
        print(f"[{'ok' if check.ok else 'MISSING'}] {check.name}: {check.detail}" + ("" if check.ok else f"\n      fix: {check.fix}"))
    return 0 if all(c.ok for c in checks) else EXIT_CHECK_FAILED


def cmd_hw_profile(args) -> int:
    if args.from_runs or args.load is not None:  # the modes that became commands of their own
        raise InputError("--from" if args.from_runs else "--load",
                         "is now a command of its own: 'ringlab pool RUN ... --out DIR'" if args.from_runs else
                         "is now a command of its own: 'ringlab hw profile-load SCENARIO --out DIR'")
    from ringlab.hw.trial.idle_profile import measure_idle_profile, write_idle_profile
    from ringlab.runs.run_directory import check_output_path

    check_output_path(args.out)
    profile = measure_idle_profile(args.duration_ns, args.cpu, args.threshold_ns, args.loops, trace_kernel=not args.no_trace)
    out_dir = output_directory(args.out)
    summary = write_idle_profile(out_dir, profile)
    pauses = summary["pauses"]
    longest = pauses["longest_ns"] or 0
    print(f"CPU {args.cpu}: {pauses['count']} pauses over {args.threshold_ns} ns in {args.duration_ns / 1e9:g} s "
          f"({pauses['per_second']:.0f} per second, {100 * pauses['share_of_time']:.2f}% of the time), the longest "
          f"{longest / 1e3:.1f} us -> {out_dir / 'pauses.csv'}")
    return 0


def cmd_hw_profile_load(args) -> int:
    """``hw profile-load SCENARIO``: a pause profile measured under the scenario's own load."""
    from ringlab.hw.trial.load_profile import measure_under_load
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario
    from ringlab.trace.pause_profile import check_profile

    check_output_path(args.out)
    profile = measure_under_load(load_scenario(args.scenario, args.overrides), args.duration_ns)
    check_profile(profile, "scenario")
    print_saved_profile(profile, args.out)
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


def add_commands(commands) -> None:
    hw = commands.add_parser("hw", help="the hardware backend: real XDP through BCC (needs root)",
                             description="The hardware backend: real XDP through BCC (needs root).")
    hw_commands = hw.add_subparsers(dest="hw_command", required=True, parser_class=Parser, metavar="COMMAND")
    trial = add_command(hw_commands, "trial", cmd_hw_trial, "run a scenario on real XDP and write the same files as sim", [
        "ringlab hw trial examples/buggy-one-stall.toml --testbed --out results/hw-buggy --set interval=20us",
        "ringlab hw trial examples/fixed-one-stall.toml --iface rl-xdp0 --out results/receiver"])
    trial.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/)")
    where = trial.add_mutually_exclusive_group(required=True)
    where.add_argument("--testbed", action="store_true", help="on a local veth testbed made for the trial")
    where.add_argument("--iface", help="on this interface; frames come from 'ringlab hw send' on another host")
    trial.add_argument("--out", type=out_path, required=True,
                       help="the run directory (a new or empty directory, or an earlier run)")
    add_set_option(trial)
    trial.add_argument("--force", action="store_true", help="replace an XDP program ringlab did not attach")

    experiment = add_command(hw_commands, "experiment", cmd_hw_experiment,
                             "K trials with knobs set and K without, interleaved; what each pause source and the "
                             "loss did", [
                                 "ringlab hw experiment examples/fixed-one-stall.toml --knob vm.stat_interval=10 "
                                 "--trials 4 --apply --out results/experiment-stat-interval --set interval=10us",
                                 "ringlab hw experiment examples/fixed-one-stall.toml --knob poller.mlock=on --trials 5 "
                                 "--out results/experiment-mlock"])
    experiment.add_argument("scenario", type=Path, help="the scenario of every trial, a TOML file (see examples/)")
    experiment.add_argument("--knob", dest="knobs", action="append", default=[], metavar="NAME=VALUE",
                            help="a setting of the 'with' trials (repeatable; all are set together). ringlab's own: "
                                 "poller.mlock, poller.thp_disable, hw.loops, competitor.cpu; the machine's (need "
                                 "--apply): vm.stat_interval, kernel.watchdog_cpumask, kernel.timer_migration, "
                                 "workqueue.cpumask, kdamond.cpus")
    experiment.add_argument("--trials", type=int, required=True, metavar="K",
                            help="trials with the knobs, and as many without (at least 2)")
    experiment.add_argument("--out", type=out_path, required=True,
                            help="the experiment's directory (plan.json, trials/, experiment.json, experiment.png); "
                                 "run again to resume")
    experiment.add_argument("--apply", action="store_true",
                            help="allow system knobs: each is journalled, set only during the 'with' trials and "
                                 "given back after each")
    experiment.add_argument("--seed", type=int, default=0, help="the seed of the order of the trials (default 0)")
    experiment.add_argument("--level", type=float, default=0.95, help="the level of every interval (default 0.95)")
    experiment.add_argument("--quiet", action="store_true", help="no progress bar")
    add_set_option(experiment)

    bed = add_command(hw_commands, "testbed", cmd_hw_testbed, "create or remove the veth testbed", [
        "ringlab hw testbed up", "ringlab hw testbed down"])
    bed.add_argument("action", choices=["up", "down"], help="up: create it; down: remove it")
    bed.add_argument("--queues", type=int, default=0, help="RX/TX queues per veth end (for several writer CPUs)")

    add_command(hw_commands, "cleanup", cmd_hw_cleanup, "detach ringlab's XDP programs and remove its testbed",
             ["ringlab hw cleanup"])
    doctor = add_command(hw_commands, "doctor", cmd_hw_doctor, "check the prerequisites of real XDP runs", [
        "ringlab hw doctor", "ringlab hw doctor --iface eth1"])
    doctor.add_argument("--iface", default=None,
                        help="also check that this interface's driver runs XDP natively (briefly attaches a pass-all program)")

    profile = add_command(hw_commands, "profile", cmd_hw_profile,
                          "measure this machine's pause profile: the poller's loop with no ring, idle (under a "
                          "scenario's load: 'hw profile-load'; from earlier runs: 'ringlab pool'; old name: noise)", [
                              "ringlab hw profile --duration 10s --out results/profile",
                              "ringlab hw profile --duration 2s --cpu 1 --threshold 5us --out results/profile-cpu1"],
                          aliases=["noise"])
    profile.add_argument("--duration", dest="duration_ns", type=positive_time_option, default=10_000_000_000,
                         help="how long to measure (default 10s)")
    profile.add_argument("--cpu", type=int, default=0, help="the CPU to measure (default 0, the poller's in a trial)")
    profile.add_argument("--threshold", dest="threshold_ns", type=positive_time_option, default=1_000,
                         help="a gap between two iterations longer than this is a pause (default 1us)")
    profile.add_argument("--loops", choices=["native", "python"], default="native",
                         help="the loop that measures: native (C, default) or python")
    profile.add_argument("--no-trace", action="store_true", help="do not trace the kernel's events to name the sources")
    profile.add_argument("--out", type=out_path, required=True,
                         help="directory for the profile (profile.json, pauses.npz, pauses.csv), summary.json and the plot")
    # the modes that became commands of their own, refused in one line that names the new one
    profile.add_argument("--from", dest="from_runs", type=Path, nargs="+", default=[], help=argparse.SUPPRESS)
    profile.add_argument("--load", type=Path, default=None, help=argparse.SUPPRESS)

    load = add_command(hw_commands, "profile-load", cmd_hw_profile_load,
                       "measure a pause profile under a scenario's own load (its sender, XDP program and poller, "
                       "no stall injected)", [
                           "ringlab hw profile-load examples/fixed-one-stall.toml --set interval=20us --duration 5s "
                           "--out results/profile-load"])
    load.add_argument("scenario", type=Path, help="the scenario, a TOML file, whose load the profile is measured under")
    load.add_argument("--duration", dest="duration_ns", type=positive_time_option, default=10_000_000_000,
                      help="how long to measure (default 10s)")
    add_set_option(load)
    load.add_argument("--out", type=out_path, required=True,
                      help="directory for the profile (profile.json, pauses.npz) and its plot")

    send = add_command(hw_commands, "send", cmd_hw_send, "send a scenario's paced frames from IFACE (on another host)", [
        "ip netns exec ringlab-testbed ringlab hw send examples/fixed-one-stall.toml --iface rl-peer0 "
        "--dst-mac 02:00:00:00:00:01 --out results/sender"])
    send.add_argument("scenario", type=Path, help="the scenario, a TOML file: the same as the receiver's trial")
    send.add_argument("--iface", required=True, help="the interface to send from")
    send.add_argument("--dst-mac", required=True, help="the receiver's MAC address, e.g. 02:00:00:00:00:01")
    add_set_option(send)
    send.add_argument("--out", type=out_path, default=None,
                      help="directory for the sender's own record (sender.json, sent.npy), to put beside the "
                           "receiver's run with 'ringlab compare RUN --sender DIR'")

