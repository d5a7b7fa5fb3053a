"""Remove what a killed hardware run left behind: attached XDP programs, the testbed, the
temporary directories of trials and senders, and private ftrace instances (each named with its
process id). (A killed experiment's system knobs are given back from their journal by the next
ringlab command: ringlab.hw.knobs.journal.)"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from ringlab.hw.machine import iplink, loader, state, testbed

LEFT_DIRECTORIES = re.compile(r"^ringlab-(?:trial|send)-(\d+)-")


def cleanup_stale(everything: bool = False) -> list[str]:
    """Detach programs and remove testbeds whose owning process is gone (all of them if
    ``everything``). Returns one line per thing removed."""
    removed = []
    for entry in state.records("xdp"):
        if everything or not entry["alive"]:
            where = entry.get("netns")  # a program attached inside the testbed's namespace goes with it
            if (where is None or where in iplink.namespaces()) and iplink.link(entry["name"], where) is not None:
                loader.detach(entry["name"], where)
                removed.append(f"detached the XDP program from {entry['name']} (left by pid {entry['pid']})")
            if entry.get("bpf_stats_before") is not None:
                loader.restore_bpf_stats(entry["bpf_stats_before"])
            state.forget("xdp", entry["name"])
    owner = state.recorded("testbed", testbed.NETNS)
    kept = owner is not None and (owner["alive"] or owner.get("manual"))
    if testbed.exists() and (everything or not kept):
        testbed.down()
        removed.append(f"removed the testbed {testbed.NETNS}" + (f" (left by pid {owner['pid']})" if owner else ""))
    elif owner is not None and not kept:
        state.forget("testbed", testbed.NETNS)
    from ringlab.hw.kernel.ftrace import remove_stale_instances

    return removed + remove_left_directories(everything) + remove_stale_instances()


def remove_left_directories(everything: bool = False) -> list[str]:
    """Remove the temporary directories of trials and senders whose process is gone (all but this
    process's own if ``everything``)."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob("ringlab-*-*"):
        match = LEFT_DIRECTORIES.match(path.name)
        if match is None or not path.is_dir():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and (everything or not state.owner_alive(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"removed {path} (left by pid {pid})")
    return removed
