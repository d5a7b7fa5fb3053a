"""The userspace poller: busy-waits on one mmapped slot, copies, zeroes, advances, as docs/model.md
says the poller does; stalls, busy-waiting so that it holds its CPU, at the times of a stall schedule; and
notes its own pauses.

Every gap between two consecutive iterations of its loop longer than a threshold is a pause the
machine made (background); every injected stall is noted as it was really executed (a busy-wait
can start late and overrun). This module is the poller in Python; ``hot_loops.c`` is the same loop
in C (:mod:`ringlab.hw.trial.native_loops`), and :class:`PollerThread` runs either in a thread of its
own, pinned to the poller's CPU, so that the main thread stays free to handle signals.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ringlab.hw.machine.wire import PAYLOAD_DTYPES, PAYLOAD_MAGIC

PAUSE_INJECTED, PAUSE_BACKGROUND = 0, 1  # as ringlab.trace.pauses.INJECTED, BACKGROUND
PR_SET_NAME = 15


def name_this_thread(name: str) -> None:
    """Give the calling thread a name the kernel shows (in traces of its CPU), up to 15 bytes."""
    ctypes.CDLL(None).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


@dataclass(frozen=True)
class StallPlan:
    """The stalls the poller injects, in absolute CLOCK_MONOTONIC ns. A stall not ``reported`` is
    executed but not noted as injected, so the poller finds it as a pause like any other. The
    poller injects the first ``count[0]`` of them: a plan made before the run's start is known
    (frames from another host) is published with :meth:`publish` while the poller runs."""

    start_ns: np.ndarray
    end_ns: np.ndarray
    reported: np.ndarray  # int8: 1 reported, 0 not
    count: np.ndarray  # one int64

    @classmethod
    def of(cls, stalls, offset_ns: int | None, unreported=None) -> StallPlan:
        """``stalls`` (a StallSchedule, times from the run's start) at ``offset_ns``, plus
        ``unreported`` ones (another schedule, or None); with ``offset_ns`` None, not yet published."""
        starts = [np.asarray(stalls.start_ns, np.int64)]
        ends = [np.asarray(stalls.end_ns, np.int64)]
        reported = [np.ones(len(stalls), np.int8)]
        if unreported is not None:
            starts.append(np.asarray(unreported.start_ns, np.int64))
            ends.append(np.asarray(unreported.end_ns, np.int64))
            reported.append(np.zeros(len(unreported), np.int8))
        start, end, report = np.concatenate(starts), np.concatenate(ends), np.concatenate(reported)
        order = np.argsort(start, kind="stable")
        plan = cls(np.ascontiguousarray(start[order]), np.ascontiguousarray(end[order]),
                   np.ascontiguousarray(report[order]), np.zeros(1, np.int64))
        if offset_ns is not None:
            plan.publish(offset_ns)
        return plan

    def publish(self, offset_ns: int) -> None:
        """Shift the stalls to the run's start, then let the poller see them (stores in this order)."""
        np.add(self.start_ns, offset_ns, out=self.start_ns)
        np.add(self.end_ns, offset_ns, out=self.end_ns)
        self.count[0] = len(self.start_ns)


@dataclass(frozen=True)
class PollRecord:
    """What the poller saw: its reads (ids, slots, read times) in read order, and its pauses (start,
    length, kind), times in CLOCK_MONOTONIC ns. Entries past the capacity were counted, not kept."""

    ids: np.ndarray
    slots: np.ndarray
    read_ns: np.ndarray
    pause_start_ns: np.ndarray
    pause_length_ns: np.ndarray
    pause_kind: np.ndarray
    reads_lost: int = 0
    pauses_lost: int = 0


def poll_ring(ring_buffer, ring_slots: int, layout: str, stalls: StallPlan, stop_box: np.ndarray,
              pause_threshold_ns: int) -> PollRecord:
    """Poll until ``stop_box[0]`` (which another thread may move), injecting ``stalls`` and noting
    every pause longer than ``pause_threshold_ns``. With ``ring_buffer`` None, poll nothing and
    only note pauses (the machine's pause profile)."""
    dtype = PAYLOAD_DTYPES[layout]
    words = memoryview(ring_buffer).cast("I") if ring_buffer is not None else None
    per_slot = dtype.itemsize // 4
    magic_word = dtype.fields["magic"][1] // 4
    id_word = dtype.fields["id"][1] // 4
    id_is_u64 = dtype.fields["id"][0].itemsize == 8
    zero_slot = memoryview(bytes(dtype.itemsize)).cast("I")
    never = np.iinfo(np.int64).max

    def published():
        count = int(stalls.count[0])
        return (stalls.start_ns[:count].tolist() + [never], stalls.end_ns[:count].tolist() + [never],
                stalls.reported[:count].tolist() + [0], count)

    stall_starts, stall_ends, reported, stalls_known = published()
    stop_ns = int(stop_box[0])
    polls = 0
    next_stall = 0
    clock = time.monotonic_ns
    ids, slots, read_ns, pauses = [], [], [], []
    read_index = 0
    last = clock()
    while True:
        now = clock()
        if now - last > pause_threshold_ns:
            pauses.append((last, now - last, PAUSE_BACKGROUND))
        polls += 1
        if now >= stop_ns or polls & 0xFFF == 0:
            stop_ns = int(stop_box[0])
            if now >= stop_ns:
                break
            if stalls_known != int(stalls.count[0]):
                stall_starts, stall_ends, reported, stalls_known = published()
        if now >= stall_starts[next_stall]:
            until, t = stall_ends[next_stall], now
            while t < until:
                t = clock()
            if reported[next_stall]:
                if t > now:
                    pauses.append((now, t - now, PAUSE_INJECTED))
                now = t
            next_stall += 1
        if words is not None:
            base = read_index * per_slot
            if words[base + magic_word] == PAYLOAD_MAGIC:
                packet_id = words[base + id_word]
                if id_is_u64:
                    packet_id |= words[base + id_word + 1] << 32
                words[base:base + per_slot] = zero_slot
                ids.append(packet_id)
                slots.append(read_index)
                read_ns.append(clock())
                read_index = (read_index + 1) % ring_slots
        last = now
    pause_table = np.asarray(pauses, np.int64).reshape(-1, 3)
    return PollRecord(np.asarray(ids, np.int64), np.asarray(slots, np.int32), np.asarray(read_ns, np.int64),
                      pause_table[:, 0].copy(), pause_table[:, 1].copy(), pause_table[:, 2].astype(np.int8))


@contextlib.contextmanager
def off_cpu(cpu: int | None):
    """Inside the block every thread of this process (the libraries' worker threads too: NumPy's
    and SciPy's BLAS start some) and the threads and processes they start keep off ``cpu``, which
    the poller has to itself; its own thread pins itself there."""
    previous = {tid: os.sched_getaffinity(tid) for tid in (int(t) for t in os.listdir("/proc/self/task"))}
    if cpu is not None:
        for tid, cpus in previous.items():
            if cpus - {cpu}:
                os.sched_setaffinity(tid, cpus - {cpu})
    try:
        yield
    finally:
        for tid, cpus in previous.items():
            with contextlib.suppress(ProcessLookupError):  # a thread that has ended since
                os.sched_setaffinity(tid, cpus)


class PollerThread:
    """Context manager: ``poll()`` runs in a thread of its own, pinned to ``cpu``, from the start of
    the block. :meth:`result` waits for it; leaving the block early (an exception, a signal turned
    into one) sets ``stop_box[0]`` to 0, which ends the poll, and waits for the thread."""

    def __init__(self, poll: Callable[[], PollRecord], stop_box: np.ndarray, cpu: int | None):
        self.poll, self.stop_box, self.cpu = poll, stop_box, cpu
        self.thread_id: int | None = None  # the poller's kernel thread id, once it runs
        self._record: PollRecord | None = None
        self._error: BaseException | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ringlab-poller", daemon=True)

    def _run(self) -> None:
        try:
            if self.cpu is not None:
                os.sched_setaffinity(0, {self.cpu})  # this thread only
            name_this_thread("rl-poller")  # its name in the kernel's traces
            self.thread_id = threading.get_native_id()
            self._started.set()
            self._record = self.poll()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread by result()
            self._error = error
        finally:
            self._started.set()

    def __enter__(self) -> PollerThread:
        self._thread.start()
        self._started.wait()
        return self

    def result(self) -> PollRecord:
        """Wait for the poll to end; its record (or its exception, raised here)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._record

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive():
            self.stop_box[0] = 0
            self._thread.join()
