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
    path = scenario.delivery.kind
    if path.receiver_in_namespace and iface is not None:
        raise InputError("delivery", f"{path.name} runs on the testbed only (its socket binds the testbed's address)")
    if path.native_poller_only and scenario.hw.loops != "native":
        raise InputError("hw.loops", f"{path.name}'s poller is native (C) only")
    if path.one_queue and scenario.hw.queues > 1:
        raise InputError("hw.queues", f"{path.name} binds one socket to one queue: use one queue")


def _xsk_socket(scenario: Scenario, iface: str, writer: loader.AttachedWriter, netns: str | None):
    from ringlab.hw.trial.xsk_socket import XskSocket

    return XskSocket(iface, scenario.delivery.frames, scenario.ring_slots, writer.xskmap)


def _udp_socket(scenario: Scenario, iface: str, writer: loader.AttachedWriter, netns: str | None):
    from ringlab.hw.trial.udp_socket import UdpSocket

    return UdpSocket(netns, testbed.RECEIVER_ADDRESS, testbed.UDP_PORT, scenario.delivery.rcvbuf_bytes)


# The sockets of the delivery paths, by DeliveryPath.socket. Each is a context manager with
# poller(scenario, stalls, stop_box, threshold_ns, reads, pauses) and figures(scenario, netns).
SOCKETS = {"af_xdp": _xsk_socket, "udp": _udp_socket}


def delivery_socket(scenario: Scenario, iface: str, writer: loader.AttachedWriter, netns: str | None):
    """Another delivery path's socket as a context manager (the map ring: none)."""
    opener = SOCKETS.get(scenario.delivery.kind.socket)
    return opener(scenario, iface, writer, netns) if opener is not None else contextlib.nullcontext()


def delivery_figures(scenario: Scenario, path_socket, netns: str | None) -> dict | None:
    """What another delivery path's socket says at the end of a trial: how it was set up, what is
    still unread, and the kernel's own counters of what it refused; None for the map ring."""
    return path_socket.figures(scenario, netns) if scenario.delivery.kind.socket is not None else None


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
