"""How a hardware run meets the signals that end it: they become exceptions, so that every
``finally`` and context manager runs (the XDP program is detached, the testbed removed); and while a
resource is being made or removed they wait, so that none is ever left half-made."""

from __future__ import annotations

import contextlib
import signal

ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def signals_as_exceptions():
    """SIGTERM (and SIGHUP) raise SystemExit inside the block (SIGINT raises KeyboardInterrupt)."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def signals_deferred():
    """The signals that end a run wait until the block is over, then arrive (main thread only).

    They are caught and raised again, not blocked: a signal mask holds for one thread only, and the
    numerical libraries' worker threads would take the signal instead."""
    pending = []

    def remember(signum, frame):
        pending.append(signum)

    previous = {s: signal.signal(s, remember) for s in ENDING}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in pending:
            signal.raise_signal(s)
