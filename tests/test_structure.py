"""The structure a newcomer relies on: one import name, one runner, provenance on every result, and
ringlab's own errors as one line with a documented exit status."""

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ringlab
from ringlab import provenance
from ringlab.cli import main
from ringlab.trace.records import Trace
from tests.helpers import scenario, scripted

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "buggy-one-stall.toml"


def test_every_backend_and_engine_runs_through_one_function_with_one_result_type():
    sc = scenario(3000, "buggy", scripted((1_000_000, 37_300)))
    fast = ringlab.run(sc)
    reference = ringlab.run(sc, engine="simpy")
    lean = ringlab.run(sc, keep_trace=False)
    assert type(fast) is type(reference) is type(lean) is ringlab.RunResult
    assert (fast.engine, reference.engine, lean.trace) == ("fast", "simpy", None)
    assert fast.summary == reference.summary == lean.summary
    assert np.array_equal(fast.delivered_ids, reference.delivered_ids) and lean.delivered_ids is None
    assert lean.warnings.count == fast.summary.warnings


def test_bad_backend_or_engine_names_the_field():
    sc = scenario(10)
    with pytest.raises(ringlab.errors.InputError, match="^backend: "):
        ringlab.run(sc, "gpu")
    with pytest.raises(ringlab.errors.InputError, match="^engine: "):
        ringlab.run(sc, engine="numba")


def test_every_run_records_version_commit_and_code_digest(tmp_path):
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path), "--set", "packets=2000"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ringlab_version"] == importlib.metadata.version("ringlab") == ringlab.__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert summary["git_commit"].removesuffix("-dirty") == head
    assert summary["code_digest"] == provenance.code_digest("sim")


def test_the_code_digest_reads_every_source_file_of_the_backend_in_every_subfolder():
    """The real file set, no mock: every .py, .c and .h below hw/ and bpf/ (and the shared core)."""
    listed = {path.resolve() for _, path in provenance.source_files("hw")}
    on_disk = {path.resolve() for folder in ("hw", "bpf", "ringlab/scenario", "ringlab/trace", "ringlab/analysis")
               for path in (ROOT / folder).rglob("*") if path.suffix in (".py", ".c", ".h")
               and "__pycache__" not in path.parts}
    assert on_disk == listed
    assert any("/kernel/" in str(path) for path in listed) and any("/machine/" in str(path) for path in listed)


DIGEST = "from ringlab.provenance import code_digest; print(code_digest('hw'), code_digest('sim'))"


@pytest.mark.parametrize("changed", ["hw/kernel/tracer.py", "hw/trial/hot_loops.h", "hw/machine/testbed.py",
                                     "bpf/ring_writer.c"])
def test_changing_one_line_of_any_hw_file_changes_the_hw_digest(tmp_path, changed):
    """In a copy of the checkout, run from its root (its own ringlab and folders imported): one added
    line changes the hw digest and leaves the simulator's alone."""
    copy = tmp_path / "ringlab"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "results", "__pycache__", "*.egg-info"))

    def digests():
        out = subprocess.run([sys.executable, "-c", DIGEST], cwd=copy, capture_output=True, text=True, check=True)
        return out.stdout.split()

    hw_before, sim_before = digests()
    path = copy / changed
    path.write_text(path.read_text() + ("\n# one more line\n" if path.suffix == ".py" else "\n/* one more line */\n"))
    hw_after, sim_after = digests()
    assert hw_after != hw_before and sim_after == sim_before


def test_a_sweep_point_is_keyed_by_the_code_that_computes_it(tmp_path, monkeypatch):
    from ringlab.compare.sweeps import sweep_file
    from ringlab.compare.sweeps.sweep_file import SweepPoint

    point = SweepPoint("sim", (), 0, scenario(100))
    key = point.key
    monkeypatch.setattr(sweep_file, "code_digest", lambda backend: "another-version")
    assert point.key != key and point.key.startswith("sim-")


def test_a_trace_of_another_format_version_is_refused_in_one_line(tmp_path, capsys):
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path), "--set", "packets=2000"]) == 0
    with np.load(tmp_path / "trace.npz") as data:
        arrays = {name: data[name] for name in data.files}
    arrays["format_version"] = np.int64(1)
    np.savez(tmp_path / "trace.npz", **arrays)
    capsys.readouterr()
    assert main(["dump", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trace format version 1; this ringlab reads version" in err
    with pytest.raises(ringlab.errors.InputError):
        Trace.load(tmp_path / "trace.npz")


def test_a_failed_build_is_one_line_with_exit_status_4(tmp_path, monkeypatch, capsys):
    from ringlab import native

    monkeypatch.setattr(native, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(native, "_DECLARED", {})  # nothing loaded yet in this process
    monkeypatch.setenv("CC", "/bin/false")
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "run"), "--set", "packets=200"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("ringlab: build: compiling fast_engine.c failed") and err.count("\n") == 1


def test_an_unwritable_out_is_bad_input(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["sim", str(EXAMPLE), "--out", str(blocker / "run"), "--set", "packets=200"]) == 2
    assert capsys.readouterr().err.startswith("ringlab: error: --out: ")


def test_a_bug_shows_its_traceback_and_says_it_is_a_bug(monkeypatch, capsys):
    from ringlab import cli

    def broken(args):
        raise ZeroDivisionError("a bug")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_handler(parser(), broken))
    assert main(["dump", "anywhere"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1].startswith("ringlab: internal error: this is a bug in ringlab")


def _with_handler(parser, handler):
    parser.set_defaults(handler=handler)
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(handler=handler)
    return parser


def test_the_af_xdp_poller_leaves_its_rings_to_libxdp():
    """The socket, UMEM and rings come from libxdp's xsk API: no raw AF_XDP setup remains."""
    source = (ROOT / "hw" / "trial" / "xsk_loop.c").read_text()
    assert "#include <xdp/xsk.h>" in source
    assert "xsk_umem__create" in source and "xsk_socket__create" in source and "xsk_ring_cons__peek" in source
    raw = ("XDP_UMEM_REG", "XDP_UMEM_FILL_RING", "XDP_RX_RING", "XDP_MMAP_OFFSETS", "XDP_PGOFF", "socket(AF_XDP",
           "bind(")
    assert [word for word in raw if word in source] == []
