"""One hardware trial: the sender, the attached XDP writer and the stalling poller for a scenario,
recorded in the same trace format as the simulator, with the XDP counters and a conservation check."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.errors import HardwareError
from ringlab.hw.kernel.tracer import CpuEventTracer
from ringlab.hw.machine import loader, testbed
from ringlab.hw.machine.environment import machine_environment, steal_ns
from ringlab.hw.machine.signals import signals_as_exceptions
from ringlab.hw.machine.wire import LOG_DROPPED_FULL, LOG_WRITTEN
from ringlab.hw.trial.cleanup import cleanup_stale
from ringlab.hw.trial.delivery import check_delivery, delivery_figures, delivery_socket, measured_packet_bytes
from ringlab.hw.trial.poller import PollerThread, PollRecord, StallPlan, name_this_thread, off_cpu, poll_ring
from ringlab.hw.trial.sender import LATE_SEND_NS, SenderProcesses, SenderSettings, sender_cpus
from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import RunPlan, draw_plan
from ringlab.scenario.stalls import StallSchedule
from ringlab.trace.pauses import INJECTED, INJECTED_SOURCE, NOT_TRACED, Pauses
from ringlab.trace.records import DELIVERED, DROPPED_FULL, IN_RING, LOST_BEFORE_RING, NOT_SET, Trace, empty_columns, pause_columns

POLLER_CPU = 0  # the scenario's default hw.poller_cpu
START_DELAY_NS = 20_000_000
FIRST_FRAMES = 64  # the run's clock starts from the earliest of these that arrives
FIRST_FRAME_POLL_S = 100e-6  # how often a remote trial looks for them (not spinning on the receiving CPU)
PAUSES_PER_SECOND = 100_000  # room in the C poller's pause table (it sees about 500 a second here)
NO_KERNEL_EVENT_PYTHON = "no kernel event (hypervisor, hardware, or the Python poller itself)"


TRIAL_DIR_PREFIX = "ringlab-trial-"  # and the pid: a killed trial's directory is found by it


@dataclass(frozen=True)
class TrialResult:
    """The trial's trace, and what only hardware knows: counters, send times, conservation, the
    machine, and how the poller's pauses were traced."""

    trace: Trace
    counters: dict
    sent: int  # frames in the plan
    late_sends: int | None  # None: the sender ran on another host
    conservation: dict
    sent_ns: np.ndarray | None  # when the sender handed each frame to the kernel, ns from the run's start
    claim_order: np.ndarray  # per packet, the order in which writers took their index (-1: not seen)
    environment: dict
    tracing: dict
    kernel_events: np.ndarray | None = None  # the tracer's log of the poller's CPU (EVENT_DTYPE), if traced
    start_ns: int | None = None  # the run's zero on CLOCK_MONOTONIC, which the kernel events are stamped in
    delivery: dict | None = None  # another path than the map ring: how it was set up, and the kernel's counters

    def send_to_xdp_ns(self) -> np.ndarray | None:
        """For each frame the XDP program saw: from its sender handing it to the kernel until the XDP
        program saw it (not the ring's doing, so reported apart from the latency); None when the
        sender ran on another host, whose clock is not this one's."""
        if self.sent_ns is None:
            return None
        seen = self.trace.cpu >= 0
        return self.trace.arrival_ns[seen] - self.sent_ns[seen]

    def arrival_spacing(self) -> dict:
        """What the receiver measured of the sender: the spacing of the frames' arrivals at the XDP
        program (in time order), the frames closer together than half the planned interval (bursts),
        and the frames it never saw."""
        from ringlab.analysis.latency import LatencyHistogram

        arrivals = np.sort(self.trace.arrival_ns[self.trace.cpu >= 0])
        gaps = np.diff(arrivals)
        return {"planned_interval_ns": self.trace.interval_ns, "frames_seen": int(len(arrivals)),
                "frames_never_seen": int(np.sum(self.trace.cpu < 0)), "gap": LatencyHistogram.of(gaps).figures(),
                "min_gap_ns": int(gaps.min()) if len(gaps) else None,
                "bursts": int(np.sum(gaps < self.trace.interval_ns / 2))}

    @property
    def mean_gap_ns(self) -> float | None:
        """The sender's real mean spacing (the plan's interval, or longer); None if not known here."""
        if self.sent_ns is None:
            return None
        return float(np.diff(self.sent_ns).mean()) if len(self.sent_ns) > 1 else float("nan")


