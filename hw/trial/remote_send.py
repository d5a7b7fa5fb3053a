"""The sender's side of two hosts: send a scenario's paced frames from this host's interface to
the receiver's MAC address, and keep the sender's own record (``sender.json``, ``sent.npy``) to put
beside the receiver's run (``ringlab two-hosts RUN --sender DIR``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ringlab.atomic_files import atomic_path, write_json
from ringlab.errors import InputError
from ringlab.hw.machine.environment import machine_environment
from ringlab.hw.machine.wire import parse_mac
from ringlab.hw.trial.sender import SENDER_RECORD, SENT_FILE, SenderSettings, send_scenario, sender_cpus
from ringlab.provenance import provenance
from ringlab.scenario.fields import Scenario
from ringlab.scenario.plan import draw_plan


def send_to_host(scenario: Scenario, iface: str, dst_mac: str, out_dir: Path | None = None) -> dict:
    """Send ``scenario``'s frames from ``iface`` to ``dst_mac``, paced to its plan; with
    ``out_dir``, write the sender's record there. Return the sender's figures (frames, late
    sends, bursts) and how long the sending took."""
    try:
        parse_mac(dst_mac)
    except ValueError as error:
        raise InputError("--dst-mac", str(error)) from None
    if not Path(f"/sys/class/net/{iface}").exists():
        raise InputError("--iface", f"no network interface {iface!r} here")
    plan = draw_plan(scenario)
    settings = SenderSettings(scenario.hw.payload_layout, scenario.hw.loops, scenario.hw.pacing, scenario.interval_ns)
    sent = send_scenario(iface, dst_mac, settings, plan.arrival_ns, scenario.writer.cpus)
    figures = sent.figures()
    if out_dir is not None:
        with atomic_path(out_dir / SENT_FILE) as tmp, open(tmp, "wb") as handle:
            np.save(handle, sent.sent_ns - sent.start_ns)
        write_json(out_dir / SENDER_RECORD, {
            **provenance("hw"), "scenario_name": scenario.name, "scenario_key": scenario.key(),
            "scenario": scenario.to_dict(), "iface": iface, "dst_mac": dst_mac, "start_ns": sent.start_ns,
            "sender": figures, "environment": machine_environment(None, sender_cpus(scenario.writer.cpus))})
    return {**figures, "seconds": float(sent.sent_ns.max() - sent.sent_ns.min()) / 1e9}
