"""The shared analysis (warnings, dump) and the command line's files."""

import json

import matplotlib.image
import numpy as np

from ringlab.analysis.summary import format_warnings, max_displacement, poller_warnings
from ringlab.cli import main
from ringlab.trace.records import Trace
from ringlab.views.dump import format_frame
from tests.helpers import BUGGY_EXAMPLE as EXAMPLE


def test_warnings_follow_the_pollers_semantics_and_format():
    rows = poller_warnings(np.array([1, 2, 5, 3, 4, 6, 7]))
    assert format_warnings(rows) == (
        "WARN: missed 2 packets between 2 and 5\n"
        "WARN: missed -3 packets between 5 and 3\n"
        "WARN: missed -2 packets between 5 and 4\n"
    )


def test_first_packet_other_than_id_1_warns():
    assert poller_warnings(np.array([3, 4])).tolist() == [[2, 0, 3]]


def test_max_displacement_is_distance_from_sorted_position():
    assert max_displacement(np.array([1, 2, 3])) == 0
    assert max_displacement(np.array([4, 1, 2, 3])) == 3


def test_dump_frame_marks_the_pollers_slot():
    frame = format_frame([None, 1234, None], 1)
    assert frame.splitlines() == ["  EMPTY   (0001234)   EMPTY  ", "          ^^^^^^^^^"]


def test_sim_writes_trace_summary_and_warnings_that_agree(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=8000"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    trace = Trace.load(out / "trace.npz")
    assert summary["backend"] == "sim" and summary["seed"] == 1
    assert summary["summary"]["dropped_full"] == 22
    assert summary["summary"]["lasting_offset_slots"] == 6
    lines = (out / "warnings.log").read_text().splitlines()
    assert len(lines) == summary["summary"]["warnings"] > 0
    assert lines[0] == "WARN: missed 32 packets between 5015 and 5048"
    assert trace.packets == 8000
    assert "buggy-one-stall [sim]" in capsys.readouterr().out


def test_dump_prints_the_map_over_time(tmp_path, capsys):
    out = tmp_path / "run"
    main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=6000"])
    capsys.readouterr()
    assert main(["dump", str(out), "--from", "5037.3us", "--to", "5037.45us"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Full ring at the stall's end, the poller on slot 7 holding packet 5000; then 5000 is read.
    assert lines[0].startswith("t=5.0373ms")
    assert lines[1].split() == [f"({i:07d})" for i in list(range(5009, 5016)) + list(range(5000, 5009))]
    assert lines[2] == " " * 70 + "^^^^^^^^^"
    assert "  EMPTY  " in lines[4] and lines[5] == " " * 80 + "^^^^^^^^^"


def test_plot_writes_png_and_svg_of_the_timeline(tmp_path, capsys):
    out = tmp_path / "run"
    main(["sim", str(EXAMPLE), "--out", str(out), "--set", "packets=6000"])
    assert main(["plot", str(out)]) == 0
    image = matplotlib.image.imread(out / "timeline.png")
    assert image.shape[0] > 400 and image.shape[1] > 800
    svg = (out / "timeline.svg").read_text()
    assert "poller index r" in svg and "time since start of run" in svg


def test_trace_round_trips_through_its_file(tmp_path):
    from ringlab.sim.model import simulate
    from tests.helpers import scenario, scripted

    trace = simulate(scenario(500, "buggy", scripted((100_000, 30_000))))
    trace.save(tmp_path / "t.npz")
    loaded = Trace.load(tmp_path / "t.npz")
    for name in ("id", "fate", "slot", "delivery_order", "stall_start_ns"):
        assert np.array_equal(getattr(trace, name), getattr(loaded, name))
    assert loaded.ring_slots == 16 and loaded.end_ns == trace.end_ns
    assert not list(tmp_path.glob(".*tmp"))


def test_fields_one_backend_does_not_use_are_accepted_with_a_note(tmp_path, capsys):
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "r"), "--set", "packets=3000",
                 "--set", "hw.mode=native"]) == 0
    assert "note: ignored by the simulator: hw.mode" in capsys.readouterr().err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["notes"] == ["ignored by the simulator: hw.mode"]


def test_a_dump_made_in_batches_equals_one_made_at_once(monkeypatch):
    """Frames are made a batch of events at a time; batches end between instants, so two writer
    CPUs deciding and the poller reading at one instant keep the engines' order across a batch's end."""
    import ringlab.views.dump as dump
    from ringlab.sim.fast_engine import run_fast
    from tests.helpers import scenario, scripted

    trace = run_fast(scenario(600, "buggy", scripted((5000, 3000)), interval=100, writer_cpus=2, writer_cost=100,
                              poller_cost=100, ring_slots=4)).trace
    whole = dump.render_dump(trace, 0, trace.end_ns)
    for batch in (1, 2, 7):
        monkeypatch.setattr(dump, "BATCH_EVENTS", batch)
        assert dump.render_dump(trace, 0, trace.end_ns) == whole
    assert whole.count("t=") > 1000


def test_a_wide_window_is_drawn_decimated_with_its_extremes():
    from ringlab.views.timeline_plot import BINS, MAX_DRAWN, decimated, merged_bars

    rng = np.random.default_rng(1)
    time_ns = np.sort(rng.integers(0, 10**9, 10 * MAX_DRAWN))
    values = rng.integers(0, 1000, len(time_ns))
    values[12345] = 5000  # a spike must survive
    drawn = decimated(time_ns, values, 0, 10**9)
    assert len(drawn) <= 2 * BINS and 12345 in drawn and np.all(np.diff(drawn) > 0)
    assert values[drawn].min() == values.min() and values[drawn].max() == 5000
    assert np.array_equal(decimated(time_ns[:100], values[:100], 0, 10**9), np.arange(100))  # few: all drawn
    starts = np.arange(0, 10 * MAX_DRAWN * 10, 10)
    merged_starts, merged_ends, heads = merged_bars(starts, starts + 9, 100.0)
    assert len(merged_starts) == 1 and merged_ends[0] == starts[-1] + 9 and heads[0] == 0
