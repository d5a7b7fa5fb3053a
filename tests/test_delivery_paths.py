"""The other delivery paths in the simulator (sim/kernel_queue.py): an AF_XDP socket's RX ring and
a UDP socket's receive buffer. Each drops by its own rule, never reorders, and the fast engine
equals the SimPy model on it packet for packet."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ringlab.analysis.summary import summarize
from ringlab.errors import InputError
from ringlab.scenario.fields import scenario_from_dict
from ringlab.sim.fast_engine import run_fast
from ringlab.sim.model import simulate
from ringlab.trace.records import DELIVERED, DROPPED_FULL
from tests.helpers import assert_same_trace, scripted


def path_scenario(path, packets=2000, stalls=None, ring_slots=16, interval=1000, **table):
    data = {"packets": packets, "delivery": path, "ring_slots": ring_slots, "interval": interval}
    if table:
        data[path] = table
    if stalls is not None:
        data["stalls"] = stalls
    return scenario_from_dict(data)


@st.composite
def any_path_scenario(draw):
    path = draw(st.sampled_from(["af_xdp", "udp_socket"]))
    table = ({"frames": 2 ** draw(st.integers(0, 5))} if path == "af_xdp"
             else {"rcvbuf_bytes": draw(st.integers(1, 20_000)), "packet_bytes": draw(st.integers(200, 3000))})
    stalls = draw(st.sampled_from([
        None,
        {"model": "renewal", "run": {"dist": "expon", "scale": "30us"}, "length": {"dist": "expon", "scale": "15us"}},
        {"model": "periodic", "period": "40us", "length": "25us", "phase": "3us"},
        scripted((100_000, 40_000)),
    ]))
    data = {"packets": draw(st.integers(1, 400)), "delivery": path, path: table,
            "ring_slots": 2 ** draw(st.integers(0, 5)), "seed": draw(st.integers(0, 1000)),
            "interval": draw(st.integers(50, 2000)), "jitter": draw(st.integers(0, 500)),
            "drain": draw(st.integers(0, 100_000)), "writer": {"cost": draw(st.integers(0, 500))},
            "poller": {"cost": draw(st.integers(0, 500)), "wakeup": draw(st.integers(0, 200))}}
    if stalls is not None:
        data["stalls"] = stalls
    return scenario_from_dict(data)


@settings(max_examples=150)
@given(any_path_scenario())
def test_the_fast_engine_gives_the_simpy_trace_on_every_path(sc):
    reference = simulate(sc)
    assert_same_trace(reference, run_fast(sc).trace)


@given(any_path_scenario(), st.integers(1, 300))
def test_a_streamed_run_on_every_path_equals_the_analysis_of_its_trace(sc, chunk):
    assert run_fast(sc, keep_trace=False, chunk=chunk).summary == summarize(simulate(sc))


@given(any_path_scenario())
def test_a_kernel_queue_never_reorders_and_accounts_for_every_packet(sc):
    trace = simulate(sc)
    summary = summarize(trace)
    assert summary.out_of_order == 0
    assert summary.delivered + summary.dropped_full + summary.in_ring + summary.pending == sc.packets
    delivered = trace.id[trace.fate == DELIVERED]
    assert np.array_equal(trace.delivered_ids(), np.sort(delivered))
    blocked = trace.blocked_by[trace.fate == DROPPED_FULL]
    assert np.all(blocked >= 1)  # each drop names the oldest packet still unread


@pytest.mark.parametrize("path, table, holds", [
    ("af_xdp", {"frames": 4096}, 16),        # the RX ring's 16 descriptors
    ("af_xdp", {"frames": 4}, 4),            # four frames: the fill ring runs dry first
    ("udp_socket", {"rcvbuf_bytes": 3000, "packet_bytes": 1000}, 7),  # taken while 6000 bytes or less held
])
def test_one_long_stall_drops_what_arrives_beyond_what_the_path_holds(path, table, holds):
    """The poller stops for 1 ms while a packet arrives every microsecond: the path takes ``holds``
    of them, then refuses each one until the poller reads again."""
    sc = path_scenario(path, packets=3000, stalls=scripted((500_000, 1_000_000)), **table)
    assert sc.capacity_packets == holds
    trace = simulate(sc)
    dropped = trace.fate == DROPPED_FULL
    # until the poller's first read after the stall (its wake-up and cost: under one interval)
    in_stall = (trace.arrival_ns >= 500_000) & (trace.arrival_ns < 1_501_000)
    assert not np.any(dropped & ~in_stall)
    arrived_in_stall = int(in_stall.sum())
    assert abs(int(dropped.sum()) - (arrived_in_stall - holds)) <= 1  # the one being read as the stall began
    assert summarize(trace).out_of_order == 0


def test_the_same_stall_on_the_buggy_map_ring_reorders_and_on_a_kernel_queue_does_not():
    stalls = scripted((500_000, 1_000_000))
    ring = summarize(simulate(scenario_from_dict({"packets": 3000, "interval": 1000, "stalls": stalls})))
    xsk = summarize(simulate(path_scenario("af_xdp", packets=3000, stalls=stalls)))
    assert ring.out_of_order > 0 and xsk.out_of_order == 0


@pytest.mark.parametrize("data, field", [
    ({"delivery": "af_xdp", "writer": {"policy": "fixed"}}, "writer.policy"),
    ({"delivery": "udp_socket", "writer": {"lock_hold": "50ns"}}, "writer.lock_hold"),
    ({"delivery": "af_xdp", "writer": {"cpus": 2}}, "writer.cpus"),
    ({"delivery": "af_xdp", "ring_slots": 12}, "ring_slots"),
    ({"delivery": "af_xdp", "af_xdp": {"frames": 1000}}, "af_xdp.frames"),
    ({"delivery": "af_xdp", "af_xdp": {"umem": 1}}, "af_xdp.umem"),
    ({"delivery": "af_xdp", "udp_socket": {"rcvbuf": 1000}}, "udp_socket.rcvbuf"),
    ({"delivery": "udp_socket", "udp_socket": {"packet_bytes": 0}}, "udp_socket.packet_bytes"),
    ({"delivery": "ring"}, "delivery"),
])
def test_a_path_refuses_what_it_does_not_have_in_one_line_naming_the_field(data, field):
    with pytest.raises(InputError) as error:
        scenario_from_dict({"packets": 10, **data})
    assert error.value.field == field and "\n" not in str(error.value)


def test_a_map_ring_scenario_keeps_its_key_with_or_without_the_default_path():
    plain = scenario_from_dict({"packets": 10})
    assert scenario_from_dict({"packets": 10, "delivery": "map_ring"}).key() == plain.key()
    assert path_scenario("af_xdp", packets=10).key() != plain.key()
    assert path_scenario("af_xdp", packets=10).to_dict()["af_xdp"] == {"frames": 4096}


def test_a_udp_socket_frees_the_bytes_of_packets_read_only_in_batches():
    """After a stall the buffer is full; the poller reads a packet every 0.9 us while one arrives
    every 1 us. The kernel frees the bytes read only once they reach a quarter of the limit (here
    three packets' worth), so a packet arriving after the first read, before the third, is refused."""
    sc = scenario_from_dict({"packets": 3000, "interval": 1000, "delivery": "udp_socket",
                             "udp_socket": {"rcvbuf_bytes": 5000, "packet_bytes": 1000},
                             "poller": {"cost": "900ns", "wakeup": "0ns"}, "stalls": scripted((500_000, 100_000))})
    trace = simulate(sc)
    reads_after = np.sort(trace.delivery_ns[(trace.fate == DELIVERED) & (trace.delivery_ns >= 600_000)])
    first_read, third_read = int(reads_after[0]), int(reads_after[2])
    refused_late = (trace.fate == DROPPED_FULL) & (trace.arrival_ns > first_read) & (trace.arrival_ns < third_read)
    assert refused_late.any()
    assert np.array_equal(trace.fate, run_fast(sc).trace.fate)


def test_size_searches_only_rx_rings_the_kernel_takes_and_refuses_to_size_a_udp_socket_by_slots():
    from pathlib import Path

    from ringlab.compare.model.size import size_ring
    from ringlab.scenario.fields import load_scenario

    examples = Path(__file__).resolve().parent.parent / "examples"
    xsk = load_scenario(examples / "af-xdp-one-stall.toml").with_values({"stalls.stalls": [], "packets": 5000})
    answer = size_ring(xsk, str(examples / "pause-profile"), 0.001, repeats=10)
    assert answer.answer is not None
    assert all(value & (value - 1) == 0 for value in answer.tried)  # powers of two only
    udp = load_scenario(examples / "udp-socket-one-stall.toml")
    with pytest.raises(InputError) as error:
        size_ring(udp, str(examples / "pause-profile"), 0.001, repeats=10)
    assert error.value.field == "delivery"


def test_a_sweep_over_the_paths_is_compared_side_by_side(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sweep = subprocess.run([sys.executable, "-m", "ringlab.cli", "sweep", str(root / "examples" / "sweeps" /
                            "delivery-paths.toml"), "--out", str(tmp_path / "sweep"), "--quiet"],
                           capture_output=True, text=True, timeout=600)
    assert sweep.returncode == 0, sweep.stderr
    report = subprocess.run([sys.executable, "-m", "ringlab.cli", "compare", str(tmp_path / "sweep"), "--out",
                             str(tmp_path / "report")], capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr
    figures = json.loads((tmp_path / "report" / "report.json").read_text())
    assert figures["varied"] == ["delivery", "interval"]
    by_path = {}
    for point in figures["points"]:
        by_path.setdefault(point["setting"]["delivery"], []).append(point)
    assert set(by_path) == {"map_ring", "af_xdp", "udp_socket"} and all(len(p) == 3 for p in by_path.values())
    assert all(p["reorder_fraction"]["mean"] == 0 for p in by_path["af_xdp"] + by_path["udp_socket"]), \
        "a kernel's queue reads in order"
    assert any(p["reorder_fraction"]["mean"] > 0 for p in by_path["map_ring"])  # the buggy writer after its stalls
    assert (tmp_path / "report" / "loss-interval.png").exists() and (tmp_path / "report" / "loss-delivery.png").exists()
