"""The machine's errors and the last bad inputs: a full disk, a read-only place, a name too long, a
symlink loop, impossible tables and summaries, damaged stall files, two writers at once, huge runs.
Each gets one line and its exit status, and nothing is lost or left behind."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from ringlab.cli import main
from ringlab.compare.sweeps.sweep import sweep_lock
from ringlab.runs.run_directory import load_run
from tests.helpers import start_signallable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "buggy-one-stall.toml")
SWEEP = str(ROOT / "examples" / "sweeps" / "interval.toml")
as_root = pytest.mark.usefixtures("root")  # mounts a small filesystem


@contextmanager
def small_filesystem(path: Path, size: str = "400k", read_only: bool = False):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if read_only else ""), "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def one_line(capsys, status_text: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ringlab: {status_text}"), err
    assert "Traceback" not in err and "Warning" not in err
    return err


@as_root
def test_a_full_disk_is_one_line_and_leaves_the_earlier_run_whole(tmp_path, capsys):
    with small_filesystem(tmp_path / "disk") as disk:
        assert main(["sim", EXAMPLE, "--out", str(disk / "run"), "--set", "packets=1000"]) == 0
        before = {p.name: p.read_bytes() for p in (disk / "run").iterdir()}
        (disk / "filler").write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - 30_000))
        capsys.readouterr()  # the first and last 1000 warnings of a buggy run (about 80 kB) cannot fit
        assert main(["sim", EXAMPLE, "--out", str(disk / "run"), "--set", "packets=40000", "--summary-only"]) == 5
        assert "no space left on device" in one_line(capsys, "environment: cannot write or read ")
        assert {p.name: p.read_bytes() for p in (disk / "run").iterdir()} == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "run"]  # no staging left


@as_root
def test_a_full_disk_stops_a_sweep_and_a_report_in_one_line(tmp_path, capsys):
    assert main(["sweep", SWEEP, "--out", str(tmp_path / "sweep"), "--quiet", "--workers", "1"]) == 0
    with small_filesystem(tmp_path / "disk", "60k") as disk:
        capsys.readouterr()
        assert main(["sweep", SWEEP, "--out", str(disk / "sweep"), "--quiet", "--workers", "1"]) == 5
        one_line(capsys, "environment: ")
        assert main(["compare", str(tmp_path / "sweep"), "--out", str(disk / "report"), "--no-fit"]) == 5
        one_line(capsys, "environment: ")


@as_root
def test_a_read_only_place_is_refused_before_anything_runs(tmp_path, capsys):
    with small_filesystem(tmp_path / "ro", read_only=True) as ro:
        for argv in (["sim", EXAMPLE, "--out", str(ro / "run")],
                     ["sweep", SWEEP, "--out", str(ro / "sweep"), "--quiet"]):
            assert main(argv) == 2
            one_line(capsys, "error: --out: cannot write in ")


@as_root
def test_every_warning_of_a_huge_run_is_refused_when_it_cannot_fit(tmp_path, capsys):
    with small_filesystem(tmp_path / "disk", "1m") as disk:
        argv = ["sim", EXAMPLE, "--out", str(disk / "run"), "--set", "packets=100000", "--summary-only"]
        assert main([*argv, "--warnings", "all"]) == 2
        assert "may need" in one_line(capsys, "error: --out: every warning")
        assert main(["sim", EXAMPLE, "--out", str(disk / "full"), "--set", "packets=100000"]) == 2
        one_line(capsys, "error: --out: its trace and every warning")
        assert main(argv) == 0  # the first and last 1000 warnings fit
        assert sorted(p.name for p in disk.iterdir()) == ["run"]


LONG = "x" * 300


@pytest.mark.parametrize("argv", [
    ["sim", EXAMPLE, "--out", "{tmp}/" + LONG],
    ["sweep", SWEEP, "--out", "{tmp}/" + LONG, "--quiet", "--workers", "1"],
    ["sim", EXAMPLE, "--out", "{tmp}/loop/run"],
    ["sim", EXAMPLE, "--out", "{tmp}/afile"],
    ["sim", EXAMPLE, "--out", "/dev/null"],
    ["sweep", SWEEP, "--out", "/proc/ringlab"],
    ["compare", "{tmp}/sweep", "--out", "{tmp}/afile"],
    ["compare", "{tmp}/sweep", "--out", "{tmp}/loop/report"],
    ["predict", EXAMPLE, "--profile", "{tmp}/sweep", "--out", "/dev/null"],
    ["replay", "{tmp}/sweep", "--out", "/proc/ringlab"],
    ["dump", "{tmp}/loop"],
    ["plot", "{tmp}/" + LONG],
])
def test_bad_places_are_one_line(tmp_path, capsys, argv):
    (tmp_path / "loop").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    (tmp_path / "afile").write_text("")
    (tmp_path / "sweep").mkdir()
    status = main([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    assert status in (2, 5)
    one_line(capsys, "error: " if status == 2 else "environment: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "loop", "loop2", "sweep"]


NOT_UTF8 = "out\udcff"  # how Python names a file whose name has the byte 0xff


@pytest.mark.parametrize("argv", [
    ["sim", EXAMPLE, "--set", "packets=2000", "--out", "{tmp}/" + NOT_UTF8],
    ["sweep", SWEEP, "--quiet", "--workers", "1", "--out", "{tmp}/" + NOT_UTF8],
    ["predict", EXAMPLE, "--profile", str(ROOT / "examples" / "pause-profile"), "--set", "interval=10us",
     "--set", "packets=2000", "--out", "{tmp}/" + NOT_UTF8],
])
def test_an_out_whose_name_is_not_utf8_is_written_whole(tmp_path, argv):
    def ringlab(*args):
        return subprocess.run([sys.executable, "-m", "ringlab.cli", *(os.fsencode(a) for a in args)], capture_output=True,
                              timeout=300)

    result = ringlab(*(arg.replace("{tmp}", str(tmp_path)) for arg in argv))
    assert result.returncode == 0, result.stderr
    assert b"out\xff" in result.stdout  # the line that names it names its own bytes
    assert os.listdir(os.fsencode(tmp_path)) == [b"out\xff"] and os.listdir(tmp_path / NOT_UTF8)
    if argv[0] == "sweep":  # and the report made from it names it
        assert ringlab("compare", str(tmp_path / NOT_UTF8), "--out", str(tmp_path / NOT_UTF8 / "report")).returncode == 0
        assert b"out\xff" in (tmp_path / NOT_UTF8 / "report" / "report.md").read_bytes()


def test_a_timeline_that_is_a_directory_is_one_line(tmp_path, capsys):
    assert main(["sim", EXAMPLE, "--out", str(tmp_path / "run"), "--set", "packets=2000"]) == 0
    (tmp_path / "run" / "timeline.png").mkdir()
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "run")]) == 5
    assert "is a directory" in one_line(capsys, "environment: ")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    assert main(["sweep", SWEEP, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    return out


def damaged_table(sweep_dir: Path, tmp_path: Path, column: str, value) -> Path:
    copy = tmp_path / "damaged"
    subprocess.run(["cp", "-r", str(sweep_dir), str(copy)], check=True)
    lines = (copy / "table.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = str(value)
    lines[1] = ",".join(cells)
    (copy / "table.csv").write_text("\n".join(lines) + "\n")
    return copy


@pytest.mark.parametrize("column,value,problem", [("packets", 0, "0 packets"), ("dropped_full", 10**9, "more than"),
                                                  ("delivered", 1, "do not add up")])
def test_an_impossible_table_is_one_line_and_leaves_no_report(sweep_dir, tmp_path, capsys, column, value, problem):
    damaged = damaged_table(sweep_dir, tmp_path, column, value)
    assert main(["compare", str(damaged), "--out", str(tmp_path / "report")]) == 2
    assert problem in one_line(capsys, "error: ")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("family", ["bogus", "", "norm_gen"])
def test_an_unknown_family_is_refused_even_with_only_simulated_rows(sweep_dir, tmp_path, capsys, family):
    assert main(["compare", str(sweep_dir), "--out", str(tmp_path / "report"), "--family", family]) == 2
    one_line(capsys, "error: --family: ")
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("change", [{"interval": "fast"}, {"interval": "1e999us"}, {"ring_slots": -3}])
def test_dump_and_plot_refuse_a_damaged_scenario_in_the_summary(tmp_path, capsys, change):
    run = tmp_path / "run"
    assert main(["sim", EXAMPLE, "--out", str(run), "--set", "packets=2000"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    summary["scenario"].update(change)
    (run / "summary.json").write_text(json.dumps(summary))
    capsys.readouterr()
    for command in ("dump", "plot"):
        assert main([command, str(run)]) == 2
        assert "damaged: its scenario" in one_line(capsys, "error: ")


def test_plot_takes_the_default_writer_when_the_summary_has_no_writer_block(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["sim", EXAMPLE, "--out", str(run), "--set", "packets=2000"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    del summary["scenario"]["writer"]
    (run / "summary.json").write_text(json.dumps(summary))
    assert main(["plot", str(run)]) == 0


@pytest.mark.parametrize("row", ["inf,5", "1e30,5", "5,nan", "1" * 1_000_000 + ",5", "-1,5", "x,5"])
def test_a_damaged_empirical_stall_file_is_one_line(tmp_path, capsys, row):
    stall_file = tmp_path / "stalls.csv"
    stall_file.write_text(f"gap_ns,length_ns\n{row}\n")
    assert main(["sim", EXAMPLE, "--out", str(tmp_path / "run"), "--set",
                 f'stalls={{model="empirical", file="{stall_file}"}}']) == 2
    one_line(capsys, "error: stalls.file: ")
    assert not (tmp_path / "run").exists()


def test_scenario_edges_are_one_line_with_no_warning(tmp_path, capsys):
    (tmp_path / "huge.toml").write_text("packets = " + "9" * 1_000_000 + "\n")
    assert main(["sim", str(tmp_path / "huge.toml"), "--out", str(tmp_path / "a")]) == 2
    one_line(capsys, "error: ")
    assert main(["sim", EXAMPLE, "--out", str(tmp_path / "b"), "--set", "packets=" + "9" * 5000]) == 2
    one_line(capsys, "error: packets: ")
    (tmp_path / "shape.toml").write_text('packets = 2000\n[stalls]\nmodel = "renewal"\n'
                                         'run = { dist = "expon", scale = "1ms" }\n'
                                         'length = { dist = "lognorm", s = 1e300, scale = "10us" }\n')
    assert main(["sim", str(tmp_path / "shape.toml"), "--out", str(tmp_path / "c")]) == 2
    one_line(capsys, "error: stalls.length: ")


@pytest.mark.parametrize("line,field", [("name = 5", "sweep.name"), ("name = []", "sweep.name"),
                                        ('keep_traces = "no"', "sweep.keep_traces"),
                                        ("keep_traces = 5", "sweep.keep_traces")])
def test_sweep_fields_of_the_wrong_type_are_refused(tmp_path, capsys, line, field):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'[sweep]\n{line}\nbase = "{ROOT / "examples" / "fixed-one-stall.toml"}"\n'
                     '[sweep.vary]\ninterval = ["1us", "2us"]\n')
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    one_line(capsys, f"error: {field}: ")


def test_a_second_sweep_into_the_same_directory_is_refused_while_the_first_runs(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    with sweep_lock(out):
        assert main(["sweep", SWEEP, "--out", str(out), "--quiet", "--workers", "1"]) == 2
        assert f"pid {os.getpid()}" in one_line(capsys, "error: --out: another ringlab sweep")
    assert main(["sweep", SWEEP, "--out", str(out), "--quiet", "--workers", "1"]) == 0


def test_two_sweeps_started_together_compute_each_point_once_or_are_refused(tmp_path):
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "ringlab.cli", "sweep", SWEEP, "--out", str(out), "--quiet", "--workers", "1"]
    first, second = (subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2))
    statuses = [process.wait(timeout=300) for process in (first, second)]
    errors = [process.stderr.read() for process in (first, second)]
    assert sorted(statuses) in ([0, 0], [0, 2]), errors
    for status, err in zip(statuses, errors):
        assert status == 0 or ("another ringlab sweep" in err and err.count("\n") == 1), err
    assert len((out / "table.csv").read_text().splitlines()) == 16


def test_two_runs_into_one_directory_at_once_leave_one_of_them_whole(tmp_path):
    out = tmp_path / "run"
    for _ in range(4):
        commands = [[sys.executable, "-m", "ringlab.cli", "sim", EXAMPLE, "--out", str(out), "--set",
                     f"packets={3000 + 1000 * which}"] for which in range(2)]
        processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for command in commands]
        assert [p.wait(timeout=120) for p in processes] == [0, 0], [p.stderr.read() for p in processes]
        trace, summary = load_run(out)  # whole: the trace is the one its summary describes
        assert trace.packets in (3000, 4000) and summary.summary.packets == trace.packets
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_temporary_directories_of_killed_trials_are_removed_by_the_next(tmp_path):
    from ringlab.hw.trial.cleanup import remove_left_directories

    dead = subprocess.Popen(["true"])
    dead.wait()
    left = Path(tempfile.mkdtemp(prefix=f"ringlab-trial-{dead.pid}-"))
    mine = Path(tempfile.mkdtemp(prefix=f"ringlab-trial-{os.getpid()}-"))
    try:
        removed = remove_left_directories()
        assert not left.exists() and mine.exists()
        assert any(str(left) in line for line in removed)
    finally:
        mine.rmdir()


def test_ctrl_c_stops_a_long_run_at_once_and_leaves_the_earlier_run(tmp_path):
    out = tmp_path / "run"
    assert main(["sim", EXAMPLE, "--out", str(out), "--set", "packets=1000"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    process = start_signallable([sys.executable, "-m", "ringlab.cli", "sim", EXAMPLE, "--out", str(out), "--set",
                                 "packets=300000000", "--set", "jitter=10ns", "--summary-only"],  # jitter: per packet, long
                                stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    assert process.poll() is None, "the run should still be going"
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert time.monotonic() - began < 5
    assert process.stderr.read().strip().splitlines()[-1] == "ringlab: interrupted"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
