"""The journal of system knobs: before a system knob is written, what it held goes to a file under
/run/ringlab (and a copy into the experiment's directory); once the knob is given back, the file
goes. A journal whose process is gone (a SIGKILLed experiment) is given back by the next ringlab
command, or by ``ringlab hw cleanup``.

Giving back never overwrites someone else's change: a knob that no longer holds the value ringlab
wrote is left as it is, with one line saying so."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ringlab.hw.machine import state
from ringlab.hw.machine.signals import signals_as_exceptions, signals_deferred

PREFIX = "knobs-"


def journal_path(pid: int | None = None) -> Path:
    return state.STATE_DIR / f"{PREFIX}{pid or os.getpid()}.json"


def _write_whole(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, path)


@contextlib.contextmanager
def system_knobs_held(changes, copy_dir: Path | None = None):
    """Each ``(knob, value)`` of ``changes`` set for the block; the values found are journalled
    first and given back on every exit path. Yields nothing; ``restored`` lines go to the copy."""
    entries = [{"knob": knob.name, "found": knob.read(), "set": value} for knob, value in changes]
    document = {"pid": os.getpid(), "entries": entries}
    with signals_deferred():  # a signal here would leave a knob set with no journal, or a journal with no knob
        _write_whole(journal_path(), document)
        if copy_dir is not None:
            _write_whole(copy_dir / "knobs-journal.json", document)
        done = []
        try:
            for (knob, value), entry in zip(changes, entries):
                done.append(entry)
                knob.write(value)
        except BaseException:
            give_back(done)
            journal_path().unlink(missing_ok=True)
            raise
    try:
        with signals_as_exceptions():  # SIGTERM and SIGHUP end the block through the finally below
            yield
    finally:
        with signals_deferred():
            lines = give_back(entries)
            journal_path().unlink(missing_ok=True)
        for line in lines:
            print(f"ringlab: {line}")


def give_back(entries: list[dict]) -> list[str]:
    """Give each journalled knob back what it held; lines only for what was not given back."""
    from ringlab.hw.knobs import knob_named

    lines = []
    for entry in reversed(entries):
        knob = knob_named(entry["knob"])
        now = knob.read()
        if now == entry["set"] and now != entry["found"]:
            knob.write(entry["found"])
        elif now != entry["found"]:
            lines.append(f"{knob.name} is {now}, not the {entry['set']} ringlab set: someone else changed it "
                         f"meanwhile; left as it is (it was {entry['found']} before)")
    return lines


def left_journals(everything: bool = False) -> list[dict]:
    """The journals whose process is gone (every one but this process's own if ``everything``)."""
    found = []
    for path in sorted(state.STATE_DIR.glob(f"{PREFIX}*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        pid = int(document.get("pid", 0))
        if pid != os.getpid() and (everything or not state.owner_alive(pid)):
            found.append({**document, "path": str(path)})
    return found


def restore_left(everything: bool = False) -> list[str]:
    """Give back what killed experiments left set; one line per knob given back or left."""
    lines = []
    for journal in left_journals(everything):
        for entry in journal["entries"]:
            from ringlab.hw.knobs import knob_named

            before = knob_named(entry["knob"]).read()
            kept = give_back([entry])
            lines += kept or ([f"restored {entry['knob']} to {entry['found']} (left at {before} by the experiment "
                               f"of pid {journal['pid']})"] if before != entry["found"] else [])
        Path(journal["path"]).unlink(missing_ok=True)
    return lines
