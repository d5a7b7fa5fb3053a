"""Checks each prerequisite of the hardware backend and says what is missing and how to fix it."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_root() -> Check:
    ok = os.geteuid() == 0
    return Check("root", ok, "running as root" if ok else "not root: BPF and XDP need CAP_BPF/CAP_NET_ADMIN",
                 "run as root (sudo)")


def check_bcc() -> Check:
    try:
        import bcc  # noqa: F401
    except ImportError as error:
        return Check("bcc", False, f"BCC is not importable: {error}", "make setup (apt-get install python3-bpfcc; links bcc into .venv)")
    return Check("bcc", True, f"BCC importable from {Path(bcc.__file__).parent}")


def check_headers() -> Check:
    build = Path(f"/lib/modules/{platform.release()}/build")
    ok = (build / "include").is_dir()
    return Check("kernel headers", ok, f"{build} " + ("is reachable" if ok else "is missing"),
                 "make setup (apt-get install linux-headers-amd64; links them to /lib/modules/$(uname -r)/build)")


def check_bpf_syscall() -> Check:
    if not Path("/sys/fs/bpf").exists() and not Path("/proc/sys/kernel/unprivileged_bpf_disabled").exists():
        return Check("bpf syscall", False, "the kernel shows no sign of BPF support", "use a kernel with CONFIG_BPF_SYSCALL")
    try:
        from bcc import BPF
        BPF(text=b"int ok(void *ctx) { return 0; }").load_func(b"ok", BPF.SOCKET_FILTER)
    except Exception as error:  # noqa: BLE001 - any failure here is the answer
        return Check("bpf syscall", False, f"loading a trivial BPF program failed: {str(error).splitlines()[0]}",
                     "run as root on a kernel with BPF; see the other checks")
    return Check("bpf syscall", True, "a trivial BPF program loads")


def check_veth() -> Check:
    if shutil.which("ip") is None:
        return Check("veth", False, "iproute2 ('ip') is missing", "apt-get install iproute2")
    name = "rl-doctor0"
    result = subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", "rl-doctor1"],
                            capture_output=True, text=True)
    subprocess.run(["ip", "link", "del", name], capture_output=True)
    ok = result.returncode == 0
    return Check("veth", ok, "veth pairs can be created" if ok else f"cannot create a veth pair: {result.stderr.strip()}",
                 "use a kernel with CONFIG_VETH, as root")


def check_tracefs() -> Check:
    """tracefs mounted, as BCC's tracepoint probes need (a trial mounts it if it can)."""
    from ringlab.hw.kernel.tracer import TRACEFS, ensure_tracefs, tracefs_mounted

    fix = f"mount -t tracefs nodev {TRACEFS} (make setup and every trial do)"
    if not tracefs_mounted():
        try:
            ensure_tracefs()
        except Exception as error:  # noqa: BLE001 - any failure here is the answer
            return Check("tracefs", False, f"not mounted, and mounting failed: {error}", fix)
        return Check("tracefs", True, f"was not mounted; mounted it at {TRACEFS}")
    return Check("tracefs", True, f"mounted at {TRACEFS} (tracepoints for naming the poller's pauses)")


def check_native_xdp(iface: str) -> Check:
    """Whether ``iface``'s driver runs XDP natively: attach an XDP_PASS program in driver mode, then
    remove it (some drivers reset their queues when a program comes or goes)."""
    from bcc import BPF

    from ringlab.hw.machine import iplink
    from ringlab.hw.machine.libbcc import quiet_stderr

    name = f"native XDP on {iface}"
    if iplink.link(iface) is None:
        return Check(name, False, f"no network interface {iface!r}", "give an interface of this host")
    if iplink.xdp_attached(iface):
        return Check(name, True, f"not checked: {iface} has an XDP program attached already")
    probe = BPF(text=b"int pass_all(struct xdp_md *ctx) { return XDP_PASS; }")
    try:
        function = probe.load_func(b"pass_all", BPF.XDP)
        with quiet_stderr():
            probe.attach_xdp(iface.encode(), function, BPF.XDP_FLAGS_DRV_MODE | BPF.XDP_FLAGS_UPDATE_IF_NOEXIST)
    except Exception as error:  # noqa: BLE001 - BCC raises a bare Exception when the driver refuses
        return Check(name, False, f"{iface}'s driver does not support native XDP ({error})",
                     'use hw.mode = "generic" (the kernel runs XDP on its own path, for any driver)')
    finally:
        with contextlib.suppress(Exception):
            probe.remove_xdp(iface.encode(), BPF.XDP_FLAGS_DRV_MODE)
        probe.cleanup()
    return Check(name, True, f"{iface}'s driver runs XDP natively (hw.mode = \"native\" works)")


def check_libxdp() -> Check:
    """Whether the AF_XDP poller builds against libxdp (only af_xdp trials need it)."""
    from ringlab.errors import BuildError
    from ringlab.hw.trial import xsk_socket

    try:
        xsk_socket.library()
    except (BuildError, OSError) as error:
        return Check("libxdp", False, f"the AF_XDP poller does not build: {str(error).splitlines()[0]} "
                     "(only delivery.path = \"af_xdp\" needs it)", "make setup (apt-get install libxdp-dev)")
    return Check("libxdp", True, "the AF_XDP poller builds and links against libxdp")


def check_knob_journal() -> Check:
    """The system knobs an experiment holds now (its journal), if any: informational, never a failure
    (a killed experiment's knobs were given back before this command ran)."""
    from ringlab.hw.knobs.journal import left_journals

    held = [f"{entry['knob']}={entry['set']} (found {entry['found']}, pid {journal['pid']})"
            for journal in left_journals(everything=True) for entry in journal["entries"]]
    return Check("knob journal", True, ("an experiment holds " + "; ".join(held) + " (given back when it ends, or by "
                                        "'ringlab hw cleanup')") if held else "no system knob held by an experiment")


def run_checks(iface: str | None = None) -> list[Check]:
    checks = [check_root(), check_bcc(), check_headers()]
    if checks[0].ok and checks[1].ok:
        checks.append(check_bpf_syscall())
    if checks[0].ok:
        checks.append(check_tracefs())
    if checks[0].ok:
        checks.append(check_veth())
        checks.append(check_knob_journal())
    checks.append(check_libxdp())
    if iface is not None and all(c.ok for c in checks):
        checks.append(check_native_xdp(iface))
    return checks


def hardware_ready() -> tuple[bool, str]:
    """Whether trials can run here, and if not, the first reason (an af_xdp trial says itself when
    libxdp is missing)."""
    for check in run_checks():
        if not check.ok and check.name != "libxdp":
            return False, f"{check.name}: {check.detail}"
    return True, "ready"
