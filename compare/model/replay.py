"""Replay: simulate a measured trial from what was measured, and say packet for packet where the
simulation and the measurement agree.

The replay takes the trial's arrival times at the XDP program, the CPUs that ran it, and the
poller's pauses as observed (injected stalls as executed, and the background ones with their
sources); the scenario's policy and N; and the costs measured in the trial itself (or, on request,
the scenario's): how long the poller takes to read a packet that is already there, how long it
takes to notice one written while it waits, and how long the XDP program takes from seeing a packet
to deciding its fate. What differs is then the model's doing, and the first packets that differ
point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ringlab.analysis.summary import index_timeline
from ringlab.atomic_files import staged_directory, write_json
from ringlab.errors import InputError
from ringlab.runs.run_directory import REPLAY_FILE, load_run, run_output_directory, write_run_files
from ringlab.runs.runner import RunResult, run
from ringlab.scenario.fields import Scenario, load_scenario
from ringlab.scenario.plan import RunPlan
from ringlab.trace.pause_profile import source_matches
from ringlab.trace.pauses import INJECTED
from ringlab.trace.records import DELIVERED, FATE_NAMES, LOST_BEFORE_RING, NOT_SET, PENDING, Trace

FIRST_DIFFERENCES = 20
COSTS = ("measured", "scenario")


def load_measured(run_dir) -> tuple[Trace, Scenario, dict]:
    """A hardware run's trace, scenario (:func:`with_measured_path`) and summary; an InputError for
    anything else."""
    run_dir = Path(run_dir)
    trace, summary = load_run(run_dir)
    if summary.backend != "hw":
        raise InputError(str(run_dir), f"is a {summary.backend!r} run, not a hardware trial: only a measured "
                                       "run can be replayed")
    return trace, with_measured_path(load_scenario(run_dir / "scenario.toml"), summary.figures), summary


def with_measured_path(scenario: Scenario, figures: dict) -> Scenario:
    """``scenario`` with what its trial measured of its delivery path (``figures["delivery"]``: a run
    record's figures, or a trial's hardware figures) in place of the scenario's value: a UDP
    datagram's share of the socket's buffer (``udp_socket.packet_bytes``)."""
    measured = (figures.get("delivery") or {}).get("packet_bytes_measured")
    if not scenario.delivery.kind.measures_packet_bytes or measured is None:
        return scenario
    return scenario.with_values({"udp_socket.packet_bytes": int(round(measured))})


def measured_costs(trace: Trace, scenario: Scenario) -> dict:
    """The model's costs as the trial measured them, as scenario fields (the scenario's own where the
    trial has no example): ``poller.cost`` is the mean spacing of reads the poller made back to back
    (the packet was there before the read before it ended), ``poller.wakeup`` the mean time from a
    packet's writing to its read when the poller waited for it, less that cost, and ``writer.cost``
    the mean time from the XDP program seeing a packet to deciding it, less the lock's hold time
    (BPF cannot time the lock alone). Each is a mean over the times shorter than the pause
    threshold (longer ones hold a pause, which the replay has already), not a median: the read time
    is bimodal here (about 50 ns, or 160 ns when the slot's cache line was just written on the
    other CPU), and what decides drops after a stall is the time the whole backlog takes."""
    ceiling = scenario.hw.pause_threshold_ns
    delivered = np.flatnonzero(trace.fate == DELIVERED)
    delivered = delivered[np.argsort(trace.delivery_order[delivered], kind="stable")]
    read_ns, written_ns = trace.delivery_ns[delivered], trace.decided_ns[delivered]
    waited = written_ns[1:] > read_ns[:-1]
    back_to_back = np.diff(read_ns)[~waited]
    noticed = (read_ns[1:] - written_ns[1:])[waited]
    seen = np.flatnonzero((trace.cpu >= 0) & (trace.decided_ns != NOT_SET))
    deciding = trace.decided_ns[seen] - trace.arrival_ns[seen]

    def typical(times, fallback):
        times = times[(times >= 0) & (times <= ceiling)]
        return int(round(times.mean())) if len(times) else fallback

    poller_cost = typical(back_to_back, scenario.poller.cost_ns)
    return {"poller.cost": poller_cost,
            "poller.wakeup": max(0, typical(noticed, poller_cost + scenario.poller.wakeup_ns) - poller_cost),
            "writer.cost": max(0, typical(deciding, scenario.writer.cost_ns + scenario.writer.lock_hold_ns)
                               - scenario.writer.lock_hold_ns)}


def without_sources(pauses, sources) -> object:
    """``pauses`` less those of ``sources`` (their names as the trace gives them); an InputError
    names a source the trace has no pause of."""
    if not sources:
        return pauses
    labels = pauses.labels()
    known = sorted(set(labels.tolist()))
    unknown = [name for name in sources if not any(source_matches(label, (name,)) for label in known)]
    if unknown:
        raise InputError("--without", f"no pause of source {unknown[0]!r} in this run (its sources: "
                                      f"{', '.join(known) or 'none'})")
    return pauses.select(~np.array([source_matches(label, sources) for label in labels.tolist()], bool))


def replay_plan(trace: Trace, scenario: Scenario, costs: str = "measured", without=()) -> tuple[Scenario, RunPlan]:
    """The scenario and plan of a replay: measured arrivals, CPUs and pauses, the scenario's rules,
    and its costs (``costs="scenario"``) or the measured ones (``"measured"``). Packets the XDP
    program never saw keep CPU -1: they never reach the simulated writer either."""
    if costs not in COSTS:
        raise InputError("--costs", f"unknown value {costs!r} (choose {', '.join(COSTS)})")
    seen = trace.cpu >= 0
    cpus = np.unique(trace.cpu[seen])
    cpu = np.where(seen, np.searchsorted(cpus, trace.cpu), -1).astype(np.int16)
    values = {"writer.cpus": max(1, len(cpus)), "name": f"{scenario.name}-replay"}
    if costs == "measured":
        values.update(measured_costs(trace, scenario))
    replayed = scenario.with_values(values)
    pauses = without_sources(trace.pauses, without)
    return replayed, RunPlan(trace.arrival_ns.copy(), cpu, pauses.schedule(), trace.end_ns, pauses)


def replay(trace: Trace, scenario: Scenario, engine: str = "fast", costs: str = "measured", without=()) -> RunResult:
    """Simulate the measured ``trace``; packets never seen on hardware are lost before the ring.
    ``without`` removes the pauses of those sources: what the trial would have been without them."""
    replayed, plan = replay_plan(trace, scenario, costs, without)
    result = run(replayed, engine=engine, plan=plan)
    lost = (plan.cpu < 0) & (result.trace.fate == PENDING)
    if not lost.any():
        return result
    fate = np.where(lost, LOST_BEFORE_RING, result.trace.fate).astype(np.int8)
    simulated = replace(result.trace, fate=fate)
    from ringlab.analysis.summary import summarize

    return replace(result, trace=simulated, summary=summarize(simulated))


@dataclass(frozen=True)
class Agreement:
    """How far a replay agrees with the measurement it replays."""

    packets: int
    same_fate: int
    fate_counts_measured: dict
    fate_counts_replayed: dict
    delivered_in_both: int
    same_order: int  # delivered in both, with the same predecessor among those in both
    offsets_after_stalls: list  # per injected stall: [measured k, replayed k] before the next one
    first_differences: list  # the first packets whose fate differs

    @property
    def same_fate_share(self) -> float:
        return self.same_fate / self.packets if self.packets else 1.0

    @property
    def same_order_share(self) -> float:
        return self.same_order / self.delivered_in_both if self.delivered_in_both else 1.0

    def describe(self) -> str:
        """The agreement in one line."""
        same_offsets = sum(m == r for m, r in self.offsets_after_stalls)
        offsets = (f"; lasting offset after {same_offsets} of {len(self.offsets_after_stalls)} stalls the same"
                   if self.offsets_after_stalls else "")
        return (f"{100 * self.same_fate_share:.3f}% of packets with the same fate; dropped "
                f"{self.fate_counts_measured['dropped_full']} measured, {self.fate_counts_replayed['dropped_full']} "
                f"replayed; {100 * self.same_order_share:.3f}% of reads in the same order{offsets}")

    def to_dict(self) -> dict:
        return {"packets": self.packets, "same_fate": self.same_fate, "same_fate_share": self.same_fate_share,
                "fate_counts_measured": self.fate_counts_measured, "fate_counts_replayed": self.fate_counts_replayed,
                "delivered_in_both": self.delivered_in_both, "same_order": self.same_order,
                "same_order_share": self.same_order_share, "offsets_after_stalls": self.offsets_after_stalls,
                "same_offsets_after_stalls": sum(m == r for m, r in self.offsets_after_stalls),
                "first_differences": self.first_differences}


def offset_k_at(trace: Trace, times_ns: np.ndarray) -> np.ndarray:
    """The writer's offset k at each of ``times_ns`` (the state after the last event by then)."""
    timeline = index_timeline(trace)
    at = np.searchsorted(timeline.time_ns, times_ns, side="right") - 1
    k = timeline.offset_k(trace.ring_slots)
    return np.where(at >= 0, k[np.maximum(at, 0)], 0) if len(k) else np.zeros(len(times_ns), np.int64)


