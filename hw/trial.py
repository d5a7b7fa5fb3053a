"""One hardware trial: the sender, the attached XDP writer and the stalling poller for a scenario,
recorded in the same trace format as the simulator, with the XDP counters and a conservation check."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.errors import HardwareError
from ringlab.hw import loader, testbed
from ringlab.hw.cleanup import cleanup_stale
from ringlab.hw.poller import PollRecord, poll_ring
from ringlab.hw.sender import SENDER_CPU, SenderProcesses, SenderSettings, sender_cpus
from ringlab.hw.wire import LOG_DROPPED_FULL, LOG_WRITTEN
from ringlab.plan import RunPlan, draw_plan
from ringlab.scenario import Scenario
from ringlab.trace import DELIVERED, DROPPED_FULL, IN_RING, LOST_BEFORE_RING, NOT_SET, Trace, empty_columns

POLLER_CPU = 0
START_DELAY_NS = 20_000_000
LATE_SEND_NS = 10_000  # a frame leaving more than this after its planned time counts as late


@dataclass(frozen=True)
class TrialResult:
    """The trial's trace, and what only hardware knows: counters, send times, conservation."""

    trace: Trace
    counters: dict
    sent: int
    late_sends: int
    conservation: dict
    sent_ns: np.ndarray  # when each frame left the sender, ns from the start of the run
    claim_order: np.ndarray  # per packet, the order in which writers took their index (-1: not seen)

    @property
    def mean_gap_ns(self) -> float:
        """The sender's real mean spacing (the plan's interval, or longer)."""
        return float(np.diff(self.sent_ns).mean()) if len(self.sent_ns) > 1 else float("nan")


@contextlib.contextmanager
def pinned_to(cpus: set[int] | None):
    """This process runs on ``cpus`` inside the block (unchanged if None), as before after it."""
    previous = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


@contextlib.contextmanager
def signals_as_exceptions():
    """SIGTERM (and SIGHUP) raise SystemExit inside the block, so every ``finally`` runs."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def poll(scenario: Scenario, writer: loader.AttachedWriter, plan: RunPlan, start_ns: int,
         stop_box: np.ndarray) -> PollRecord:
    """Poll the ring from now until ``stop_box[0]``, with the scenario's hot loop."""
    if scenario.hw.loops == "native":
        from ringlab.hw.native_loops import poll_ring_native

        return poll_ring_native(writer.ring, scenario.ring_slots, scenario.hw.payload_layout, plan.stalls, start_ns,
                                stop_box, capacity=plan.packets + scenario.ring_slots)
    return poll_ring(writer.ring, scenario.ring_slots, scenario.hw.payload_layout, plan.stalls, start_ns, stop_box)


def end_when_senders_done(senders: SenderProcesses, stop_box: np.ndarray, drain_ns: int, at_least_ns: int,
                          timeout_s: float) -> None:
    """Wait for the senders; then end the poll ``drain_ns`` after the last frame (not before
    ``at_least_ns``), or at once if one failed or took longer than ``timeout_s``. Runs beside the
    poller, in a thread: the poll goes on as long as a sender sends, however late it runs."""
    if senders.wait(timeout_s):
        stop_box[0] = max(at_least_ns, senders.last_send_ns() + drain_ns)
    else:
        stop_box[0] = 0


def build_trace(scenario: Scenario, plan: RunPlan, log: np.ndarray, record: PollRecord, sent_ns: np.ndarray,
                start_ns: int, end_ns: int) -> Trace:
    """Turn the XDP program's per-packet log and the poller's reads into a :class:`Trace`."""
    packets = plan.packets
    entries = log[1:packets + 1]
    columns = empty_columns(packets)
    seen = entries["fate"] != 0
    columns["fate"][:] = LOST_BEFORE_RING
    columns["fate"][seen & (entries["fate"] == LOG_WRITTEN)] = IN_RING
    columns["fate"][seen & (entries["fate"] == LOG_DROPPED_FULL)] = DROPPED_FULL
    columns["slot"][seen] = entries["slot"][seen]
    columns["writer_index_after"][seen] = entries["index_after"][seen]
    columns["decided_ns"][seen] = entries["decided_ns"][seen].astype(np.int64) - start_ns
    ours = (record.ids >= 1) & (record.ids <= packets)
    read_index = record.ids[ours] - 1
    columns["fate"][read_index] = DELIVERED
    columns["delivery_ns"][read_index] = record.read_ns[ours] - start_ns
    columns["delivery_order"][read_index] = np.arange(len(read_index))
    arrival_ns = np.where(seen, entries["seen_ns"].astype(np.int64) - start_ns, sent_ns - start_ns)
    cpu = np.where(seen, entries["cpu"], NOT_SET).astype(np.int16)
    return Trace(id=np.arange(1, packets + 1, dtype=np.int64), arrival_ns=arrival_ns, cpu=cpu,
                 stall_start_ns=plan.stalls.start_ns, stall_length_ns=plan.stalls.length_ns,
                 ring_slots=scenario.ring_slots, end_ns=end_ns, **columns)


