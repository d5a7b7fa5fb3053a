"""Where a hardware run happened: what decides the pauses a poller meets on this machine.

Everything here is read, never written: the settings the remedies name (isolation, cpusets, IRQ
affinity, workqueues, DAMON, timer migration, cpuidle, hugepages, irqbalance, tuned, the frequency
governor), so that ``ringlab diff`` can say which of them changed between two runs."""

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


def cpus_of(cpu_list: str | None) -> set[int]:
    """The CPUs of a list such as "0-3,6" (empty for None or a malformed list)."""
    cpus = set()
    for part in (cpu_list or "").split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def online_cpus() -> set[int]:
    """The CPUs the kernel has online."""
    return cpus_of(_read("/sys/devices/system/cpu/online"))


def cpu_list_text(cpus) -> str:
    """The kernel's spelling of a set of CPUs: {0, 1, 2, 5} as "0-2,5"."""
    parts, ordered = [], sorted(cpus)
    for cpu in ordered:
        if parts and cpu == parts[-1][1] + 1:
            parts[-1][1] = cpu
        else:
            parts.append([cpu, cpu])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in parts)


def kdamond_affinity() -> dict[str, str]:
    """Each DAMON kdamond thread's CPUs: "pid comm" -> CPU list."""
    affinity = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        name = _read(str(comm))
        if name and name.startswith("kdamond"):
            try:
                affinity[f"{comm.parent.name} {name}"] = cpu_list_text(os.sched_getaffinity(int(comm.parent.name)))
            except OSError:
                continue
    return affinity


def _processes_named(prefixes: tuple[str, ...]) -> list[str]:
    """The names of the running processes whose name starts with one of ``prefixes``, sorted."""
    names = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        name = _read(str(comm))
        if name and name.startswith(prefixes):
            names.append(name)
    return sorted(names)


def irqs_on(cpu: int) -> dict[str, str]:
    """The IRQs whose affinity includes ``cpu``: number -> the name /proc/interrupts gives it."""
    names = {}
    for line in (_read("/proc/interrupts") or "").splitlines()[1:]:
        number, _, rest = line.partition(":")
        if number.strip().isdigit():
            names[number.strip()] = " ".join(word for word in rest.split() if not word.isdigit())
    return {number: name for number, name in names.items()
            if cpu in cpus_of(_read(f"/proc/irq/{number}/smp_affinity_list"))}


def cpuset_partitions(cpu: int) -> list[dict]:
    """The cpusets that set ``cpu`` apart: cgroup v2 partitions other than "member", and cgroup v1
    cpusets that are exclusive or do not balance load (two levels deep at most)."""
    found = []
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        for path in [root, *root.glob("*"), *root.glob("*/*")]:
            partition = _read(str(path / "cpuset.cpus.partition"))
            if partition and partition != "member" and cpu in cpus_of(_read(str(path / "cpuset.cpus.effective"))):
                found.append({"cgroup": str(path), "partition": partition})
    v1 = Path("/sys/fs/cgroup/cpuset")
    for path in [*v1.glob("*/"), *v1.glob("*/*/")]:
        exclusive = _read(str(path / "cpuset.cpu_exclusive"))
        balance = _read(str(path / "cpuset.sched_load_balance"))
        if (exclusive == "1" or balance == "0") and cpu in cpus_of(_read(str(path / "cpuset.cpus"))):
            found.append({"cgroup": str(path), "cpu_exclusive": exclusive, "sched_load_balance": balance})
    return found


def damon_state() -> dict:
    """DAMON's kdamonds as its sysfs admin interface states them, and the kdamond threads running."""
    admin = Path("/sys/kernel/mm/damon/admin/kdamonds")
    states = {path.name: _read(str(path / "state")) for path in sorted(admin.glob("[0-9]*"))}
    return {"kdamonds": states, "threads": _processes_named(("kdamond",))}


def selected(text: str | None) -> str | None:
    """The bracketed choice of a sysfs list ("always [madvise] never": madvise)."""
    if text and "[" in text:
        return text.partition("[")[2].partition("]")[0]
    return text


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
    """The kernel and its command line's isolation settings, the CPUs, where the poller and the
    senders ran, and the settings the remedies name, as read now (``poller_cpu_steal_ns`` is the
    counter's value now; a trial records its change over the trial in its pause tracing)."""
    command_line = _read("/proc/cmdline") or ""
    isolation = {}
    for word in command_line.split():
        key, _, value = word.partition("=")
        if key in ISOLATION_PARAMETERS:
            isolation[key] = value
    cpu = poller_cpu or 0
    governor = _read(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor")
    hugepages = "/sys/kernel/mm/transparent_hugepage"
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
        "poller_cpu_cpusets": cpuset_partitions(cpu),
        "irqs_on_poller_cpu": irqs_on(cpu),
        "workqueue_cpumask": _read("/sys/devices/virtual/workqueue/cpumask"),
        "damon": damon_state(),
        "timer_migration": _read("/proc/sys/kernel/timer_migration"),
        "stat_interval": _read("/proc/sys/vm/stat_interval"),
        "watchdog_cpumask": _read("/proc/sys/kernel/watchdog_cpumask"),
        "kdamond_affinity": kdamond_affinity(),
        "cpuidle": {"driver": _read("/sys/devices/system/cpu/cpuidle/current_driver"),
                    "governor": _read("/sys/devices/system/cpu/cpuidle/current_governor_ro")
                    or _read("/sys/devices/system/cpu/cpuidle/current_governor")},
        "transparent_hugepages": {"enabled": selected(_read(f"{hugepages}/enabled")),
                                  "defrag": selected(_read(f"{hugepages}/defrag")),
                                  "khugepaged_running": bool(_processes_named(("khugepaged",)))},
        "irqbalance_running": bool(_processes_named(("irqbalance",))),
        "tuned_profile": _read("/etc/tuned/active_profile"),
        "poller_cpu_steal_ns": steal_ns(cpu),
    }