def _predecessors(trace: Trace, common: np.ndarray) -> np.ndarray:
    """For each packet of ``common`` (a mask), the id read just before it among ``common``."""
    delivered = np.flatnonzero(common)
    ordered = delivered[np.argsort(trace.delivery_order[delivered], kind="stable")]
    before = np.full(trace.packets, NOT_SET, np.int64)
    before[ordered[1:]] = trace.id[ordered[:-1]]
    return before


def agreement(measured: Trace, replayed: Trace, first: int = FIRST_DIFFERENCES) -> Agreement:
    """Fates, read order and lasting offsets of ``replayed`` against ``measured``."""
    same = measured.fate == replayed.fate
    common = (measured.fate == DELIVERED) & (replayed.fate == DELIVERED)
    same_order = int(np.sum((_predecessors(measured, common) == _predecessors(replayed, common))[common]))
    pauses = measured.pauses
    has_write_index = bool(np.any(measured.writer_index_after != NOT_SET))  # not so on another delivery path
    injected = (pauses.kind == INJECTED) & has_write_index
    ends = pauses.end_ns[injected]
    sample_at = np.append(pauses.start_ns[injected][1:], measured.end_ns) - 1  # just before the next stall
    offsets = np.column_stack([offset_k_at(measured, sample_at), offset_k_at(replayed, sample_at)])
    differences = []
    for index in np.flatnonzero(~same)[:first]:
        differences.append({
            "id": int(measured.id[index]), "arrival_ns": int(measured.arrival_ns[index]),
            "measured": _packet(measured, index), "replayed": _packet(replayed, index),
            "nearest_pause": _nearest_pause(measured, int(measured.arrival_ns[index])),
        })
    return Agreement(measured.packets, int(same.sum()), measured.fate_counts(), replayed.fate_counts(),
                     int(common.sum()), same_order, offsets[ends <= measured.end_ns].tolist(), differences)


