"""A receiver's run beside its sender's own record, when the two ran on different hosts: what each
side measured, side by side (their clocks are not comparable, so no frame is timed across them)."""

from __future__ import annotations

from pathlib import Path

from ringlab.atomic_files import read_json, write_json, write_text
from ringlab.errors import InputError
from ringlab.hw.trial.sender import SENDER_RECORD
from ringlab.runs.run_directory import load_summary
from ringlab.scenario.units import format_time_ns


def sender_beside_receiver(run_dir, sender_dir) -> dict:
    """The frames planned, sent (the sender's count) and seen by the XDP program (the receiver's),
    and the spacing each side measured: the sender's handing to the kernel, the receiver's arrivals."""
    receiver = load_summary(run_dir)
    if receiver.backend != "hw" or "arrivals" not in receiver.figures:
        raise InputError(str(run_dir), "is not a hardware trial")
    record_path = Path(sender_dir) / SENDER_RECORD
    if not record_path.is_file():
        raise InputError("--sender", f"{sender_dir} holds no sender record (run 'ringlab hw send ... --out {sender_dir}')")
    sender = read_json(record_path)
    sent, arrivals = sender["sender"], receiver.figures["arrivals"]
    return {
        "same_scenario": sender["scenario_key"] == receiver.scenario_key,
        "planned": receiver.summary.packets, "sent": sent["frames"], "seen_by_xdp": arrivals["frames_seen"],
        "lost_between": sent["frames"] - arrivals["frames_seen"], "sender_late_sends": sent["late_sends"],
        "gap_at_sender": sent["gap"], "gap_at_receiver": arrivals["gap"],
        "bursts_at_sender": sent["bursts"], "bursts_at_receiver": arrivals["bursts"],
        "planned_interval_ns": arrivals["planned_interval_ns"], "receiver_loss": receiver.summary.loss_fraction,
    }


def write_two_host_report(out_dir, run_dir, sender_dir) -> dict:
    """``report.md`` and ``report.json`` of :func:`sender_beside_receiver`."""
    figures = sender_beside_receiver(run_dir, sender_dir)
    out_dir = Path(out_dir)
    rows = [("frames", f"{figures['sent']} sent", f"{figures['seen_by_xdp']} seen by the XDP program")]
    for name, key in (("mean gap", "mean_ns"), ("median gap", "p50_ns"), ("p99 gap", "p99_ns"), ("longest gap", "max_ns")):
        rows.append((name, _time(figures["gap_at_sender"][key]), _time(figures["gap_at_receiver"][key])))
    rows.append(("closer than half the interval", str(figures["bursts_at_sender"]), str(figures["bursts_at_receiver"])))
    lines = ["# ringlab: the sender beside the receiver", "",
             f"Receiver's run: {run_dir}. Sender's record: {sender_dir}. "
             + ("Same scenario on both sides." if figures["same_scenario"] else
                "**The two sides ran different scenarios** (their scenario keys differ)."), "",
             f"{figures['planned']} frames planned at {_time(figures['planned_interval_ns'])}; {figures['lost_between']} "
             f"sent but never seen by the XDP program; the sender handed {figures['sender_late_sends']} more than 10 µs "
             f"late; the receiver lost {100 * figures['receiver_loss']:.3f} % of the plan.", "",
             "| | the sender (handing frames to the kernel) | the receiver (arrivals at the XDP program) |",
             "| --- | ---: | ---: |"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    write_json(out_dir / "report.json", figures)
    write_text(out_dir / "report.md", "\n".join(lines) + "\n")
    return figures


def _time(ns) -> str:
    return format_time_ns(ns, 3) if ns is not None else "–"