def run_trial(scenario: Scenario, iface: str | None = None, force: bool = False) -> TrialResult:
    """Run ``scenario`` on the local testbed (``iface`` None) or on ``iface`` (frames from elsewhere).

    Cleans up what a killed run left first; detaches and removes everything it made on every exit.
    """
    for line in cleanup_stale():
        print(f"cleanup: {line}", file=sys.stderr)
    plan = draw_plan(scenario)
    settings = loader.WriterSettings(scenario.ring_slots, scenario.writer.policy, scenario.hw.payload_layout,
                                     loader.log_slots_for(scenario.packets))
    netns = peer = dst_mac = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(signals_as_exceptions())
        if iface is None:
            links = stack.enter_context(testbed.Testbed(scenario.hw.queues))
            iface, netns, peer, dst_mac = links.host_iface, links.netns, links.peer_iface, links.host_mac
        writer = stack.enter_context(loader.AttachedWriter(iface, settings, scenario.hw.mode, force))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ringlab-trial-")))
        if netns is None:
            return _remote_trial(scenario, plan, writer)
        sender_settings = SenderSettings(scenario.hw.payload_layout, scenario.hw.loops, scenario.hw.pacing,
                                         scenario.interval_ns)
        senders = stack.enter_context(SenderProcesses(peer, dst_mac, sender_settings, plan.arrival_ns,
                                                      scenario.writer.cpus, workdir, netns))
        # With one sender on its own core, the poller takes the other; otherwise it shares.
        alone = sender_cpus(scenario.writer.cpus) == [SENDER_CPU]
        stack.enter_context(pinned_to({POLLER_CPU} if alone else None))
        start_ns = time.monotonic_ns() + START_DELAY_NS
        senders.start(start_ns)
        # The poll ends after the last frame (busy pacing: not before the plan ends), whenever that is.
        planned_end = start_ns + plan.end_ns if scenario.hw.pacing == "busy" else 0
        stop_box = np.array([np.iinfo(np.int64).max], np.int64)  # the watcher sets it
        sender_timeout_s = 60 + 100 * plan.end_ns / 1e9  # sleep pacing runs far longer than planned
        watcher = threading.Thread(target=end_when_senders_done, daemon=True,
                                   args=(senders, stop_box, scenario.drain_ns, planned_end, sender_timeout_s))
        watcher.start()
        record = poll(scenario, writer, plan, start_ns, stop_box)
        watcher.join()
        end_ns = int(stop_box[0]) - start_ns
        sent_ns = senders.send_times()
        counters = writer.counters()
        log = writer.log.copy()
    trace = build_trace(scenario, plan, log, record, sent_ns, start_ns, end_ns)
    return _result(trace, counters, sent_ns - start_ns, plan, log)


def _remote_trial(scenario: Scenario, plan: RunPlan, writer: loader.AttachedWriter, wait_s: float = 60.0) -> TrialResult:
    """On a real NIC the sender ('ringlab hw send') runs on the far host: the run's clock starts
    when the XDP program sees packet 1, and the poller starts from there."""
    deadline = time.monotonic() + wait_s
    while writer.log["seen_ns"][1] == 0:
        if time.monotonic() > deadline:
            raise HardwareError(f"no pingpong frame arrived within {wait_s:g} s")
    start_ns = int(writer.log["seen_ns"][1]) - int(plan.arrival_ns[0])
    record = poll(scenario, writer, plan, start_ns, np.array([start_ns + plan.end_ns], np.int64))
    log = writer.log.copy()
    trace = build_trace(scenario, plan, log, record, plan.arrival_ns + start_ns, start_ns, plan.end_ns)
    return _result(trace, writer.counters(), plan.arrival_ns, plan, log)


def _result(trace: Trace, counters: dict, sent_offsets_ns: np.ndarray, plan: RunPlan, log: np.ndarray) -> TrialResult:
    counts = trace.fate_counts()
    written = counts["delivered"] + counts["in_ring"]
    conservation = {
        "sent": plan.packets,
        "written": written,
        "dropped_full": counts["dropped_full"],
        "lost_before_ring": counts["lost_before_ring"],
        "holds": plan.packets == written + counts["dropped_full"] + counts["lost_before_ring"]
                 and counters["written"] == written and counters["dropped_full"] == counts["dropped_full"],
    }
    late = int(np.sum(sent_offsets_ns - plan.arrival_ns > LATE_SEND_NS))  # with sleep pacing: nearly all
    entries = log[1:plan.packets + 1]
    claim_order = np.where(entries["fate"] != 0, entries["claim"].astype(np.int64), NOT_SET)
    return TrialResult(trace, counters, plan.packets, late, conservation, np.asarray(sent_offsets_ns, np.int64),
                       claim_order)
