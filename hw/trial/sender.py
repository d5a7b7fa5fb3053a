"""The paced sender: ids 1, 2, 3, ... at planned times, in C or Python, busy-waiting to each send
time (or sleeping one interval after each frame: sleep pacing, docs/model.md, History).

Each sender is a process of its own (inside the testbed's namespace, or on the host in front of a
real NIC), one per writer CPU, each sending every n-th id. Protocol: it prints ``ready`` once its
socket is open and everything slow is done, reads the start time (CLOCK_MONOTONIC ns) on standard
input, sends, and writes the actual send times to a .npy. A trial and ``ringlab hw send`` both run
senders through :class:`SenderProcesses`.

This module imports nothing heavy (no scipy, no BCC): a sender must be ready quickly.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab.atomic_files import atomic_path
from ringlab.errors import HardwareError
from ringlab.hw.machine.wire import (
    ETHERTYPE_PINGPONG,
    PAYLOAD_OFFSET,
    UDP_PAYLOAD_OFFSET,
    frame_template,
    id_patcher,
    parse_mac,
    udp_frame_template,
)

# A sender needs no worker threads of the numerical libraries: each is one more task to schedule.
QUIET_LIBRARIES = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUEUE_FULL = (errno.ENOBUFS, errno.EAGAIN)


def open_socket(iface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE_PINGPONG))
    sock.bind((iface, 0))
    return sock


def send_paced(sock, frame: bytearray, set_id, ids: np.ndarray, arrival_ns: np.ndarray, start_ns: int,
               sleep_ns: int = 0) -> np.ndarray:
    """Send frame ``i``, carrying ``ids[i]``, at ``start_ns + arrival_ns[i]``, busy-waiting; or, with
    ``sleep_ns``, the first at its time and then after a sleep of ``sleep_ns`` each (sleep
    pacing, docs/model.md, History). A full send queue is retried, as the C loop does. Return when each frame
    was handed to the kernel."""
    clock = time.monotonic_ns
    targets = (arrival_ns + start_ns).tolist()
    sent = [0] * len(targets)
    send = sock.send
    pause_s = sleep_ns / 1e9
    for i, (packet_id, target) in enumerate(zip(ids.tolist(), targets)):
        set_id(frame, packet_id)
        if sleep_ns and i:
            time.sleep(pause_s)
        else:
            while clock() < target:
                pass
        while True:
            handed = clock()  # just before the send: with generic XDP on a veth, XDP can run inside it
            try:
                send(frame)
                break
            except OSError as error:
                if error.errno not in QUEUE_FULL:
                    raise
        sent[i] = handed
    return np.asarray(sent, dtype=np.int64)


def send_frames(sock, frame: bytearray, layout: str, loops: str, ids: np.ndarray, arrival_ns: np.ndarray,
                start_ns: int, sleep_ns: int = 0, payload_offset: int = PAYLOAD_OFFSET) -> np.ndarray:
    """Send with the chosen hot loop (``native``: C, ``python``); return the send times."""
    if loops == "native":
        from ringlab.hw.trial.native_loops import send_paced_native

        return send_paced_native(sock, frame, layout, ids, arrival_ns, start_ns, sleep_ns, payload_offset)
    return send_paced(sock, frame, id_patcher(layout, payload_offset), ids, arrival_ns, start_ns, sleep_ns)


def sender_cpus(senders: int, poller_cpu: int = 0) -> list[int | None]:
    """Where each sender runs. One sender: the lowest core the poller (on ``poller_cpu``) does not
    use. Several (one per writer CPU, since generic XDP on veth runs on the sending CPU): one core
    each, the poller then shares."""
    cores = os.cpu_count() or 1
    if cores < 2:
        return [None] * senders
    if senders == 1:
        return [min(cpu for cpu in os.sched_getaffinity(0) | {poller_cpu} if cpu != poller_cpu)]
    return [k % cores for k in range(senders)]


@dataclass(frozen=True)
class Sender:
    """One running sender process, the ids it sends and the file it writes its send times to."""

    process: subprocess.Popen
    sent_file: Path
    ids: np.ndarray


@dataclass(frozen=True)
class SenderSettings:
    """How the senders send: the payload layout, the hot loop, the pacing, and for the UDP socket path
    the datagram's addresses ("source,destination,port"; None: pingpong frames)."""

    layout: str
    loops: str
    pacing: str  # busy | sleep
    interval_ns: int
    udp: str | None = None


