"""Why the poller paused: each background pause named by the kernel events traced on its CPU, as
the kernel's osnoise tracer does.

The events are turned into what the CPU was doing between any two of them: an interrupt handler,
a softirq or an APIC vector (the innermost one running), an NMI, or a task (the poller itself, or
the task it was switched out for). A pause is named after the activity, other than the poller,
that took most of its time, if the traced activities account for at least a quarter of it; else
(and when no kernel event happened in it at all) it is "no kernel event": the hypervisor took the
CPU (steal time, on a VM), or the hardware did, or the poller itself was busy (a stall). On this
machine a timer tick's handler accounts for 42-62 % of the pause it makes (the rest is interrupt
entry and exit, which tracepoints cannot see), tasks and softirqs for 65-90 %; a 3 ms busy-wait
meets a dozen ticks, under 10 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ringlab.hw.kernel.tracer import (
    APIC_VECTORS,
    EVENT_EXEC,
    EVENT_FUNCTION_ENTRY,
    EVENT_FUNCTION_EXIT,
    EVENT_IRQ_ENTRY,
    EVENT_IRQ_EXIT,
    EVENT_NMI,
    EVENT_SOFTIRQ_ENTRY,
    EVENT_SOFTIRQ_EXIT,
    EVENT_SWITCH,
    EVENT_VECTOR_ENTRY,
    EVENT_VECTOR_EXIT,
    kernel_symbol,
)

SOFTIRQ_NAMES = ("HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU")
VECTOR_LABELS = {"local_timer": "timer interrupt", "reschedule": "IPI reschedule", "call_function": "IPI call function",
                 "call_function_single": "IPI call function", "irq_work": "IRQ work", "x86_platform_ipi": "platform IPI",
                 "thermal_apic": "thermal interrupt", "spurious_apic": "spurious interrupt", "error_apic": "APIC error"}
POLLER = "poller"
NO_KERNEL_EVENT = "no kernel event (hypervisor or hardware)"
TRACED_SHARE_MIN = 0.25  # below this share of a pause, the kernel events in it are incidental


@dataclass(frozen=True)
class CpuActivity:
    """What the CPU did, as consecutive segments [start, end) with a label each (``POLLER`` while
    the poller's task ran and no interrupt did), and when what ran in each segment began (its
    task's switch in, its interrupt's entry): a segment is not always where its activity began."""

    start_ns: np.ndarray
    end_ns: np.ndarray
    label: np.ndarray
    since_ns: np.ndarray


def context_label(kind: int, number: int, irq_names: dict[int, str]) -> str:
    if kind in (EVENT_IRQ_ENTRY, EVENT_IRQ_EXIT):
        return f"irq {number} {irq_names.get(number, '?')}"
    if kind in (EVENT_SOFTIRQ_ENTRY, EVENT_SOFTIRQ_EXIT):
        return f"softirq {SOFTIRQ_NAMES[number] if number < len(SOFTIRQ_NAMES) else number}"
    return VECTOR_LABELS.get(APIC_VECTORS[number] if number < len(APIC_VECTORS) else "", f"vector {number}")


class _Context:
    """An interrupt context while it runs: its label, and the segments it has had so far."""

    def __init__(self, label: str, since_ns: int):
        self.label = label
        self.since_ns = since_ns
        self.segments: list[int] = []


class _Task:
    """The task running between two switches: the name it switched in with, the name of its last
    exec, and the segments it ran; it is named once it switches out (see :func:`task_label`)."""

    def __init__(self, name: str | None, pid: int = -1, since_ns: int = 0):
        self.name = name  # None: the poller
        self.pid = pid
        self.since_ns = since_ns
        self.exec_name: str | None = None
        self.segments: list[int] = []

    @property
    def label(self) -> str:
        return POLLER if self.name is None else f"task {self.name}"


def task_label(switched_in: str, exec_name: str | None, switched_out: str | None) -> str:
    """A task named by what it was while it ran: the name it switched in with, then what it
    became, by its exec ("task sh → exec python3") or by the name it switched out with."""
    if exec_name is not None:
        return f"task {switched_in} → exec {exec_name}"
    if switched_out is not None and switched_out != switched_in:
        return f"task {switched_in} → {switched_out}"
    return f"task {switched_in}"


def cpu_activity(events: np.ndarray, poller_tid: int, irq_names: dict[int, str]) -> CpuActivity:
    """The CPU's activity from its events (kernel_trace.EVENT_DTYPE, in time order). Before the first
    switch the poller is taken to be running; an NMI is a segment of its own, laid over the rest; a
    function an IPI ran names the interrupt that ran it ("IPI call function: flush_tlb_func"); a task
    is named when it switches out, by what it was while it ran (:func:`task_label`)."""
    starts, ends, labels, since = [], [], [], []
    stack: list[_Context] = []  # interrupt contexts, innermost last
    previous = int(events["ts_ns"][0]) if len(events) else 0
    task = _Task(None, since_ns=previous)
    nmis = []
    prev_comms = events["prev_comm"].tolist() if "prev_comm" in events.dtype.names else [b""] * len(events)
    for ts, kind, number, comm, value, prev_comm, prev_pid in zip(
            events["ts_ns"].tolist(), events["kind"].tolist(), events["number"].tolist(), events["comm"].tolist(),
            events["value"].tolist(), prev_comms, events["prev_pid"].tolist()):
        if kind == EVENT_NMI:
            nmis.append((ts - value, ts))
            continue
        if ts > previous:
            starts.append(previous)
            ends.append(ts)
            labels.append(stack[-1].label if stack else task.label)
            since.append(stack[-1].since_ns if stack else task.since_ns)
            if stack:
                stack[-1].segments.append(len(labels) - 1)
            elif task.name is not None:
                task.segments.append(len(labels) - 1)
            previous = ts
        if kind == EVENT_SWITCH:  # tasks switch outside interrupts: a context still open lost its exit
            # the name it left with, if the task leaving is the one that came in (a switch can go unlogged)
            _name_task(task, labels, prev_comm.decode(errors="replace") if prev_pid == task.pid else None)
            task = _Task(None if number == poller_tid else comm.decode(errors="replace"), number, ts)
            stack.clear()
        elif kind == EVENT_EXEC:
            if task.name is not None:
                task.exec_name = comm.decode(errors="replace")
        else:
            _enter_or_leave(stack, labels, kind, number, value, irq_names, ts)
    _name_task(task, labels, None)
    activity = CpuActivity(np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(labels, dtype=object),
                           np.asarray(since, np.int64))
    return _with_nmis(activity, nmis)


def _name_task(task: _Task, labels: list, switched_out: str | None) -> None:
    """Label the segments ``task`` ran by what it was while it ran."""
    if task.name is None:
        return
    label = task_label(task.name, task.exec_name, switched_out or None)
    for segment in task.segments:
        labels[segment] = label


def _enter_or_leave(stack: list[_Context], labels: list, kind: int, number: int, value: int,
                    irq_names: dict[int, str], ts: int) -> None:
    """An interrupt context begins or ends (or an IPI's function, which names its interrupt)."""
    if kind in (EVENT_IRQ_ENTRY, EVENT_SOFTIRQ_ENTRY, EVENT_VECTOR_ENTRY):
        stack.append(_Context(context_label(kind, number, irq_names), ts))
    elif kind in (EVENT_IRQ_EXIT, EVENT_SOFTIRQ_EXIT, EVENT_VECTOR_EXIT):
        label = context_label(kind, number, irq_names)
        names = [c.label.split(":")[0] for c in stack]
        if label in names:  # an exit whose entry came before the trace started has none
            del stack[len(stack) - 1 - names[::-1].index(label):]
    elif kind == EVENT_FUNCTION_ENTRY:
        function = kernel_symbol(value)
        if stack and stack[-1].label.startswith("IPI"):  # name the interrupt after what it ran
            if ":" not in stack[-1].label:
                stack[-1].label = f"{stack[-1].label}: {function}"
            for segment in stack[-1].segments:
                labels[segment] = stack[-1].label
        else:
            stack.append(_Context(f"IPI function: {function}", ts))
    elif kind == EVENT_FUNCTION_EXIT and stack and stack[-1].label == f"IPI function: {kernel_symbol(value)}":
        stack.pop()


def _with_nmis(activity: CpuActivity, nmis) -> CpuActivity:
    """Lay the NMI segments over the activity (an NMI interrupts whatever ran)."""
    if not nmis:
        return activity
    starts, ends, labels, since = (list(activity.start_ns), list(activity.end_ns), list(activity.label),
                                   list(activity.since_ns))
    for nmi_start, nmi_end in nmis:
        cut_starts, cut_ends, cut_labels, cut_since = [], [], [], []
        for s, e, label, began in zip(starts, ends, labels, since):
            for piece_start, piece_end in ((s, min(e, nmi_start)), (max(s, nmi_end), e)):
                if piece_end > piece_start:
                    cut_starts.append(piece_start)
                    cut_ends.append(piece_end)
                    cut_labels.append(label)
                    cut_since.append(began)
        cut_starts.append(nmi_start)
        cut_ends.append(nmi_end)
        cut_labels.append("NMI")
        cut_since.append(nmi_start)
        order = np.argsort(cut_starts, kind="stable")
        starts, ends, labels, since = ([seq[i] for i in order] for seq in (cut_starts, cut_ends, cut_labels, cut_since))
    return CpuActivity(np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(labels, dtype=object),
                       np.asarray(since, np.int64))


def name_pauses(start_ns: np.ndarray, length_ns: np.ndarray, activity: CpuActivity) -> tuple[list[str], np.ndarray]:
    """For each pause: the activity other than the poller that took most of its time (or
    NO_KERNEL_EVENT, see the module's docstring), and the share of the pause the traced activities
    account for.

    The poller ran at each pause's start (it read the clock then), so an activity that began before
    the start had ended by then: a segment of it inside the pause follows an event the tracer lost
    (a switch back to the poller, seen here: a task otherwise named for a busy-wait it never
    interrupted), and does not count."""
    names, shares = [], np.zeros(len(start_ns))
    first = np.searchsorted(activity.end_ns, start_ns, side="right")
    for i, (start, length) in enumerate(zip(start_ns.tolist(), length_ns.tolist())):
        end = start + length
        time_by_label: dict[str, int] = {}
        j = int(first[i])
        while j < len(activity.start_ns) and activity.start_ns[j] < end:
            label = activity.label[j]
            if label != POLLER and activity.since_ns[j] >= start:
                overlap = min(int(activity.end_ns[j]), end) - max(int(activity.start_ns[j]), start)
                if overlap > 0:
                    time_by_label[label] = time_by_label.get(label, 0) + overlap
            j += 1
        shares[i] = min(1.0, sum(time_by_label.values()) / length) if length else 0.0
        names.append(max(time_by_label, key=time_by_label.get) if shares[i] >= TRACED_SHARE_MIN else NO_KERNEL_EVENT)
    return names, shares
