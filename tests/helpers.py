"""Small helpers the tests share."""

import signal
import subprocess

from ringlab.scenario.fields import scenario_from_dict


def scenario(packets=2000, policy="buggy", stalls=None, **fields):
    """A scenario from keyword fields; ``writer_*`` and ``poller_*`` go into their tables."""
    data = {"packets": packets, "writer": {"policy": policy}, "poller": {}}
    for key, value in fields.items():
        table, _, name = key.partition("_")
        if table in ("writer", "poller"):
            data[table][name] = value
        else:
            data[key] = value
    if stalls is not None:
        data["stalls"] = stalls
    return scenario_from_dict(data)


def scripted(*stalls_ns):
    """A scripted stall table from (start_ns, length_ns) pairs."""
    return {"model": "scripted", "stalls": [[int(s), int(length)] for s, length in stalls_ns]}


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_signallable(command, **options) -> subprocess.Popen:
    """Start ``command`` with SIGINT at its default disposition, whatever this process inherited.

    A suite started without job control (in the background, under nohup, by many CI runners) has
    SIGINT ignored, and a child Python keeps it ignored: a test that sends SIGINT must undo that."""
    return subprocess.Popen(command, preexec_fn=_default_sigint, **options)
