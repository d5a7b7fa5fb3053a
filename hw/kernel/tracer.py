"""The kernel events that take one CPU away, traced with BCC on tracepoints while a trial runs, as
the kernel's osnoise tracer counts them (context switches, device interrupts, softirqs, the local
APIC's vectors, NMIs). The BPF program is ``bpf/cpu_events.c``; its log is mmapped and read once,
at the end, so that tracing costs the traced CPU only the probes themselves.

BCC attaches tracepoint probes only once tracefs is mounted; :func:`ensure_tracefs` mounts it.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import subprocess
import time
from pathlib import Path

import numpy as np

from ringlab.bpf import CPU_EVENTS_HEADER, CPU_EVENTS_SOURCE
from ringlab.errors import HardwareError
from ringlab.hw.machine.libbcc import quiet_stderr
from ringlab.hw.machine.signals import signals_deferred

TRACEFS = Path("/sys/kernel/tracing")
EVENT_DTYPE = np.dtype([("ts_ns", "<u8"), ("kind", "<u4"), ("number", "<u4"), ("prev_pid", "<u4"),
                        ("padding", "<u4"), ("value", "<u8"), ("comm", "S16"), ("prev_comm", "S16")])
# enum event_kind of bpf/cpu_events.h
(EVENT_SWITCH, EVENT_IRQ_ENTRY, EVENT_IRQ_EXIT, EVENT_SOFTIRQ_ENTRY, EVENT_SOFTIRQ_EXIT, EVENT_VECTOR_ENTRY,
 EVENT_VECTOR_EXIT, EVENT_NMI, EVENT_FUNCTION_ENTRY, EVENT_FUNCTION_EXIT, EVENT_EXEC) = range(1, 12)
# enum apic_vector, in order: the irq_vectors tracepoints probed where the kernel has them
APIC_VECTORS = ("local_timer", "reschedule", "call_function", "call_function_single", "irq_work", "x86_platform_ipi",
                "thermal_apic", "spurious_apic", "error_apic")
EVENTS_PER_SECOND = 20_000  # log room per second of trial: an idle CPU makes about 1,000


def tracefs_mounted() -> bool:
    return (TRACEFS / "events").is_dir()


def ensure_tracefs() -> None:
    """Mount tracefs where BCC looks for tracepoints, unless it is there; HardwareError if it cannot."""
    if tracefs_mounted():
        return
    result = subprocess.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)], capture_output=True, text=True)
    if result.returncode != 0 or not tracefs_mounted():
        raise HardwareError(f"tracefs is not mounted at {TRACEFS} and mounting it failed: {result.stderr.strip()} "
                            "(set hw.trace_kernel = false to run without naming the pauses' sources)")


def attach_vectors(bpf) -> tuple[str, ...]:
    """Attach the APIC vector probes of ``bpf`` that this kernel has and lets BPF attach to (both
    entry and exit: some, such as irq_work_exit here, refuse with EPERM); return their names."""
    attached = []
    for name in APIC_VECTORS:
        if not (TRACEFS / "events" / "irq_vectors" / f"{name}_entry").is_dir():
            continue
        try:
            with quiet_stderr():  # libbcc prints the kernel's refusal itself
                for end in ("entry", "exit"):
                    bpf.attach_tracepoint(tp=f"irq_vectors:{name}_{end}".encode(), fn_name=f"vector_{end}_{name}".encode())
        except Exception:  # noqa: BLE001 - BCC raises a bare Exception when the kernel refuses
            for end in ("entry", "exit"):  # not half: the entry without its exit would open a context for good
                with contextlib.suppress(Exception):
                    bpf.detach_tracepoint(tp=f"irq_vectors:{name}_{end}".encode())
            continue
        attached.append(name)
    return tuple(attached)


def irq_names() -> dict[int, str]:
    """Device interrupt numbers and their handlers' names, from /proc/interrupts."""
    names = {}
    try:
        lines = Path("/proc/interrupts").read_text().splitlines()[1:]
    except OSError:
        return names
    for line in lines:
        number, _, rest = line.partition(":")
        if number.strip().isdigit():
            words = [w for w in rest.split() if not w.isdigit()]
            names[int(number)] = words[-1] if words else "?"
    return names