class SenderProcesses:
    """Context manager: one sender process per part (in ``netns`` if given), each sending every
    ``parts``-th id of the plan, all ready when the block starts; any still running on the way
    out is killed."""

    def __init__(self, iface: str, dst_mac: str, settings: SenderSettings, arrival_ns: np.ndarray, parts: int,
                 workdir: Path, netns: str | None = None, poller_cpu: int = 0):
        self.iface, self.dst_mac, self.settings, self.netns = iface, dst_mac, settings, netns
        self.poller_cpu = poller_cpu
        self.arrival_ns, self.parts, self.workdir = arrival_ns, parts, Path(workdir)
        self.senders: list[Sender] = []

    def __enter__(self) -> SenderProcesses:
        plan_file = self.workdir / "plan.npy"
        np.save(plan_file, self.arrival_ns)
        settings = self.settings
        sleep_ns = settings.interval_ns * self.parts if settings.pacing == "sleep" else 0
        try:
            for part, cpu in enumerate(sender_cpus(self.parts, self.poller_cpu)):
                sent_file = self.workdir / f"sent-{part}.npy"
                command = [sys.executable, "-m", "ringlab.hw.trial.sender", "--iface", self.iface, "--dst-mac", self.dst_mac,
                           "--layout", settings.layout, "--plan", str(plan_file), "--out", str(sent_file),
                           "--loops", settings.loops, "--sleep-ns", str(sleep_ns), "--part", str(part),
                           "--parts", str(self.parts)]
                if cpu is not None:
                    command += ["--cpu", str(cpu)]
                if settings.udp is not None:
                    command += ["--udp", settings.udp]
                if self.netns:
                    command = ["ip", "netns", "exec", self.netns] + command
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                           env={**os.environ, **QUIET_LIBRARIES})
                ids = np.arange(part, len(self.arrival_ns), self.parts) + 1
                self.senders.append(Sender(process, sent_file, ids))
            for sender in self.senders:
                if sender.process.stdout.readline().strip() != "ready":
                    raise HardwareError(f"a sender did not start (exit status {sender.process.wait()})")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self, start_ns: int) -> None:
        """Tell every sender the run's start time (CLOCK_MONOTONIC ns)."""
        for sender in self.senders:
            sender.process.stdin.write(f"{start_ns}\n")
            sender.process.stdin.flush()

    def wait(self, timeout_s: float) -> bool:
        """Wait for every sender; True if all finished well within ``timeout_s`` and wrote their times."""
        deadline = time.monotonic() + timeout_s
        try:
            codes = [s.process.wait(timeout=max(0.0, deadline - time.monotonic())) for s in self.senders]
        except subprocess.TimeoutExpired:
            return False
        return all(code == 0 for code in codes) and all(s.sent_file.exists() for s in self.senders)

    def last_send_ns(self) -> int:
        """The latest send time of any frame (after :meth:`wait` returned True)."""
        return max(int(np.load(s.sent_file).max(initial=0)) for s in self.senders)

    def send_times(self) -> np.ndarray:
        """Every frame's send time, indexed by id - 1; fails if a sender failed."""
        for sender in self.senders:
            if sender.process.wait(timeout=60) != 0:
                raise HardwareError(f"a sender failed (exit status {sender.process.returncode})")
        sent_ns = np.zeros(len(self.arrival_ns), np.int64)
        for sender in self.senders:
            sent_ns[sender.ids - 1] = np.load(sender.sent_file)
        return sent_ns

    def __exit__(self, *exc) -> None:
        for sender in self.senders:
            if sender.process.poll() is None:
                sender.process.kill()
            sender.process.wait()


START_DELAY_NS = 100_000_000  # between the senders being ready and the first frame
LATE_SEND_NS = 10_000  # a frame handed to the kernel more than this after its planned time is late
SENDER_RECORD = "sender.json"
SENT_FILE = "sent.npy"


