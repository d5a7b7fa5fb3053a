"""The ``ringlab`` command line: each command parses its arguments, calls one function, and prints
one line. Bad input: one line naming the field and the problem, exit 2 (see ringlab/errors.py).
The commands live by group, each parser beside its handler: one run (``run_commands``), many runs
(``sweep_commands``), the model of the machine (``model_commands``), whether a change worked
(``change_commands``), real XDP (``hw_commands``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from ringlab.errors import EXIT_BUG, EXIT_ENVIRONMENT, EXIT_INTERRUPTED, RinglabError, environment_message, one_line

# ringlab computes nothing that a BLAS thread pool speeds up, and its worker threads cost: they spin
# beside the simulator's loop, and wake on the CPU a trial keeps for its poller. (Nothing above has
# loaded NumPy yet.)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from ringlab.cli import change_commands, hw_commands, model_commands, run_commands, sweep_commands  # noqa: E402
from ringlab.cli.options import Parser  # noqa: E402

DESCRIPTION = ("ringlab: loss and reordering when an XDP program hands packets to a stalling busy-poller "
               "through a BPF map ring, simulated (sim), measured on real XDP (hw), and compared (compare).")


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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ringlab", description=DESCRIPTION,
                     epilog="examples:\n  ringlab sim examples/buggy-one-stall.toml --out results/buggy\n"
                            "  ringlab plot results/buggy\n  ringlab COMMAND --help",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for group in (run_commands, sweep_commands, model_commands, change_commands, hw_commands):
        group.add_commands(commands)
    return parser


OLD_SPELLINGS = {"noise": ("hw", "'hw noise' is now 'hw profile'"), "--noise": (None, "'--noise' is now '--profile'")}


def note_old_spellings(argv: list[str]) -> None:
    """Say once, on stderr, that an old spelling was used (it still works)."""
    for word, (after, note) in OLD_SPELLINGS.items():
        used = any(arg == word or arg.startswith(word + "=") for arg in argv) if after is None else \
            any(a == after and b == word for a, b in zip(argv, argv[1:]))
        if used:
            print(f"ringlab: note: {note}; the old spelling still works", file=sys.stderr)


def give_back_left_knobs() -> None:
    """Give back the system knobs a killed experiment left set, saying so in one line each (root only;
    a look at one folder where there is nothing to do)."""
    from ringlab.hw.machine import state

    if os.geteuid() != 0 or not any(state.STATE_DIR.glob("knobs-*.json")):
        return
    from ringlab.hw.knobs.journal import restore_left

    for line in restore_left():
        print(f"ringlab: {line}", file=sys.stderr)


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
        give_back_left_knobs()
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

