"""What a hardware run leaves on the machine, recorded so that a later run can clean up after a
killed one: one small JSON file per attached program or testbed under /run/ringlab."""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_DIR = Path(os.environ.get("RINGLAB_STATE_DIR", "/run/ringlab"))


def record(kind: str, name: str, **details) -> Path:
    """Note that this process owns ``kind`` (``xdp`` or ``testbed``) called ``name``."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path = STATE_DIR / f"{kind}-{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "name": name, **details}))
    os.replace(tmp, path)
    return path


def forget(kind: str, name: str) -> None:
    (STATE_DIR / f"{kind}-{name}.json").unlink(missing_ok=True)


def owner_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def records(kind: str) -> list[dict]:
    """Every recorded ``kind`` with its owner's pid and whether that owner still runs.

    A record of this very process counts as not running: its trials run one at a time and forget
    their records on the way out, so one found at the start of a trial was left by a failed one.
    A record marked ``manual`` (a testbed brought up by hand) belongs to no process."""
    found = []
    for path in sorted(STATE_DIR.glob(f"{kind}-*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        entry["alive"] = entry.get("pid") != os.getpid() and owner_alive(int(entry.get("pid", 0)))
        found.append(entry)
    return found


def recorded(kind: str, name: str) -> dict | None:
    return next((r for r in records(kind) if r["name"] == name), None)
