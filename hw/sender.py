"""The paced sender: ids 1, 2, 3, ... at planned times, busy-waiting to each send time.

Run as a process of its own (inside the testbed's namespace, or on a remote host in front of a
real NIC). Protocol with a trial: it prints ``ready`` once its socket is open, reads the start
time (CLOCK_MONOTONIC ns) on standard input, sends, and writes the actual send times to a .npy.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time

import numpy as np

from pathlib import Path

from hw.wire import ETHERTYPE_PINGPONG, frame_template, id_patcher, parse_mac
from ringlab.results import atomic_path


def open_socket(iface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE_PINGPONG))
    sock.bind((iface, 0))
    return sock


def send_paced(sock, frame: bytearray, set_id, ids: np.ndarray, arrival_ns: np.ndarray, start_ns: int,
               sleep_ns: int = 0) -> np.ndarray:
    """Send frame ``i``, carrying ``ids[i]``, at ``start_ns + arrival_ns[i]``, busy-waiting; or, with
    ``sleep_ns``, the first at its time and then after a sleep of ``sleep_ns`` each (the original
    experiments' pacing). Return the actual send times."""
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
        send(frame)
        sent[i] = clock()
    return np.asarray(sent, dtype=np.int64)


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
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    plan = np.load(args.plan)
    mine = np.arange(args.part, len(plan), args.parts)
    ids, arrival_ns = mine + 1, plan[mine]
    if args.loops == "native":
        from hw.native_loops import library, send_paced_native

        library()  # build or load it now: everything slow happens before "ready"
    sock = open_socket(args.iface)
    src_mac = parse_mac(open(f"/sys/class/net/{args.iface}/address").read().strip())
    frame = frame_template(parse_mac(args.dst_mac), src_mac, args.layout)
    print("ready", flush=True)
    start_ns = int(sys.stdin.readline())
    if args.loops == "native":
        sent = send_paced_native(sock, frame, args.layout, ids, arrival_ns, start_ns, args.sleep_ns)
    else:
        sent = send_paced(sock, frame, id_patcher(args.layout), ids, arrival_ns, start_ns, args.sleep_ns)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
