"""The command line a newcomer reads: every argument explained, every command's help ending with
examples that parse, plain text, and ``--version`` naming the version and the commit."""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ringlab.cli import build_parser, main
from ringlab.provenance import version

ROOT = Path(__file__).resolve().parent.parent


def commands(parser=None, prefix=()):
    """Every (path, parser) of the command tree, the top level first; a command by its name, not
    again by an alias (an old spelling)."""
    parser = parser or build_parser()
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from commands(sub, prefix + (name,))


def leaf_commands():
    return [(path, parser) for path, parser in commands() if not any(
        isinstance(action, argparse._SubParsersAction) for action in parser._actions)]


@pytest.mark.parametrize("path,parser", leaf_commands(), ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_argument_of_every_command_has_help(path, parser):
    missing = [action.dest for action in parser._actions if not action.help]
    assert missing == [], f"ringlab {' '.join(path)}: no help for {missing}"


@pytest.mark.parametrize("path,parser", leaf_commands(), ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_command_help_ends_with_examples_that_parse(path, parser):
    text = parser.format_help()
    assert "examples:\n" in text
    examples = [line.strip() for line in text.split("examples:\n", 1)[1].splitlines() if line.strip()]
    assert examples, f"ringlab {' '.join(path)} has no example"
    for example in examples:
        words = shlex.split(example)
        words = words[words.index("ringlab") + 1:]  # after a prefix such as 'ip netns exec NS'
        assert tuple(words[:len(path)]) == path
        build_parser().parse_args(words)  # exits with status 2 if it does not parse


def test_the_descriptions_are_plain_text():
    for path, parser in commands():
        text = parser.format_help()
        assert "``" not in text and ":mod:" not in text and ":func:" not in text, path


def test_version_prints_the_version_and_the_git_commit(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert out.startswith(f"ringlab {version()} (git commit {head}") and out.count("\n") == 1


def test_the_old_spellings_of_pause_profile_still_work_and_say_so_once(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ringlab.cli", "predict", str(ROOT / "examples" / "fixed-one-stall.toml"),
                             "--noise", str(ROOT / "examples" / "pause-profile"), "--set", "packets=2000", "--repeats", "10",
                             "--out", str(tmp_path / "predict")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["ringlab: note: '--noise' is now '--profile'; the old spelling still works"]
    help_text = subprocess.run([sys.executable, "-m", "ringlab.cli", "hw", "noise", "--help"], capture_output=True,
                               text=True, timeout=60)
    assert help_text.returncode == 0 and "ringlab hw profile --duration" in help_text.stdout
    assert help_text.stderr.count("'hw noise' is now 'hw profile'") == 1
