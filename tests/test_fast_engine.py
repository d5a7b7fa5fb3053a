"""The fast engine equals the SimPy model packet for packet, and its summary-only mode equals the
analysis of the full trace."""

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ringlab.analysis.summary import format_warnings, poller_warnings, summarize
from ringlab.cli import main
from ringlab.scenario.fields import WRITER_POLICIES, load_scenario
from ringlab.sim.fast_engine import can_go_direct, run_fast
from ringlab.sim.model import simulate
from tests.helpers import BUGGY_EXAMPLE as EXAMPLE
from tests.helpers import any_scenario, assert_same_trace, scenario, scripted


@settings(max_examples=150)
@given(any_scenario())
def test_fast_engine_gives_the_simpy_trace_for_generated_scenarios(sc):
    """Both of the engine's paths: the direct one (one writer CPU, taken whenever it can be) and the
    general event loop."""
    reference = simulate(sc)
    assert_same_trace(reference, run_fast(sc).trace)
    assert_same_trace(reference, run_fast(sc, direct=False).trace)


@given(any_scenario(), st.booleans())
def test_the_direct_path_gives_the_event_loops_trace_and_summary(sc, jitter_free):
    """On one writer CPU (buggy or fixed, the poller's cost above zero) the engine runs packet by
    packet; every column and every figure of the summary equal the event loop's."""
    sc = scenario(sc.packets, sc.writer.policy if sc.writer.policy != "locked" else "fixed", sc.source["stalls"],
                  seed=sc.seed, ring_slots=sc.ring_slots, interval=sc.interval_ns,
                  jitter=0 if jitter_free else sc.jitter_ns, drain=sc.drain_ns, writer_cpus=1,
                  writer_cost=sc.writer.cost_ns, writer_lock_hold=sc.writer.lock_hold_ns,
                  poller_cost=max(1, sc.poller.cost_ns), poller_wakeup=sc.poller.wakeup_ns)
    assert can_go_direct(sc)
    direct, events = run_fast(sc), run_fast(sc, direct=False)
    assert_same_trace(events.trace, direct.trace)
    assert direct.summary == events.summary


@given(any_scenario(), st.integers(1, 500), st.sampled_from([None, False]))
def test_a_streamed_run_in_any_chunks_equals_the_analysis_of_the_full_trace(tmp_path_factory, sc, chunk, direct):
    """Streamed a chunk of packets at a time (here from 1 to 500), the summary-only run gives the
    summary of the whole trace, and its streamed warnings are the ones the trace's reads give; on
    both paths of the engine (direct=None takes the direct one where it can)."""
    full = run_fast(sc)
    lean = run_fast(sc, keep_trace=False, warnings_dir=tmp_path_factory.mktemp("w"), chunk=chunk, direct=direct)
    assert lean.trace is None
    assert lean.summary == summarize(full.trace) == full.summary
    expected = format_warnings(poller_warnings(full.trace.delivered_ids()))
    assert lean.warnings.file.read_text() == expected and lean.warnings.count == expected.count("\n")
    kept = run_fast(sc, keep_trace=False, chunk=chunk).warnings  # no file: the first and last ones
    rows = poller_warnings(full.trace.delivered_ids())
    assert np.array_equal(kept.first, rows[:len(kept.first)]) and np.array_equal(kept.last, rows[len(rows) - len(kept.last):])
    assert len(kept.first) + len(kept.last) == min(len(rows), 2 * 1000)


def test_a_writer_behind_its_arrivals_keeps_its_packets_across_chunks():
    """Two writer CPUs each slower than the packets come: at a chunk's end each still has packets
    of it to take, which the next chunk must carry (they were once lost)."""
    sc = scenario(3000, "locked", scripted((20_000, 5000)), ring_slots=8, interval=100, writer_cpus=2,
                  writer_cost=350, poller_cost=50, drain=0)
    full = run_fast(sc)
    assert full.trace.fate_counts()["pending"] > 1000  # the writers fell far behind
    for chunk in (1, 7, 100):
        assert run_fast(sc, keep_trace=False, chunk=chunk).summary == full.summary


def test_examples_agree_between_engines():
    for name in ("buggy-one-stall", "fixed-one-stall", "renewal-stalls", "two-cpu-race"):
        sc = load_scenario(EXAMPLE.parent / f"{name}.toml", ["packets=30000"])
        assert_same_trace(simulate(sc), run_fast(sc).trace)


def test_sim_command_uses_the_fast_engine_and_can_keep_only_the_summary(tmp_path, capsys):
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "fast"), "--set", "packets=8000"]) == 0
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "ref"), "--set", "packets=8000", "--engine", "simpy"]) == 0
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "lean"), "--set", "packets=8000", "--summary-only",
                 "--warnings", "all"]) == 0
    fast, ref, lean = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("fast", "ref", "lean"))
    assert (fast["engine"], ref["engine"]) == ("fast", "simpy")
    assert fast["summary"] == ref["summary"] == lean["summary"]
    assert not (tmp_path / "lean" / "trace.npz").exists() and lean["trace_file"] is None
    assert (tmp_path / "lean" / "warnings.log").read_text() == (tmp_path / "ref" / "warnings.log").read_text()
    capsys.readouterr()
    assert main(["dump", str(tmp_path / "lean")]) == 2
    assert "--summary-only" in capsys.readouterr().err


def test_a_summary_only_run_keeps_the_first_and_last_thousand_warnings_by_default(tmp_path):
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "lean"), "--set", "packets=20000", "--summary-only"]) == 0
    assert main(["sim", str(EXAMPLE), "--out", str(tmp_path / "ref"), "--set", "packets=20000"]) == 0
    every = (tmp_path / "ref" / "warnings.log").read_text().splitlines()
    kept = (tmp_path / "lean" / "warnings.log").read_text().splitlines()
    assert len(every) > 2000
    assert kept[:1000] == every[:1000] and kept[-1000:] == every[-1000:]
    assert kept[1000] == f"# {len(every) - 2000} warnings not kept here (ringlab sim --summary-only --warnings all keeps them all)"


@settings(max_examples=150)
@given(st.data())
def test_engines_agree_when_events_coincide(data):
    """Round times make many events fall on the same nanosecond: the tie order must match too."""
    def pick(values):
        return data.draw(st.sampled_from(values))

    sc = scenario(
        data.draw(st.integers(1, 300)), pick(list(WRITER_POLICIES)),
        pick([None, scripted((2000, 3000)), {"model": "periodic", "period": "4us", "length": "2us"}]),
        ring_slots=pick([1, 2, 4, 16]), interval=pick([50, 100, 200]), writer_cpus=pick([1, 2, 3]),
        writer_cost=pick([0, 50, 100, 150]), writer_lock_hold=pick([0, 50, 100]),
        poller_cost=pick([0, 50, 100]), poller_wakeup=pick([0, 50]), drain=pick([0, 1000, 10_000]),
    )
    assert_same_trace(simulate(sc), run_fast(sc).trace)