@functools.cache
def kernel_symbol(address: int) -> str:
    """The name of the kernel function at ``address`` (from /proc/kallsyms, through BCC)."""
    from bcc import BPF

    name = BPF.ksym(address)
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def log_entries_for(seconds: float) -> int:
    """The event log's size for a trial of about ``seconds``: a power of two."""
    return 1 << int(max(16, EVENTS_PER_SECOND * seconds)).bit_length()


class CpuEventTracer:
    """Context manager: the kernel events on ``cpu`` are logged from the start of the block.
    :meth:`events` reads them; leaving the block detaches the probes."""

    def __init__(self, cpu: int, expected_seconds: float):
        self.cpu = cpu
        self.log_entries = log_entries_for(expected_seconds)
        self.bpf = None
        self.vectors: tuple[str, ...] = ()
        self.armed_ns = 0
        self._map = None

    def __enter__(self) -> CpuEventTracer:
        from bcc import BPF

        ensure_tracefs()
        try:
            with signals_deferred():  # BPF objects attach tracepoints as they are made: never half-made
                cflags = [f"-I{CPU_EVENTS_HEADER.parent}", f"-DTARGET_CPU={self.cpu}",
                          f"-DLOG_EVENTS={self.log_entries}"]
                if (TRACEFS / "events" / "csd" / "csd_function_entry").is_dir():
                    cflags.append("-DHAVE_csd")
                self.bpf = BPF(src_file=str(CPU_EVENTS_SOURCE).encode(), cflags=cflags)
                self.vectors = attach_vectors(self.bpf)
            # Attaching patches kernel text, which sends every CPU IPIs, and probes come alive one by
            # one (an entry probe before its exit): only events after the last attach count.
            self.armed_ns = time.monotonic_ns()
            table = self.bpf[b"cpu_events"]
            length = -(-EVENT_DTYPE.itemsize * self.log_entries // mmap.PAGESIZE) * mmap.PAGESIZE
            self._map = mmap.mmap(table.get_fd(), length, mmap.MAP_SHARED, mmap.PROT_READ)
        except BaseException as error:
            self.__exit__(None, None, None)
            if isinstance(error, Exception):
                raise HardwareError(f"tracing the kernel's events on CPU {self.cpu} failed: "
                                    f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
            raise
        return self

    def events(self) -> tuple[np.ndarray, int]:
        """The events logged since every probe was attached, in time order, and how many did not
        fit in the log."""
        count_table = self.bpf[b"cpu_event_count"]
        count = int(count_table[count_table.Key(0)].value)
        kept = min(count, self.log_entries)
        events = np.frombuffer(self._map, EVENT_DTYPE, kept).copy()
        events = events[events["ts_ns"] >= self.armed_ns]
        return events[np.argsort(events["ts_ns"], kind="stable")], count - kept

    def recursion_misses(self) -> int | None:
        """How many times the kernel skipped one of the probes because a BPF program was already
        running on that CPU (an interrupt arriving inside a probe): events the log cannot hold.
        Summed over the probes from their /proc/self/fdinfo; None where the kernel does not say."""
        total, said = 0, False
        for function in self.bpf.funcs.values():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/self/fdinfo/{function.fd}").read_text().splitlines():
                    if line.startswith("recursion_misses:"):
                        total, said = total + int(line.split()[1]), True
        return total if said else None

    def __exit__(self, *exc) -> None:
        with signals_deferred():
            if self._map is not None:
                self._map.close()
                self._map = None
            if self.bpf is not None:
                self.bpf.cleanup()
                self.bpf = None
