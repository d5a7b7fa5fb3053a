"""Real XDP with an AF_XDP socket as the delivery path (docs/delivery.md), on the veth testbed: the
XDP program redirects to an XSKMAP, the kernel fills the socket's RX ring, the C poller reads it.

The machine is shared and noisy: assertions are on what the test injects, with margins, and on
counts that must agree exactly whatever the noise (the kernel's counters and ringlab's account).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ringlab.analysis.attribution import attribute_drops
from ringlab.analysis.summary import summarize
from ringlab.scenario.fields import load_scenario
from ringlab.trace.pauses import INJECTED
from tests.helpers import start_signallable

pytestmark = [pytest.mark.hardware, pytest.mark.usefixtures("clean_hardware")]
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "af-xdp-one-stall.toml"


def xsk_trial(**values):
    from ringlab.hw.trial.run import run_trial

    sc = load_scenario(EXAMPLE).with_values(values)
    return sc, run_trial(sc)


def test_an_af_xdp_trial_conserves_its_packets_and_the_kernels_counters_equal_its_drops():
    sc, result = xsk_trial()
    trace, summary, delivery = result.trace, summarize(result.trace), result.delivery
    assert result.conservation["holds"], (result.conservation, delivery)
    assert summary.delivered + summary.dropped_full + summary.in_ring + summary.lost_before_ring == sc.packets
    assert delivery["bind_mode"] == "copy"  # a veth offers no zero-copy
    assert delivery["kernel_drops"] == summary.dropped_full > 0  # the socket's count is ringlab's, frame for frame
    assert delivery["kernel_counters"]["rx_invalid_descs"] == 0
    assert result.counters["seen"] == result.counters["written"]  # every frame handed on
    assert summary.out_of_order == 0  # the kernel's ring keeps order through the stall
    # what the poller read it read from the RX ring's descriptors in order
    delivered = np.flatnonzero(trace.fate == 0)
    delivered = delivered[np.argsort(trace.delivery_order[delivered])]
    assert np.array_equal(trace.slot[delivered], np.arange(len(delivered)) % sc.ring_slots)


def test_an_injected_stall_on_af_xdp_drops_what_the_simulator_says():
    """The drops the injected stall caused: what arrived while it lasted beyond the RX ring's 16
    descriptors (from the measured arrivals: the sender can pause too), in the trial and in the
    simulator replaying it."""
    from ringlab.compare.model.replay import replay

    sc, result = xsk_trial()
    trace = result.trace
    pauses = trace.pauses
    injected = np.flatnonzero(pauses.kind == INJECTED)
    assert len(injected) == 1
    start, end = int(pauses.start_ns[injected[0]]), int(pauses.end_ns[injected[0]])
    arrived = int(np.sum((trace.cpu >= 0) & (trace.arrival_ns >= start) & (trace.arrival_ns < end)))
    measured = int(np.sum(attribute_drops(trace).pause_index == injected[0]))
    replayed_trace = replay(trace, sc).trace
    replayed = int(np.sum(attribute_drops(replayed_trace).pause_index == injected[0]))
    # one frame either way: the one arriving as the poller resumes (the kernel takes it some 100 ns
    # after the XDP program saw it, the simulator at once)
    assert abs(measured - (arrived - sc.ring_slots)) <= 1, (measured, arrived)
    assert abs(replayed - measured) <= 1, (replayed, measured)


def test_a_replay_of_an_af_xdp_trial_agrees_with_it():
    from ringlab.compare.model.replay import agreement, replay

    sc, result = xsk_trial(packets=60_000, interval="5us",
                           stalls={"model": "periodic", "period": "50ms", "length": "600us", "phase": "20ms"})
    agreed = agreement(result.trace, replay(result.trace, sc).trace)
    assert agreed.fate_counts_measured["dropped_full"] > 0
    assert agreed.same_fate_share >= 0.99, agreed.to_dict()["first_differences"][:3]
    assert agreed.same_order_share == 1.0


def xdp_sockets() -> int:
    """The AF_XDP sockets in this network namespace, as the kernel counts them (/proc/net/protocols)."""
    for line in Path("/proc/net/protocols").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == "XDP":
            return int(fields[2])
    pytest.fail("the kernel lists no XDP protocol in /proc/net/protocols")


def xskmaps() -> list[dict]:
    import json

    result = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True, check=True)
    return [entry for entry in json.loads(result.stdout or "[]") if entry.get("type") == "xskmap"]


def test_a_killed_af_xdp_trial_leaves_nothing_behind_after_the_next_run(tmp_path):
    from ringlab.hw.machine import iplink, testbed

    sockets_before, maps_before = xdp_sockets(), len(xskmaps())
    command = [sys.executable, "-m", "ringlab.cli", "hw", "trial", str(EXAMPLE), "--testbed", "--out",
               str(tmp_path / "run"), "--set", "packets=400000"]
    process = start_signallable(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while xdp_sockets() <= sockets_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert xdp_sockets() > sockets_before, "the trial never opened its socket"
    assert len(xskmaps()) > maps_before
    process.kill()
    process.wait()
    assert testbed.exists() and "xdp" in iplink.link(testbed.HOST_IFACE)  # SIGKILL cannot clean up
    result = subprocess.run(
        [sys.executable, "-m", "ringlab.cli", "hw", "trial", str(EXAMPLE), "--testbed", "--out", str(tmp_path / "next"),
         "--set", "packets=2000", "--set", "stalls.stalls=[]"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cleanup: removed the testbed" in result.stderr
    assert not testbed.exists()
    deadline = time.monotonic() + 10  # the kernel frees a detached program's maps after a grace period
    while (len(xskmaps()) > maps_before or xdp_sockets() > sockets_before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert xdp_sockets() == sockets_before
    assert len(xskmaps()) == maps_before
