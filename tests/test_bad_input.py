"""A wrong scenario or option: one line naming the field and the problem, exit 2, no traceback."""

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ringlab.cli import main
from tests.helpers import BUGGY_EXAMPLE

EXAMPLE = BUGGY_EXAMPLE

# (override, the field the error must name)
BAD_OVERRIDES = [
    ("color=blue", "color"),
    ("writer.colour=1", "writer.colour"),
    ("ring_slots=0", "ring_slots"),
    ("ring_slots=-3", "ring_slots"),
    ("interval=-1us", "interval"),
    ("interval=0ns", "interval"),
    ("interval=3 parsecs", "interval"),
    ("poller.cost=-5ns", "poller.cost"),
    ("writer.policy=bugy", "writer.policy"),
    ("writer.cpus=0", "writer.cpus"),
    ("seed=-1", "seed"),
    ("duration=1ms", "duration"),  # the example gives packets already
    ("hw.pause_threshold=fast", "hw.pause_threshold"),
    ("hw.pause_threshold=0ns", "hw.pause_threshold"),
    ("hw.trace_kernel=sometimes", "hw.trace_kernel"),

    ('stalls={model="renewal", run={dist="nosuch"}, length={dist="expon", scale="1us"}}', "stalls.run.dist"),
    ('stalls={model="renewal", run={dist="expon", scale="1us", shape=2}, length={dist="expon", scale="1us"}}', "stalls.run.shape"),
    ('stalls={model="renewal", run={dist="lognorm", scale="1us"}, length={dist="expon", scale="1us"}}', "stalls.run.s"),
    ('stalls={model="periodic", period="0us", length="1us"}', "stalls.period"),
    ('stalls={model="sometimes"}', "stalls.model"),
    ('stalls={model="scripted", stalls=[["1ms"]]}', "stalls.stalls[0]"),
    ('stalls={model="empirical", file="no-such-file.csv"}', "stalls.file"),
]


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize("override, field", BAD_OVERRIDES)
def test_bad_override_is_one_line_naming_the_field(tmp_path, capsys, override, field):
    status, err = run_cli(capsys, "sim", EXAMPLE, "--out", tmp_path / "run", "--set", override)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ringlab: error: {field}: "), lines[0]
    assert not (tmp_path / "run").exists()


@given(
    key=st.sampled_from(["ring_slots", "packets", "writer.cpus"]),
    value=st.integers(-10**6, 0),
)
def test_generated_non_positive_counts_are_rejected(tmp_path_factory, key, value):
    out = tmp_path_factory.mktemp("run")
    assert main(["sim", str(EXAMPLE), "--out", str(out / "r"), "--set", f"{key}={value}"]) == 2


@given(unit=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4).filter(lambda u: u not in ("ns", "us", "ms", "s")))
def test_generated_bad_units_are_rejected(tmp_path_factory, unit):
    out = tmp_path_factory.mktemp("run")
    assert main(["sim", str(EXAMPLE), "--out", str(out / "r"), "--set", f"interval=5{unit}"]) == 2


def test_bad_toml_file_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("ring_slots = = 3\n")
    status, err = run_cli(capsys, "sim", bad, "--out", tmp_path / "run")
    assert status == 2 and err.startswith(f"ringlab: error: {bad}: not valid TOML")


def test_unknown_option_is_one_line_with_status_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sim", str(EXAMPLE), "--outt", "x"])
    assert exit_info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_installed_command_prints_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ringlab.cli", "sim", str(EXAMPLE), "--out", str(tmp_path / "r"), "--set", "ring_slots=0"],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr == "ringlab: error: ring_slots: must be at least 1, got 0\n"


@pytest.mark.parametrize("argv, field, command", [
    (["compare", "RUN", "--sender", "SENDER", "--out", "{tmp}"], "--sender", "ringlab two-hosts"),
    (["hw", "profile", "--from", "RUN", "--out", "{tmp}"], "--from", "ringlab pool"),
    (["hw", "profile", "--load", "SCENARIO", "--out", "{tmp}"], "--load", "ringlab hw profile-load"),
])
def test_a_mode_that_became_a_command_names_the_command_in_one_line(tmp_path, capsys, argv, field, command):
    assert main([arg.replace("{tmp}", str(tmp_path / "out")) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ringlab: error: {field}: ") and command in err
    assert not (tmp_path / "out").exists()
