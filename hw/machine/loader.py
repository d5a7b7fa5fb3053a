"""Compile the XDP writer with BCC, attach it, map its ring and log, and detach it on every exit."""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.bpf import HANDOFF_SOURCE, RING_WIRE_HEADER, RING_WRITER_SOURCE
from ringlab.errors import HardwareError
from ringlab.hw.machine import iplink, state
from ringlab.hw.machine.libbcc import quiet_stderr
from ringlab.hw.machine.netns import entered as netns_entered
from ringlab.hw.machine.signals import signals_deferred
from ringlab.hw.machine.wire import COUNTER_NAMES, LOG_DTYPE, PAYLOAD_DTYPES
from ringlab.scenario.delivery_paths import MAP_RING, DeliveryPath

# The XDP programs, by DeliveryPath.xdp_program: their source and function.
XDP_PROGRAMS = {"ring_writer": (RING_WRITER_SOURCE, b"xdp_ring_writer"), "handoff": (HANDOFF_SOURCE, b"xdp_handoff")}

# The largest ring ringlab loads on real XDP. Any size up to it loads (powers of two or not; the
# kernel's own map limit is far above). Past it BCC's compile grows too costly: its time and memory
# grow with the ring (here: 1.7-2.0 s at 4 096 slots, 35-37 s and 1.2 GB at 65 536 in three runs each;
# 164 s and 4 GB at 262 144 in one).
MAX_XDP_RING_SLOTS = 65_536


def check_ring_loadable(ring_slots: int) -> None:
    """Refuse, in one line, a ring larger than real XDP loads here."""
    if ring_slots > MAX_XDP_RING_SLOTS:
        raise HardwareError(f"ring_slots = {ring_slots}: real XDP here takes at most {MAX_XDP_RING_SLOTS} slots "
                            "(BCC's compile time and memory grow with the ring); the simulator takes it")


def log_slots_for(packets: int) -> int:
    """The per-packet log's size: a power of two above the largest id."""
    return max(1024, 1 << int(packets + 1).bit_length())


def mode_flags(mode: str) -> int:
    """BCC's XDP attach flag for ``mode`` (generic: the kernel's skb path; native: the driver's)."""
    from bcc import BPF

    return {"generic": BPF.XDP_FLAGS_SKB_MODE, "native": BPF.XDP_FLAGS_DRV_MODE}[mode]


BPF_STATS = Path("/proc/sys/kernel/bpf_stats_enabled")
SYS_BPF = 321  # x86_64
BPF_ENABLE_STATS, BPF_STATS_RUN_TIME = 32, 0


