"""The ``ringlab`` command line. Bad input: one line naming the field and the problem, exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ringlab.errors import ScenarioError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit with status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"ringlab: error: {message}\n")


def _time_option(value: str) -> int:
    from ringlab.units import parse_time_ns

    try:
        return parse_time_ns(value, "time")
    except ScenarioError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def _print_summary(name: str, backend: str, summary, out_dir: Path) -> None:
    s = summary
    print(
        f"{name} [{backend}]: {s.packets} packets, {s.delivered} delivered, {s.dropped_full} dropped (ring full), "
        f"{s.in_ring} left in ring; loss {100 * s.loss_fraction:.3f}%; {s.out_of_order} read out of order "
        f"(max displacement {s.max_displacement}); {s.warnings} warnings; {s.stalls} stalls; "
        f"lasting offset k={s.lasting_offset_slots} -> {out_dir}"
    )


def cmd_sim(args) -> int:
    from ringlab.run_files import write_run
    from ringlab.scenario import HW_ONLY_FIELDS, load_scenario
    from sim.model import simulate

    scenario = load_scenario(args.scenario, args.overrides)
    ignored = scenario.given_fields(HW_ONLY_FIELDS)
    notes = [f"ignored by the simulator: {', '.join(ignored)}"] if ignored else []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    trace = simulate(scenario)
    summary = write_run(args.out, scenario, trace, "sim", notes, {"engine": "simpy"})
    _print_summary(scenario.name, "sim", summary, args.out)
    return 0


def _load_run(directory: Path):
    from ringlab.run_files import is_complete, load_summary, load_trace

    if not is_complete(directory):
        raise ScenarioError(str(directory), "not a complete ringlab run (no summary.json)")
    return load_trace(directory), load_summary(directory)


def cmd_dump(args) -> int:
    from ringlab.dump import render_dump

    trace, _ = _load_run(args.run)
    to_ns = args.to_ns if args.to_ns is not None else trace.end_ns
    if to_ns < args.from_ns:
        raise ScenarioError("--to", "must not be before --from")
    sys.stdout.write(render_dump(trace, args.from_ns, to_ns))
    return 0


def cmd_plot(args) -> int:
    from ringlab.timeline_plot import default_window_ns, plot_run
    from ringlab.units import parse_time_ns

    trace, summary = _load_run(args.run)
    interval_ns = parse_time_ns(summary["scenario"]["interval"], "interval")
    from_ns, to_ns = default_window_ns(trace, interval_ns)
    from_ns = args.from_ns if args.from_ns is not None else from_ns
    to_ns = args.to_ns if args.to_ns is not None else to_ns
    if to_ns <= from_ns:
        raise ScenarioError("--to", "must be after --from")
    title = f"{summary['scenario_name']} [{summary['backend']}], policy {summary['scenario']['writer']['policy']}"
    for path in plot_run(trace, Path(args.run) / "timeline", from_ns, to_ns, title):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ringlab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = commands.add_parser("sim", help="simulate a scenario with the SimPy model")
    sim.add_argument("scenario", type=Path, help="scenario TOML file")
    sim.add_argument("--out", type=Path, required=True, help="directory for trace, summary and warnings")
    sim.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario field, e.g. writer.policy=fixed (repeatable)")
    sim.set_defaults(handler=cmd_sim)

    dump = commands.add_parser("dump", help="print the map over time, as the original debugging thread did")
    dump.add_argument("run", type=Path, help="a run directory")
    dump.add_argument("--from", dest="from_ns", type=_time_option, default=0, help="start time, e.g. 5ms")
    dump.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time, e.g. 5.1ms")
    dump.set_defaults(handler=cmd_dump)

    plot = commands.add_parser("plot", help="draw a run's timeline (PNG and SVG)")
    plot.add_argument("run", type=Path, help="a run directory")
    plot.add_argument("--from", dest="from_ns", type=_time_option, default=None, help="start time")
    plot.add_argument("--to", dest="to_ns", type=_time_option, default=None, help="end time")
    plot.set_defaults(handler=cmd_plot)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as error:
        print(f"ringlab: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ringlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