def expected_seconds(scenario: Scenario, plan: RunPlan) -> float:
    """About how long the poll will last (sleep pacing runs far longer than planned)."""
    return plan.end_ns / 1e9 * (100 if scenario.hw.pacing == "sleep" else 1) + 1.0


def poller(scenario: Scenario, ring, stalls: StallPlan, stop_box: np.ndarray, seconds: float, path_socket=None):
    """The scenario's hot loop, ready to poll ``ring``, or another delivery path's socket (a function
    of no arguments)."""
    threshold = scenario.hw.pause_threshold_ns
    reads, pauses = scenario.packets + scenario.capacity_packets, max(1 << 16, int(PAUSES_PER_SECOND * seconds))
    if scenario.delivery.kind.socket is not None:
        return path_socket.poller(scenario, stalls, stop_box, threshold, reads, pauses)
    if scenario.hw.loops == "native":
        from ringlab.hw.trial.native_loops import poll_ring_native

        return functools.partial(poll_ring_native, ring, scenario.ring_slots, scenario.hw.payload_layout, stalls,
                                 stop_box, threshold, reads, pauses)
    return functools.partial(poll_ring, ring, scenario.ring_slots, scenario.hw.payload_layout, stalls, stop_box,
                             threshold)


def end_when_senders_done(senders: SenderProcesses, stop_box: np.ndarray, drain_ns: int, at_least_ns: int,
                          timeout_s: float) -> None:
    """Wait for the senders; then end the poll ``drain_ns`` after the last frame (not before
    ``at_least_ns``), or at once if one failed or took longer than ``timeout_s``. Runs beside the
    poller, in a thread: the poll goes on as long as a sender sends, however late it runs."""
    name_this_thread("rl-watcher")
    if senders.wait(timeout_s):
        stop_box[0] = max(at_least_ns, senders.last_send_ns() + drain_ns)
    else:
        stop_box[0] = 0


def observed_pauses(record: PollRecord, labels: list[str], start_ns: int, end_ns: int) -> Pauses:
    """The poller's pauses within the run, times from its start; injected ones labelled as such."""
    start = record.pause_start_ns - start_ns
    within = (start + record.pause_length_ns > 0) & (start < end_ns)
    names = np.where(record.pause_kind == INJECTED, INJECTED_SOURCE, np.asarray(labels, dtype=object))
    return Pauses.from_labels(start[within], record.pause_length_ns[within], record.pause_kind[within],
                              names[within].tolist())


def build_trace(scenario: Scenario, plan: RunPlan, log: np.ndarray, record: PollRecord, pauses: Pauses,
                sent_ns: np.ndarray, start_ns: int, end_ns: int, delivery: dict | None = None) -> Trace:
    """Turn the XDP program's per-packet log and the poller's reads and pauses into a :class:`Trace`.

    On another delivery path than the map ring the program only hands frames on: a frame handed on
    and never read was refused by the socket, except the newest ``unread_at_end`` of them, which the
    socket still held when the poll ended. Such a path's queue is first-in first-out, so a frame's
    place in it follows from the frames taken before it, as the simulator numbers them (the k-th
    taken holds position k modulo what the queue holds; a refused one names the next position); an
    AF_XDP read keeps the RX ring's own descriptor index, which the tests hold to that."""
    packets = plan.packets
    entries = log[1:packets + 1]
    columns = empty_columns(packets)
    seen = entries["fate"] != 0
    columns["fate"][:] = LOST_BEFORE_RING
    columns["fate"][seen & (entries["fate"] == LOG_WRITTEN)] = IN_RING
    dropped = seen & (entries["fate"] == LOG_DROPPED_FULL)
    if delivery is not None:
        read = np.zeros(packets, bool)
        ids = record.ids[(record.ids >= 1) & (record.ids <= packets)]
        read[ids - 1] = True
        handed_on = np.flatnonzero(seen & ~read)
        held = handed_on[np.argsort(entries["claim"][handed_on], kind="stable")][max(0, len(handed_on) - delivery["unread_at_end"]):]
        dropped = seen & ~read
        dropped[held] = False
        order = np.flatnonzero(seen)[np.argsort(entries["claim"][seen], kind="stable")]  # as handed on
        taken = ~dropped[order]
        taken_before = np.cumsum(taken) - taken
        columns["slot"][order] = taken_before % scenario.capacity_packets
        columns["writer_index_after"][order] = (taken_before + taken) % scenario.capacity_packets
    else:
        columns["slot"][seen] = entries["slot"][seen]
        columns["writer_index_after"][seen] = entries["index_after"][seen]
    columns["fate"][dropped] = DROPPED_FULL
    columns["decided_ns"][seen] = entries["decided_ns"][seen].astype(np.int64) - start_ns
    blocked_by = entries["blocked_by"].astype(np.int64)
    named = dropped & (blocked_by >= 1) & (blocked_by <= packets)  # 0: the poller cleared the slot meanwhile
    columns["blocked_by"][named] = blocked_by[named]
    ours = (record.ids >= 1) & (record.ids <= packets)
    read_index = record.ids[ours] - 1
    columns["fate"][read_index] = DELIVERED
    if scenario.delivery.kind.reads_carry_slots:
        columns["slot"][read_index] = record.slots[ours]
    columns["delivery_ns"][read_index] = record.read_ns[ours] - start_ns
    columns["delivery_order"][read_index] = np.arange(len(read_index))
    arrival_ns = np.where(seen, entries["seen_ns"].astype(np.int64) - start_ns, sent_ns - start_ns)
    cpu = np.where(seen, entries["cpu"], NOT_SET).astype(np.int16)
    return Trace(id=np.arange(1, packets + 1, dtype=np.int64), arrival_ns=arrival_ns, cpu=cpu,
                 stall_start_ns=plan.stalls.start_ns, stall_length_ns=plan.stalls.length_ns, **pause_columns(pauses),
                 ring_slots=scenario.capacity_packets, interval_ns=scenario.interval_ns, end_ns=end_ns, **columns)


