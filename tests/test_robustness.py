"""Bad input is refused in one line (exit 2, no traceback) and loses nothing; a run directory is
whole or not there: generated bad scenarios, sweep files and damaged runs, and runs killed while
they write."""

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringlab.cli import main
from ringlab.runs.run_directory import RUN_ENTRIES, SUMMARY_FILE, TRACE_FILE, load_run
from tests.helpers import BUGGY_EXAMPLE as EXAMPLE

GOOD = {"name": "good", "packets": 3000, "ring_slots": 8, "interval": "1us", "drain": "1s", "writer": {"policy": "buggy"},
        "stalls": {"model": "scripted", "stalls": [["1ms", "30us"]]}}

# A field, and values it must refuse: wrong types, out of range, beyond the engines' limits.
BAD_VALUES = {
    "packets": [0, -5, 10**13, "many", 1.5, True, [1]],
    "ring_slots": [0, 2**24 + 1, "16", 3.0],
    "seed": [-1, 2**63, "x"],
    "interval": ["0ns", "-1us", "1e999us", "2000000s", "3 parsecs", "1.5ns", 10**16, False, {"a": 1}],
    "jitter": ["-3ns", "1e400ms", [1]],
    "drain": [10**31, "-1ms", "soon"],
    "writer.policy": ["bugy", 3, ""],
    "writer.cpus": [0, 40000, "two"],
    "writer.cost": ["-1ns", "1e999s"],
    "writer.rss": ["hash"],
    "poller.cost": ["fast", -1],
    "hw.queues": [-1, 5000],
    "hw.pause_threshold": ["0ns", "never"],
    "stalls": [
        {"model": "renewal", "run": {"dist": "expon", "scale": "0ns"}, "length": {"dist": "expon", "scale": "0ns"}},
        {"model": "renewal", "run": {"dist": "expon", "scale": "0.1ns"}, "length": {"dist": "expon", "scale": "0.1ns"}},
        {"model": "renewal", "run": {"dist": "expon", "scale": "1ns"}, "length": {"dist": "expon", "scale": "-1ns"}},
        {"model": "periodic", "period": "0ns", "length": "1us"},
        {"model": "periodic", "period": "1ns", "length": "1ns"},  # 10^9 stalls in the run's second
        {"model": "scripted", "stalls": [["1ms"]]},
        {"model": "scripted", "stalls": "soon"},
        {"model": "superposition", "models": []},
        {"model": "empirical", "file": "/dev/zero"},
        {"model": "nothing"},
        "none",
    ],
    "unknown_field": [1],
}


def set_dotted(data: dict, dotted: str, value) -> dict:
    data = json.loads(json.dumps(data))
    table = data
    *path, last = dotted.split(".")
    for part in path:
        table = table.setdefault(part, {})
    table[last] = value
    return data