def enable_run_statistics() -> int | None:
    """Make the kernel count every BPF program's runs (for an independent count) for as long as the
    returned descriptor is open: BPF_ENABLE_STATS, which changes no system setting and ends with this
    process, however it ends. None where the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(struct.pack("<I", BPF_STATS_RUN_TIME), 8)
    fd = libc.syscall(SYS_BPF, BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
    return fd if fd >= 0 else None


def restore_bpf_stats(before: str) -> None:
    """Put back the sysctl that trials of earlier ringlab versions set (their cleanup records it)."""
    with contextlib.suppress(OSError):
        BPF_STATS.write_text(before)


def detach(iface: str, netns: str | None = None) -> None:
    """Remove any XDP program from ``iface`` (in ``netns`` if given), whatever its mode (no BCC needed)."""
    prefix = ["-n", netns] if netns else []
    for mode in ("xdpgeneric", "xdpdrv", "xdp"):
        iplink.ip(*prefix, "link", "set", "dev", iface, mode, "off", check=False)


@dataclass(frozen=True)
class WriterSettings:
    """What the XDP program is compiled for: the map ring's writer (bpf/ring_writer.c), or for another
    delivery path the program that hands frames on (bpf/xdp_handoff.c)."""

    ring_slots: int
    policy: str
    payload_layout: str
    log_slots: int
    delivery: DeliveryPath = MAP_RING

    @property
    def source(self) -> Path:
        return XDP_PROGRAMS[self.delivery.xdp_program][0]

    @property
    def function(self) -> bytes:
        return XDP_PROGRAMS[self.delivery.xdp_program][1]

    def cflags(self) -> list[str]:
        flags = [f"-I{RING_WIRE_HEADER.parent}", f"-DLOG_SLOTS={self.log_slots}"]
        if self.delivery.has_writer_policy:
            flags += [f"-DRING_SLOTS={self.ring_slots}", f"-DPOLICY_{self.policy.upper()}"]
        else:
            flags += [f"-DDELIVERY_{self.delivery.name.upper()}",
                      f"-DPAYLOAD_OFFSET_BYTES={self.delivery.payload_offset_bytes}"]
        if self.payload_layout == "packed":
            flags.append("-DPAYLOAD_PACKED")
        return flags




def _map_array(table, value_bytes: int, entries: int) -> mmap.mmap:
    length = value_bytes * entries
    length = -(-length // mmap.PAGESIZE) * mmap.PAGESIZE
    return mmap.mmap(table.get_fd(), length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)


class AttachedWriter:
    """Context manager: the XDP writer compiled, attached to ``iface``, its ring and log mmapped.

    Refuses to replace an XDP program someone else attached unless ``force``. On leaving the
    block (normally, by exception, or by a signal turned into one) it unmaps, detaches and
    forgets its state record.
    """

    def __init__(self, iface: str, settings: WriterSettings, mode: str = "generic", force: bool = False,
                 netns: str | None = None):
        self.iface, self.settings, self.mode, self.force, self.netns = iface, settings, mode, force, netns
        self.bpf = None
        self._maps: list[mmap.mmap] = []
        self.ring = None
        self.log = None
        self.xskmap = None  # af_xdp: the XSKMAP the program redirects to
        self._statistics_fd: int | None = None

    def __enter__(self) -> AttachedWriter:
        from bcc import BPF

        present = iplink.xdp_attached(self.iface, self.netns)
        if iplink.link(self.iface, self.netns) is None:
            raise HardwareError(f"no network interface {self.iface!r}")
        if present and not self.force:
            raise HardwareError(
                f"{self.iface} already has an XDP program (id {present.get('prog', {}).get('id', '?')}) that ringlab "
                "did not attach; pass --force to replace it"
            )
        self.bpf = BPF(src_file=str(self.settings.source).encode(), cflags=self.settings.cflags())
        function = self.bpf.load_func(self.settings.function, BPF.XDP)
        state.record("xdp", self.iface, mode=self.mode, netns=self.netns)
        try:
            self._statistics_fd = enable_run_statistics()
            flags = mode_flags(self.mode) | (0 if self.force else BPF.XDP_FLAGS_UPDATE_IF_NOEXIST)
            try:
                with quiet_stderr(), netns_entered(self.netns):  # libbcc prints the kernel's refusal itself
                    self.bpf.attach_xdp(self.iface.encode(), function, flags)
            except Exception as error:  # noqa: BLE001 - BCC raises a bare Exception
                if self.mode == "native":
                    raise HardwareError(f"{self.iface}: its driver does not support native XDP ({error}); "
                                        "use hw.mode = \"generic\"") from None
                raise HardwareError(f"{self.iface}: attaching the XDP program failed: {error}") from None
            log_map = _map_array(self.bpf[b"packet_log"], LOG_DTYPE.itemsize, self.settings.log_slots)
            self._maps = [log_map]
            if self.settings.delivery.has_writer_policy:
                dtype = PAYLOAD_DTYPES[self.settings.payload_layout]
                self.ring = _map_array(self.bpf[b"ring"], dtype.itemsize * self.settings.ring_slots, 1)
                self._maps.append(self.ring)
            elif self.settings.delivery.xskmap:
                self.xskmap = self.bpf[b"xsks"]
            self.log = np.frombuffer(log_map, LOG_DTYPE, self.settings.log_slots)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def counters(self) -> dict[str, int]:
        """The per-CPU counters, summed over CPUs."""
        table = self.bpf[b"counters"]
        return {name: int(sum(table[table.Key(i)])) for i, name in enumerate(COUNTER_NAMES)}

    def kernel_stats(self) -> dict | None:
        """The kernel's own count of the program's runs and their total time (kernel.bpf_stats_enabled),
        read with bpftool; None where the kernel or bpftool cannot say."""
        attached = iplink.xdp_attached(self.iface, self.netns)
        prog_id = (attached or {}).get("prog", {}).get("id")
        if prog_id is None or shutil.which("bpftool") is None:
            return None
        result = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(prog_id)], capture_output=True, text=True)
        try:
            info = json.loads(result.stdout)
        except ValueError:
            return None
        if "run_cnt" not in info:
            return None
        return {"run_count": int(info["run_cnt"]), "run_time_ns": int(info.get("run_time_ns", 0))}

    def independent_count(self, attempts: int = 3) -> dict | None:
        """The kernel's run count beside the program's own counters, read so that no frame arrives
        between them (the run count read before and after agrees); None without kernel stats."""
        for _ in range(attempts):
            before = self.kernel_stats()
            counters = self.counters()
            after = self.kernel_stats()
            if before is None or after is None:
                return None
            if before["run_count"] == after["run_count"]:
                runs = after["run_count"]
                return {"kernel_run_count": runs, "seen_plus_not_ours": counters["seen"] + counters["not_ours"],
                        "agrees": runs == counters["seen"] + counters["not_ours"],
                        "mean_run_time_ns": after["run_time_ns"] / runs if runs else None}
        return None

    def __exit__(self, *exc) -> None:
        with signals_deferred():  # a second signal must not leave the program half-detached
            self.log = None
            self.ring = None
            self.xskmap = None
            for mapping in self._maps:
                with contextlib.suppress(BufferError):  # a view is still alive: the mapping goes when it does
                    mapping.close()
            self._maps = []
            if self.bpf is not None:
                try:
                    with netns_entered(self.netns):
                        self.bpf.remove_xdp(self.iface.encode(), mode_flags(self.mode))
                except Exception:  # noqa: BLE001 - whatever BCC failed on, detach with iproute2 instead
                    detach(self.iface, self.netns)
                self.bpf.cleanup()
                self.bpf = None
            if self._statistics_fd is not None:
                os.close(self._statistics_fd)
                self._statistics_fd = None
            state.forget("xdp", self.iface)