def background_labels(record: PollRecord, events: np.ndarray | None, poller_tid: int, loops: str) -> list[str]:
    """The source of each of the poller's pauses (injected ones get a placeholder): named from the
    kernel events on its CPU, or NOT_TRACED without them."""
    if events is None:
        return [NOT_TRACED] * len(record.pause_start_ns)
    from ringlab.hw.kernel.pause_sources import NO_KERNEL_EVENT, cpu_activity, name_pauses
    from ringlab.hw.kernel.tracer import irq_names

    names, _ = name_pauses(record.pause_start_ns, record.pause_length_ns, cpu_activity(events, poller_tid, irq_names()))
    if loops == "python":  # the interpreter's own hiccups leave no kernel event either
        names = [NO_KERNEL_EVENT_PYTHON if name == NO_KERNEL_EVENT else name for name in names]
    return names


def run_trial(scenario: Scenario, iface: str | None = None, force: bool = False,
              unreported_stalls: StallSchedule | None = None) -> TrialResult:
    """Run ``scenario`` on the local testbed (``iface`` None) or on ``iface`` (frames from elsewhere).

    The poller also executes ``unreported_stalls`` (times from the run's start) without noting
    them as injected: it finds them as pauses, as it finds the machine's (tests use this).
    Cleans up what a killed run left first; detaches and removes everything it made on every exit.
    """
    for line in cleanup_stale():
        print(f"cleanup: {line}", file=sys.stderr)
    plan = draw_plan(scenario)
    check_delivery(scenario, iface)
    settings = loader.WriterSettings(scenario.ring_slots, scenario.writer.policy, scenario.hw.payload_layout,
                                     loader.log_slots_for(scenario.packets), scenario.delivery.kind)
    seconds = expected_seconds(scenario, plan)
    netns = peer = dst_mac = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(signals_as_exceptions())
        receiver_netns = sender_netns = None
        if iface is None:
            links = stack.enter_context(testbed.Testbed(scenario.hw.queues))
            iface, netns, peer, dst_mac = links.host_iface, links.netns, links.peer_iface, links.host_mac
            sender_netns = netns
            if scenario.delivery.kind.receiver_in_namespace:  # the roles turn round (ringlab.hw.machine.testbed)
                testbed.address_receiver(links)
                iface, peer, dst_mac = links.peer_iface, links.host_iface, links.peer_mac
                receiver_netns, sender_netns = links.netns, None
        writer = stack.enter_context(loader.AttachedWriter(iface, settings, scenario.hw.mode, force, receiver_netns))
        path_socket = stack.enter_context(delivery_socket(scenario, iface, writer, receiver_netns))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"{TRIAL_DIR_PREFIX}{os.getpid()}-")))
        poller_cpu = scenario.hw.poller_cpu
        if poller_cpu not in os.sched_getaffinity(0):
            raise HardwareError(f"hw.poller_cpu: CPU {poller_cpu} is not one this process may run on "
                                f"({sorted(os.sched_getaffinity(0))})")
        tracer = stack.enter_context(CpuEventTracer(poller_cpu, seconds)) if scenario.hw.trace_kernel else None
        if netns is None:
            return _remote_trial(scenario, plan, writer, tracer, unreported_stalls, seconds, path_socket)
        cpus = sender_cpus(scenario.writer.cpus, poller_cpu)
        # With one sender on its own core, the poller takes the other; otherwise it shares.
        pinned = poller_cpu if len(cpus) == 1 and cpus[0] is not None else None
        stack.enter_context(off_cpu(pinned))  # before the senders start, so that they inherit it
        udp = (f"{testbed.SENDER_ADDRESS},{testbed.RECEIVER_ADDRESS},{testbed.UDP_PORT}"
               if scenario.delivery.kind.datagrams else None)
        sender_settings = SenderSettings(scenario.hw.payload_layout, scenario.hw.loops, scenario.hw.pacing,
                                         scenario.interval_ns, udp)
        senders = stack.enter_context(SenderProcesses(peer, dst_mac, sender_settings, plan.arrival_ns,
                                                      scenario.writer.cpus, workdir, sender_netns, poller_cpu))
        steal_before = steal_ns(poller_cpu)
        start_ns = time.monotonic_ns() + START_DELAY_NS
        stop_box = np.array([np.iinfo(np.int64).max], np.int64)  # the watcher sets it
        stalls = StallPlan.of(plan.stalls, start_ns, unreported_stalls)
        polling = stack.enter_context(PollerThread(poller(scenario, writer.ring, stalls, stop_box, seconds,
                                                          path_socket), stop_box, pinned))
        senders.start(start_ns)
        # The poll ends after the last frame (busy pacing: not before the plan ends), whenever that is.
        planned_end = start_ns + plan.end_ns if scenario.hw.pacing == "busy" else 0
        sender_timeout_s = 60 + 100 * plan.end_ns / 1e9  # sleep pacing runs far longer than planned
        watcher = threading.Thread(target=end_when_senders_done, daemon=True,
                                   args=(senders, stop_box, scenario.drain_ns, planned_end, sender_timeout_s))
        watcher.start()
        record = polling.result()
        watcher.join()
        end_ns = int(stop_box[0]) - start_ns
        sent_ns = senders.send_times()
        independent = writer.independent_count()
        counters = writer.counters()
        log = writer.log.copy()
        events, events_lost = tracer.events() if tracer is not None else (None, 0)
        recursion_misses = tracer.recursion_misses() if tracer is not None else None
        steal_after = steal_ns(poller_cpu)
        delivery = delivery_figures(scenario, path_socket, receiver_netns)
    pauses = observed_pauses(record, background_labels(record, events, polling.thread_id, scenario.hw.loops),
                             start_ns, end_ns)
    trace = build_trace(scenario, plan, log, record, pauses, sent_ns, start_ns, end_ns, delivery)
    if scenario.delivery.kind.measures_packet_bytes:
        delivery["packet_bytes_measured"] = measured_packet_bytes(trace, path_socket.buffer_at_stall_ends, start_ns)
    tracing = _tracing_figures(scenario, events, events_lost, recursion_misses, record, steal_before, steal_after)
    environment = machine_environment(pinned, [c for c in cpus if c is not None])
    result = _result(trace, counters, independent, sent_ns - start_ns, plan, log, environment, tracing, delivery)
    return dataclasses.replace(result, kernel_events=events, start_ns=start_ns)