def _packet(trace: Trace, index: int) -> dict:
    return {"fate": FATE_NAMES[int(trace.fate[index])], "slot": int(trace.slot[index]),
            "decided_ns": int(trace.decided_ns[index]), "delivery_ns": int(trace.delivery_ns[index]),
            "blocked_by": int(trace.blocked_by[index])}


def _nearest_pause(trace: Trace, time_ns: int) -> dict | None:
    pauses = trace.pauses
    if not len(pauses):
        return None
    i = int(np.argmin(np.abs(np.clip(time_ns, pauses.start_ns, pauses.end_ns) - time_ns)))
    return {"start_ns": int(pauses.start_ns[i]), "length_ns": int(pauses.length_ns[i]),
            "source": pauses.labels()[i], "kind": "injected" if pauses.kind[i] == INJECTED else "background"}


def replay_into_directory(run_dir, out_dir, engine: str = "fast", costs: str = "measured",
                          without=()) -> tuple[RunResult, Agreement]:
    """Replay the hardware run in ``run_dir`` and write the replay's run directory at ``out_dir``,
    whole, with ``replay.json`` (its agreement with the measurement) and the costs it used."""
    measured, scenario, _ = load_measured(run_dir)
    out_dir = run_output_directory(out_dir)
    result = replay(measured, scenario, engine=engine, costs=costs, without=without)
    agreed = agreement(measured, result.trace)
    used = {name: result.scenario.source[name.split(".")[0]][name.split(".")[1]]
            for name in ("writer.cost", "poller.cost", "poller.wakeup")}
    with staged_directory(out_dir) as staging:
        write_json(staging / REPLAY_FILE, agreed.to_dict())
        write_run_files(staging, result, {"replay_of": str(Path(run_dir).resolve()),
                                          "costs": {"from": costs, **used}, "agreement": agreed.to_dict(),
                                          "without": sorted(without)})
    return result, agreed
