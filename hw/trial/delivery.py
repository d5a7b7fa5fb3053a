"""Another delivery path than the map ring in a trial (docs/delivery.md): which paths a trial runs,
the path's socket, what it says at the end, and what a UDP datagram took of its buffer."""

from __future__ import annotations

import contextlib

import numpy as np

from ringlab.errors import InputError
from ringlab.hw.machine import loader, testbed
from ringlab.scenario.fields import Scenario
from ringlab.trace.records import DELIVERED, Trace


def check_delivery(scenario: Scenario, iface: str | None = None) -> None:
    """Refuse, in one line, what a delivery path other than the map ring does not run here."""
    path = scenario.delivery.path
    if path == "udp_socket" and iface is not None:
        raise InputError("delivery", "udp_socket runs on the testbed only (its socket binds the testbed's address)")
    if path != "map_ring" and scenario.hw.loops != "native":
        raise InputError("hw.loops", f"{path}'s poller is native (C) only")
    if path == "af_xdp" and scenario.hw.queues > 1:
        raise InputError("hw.queues", "af_xdp binds one socket to one queue: use one queue")


def delivery_socket(scenario: Scenario, iface: str, writer: loader.AttachedWriter, netns: str | None):
    """Another delivery path's socket as a context manager (the map ring: none)."""
    if scenario.delivery.path == "af_xdp":
        from ringlab.hw.trial.xsk_socket import XskSocket

        return XskSocket(iface, scenario.delivery.frames, scenario.ring_slots, writer.xskmap)
    if scenario.delivery.path == "udp_socket":
        from ringlab.hw.trial.udp_socket import UdpSocket

        return UdpSocket(netns, testbed.RECEIVER_ADDRESS, testbed.UDP_PORT, scenario.delivery.rcvbuf_bytes)
    return contextlib.nullcontext()


def delivery_figures(scenario: Scenario, path_socket, netns: str | None) -> dict | None:
    """What another delivery path's socket says at the end of a trial: how it was set up, what is
    still unread, and the kernel's own counters of what it refused; None for the map ring."""
    if scenario.delivery.path == "af_xdp":
        statistics = path_socket.statistics()
        return {"path": "af_xdp", "bind_mode": path_socket.bind_mode, "need_wakeup": path_socket.need_wakeup,
                "wakeups": path_socket.wakeups(), "frames": path_socket.frames,
                "rx_slots": path_socket.rx_slots, "unread_at_end": path_socket.unread(), "kernel_counters": statistics,
                "kernel_drops": statistics["rx_dropped"] + statistics["rx_ring_full"]}
    if scenario.delivery.path == "udp_socket":
        from ringlab.hw.trial.udp_socket import udp_errors

        unread = path_socket.drain()
        meminfo = path_socket.meminfo()
        counters = {"sk_drops": meminfo["drops"], **udp_errors(netns)}
        return {"path": "udp_socket", "rcvbuf_bytes": scenario.delivery.rcvbuf_bytes,
                "limit_bytes": path_socket.limit_bytes, "unread_at_end": unread, "kernel_counters": counters,
                "kernel_drops": meminfo["drops"]}
    return None


def measured_packet_bytes(trace: Trace, buffer_at_stall_ends, start_ns: int) -> float | None:
    """What one datagram took of the socket's buffer: at the end of each stall, what the buffer held
    over the datagrams it held (those that arrived before and were read after); the median over the
    stalls that left some. None if none did."""
    at_ns, held = buffer_at_stall_ends
    delivered = trace.fate == DELIVERED
    shares = []
    for at, bytes_held in zip((np.asarray(at_ns) - start_ns).tolist(), np.asarray(held).tolist()):
        waiting = int(np.sum(delivered & (trace.arrival_ns < at) & (trace.delivery_ns >= at)))
        if waiting:
            shares.append(bytes_held / waiting)
    return float(np.median(shares)) if shares else None