def _tracing_figures(scenario: Scenario, events, events_lost: int, recursion_misses: int | None, record: PollRecord,
                     steal_before, steal_after) -> dict:
    """What the tracing saw, and what it could not: events past the log's room, and probes the kernel
    skipped because a BPF program already ran on the CPU (recursion misses)."""
    return {"pause_threshold_ns": scenario.hw.pause_threshold_ns, "kernel_traced": events is not None,
            "kernel_events": 0 if events is None else int(len(events)), "kernel_events_lost": int(events_lost),
            "kernel_probe_recursion_misses": recursion_misses,
            "pauses_lost": int(record.pauses_lost), "reads_lost": int(record.reads_lost),
            "poller_cpu_steal_ns": None if steal_before is None or steal_after is None else steal_after - steal_before}


def first_frame(log: np.ndarray, plan: RunPlan, window: int = FIRST_FRAMES) -> int | None:
    """The id of the earliest frame the XDP program has seen among the first ``window``, or None."""
    seen = np.flatnonzero(log["seen_ns"][1:window + 1])
    return int(seen[np.argmin(log["seen_ns"][1:window + 1][seen])]) + 1 if len(seen) else None


def _remote_trial(scenario: Scenario, plan: RunPlan, writer: loader.AttachedWriter, tracer, unreported_stalls,
                  seconds: float, path_socket=None, wait_s: float = 60.0) -> TrialResult:
    """Frames come from another host ('ringlab hw send' there). The poller starts at once, so no
    frame waits for it; the run's clock starts from the earliest of the first frames the XDP program
    sees, taken at its planned time (frame 1 may be lost), and the injected stalls are published to
    the running poller then. The poll ends the scenario's drain after the plan's end."""
    stop_box = np.array([np.iinfo(np.int64).max], np.int64)
    stalls = StallPlan.of(plan.stalls, None, unreported_stalls)
    poller_cpu = scenario.hw.poller_cpu
    with off_cpu(poller_cpu), PollerThread(poller(scenario, writer.ring, stalls, stop_box, seconds, path_socket),
                                            stop_box, poller_cpu) as polling:
        print(f"waiting for frames on {writer.iface} (for up to {wait_s:g} s)", file=sys.stderr, flush=True)
        deadline = time.monotonic() + wait_s
        while (first := first_frame(writer.log, plan)) is None:
            if time.monotonic() > deadline:
                raise HardwareError(f"no pingpong frame arrived on {writer.iface} within {wait_s:g} s")
            time.sleep(FIRST_FRAME_POLL_S)  # the XDP program stamps the frame: looking late costs no accuracy
        start_ns = int(writer.log["seen_ns"][first]) - int(plan.arrival_ns[first - 1])
        stalls.publish(start_ns)
        stop_box[0] = start_ns + plan.end_ns
        record = polling.result()
    independent = writer.independent_count()
    delivery = delivery_figures(scenario, path_socket, None)
    log = writer.log.copy()
    events, events_lost = tracer.events() if tracer is not None else (None, 0)
    recursion_misses = tracer.recursion_misses() if tracer is not None else None
    pauses = observed_pauses(record, background_labels(record, events, polling.thread_id, scenario.hw.loops),
                             start_ns, plan.end_ns)
    trace = build_trace(scenario, plan, log, record, pauses, plan.arrival_ns + start_ns, start_ns, plan.end_ns,
                        delivery)
    tracing = {**_tracing_figures(scenario, events, events_lost, recursion_misses, record, None, None), "clock_from_id": first}
    result = _result(trace, writer.counters(), independent, None, plan, log, machine_environment(poller_cpu, []),
                     tracing, delivery)
    return dataclasses.replace(result, kernel_events=events, start_ns=start_ns)


