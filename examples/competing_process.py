"""A process of your own that competes for a CPU: it takes the CPU for --busy every --period,
first-in-first-out (its own priority, so it takes the CPU when it wakes), under the name
rl-spinner. ringlab's walk-through (docs/walkthrough.md) uses it as the task a remedy moves,
where the machine allows no other change. It changes nothing but itself; stop it with a signal.

Usage: python3 examples/competing_process.py --cpu 0 [--busy 2ms] [--period 50ms]
"""

import argparse
import ctypes
import os
import time

PR_SET_NAME = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, required=True, help="the CPU it starts on")
    parser.add_argument("--busy", type=float, default=2.0, help="milliseconds of work each period")
    parser.add_argument("--period", type=float, default=50.0, help="milliseconds from one spell of work to the next")
    args = parser.parse_args()
    if not 0 < args.busy < args.period:
        parser.error("--busy must be positive and shorter than --period")
    os.sched_setaffinity(0, {args.cpu})  # this process only
    ctypes.CDLL(None).prctl(PR_SET_NAME, b"rl-spinner", 0, 0, 0)
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # its own priority, the lowest real-time one
    print(os.getpid(), flush=True)
    busy_ns, rest = int(args.busy * 1e6), (args.period - args.busy) / 1e3
    while True:
        end = time.monotonic_ns() + busy_ns
        while time.monotonic_ns() < end:
            pass
        time.sleep(rest)


if __name__ == "__main__":
    main()
