"""Thin helpers over iproute2 (``ip``), the standard tool for links and namespaces."""

from __future__ import annotations

import json
import subprocess

from ringlab.errors import HardwareError


class IpError(HardwareError):
    """An ``ip`` command failed; the message carries its stderr."""


def ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise IpError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def links(netns: str | None = None) -> list[dict]:
    """``ip -j link show`` as a list of dicts (in ``netns`` if given)."""
    prefix = ["-n", netns] if netns else []
    return json.loads(ip(*prefix, "-j", "link", "show") or "[]")


def link(name: str, netns: str | None = None) -> dict | None:
    return next((entry for entry in links(netns) if entry.get("ifname") == name), None)


def xdp_attached(name: str, netns: str | None = None) -> dict | None:
    """The XDP attachment of link ``name`` (``{"mode": ..., "prog": {...}}``), or None."""
    entry = link(name, netns)
    return entry.get("xdp") if entry else None


def namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()]


def mac_address(name: str, netns: str | None = None) -> str:
    entry = next(e for e in links(netns) if e.get("ifname") == name)
    return entry["address"]
