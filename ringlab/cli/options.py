"""What the commands share: the parser whose errors are one line, the --out directory, times as
options, a command whose help ends with examples, and the options several commands take."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ringlab.errors import InputError

SET_HELP = "override a scenario field, e.g. writer.policy=fixed or interval=2us (repeatable)"


class Parser(argparse.ArgumentParser):
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


def out_path(value: str) -> Path:
    """``--out`` as given: a path, not empty."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty: name the directory for the results")
    return Path(value)


def time_option(value: str, allow_zero: bool = True) -> int:
    """A time option with its unit (a bare whole number is nanoseconds), as nanoseconds."""
    from ringlab.scenario.units import parse_time_ns

    try:
        return parse_time_ns(value, "time", allow_zero=allow_zero)
    except InputError as error:
        raise argparse.ArgumentTypeError(error.problem) from None


def positive_time_option(value: str) -> int:
    return time_option(value, allow_zero=False)


def add_command(commands, name: str, handler, help_text: str, examples: list[str], aliases=()):
    """A subcommand whose help ends with examples."""
    parser = commands.add_parser(name, aliases=list(aliases), help=help_text,
                                 description=help_text[0].upper() + help_text[1:] + ".",
                                 epilog="examples:\n" + "\n".join(f"  {line}" for line in examples),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(handler=handler)
    return parser


def add_set_option(parser, prefix: str = "") -> None:
    """--set KEY=VALUE, repeatable: a scenario field overridden."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=prefix + SET_HELP)


def add_engine_option(parser, help_text: str) -> None:
    """--engine: the fast engine (default) or the SimPy reference."""
    parser.add_argument("--engine", choices=["fast", "simpy"], default="fast", help=help_text)


def add_worker_options(parser, what: str) -> None:
    """--workers and --scheduler: where ``what`` runs."""
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    parser.add_argument("--scheduler", help=f"a Dask scheduler address: run {what} on that cluster (start one with "
                                            "'dask scheduler', and its workers with 'dask worker ADDRESS')")


def report_run(out_dir: Path, result) -> None:
    """The run's notes on stderr, and the run in one line."""
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{result.describe()} -> {out_dir}")


def print_saved_profile(profile, out) -> None:
    """Save a pause profile at ``out`` and say what it holds in one line."""
    from ringlab.trace.pause_profile import save_profile

    figures = save_profile(output_directory(out), profile)
    every = figures["all"]
    print(f"{every['count']} pauses in {figures['duration_ns'] / 1e9:g} s over {figures['segments']} segments "
          f"({every['per_second']:.0f} per second, {100 * every['share_of_time']:.2f}% of the time), from "
          f"{len(figures['by_source'])} sources -> {Path(out) / 'profile.json'}")
