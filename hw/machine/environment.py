"""Where a hardware run happened: what decides the pauses a poller meets on this machine."""

from __future__ import annotations

import os
import platform
from pathlib import Path

ISOLATION_PARAMETERS = ("isolcpus", "nohz_full", "rcu_nocbs", "irqaffinity", "idle", "nosmt", "mitigations")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def steal_ns(cpu: int) -> int | None:
    """Time the hypervisor has taken ``cpu`` away so far (/proc/stat; its resolution is one tick)."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    for line in (_read("/proc/stat") or "").splitlines():
        fields = line.split()
        if fields and fields[0] == f"cpu{cpu}" and len(fields) > 8:
            return int(fields[8]) * 1_000_000_000 // ticks_per_second
    return None


def machine_environment(poller_cpu: int | None, sender_cpus) -> dict:
    """The kernel and its command line's isolation settings, the CPUs, the frequency governor, and
    where the poller and the senders ran."""
    command_line = _read("/proc/cmdline") or ""
    isolation = {}
    for word in command_line.split():
        key, _, value = word.partition("=")
        if key in ISOLATION_PARAMETERS:
            isolation[key] = value
    governor = _read(f"/sys/devices/system/cpu/cpu{poller_cpu or 0}/cpufreq/scaling_governor")
    return {
        "kernel_release": platform.release(),
        "kernel_command_line": command_line,
        "isolation": isolation,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "frequency_governor": governor or "none (no cpufreq: a VM, or fixed frequency)",
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "poller_cpu": poller_cpu,
        "sender_cpus": list(sender_cpus),
    }