@dataclass(frozen=True)
class SentFrames:
    """What 'ringlab hw send' did: when each frame went to the kernel (CLOCK_MONOTONIC ns of this
    host) and the planned offsets, from the start time it chose."""

    start_ns: int
    sent_ns: np.ndarray
    planned_offset_ns: np.ndarray

    def figures(self) -> dict:
        """The sender's own figures: frames sent, late ones, the spacing it achieved, bursts."""
        from ringlab.analysis.latency import LatencyHistogram  # not at import: a sender starts fast

        offsets = self.sent_ns - self.start_ns
        gaps = np.diff(np.sort(self.sent_ns))
        interval = float(np.median(np.diff(self.planned_offset_ns))) if len(self.planned_offset_ns) > 1 else 0.0
        return {"frames": int(len(self.sent_ns)), "late_sends": int(np.sum(offsets - self.planned_offset_ns > LATE_SEND_NS)),
                "lateness": LatencyHistogram.of(np.maximum(offsets - self.planned_offset_ns, 0)).figures(),
                "gap": LatencyHistogram.of(gaps).figures(), "planned_interval_ns": interval,
                "bursts": int(np.sum(gaps < interval / 2))}


def send_scenario(iface: str, dst_mac: str, settings: SenderSettings, arrival_ns: np.ndarray, parts: int) -> SentFrames:
    """Send a plan's frames from ``iface`` to ``dst_mac``, one sender process per part, starting
    START_DELAY_NS after they are ready (what 'ringlab hw send' does on a sending host)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"ringlab-send-{os.getpid()}-") as workdir, \
            SenderProcesses(iface, dst_mac, settings, arrival_ns, parts, Path(workdir)) as senders:
        start_ns = time.monotonic_ns() + START_DELAY_NS
        senders.start(start_ns)
        return SentFrames(start_ns, senders.send_times(), np.asarray(arrival_ns, np.int64))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--dst-mac", required=True)
    parser.add_argument("--layout", default="original", choices=["original", "packed"])
    parser.add_argument("--plan", required=True, type=Path, help=".npy of send offsets in ns")
    parser.add_argument("--out", required=True, type=Path, help=".npy for the actual send times")
    parser.add_argument("--cpu", type=int, default=None, help="pin to this CPU")
    parser.add_argument("--loops", default="native", choices=["native", "python"], help="the pacing loop in C or Python")
    parser.add_argument("--sleep-ns", type=int, default=0,
                        help="pace by sleeping this long after each frame instead of busy-waiting to the plan")
    parser.add_argument("--part", type=int, default=0, help="send the ids of this part (id - 1 = part mod parts)")
    parser.add_argument("--parts", type=int, default=1, help="how many senders share the plan")
    parser.add_argument("--udp", default=None, help="send UDP datagrams: SOURCE_IP,DESTINATION_IP,PORT")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    plan = np.load(args.plan)
    mine = np.arange(args.part, len(plan), args.parts)
    ids, arrival_ns = mine + 1, plan[mine]
    if args.loops == "native":
        from ringlab.hw.trial.native_loops import library

        library()  # build or load it now: everything slow happens before "ready"
    sock = open_socket(args.iface)
    src_mac = parse_mac(Path(f"/sys/class/net/{args.iface}/address").read_text().strip())
    if args.udp is None:
        frame, payload_offset = frame_template(parse_mac(args.dst_mac), src_mac, args.layout), PAYLOAD_OFFSET
    else:
        source, destination, port = args.udp.split(",")
        frame = udp_frame_template(parse_mac(args.dst_mac), src_mac, args.layout, source, destination, int(port))
        payload_offset = UDP_PAYLOAD_OFFSET
    print("ready", flush=True)
    line = sys.stdin.readline()
    if not line.strip():  # the trial stopped (a signal, an error) before it gave the start: nothing to send
        return 0
    start_ns = int(line)
    sent = send_frames(sock, frame, args.layout, args.loops, ids, arrival_ns, start_ns, args.sleep_ns, payload_offset)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as handle:
        np.save(handle, sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
