"""Doing something inside a network namespace ringlab made (the testbed's), from this process: the
calling thread enters it with setns(2) for a ``with`` block and returns to its own after.

A socket keeps the namespace it was made in, whichever thread later reads it, so a UDP socket made
inside the testbed's namespace receives there while its poller runs in the root namespace's thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

from ringlab.errors import HardwareError

CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise HardwareError(f"entering a network namespace failed: {os.strerror(error)}")


@contextlib.contextmanager
def entered(name: str | None):
    """This thread inside network namespace ``name`` (made by ``ip netns add``) for the block; None:
    stay where it is."""
    if name is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)
