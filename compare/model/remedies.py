"""The usual remedy for each source of pauses, as one line of advice. ringlab never applies one: it
changes no system setting and no other process; these lines tell a user what to try."""

from __future__ import annotations

# (how a source's name begins, the advice), the first match wins
REMEDIES = (
    ("no kernel event", "none from inside a VM: the hypervisor takes the vCPU (steal time); dedicated or pinned "
                        "vCPUs on the host, or bare metal"),
    ("timer interrupt", "boot options nohz_full=CPU with isolcpus=CPU stop the tick on the poller's CPU while it "
                        "runs alone"),
    ("task kdamond", "DAMON: its sysfs switch (under /sys/kernel/mm/damon/admin) turns the monitoring off, or keep "
                     "it off the poller's CPU"),
    ("task kworker", "kernel workers: isolcpus, or the workqueue cpumask, keeps unbound work off the poller's CPU"),
    ("task ksoftirqd", "softirq work deferred to a thread: move the interrupts that raise it (IRQ affinity)"),
    ("task rcu", "rcu_nocbs=CPU (boot option) moves RCU callbacks off the poller's CPU"),
    ("task ", "another task ran on the poller's CPU: move it (its CPU affinity), or give the poller a cpuset "
              "partition of its own"),
    ("irq ", "a device interrupt: set its IRQ affinity (under /proc/irq/N/) away from the poller's CPU"),
    ("softirq RCU", "rcu_nocbs=CPU (boot option) moves RCU callbacks off the poller's CPU"),
    ("softirq", "follows the interrupts that raise it: their IRQ affinity (for NET_RX, also RPS)"),
    ("IPI", "work other CPUs sent (TLB flushes, function calls): isolcpus and nohz_full reduce it; a poller whose "
            "memory map does not change sends fewer"),
    ("NMI", "perf or the NMI watchdog: nmi_watchdog=0, and no perf sampling on the poller's CPU"),
    ("injected stall", "injected by the scenario on purpose"),
)


def remedy(source: str) -> str:
    """The usual remedy for ``source`` (a pause source as ringlab names it, with or without its
    ``background: `` prefix)."""
    name = source.removeprefix("background: ")
    for start, advice in REMEDIES:
        if name.startswith(start):
            return advice
    return "no usual remedy known to ringlab"