def _result(trace: Trace, counters: dict, independent: dict | None, sent_offsets_ns: np.ndarray | None,
            plan: RunPlan, log: np.ndarray, environment: dict, tracing: dict, delivery: dict | None = None) -> TrialResult:
    """The trial's result; ``sent_offsets_ns`` None when the sender ran on another host (its own
    record, 'ringlab hw send --out', has its figures). Conservation: every frame planned was
    written, dropped or never seen; the program's counters agree with its log; and the kernel's own
    count of the program's runs, where it has one, equals the frames it counted (ours or not). On
    another delivery path the program counts what it handed on (written or dropped after it), and the
    socket's own count of what it refused equals the drops."""
    counts = trace.fate_counts()
    written = counts["delivered"] + counts["in_ring"]
    if delivery is None:
        counters_agree = counters["written"] == written and counters["dropped_full"] == counts["dropped_full"]
    else:
        counters_agree = (counters["written"] == written + counts["dropped_full"]
                          and delivery["kernel_drops"] == counts["dropped_full"])
    conservation = {
        "sent": plan.packets,
        "written": written,
        "dropped_full": counts["dropped_full"],
        "lost_before_ring": counts["lost_before_ring"],
        "kernel_count": independent,
        "holds": plan.packets == written + counts["dropped_full"] + counts["lost_before_ring"]
                 and counters_agree and (independent is None or independent["agrees"]),
    }
    entries = log[1:plan.packets + 1]
    claim_order = np.where(entries["fate"] != 0, entries["claim"].astype(np.int64), NOT_SET)
    if sent_offsets_ns is None:
        return TrialResult(trace, counters, plan.packets, None, conservation, None, claim_order, environment, tracing,
                           delivery=delivery)
    late = int(np.sum(sent_offsets_ns - plan.arrival_ns > LATE_SEND_NS))  # with sleep pacing: nearly all
    return TrialResult(trace, counters, plan.packets, late, conservation, np.asarray(sent_offsets_ns, np.int64),
                       claim_order, environment, tracing, delivery=delivery)