def snapshot(directory: Path) -> dict:
    """Each file's name and the digest of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def cli(arguments: list[str]) -> int:
    """The command's exit status (argparse's own refusals exit through SystemExit)."""
    try:
        return main(arguments)
    except SystemExit as stop:
        return stop.code


def assert_one_line_refusal(status: int, err: str) -> None:
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("ringlab: error: ") and "Traceback" not in err, err


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished run in the directory every bad command below names as --out."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=2000"]) == 0
    return out, snapshot(out)


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(BAD_VALUES)).flatmap(lambda f: st.tuples(st.just(f), st.sampled_from(BAD_VALUES[f]))))
def test_a_generated_bad_scenario_is_refused_in_one_line_and_the_earlier_run_stays(tmp_path_factory, capsys,
                                                                                   earlier_run, case):
    field, value = case
    out, before = earlier_run
    path = tmp_path_factory.mktemp("bad") / "scenario.toml"
    path.write_text(tomli_w.dumps(set_dotted(GOOD, field, value)))
    capsys.readouterr()
    status = cli(["sim", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert_one_line_refusal(status, err)
    assert f" {field.split('.')[0]}" in err  # names the field (or its table)
    assert snapshot(out) == before


@pytest.mark.parametrize("field, value, named", [
    ("interval", "1e999us", "interval"), ("drain", 10**31, "drain"), ("writer.cpus", 40000, "writer.cpus"),
    ("stalls", BAD_VALUES["stalls"][0], "stalls"), ("packets", 10**12, "packets"),
])
def test_each_refusal_names_the_field(tmp_path, capsys, field, value, named):
    path = tmp_path / "scenario.toml"
    path.write_text(tomli_w.dumps(set_dotted(GOOD, field, value)))
    assert main(["sim", str(path), "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.startswith(f"ringlab: error: {named}: ")
    assert not (tmp_path / "run").exists()


BAD_FILES = {
    "not UTF-8": b'name = "\xff\xfe"\npackets = 10\n',
    "binary": bytes(range(256)) * 4,
    "nested": ("a = " + "[" * 1000 + "]" * 1000 + "\n").encode(),
    "too large": b"# " + b"x" * (1 << 20) + b"\npackets = 10\n",
    "not TOML": b"packets = = 3\n",
    "empty": b"",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_scenario_file_is_refused_in_one_line(tmp_path, capsys, earlier_run, kind):
    out, before = earlier_run
    path = tmp_path / "scenario.toml"
    path.write_bytes(BAD_FILES[kind])
    assert_one_line_refusal(cli(["sim", str(path), "--out", str(out)]), capsys.readouterr().err)
    assert snapshot(out) == before


@pytest.mark.parametrize("path", ["/dev/zero", "/proc/self/status", "."])
def test_a_special_path_as_scenario_is_refused(capsys, path):
    assert_one_line_refusal(cli(["sim", path, "--out", "/nonexistent-ringlab-out"]), capsys.readouterr().err)


@pytest.mark.parametrize("out", ["", "/dev/null", "/proc/ringlab", "FILE", "SCENARIO_DIR", "FOREIGN"])
def test_bad_outputs_are_refused_and_nothing_is_touched(tmp_path, capsys, monkeypatch, out):
    scenario_dir = tmp_path / "mine"
    scenario_dir.mkdir()
    scenario = scenario_dir / "scenario.toml"
    scenario.write_text(tomli_w.dumps(GOOD))
    (tmp_path / "file").write_text("keep me")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    target = {"FILE": tmp_path / "file", "SCENARIO_DIR": scenario_dir, "FOREIGN": foreign}.get(out, out)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    monkeypatch.chdir(tmp_path)
    assert_one_line_refusal(cli(["sim", str(scenario), "--out", str(target)]), capsys.readouterr().err)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


BAD_SWEEPS = [
    {"repeats": 10**9},
    {"vary": {"seed": [1, 2]}},
    {"vary": {"interval": []}},
    {"vary": {"interval": ["1us", "-1us"]}},
    {"vary": {"interval": [f"{i}ns" for i in range(1, 1001)], "ring_slots": list(range(1, 1001)), "packets": [10, 20]}},
    {"mode": "cross"},
    {"base": "missing.toml"},
    {"set": {"seed": 3}},
    {"backends": ["gpu"]},
]


@pytest.mark.parametrize("change", BAD_SWEEPS, ids=lambda c: next(iter(c)))
def test_a_bad_sweep_file_is_refused_in_one_line(tmp_path, capsys, change):
    sweep = {"name": "bad", "base": str(EXAMPLE), "vary": {"interval": ["1us", "2us"]}, **change}
    path = tmp_path / "sweep.toml"
    path.write_text(tomli_w.dumps({"sweep": sweep}))
    assert_one_line_refusal(cli(["sweep", str(path), "--out", str(tmp_path / "out")]), capsys.readouterr().err)


def test_an_unreachable_scheduler_is_one_line_and_leaves_nothing(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(tomli_w.dumps({"sweep": {"base": str(EXAMPLE), "set": {"packets": 100}, "vary": {"ring_slots": [4]}}}))
    for scheduler in ("nonsense", "tcp://127.0.0.1:9"):
        assert_one_line_refusal(cli(["sweep", str(path), "--out", str(tmp_path / "out"), "--scheduler", scheduler,
                                      "--quiet"]), capsys.readouterr().err)
        assert not (tmp_path / "out").exists()


def damage(run: Path, kind: str, data) -> None:
    trace = run / TRACE_FILE
    if kind == "truncated trace":
        trace.write_bytes(trace.read_bytes()[:data.draw(st.integers(0, trace.stat().st_size - 1))])
    elif kind == "junk summary":
        (run / SUMMARY_FILE).write_bytes(data.draw(st.binary(max_size=200)))
    elif kind == "damaged scenario in the summary":
        summary = json.loads((run / SUMMARY_FILE).read_text())
        field = data.draw(st.sampled_from(["interval", "ring_slots", "packets", "drain", "jitter"]))
        summary["scenario"][field] = data.draw(st.one_of(st.text(max_size=8), st.floats(), st.integers(-10**20, -1),
                                                         st.just("1e999us"), st.lists(st.integers(), max_size=2)))
        (run / SUMMARY_FILE).write_text(json.dumps(summary))
    elif kind == "summary of another shape":
        (run / SUMMARY_FILE).write_text(json.dumps(data.draw(st.one_of(
            st.lists(st.integers()), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3)))))
    else:
        with np.load(trace) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
        if kind == "missing array":
            del arrays[data.draw(st.sampled_from(sorted(set(arrays) - {"format_version"})))]
        elif kind == "no slots":
            arrays["ring_slots"] = np.int64(0)
        elif kind == "short column":
            name = data.draw(st.sampled_from(["slot", "fate", "delivery_ns", "arrival_ns"]))
            arrays[name] = arrays[name][:-1]
        elif kind == "fates out of range":
            arrays["fate"] = arrays["fate"] + 9
        elif kind == "another run's trace":
            arrays["delivery_ns"] = arrays["delivery_ns"] + 1
        np.savez(trace, **arrays)


DAMAGES = ["truncated trace", "junk summary", "summary of another shape", "missing array", "no slots",
           "short column", "fates out of range", "another run's trace", "damaged scenario in the summary"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_run_is_refused_in_one_line_by_every_reader(tmp_path_factory, capsys, earlier_run, data):
    kind = data.draw(st.sampled_from(DAMAGES))
    run = tmp_path_factory.mktemp("damaged") / "run"
    run.mkdir()
    for source in earlier_run[0].iterdir():
        (run / source.name).write_bytes(source.read_bytes())
    damage(run, kind, data)
    for command in (["dump", str(run)], ["plot", str(run)], ["replay", str(run), "--out", str(run.parent / "r")]):
        capsys.readouterr()
        status = cli(command)
        err = capsys.readouterr().err
        assert_one_line_refusal(status, err)
        assert TRACE_FILE in err or SUMMARY_FILE in err, err  # refused for the damage, naming the file


def test_the_summary_records_its_traces_digest_and_a_mixed_directory_is_refused(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["sim", str(EXAMPLE), "--out", str(a), "--set", "packets=1000"]) == 0
    assert main(["sim", str(EXAMPLE), "--out", str(b), "--set", "packets=1200"]) == 0
    assert json.loads((a / SUMMARY_FILE).read_text())["trace_digest"].startswith("sha256:")
    (a / TRACE_FILE).write_bytes((b / TRACE_FILE).read_bytes())  # a valid trace, of another run
    capsys.readouterr()
    assert_one_line_refusal(cli(["dump", str(a)]), capsys.readouterr().err)


def test_a_new_run_replaces_an_earlier_one_whole(tmp_path):
    out = tmp_path / "run"
    assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=1000"]) == 0
    assert main(["plot", str(out)]) == 0
    assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=1500", "--summary-only"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(set(RUN_ENTRIES) - {TRACE_FILE, "sent.npy", "replay.json"})
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing left beside it


def test_a_run_killed_while_it_writes_leaves_the_earlier_run_or_the_new_one(tmp_path):
    """Killed at several moments while it simulates and writes a 4 * 10^6-packet trace, a run
    into a directory holding an earlier run leaves that run, or the whole new one: never a mix; the
    next run into the directory removes what the killed one left beside it."""
    out = tmp_path / "run"
    assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=1000"]) == 0
    command = [sys.executable, "-m", "ringlab", "sim", str(EXAMPLE), "--out", str(out), "--set", "packets=4000000"]
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    whole_s = time.perf_counter() - began
    outcomes = set()
    for fraction in (0.15, 0.35, 0.55, 0.7, 0.8, 0.9, 0.97):
        assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=1000"]) == 0  # the earlier run
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(fraction * whole_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        trace, summary = load_run(out)  # whole: the summary and the trace belong together
        assert trace.packets == summary.summary.packets in (1000, 4_000_000)
        outcomes.add(trace.packets)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run"]
        assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=1000"]) == 0
        assert [p.name for p in tmp_path.iterdir()] == ["run"], leftovers
    assert 1000 in outcomes, outcomes  # at least one kill came before the new run was in place


def test_a_file_written_again_removes_what_a_killed_writer_left_beside_it(tmp_path):
    from ringlab.atomic_files import write_text

    (tmp_path / ".table.csv.abcd1234.tmp").write_text("half a table")
    write_text(tmp_path / "table.csv", "whole\n")
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    assert cli(["sweep", str(Path(EXAMPLE).parent / "sweeps" / "interval.toml"), "--out", str(out), "--quiet",
                "--workers", "1"]) == 0
    return out


CELLS = st.one_of(st.text(max_size=12), st.integers(-10**20, 10**20).map(str), st.floats().map(str),
                  st.sampled_from(["", "0", "-1", "nan", "inf", "1e999", "sim", "hw", "replay"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_sweep_table_is_refused_in_one_line_by_compare(tmp_path_factory, capsys, finished_sweep, data):
    """Generated damage to table.csv: a cell replaced, a line cut, a column dropped, junk bytes."""
    copy = tmp_path_factory.mktemp("table") / "sweep"
    subprocess.run(["cp", "-r", str(finished_sweep), str(copy)], check=True)
    lines = (copy / "table.csv").read_text().splitlines()
    kind = data.draw(st.sampled_from(["cell", "cut", "column", "junk"]))
    if kind == "cell":
        row = data.draw(st.integers(1, len(lines) - 1))
        cells = lines[row].split(",")
        cells[data.draw(st.integers(0, len(cells) - 1))] = data.draw(CELLS).replace(",", ";").replace("\n", " ")
        lines[row] = ",".join(cells)
    elif kind == "cut":
        row = data.draw(st.integers(1, len(lines) - 1))
        lines[row] = lines[row][:data.draw(st.integers(0, len(lines[row]) - 1))]
    elif kind == "column":
        column = data.draw(st.integers(0, len(lines[0].split(",")) - 1))
        lines = [",".join(c for i, c in enumerate(line.split(",")) if i != column) for line in lines]
    text = "\n".join(lines) + "\n"
    (copy / "table.csv").write_bytes(data.draw(st.binary(max_size=300)) if kind == "junk" else text.encode())
    report = copy.parent / "report"
    capsys.readouterr()
    status = cli(["compare", str(copy), "--out", str(report), "--no-fit"])
    err = capsys.readouterr().err
    if status == 0:  # a change the table's checks accept (a figure the report recomputes)
        assert (report / "report.md").is_file()
    else:
        assert_one_line_refusal(status, err)
        assert not report.exists()


SWEEP_FIELDS = {"name": st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.text(max_size=5)),
                "repeats": st.one_of(st.integers(-5, 10**6), st.text(max_size=3), st.booleans()),
                "seed": st.one_of(st.integers(-5, 10**30), st.floats()),
                "backends": st.one_of(st.lists(st.sampled_from(["sim", "gpu", ""]), max_size=3), st.text(max_size=3)),
                "mode": st.one_of(st.sampled_from(["grid", "zip", "cube"]), st.integers()),
                "keep_traces": st.one_of(st.booleans(), st.text(max_size=3), st.integers()),
                "vary": st.one_of(st.dictionaries(st.sampled_from(["interval", "seed", "ring_slots", "bogus"]),
                                                  st.lists(st.sampled_from(["1us", "2us", 4, -1, "x"]), max_size=3),
                                                  max_size=2), st.integers()),
                "set": st.one_of(st.dictionaries(st.sampled_from(["packets", "seed", "writer.policy"]),
                                                 st.sampled_from([100, -1, "fixed", "nope"]), max_size=2), st.text())}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_generated_sweep_file_runs_or_is_refused_in_one_line(tmp_path_factory, capsys, data):
    sweep = {"base": str(Path(EXAMPLE).resolve()), "vary": {"interval": ["1us", "2us"]}, "set": {"packets": 200}}
    for field in data.draw(st.lists(st.sampled_from(sorted(SWEEP_FIELDS)), min_size=1, max_size=3, unique=True)):
        sweep[field] = data.draw(SWEEP_FIELDS[field])
    directory = tmp_path_factory.mktemp("sweepfile")
    (directory / "sweep.toml").write_text(tomli_w.dumps({"sweep": sweep}))
    capsys.readouterr()
    status = cli(["sweep", str(directory / "sweep.toml"), "--out", str(directory / "out"), "--quiet", "--workers", "1"])
    err = capsys.readouterr().err
    if status != 0:
        assert_one_line_refusal(status, err)
