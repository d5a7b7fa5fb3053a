"""A local testbed: a network namespace holding one end of a veth pair, the other end in the root
namespace for the XDP program. Frames are raw AF_PACKET, and no address is needed, except for the
UDP socket path (docs/delivery.md): there the roles turn round, the sender sends from the root
namespace's end and the namespace's end gets RECEIVER_ADDRESS, an address of TEST-NET-1 (RFC
5737, never routed) inside the namespace only, where the XDP program and the socket are."""

from __future__ import annotations

from dataclasses import dataclass

from ringlab.errors import HardwareError
from ringlab.hw.machine import iplink, state
from ringlab.hw.machine.signals import signals_deferred

NETNS = "ringlab-testbed"
HOST_IFACE = "rl-xdp0"   # root namespace: the XDP program attaches here
PEER_IFACE = "rl-peer0"  # inside NETNS: the sender transmits here
RECEIVER_ADDRESS, SENDER_ADDRESS, PREFIX = "192.0.2.1", "192.0.2.2", 24  # the UDP path's (SENDER_ADDRESS: on no link)
UDP_PORT = 47_000


@dataclass(frozen=True)
class TestbedLinks:
    """Where to attach (host side) and where to send from (peer side, inside the namespace)."""

    netns: str
    host_iface: str
    peer_iface: str
    host_mac: str
    peer_mac: str


def exists() -> bool:
    return NETNS in iplink.namespaces() or iplink.link(HOST_IFACE) is not None


def up(queues: int = 0, manual: bool = False) -> TestbedLinks:
    """Create the namespace and veth pair (``queues`` > 1: multi-queue), both links up.

    A ``manual`` testbed (``ringlab hw testbed up``) is kept by the cleanup of stale state; only
    ``ringlab hw testbed down`` or ``ringlab hw cleanup`` removes it."""
    queue_args = ["numtxqueues", str(queues), "numrxqueues", str(queues)] if queues > 1 else []
    state.record("testbed", NETNS, manual=manual)
    try:
        iplink.ip("netns", "add", NETNS)
        iplink.ip("link", "add", HOST_IFACE, *queue_args, "type", "veth", "peer", "name", PEER_IFACE, *queue_args)
        iplink.ip("link", "set", PEER_IFACE, "netns", NETNS)
        iplink.ip("link", "set", HOST_IFACE, "up")
        iplink.ip("-n", NETNS, "link", "set", PEER_IFACE, "up")
        iplink.ip("-n", NETNS, "link", "set", "lo", "up")
    except BaseException:
        down()
        raise
    return TestbedLinks(NETNS, HOST_IFACE, PEER_IFACE, iplink.mac_address(HOST_IFACE), iplink.mac_address(PEER_IFACE, NETNS))


def address_receiver(links: TestbedLinks) -> str:
    """Give the namespace's end RECEIVER_ADDRESS (the UDP path); return it."""
    iplink.ip("-n", links.netns, "addr", "add", f"{RECEIVER_ADDRESS}/{PREFIX}", "dev", links.peer_iface)
    return RECEIVER_ADDRESS


def down() -> None:
    """Remove the veth pair and the namespace, whatever of them exists."""
    if iplink.link(HOST_IFACE) is not None:
        iplink.ip("link", "del", HOST_IFACE, check=False)
    if NETNS in iplink.namespaces():
        iplink.ip("netns", "del", NETNS, check=False)
    state.forget("testbed", NETNS)


class Testbed:
    """Context manager: the testbed exists inside the ``with`` block and is removed on every exit."""

    def __init__(self, queues: int = 0):
        self.queues = queues
        self.links: TestbedLinks | None = None

    def __enter__(self) -> TestbedLinks:
        if exists():
            raise HardwareError(
                f"a testbed ({NETNS}) already exists; if no trial is running, 'ringlab hw cleanup' removes it"
            )
        self.links = up(self.queues)
        return self.links

    def __exit__(self, *exc) -> None:
        with signals_deferred():
            down()
