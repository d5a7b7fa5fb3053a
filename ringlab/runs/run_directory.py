"""A run directory: the files of one run, the same for both backends, written by one function.

``trace.npz`` (one record per packet; absent for a summary-only run), ``warnings.log`` (the
poller's warnings), ``scenario.toml`` (what was run), for hardware ``sent.npy`` (send times), and
``summary.json`` (the figures, the provenance, and what only hardware knows), written last: a
directory with a summary holds a complete run.

A run directory is written whole or not at all: into a new hidden directory beside the target,
which then takes the target's place (``ringlab.atomic_files.staged_directory``), so a reader never
sees files of two runs together, and a killed run leaves the previous one as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import tomli_w

from ringlab.atomic_files import staged_directory
from ringlab.errors import InputError
from ringlab.provenance import provenance
from ringlab.runs.run_record import SUMMARY_FILE, RunRecord
from ringlab.runs.runner import RunResult, run
from ringlab.trace.records import Trace
from ringlab.trace.warnings_log import write_kept_warnings, write_warnings_file

TRACE_FILE = "trace.npz"
WARNINGS_FILE = "warnings.log"
SCENARIO_FILE = "scenario.toml"
SENT_FILE = "sent.npy"
REPLAY_FILE = "replay.json"  # a replay's agreement with the run it replays


def write_warnings(path: Path, result: RunResult) -> None:
    """The poller's warning lines: formatted from the read order; or the file a streamed run wrote
    them to, moved here; or the first and last ones a streamed run kept, with a line saying how
    many were not."""
    path = Path(path)
    if result.delivered_ids is not None:
        write_warnings_file(result.delivered_ids, path)
    elif result.warnings.file is not None:
        shutil.move(result.warnings.file, path)
    else:
        write_kept_warnings(result.warnings, path)


def run_into_directory(scenario, out_dir, backend: str = "sim", extra: dict | None = None,
                       stream_warnings: bool = False, **options) -> RunResult:
    """Run ``scenario`` (``ringlab.run`` with ``options``) and write its run directory at
    ``out_dir``, whole; a run that keeps no trace streams its warnings straight into it if
    ``stream_warnings``. Return the result."""
    with staged_directory(Path(out_dir)) as staging:
        result = run(scenario, backend, warnings_dir=staging if stream_warnings else None, **options)
        write_run_files(staging, result, extra)
    return result


def write_run_directory(out_dir, result: RunResult, extra: dict | None = None) -> Path:
    """Write ``result``'s run directory at ``out_dir``, whole: it replaces whatever was there in one
    step (see the module's docstring). Return the directory."""
    with staged_directory(Path(out_dir)) as staging:
        write_run_files(staging, result, extra)
    return Path(out_dir)


def write_run_files(directory, result: RunResult, extra: dict | None = None) -> Path:
    """Write ``result``'s files into ``directory``, a new one no reader looks at yet (a staged
    directory), the summary last."""
    directory = Path(directory)
    if result.trace is not None:
        result.trace.save(directory / TRACE_FILE)
    for name, array in result.files.items():
        np.save(directory / name, array)
    write_warnings(directory / WARNINGS_FILE, result)
    scenario = result.scenario
    (directory / SCENARIO_FILE).write_text(tomli_w.dumps(scenario.to_dict()))
    RunRecord(backend=result.backend, engine=result.engine, scenario_name=scenario.name, scenario=scenario.to_dict(),
              summary=result.summary, scenario_key=scenario.key(), seed=scenario.seed,
              trace_file=TRACE_FILE if result.trace is not None else None,
              trace_digest=file_digest(directory / TRACE_FILE) if result.trace is not None else None,
              notes=tuple(result.notes), provenance=provenance(result.backend),
              figures={**result.figures, **(extra or {})}).dump(directory)
    return directory


RUN_ENTRIES = (TRACE_FILE, SUMMARY_FILE, WARNINGS_FILE, SCENARIO_FILE, SENT_FILE, REPLAY_FILE)
SPECIAL_ROOTS = ("/proc", "/sys", "/dev", "/run")


def check_output_path(path) -> Path:
    """``--out`` as a place for results: not empty, not under /proc, /sys, /dev or /run, a
    directory if it exists, and writable (or creatable); else an InputError."""
    if str(path).strip() == "":
        raise InputError("--out", "is empty: name the directory for the results")
    path = Path(path)
    try:
        resolved = path.resolve()
    except (RuntimeError, OSError) as error:  # a symlink loop, a name too long
        raise InputError("--out", f"{path} cannot be resolved: {getattr(error, 'strerror', None) or error}") from None
    for root in SPECIAL_ROOTS:
        if resolved.is_relative_to(root):
            raise InputError("--out", f"{path} is under {root}, not a place for results")
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise InputError("--out", f"{path} exists and is not a directory")
    existing = resolved if path.exists() else resolved.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError("--out", f"cannot write in {existing}")
    return path


def run_output_directory(path, scenario_file=None) -> Path:
    """``--out`` for one run, checked before anything runs (``check_output_path``): a directory that
    does not exist yet, an empty one, or an earlier ringlab run, which the new one replaces whole;
    never a directory holding anything else (such as the scenario being run)."""
    path = check_output_path(path)
    resolved = path.resolve()
    if path.exists():
        if scenario_file is not None and Path(scenario_file).resolve().parent == resolved:
            raise InputError("--out", f"{path} holds the scenario being run; write the run to a directory of its own")
        entries = sorted(entry.name for entry in path.iterdir())
        foreign = [name for name in entries if name not in RUN_ENTRIES and not name.startswith("timeline")]
        if entries and (foreign or SUMMARY_FILE not in entries):
            raise InputError("--out", f"{path} holds files that are not a ringlab run (such as {(foreign or entries)[0]}); "
                                      "choose a new or empty directory")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):  # the run is staged beside the directory
        raise InputError("--out", f"cannot write in {parent}, where the run is written before it takes {path}'s place")
    return path


TRACE_BYTES_PER_PACKET = 59  # the per-packet columns of trace.npz (ringlab/trace/records.py)


def check_space(scenario, out_dir, keep_trace: bool, all_warnings: bool) -> None:
    """Refuse, up front, a run whose files could not fit in the free space where ``out_dir`` goes:
    its trace, and at worst one warning line per packet when every warning is written."""
    worst_line = len("WARN: missed -0 packets between 0 and 0\n") + 3 * len(str(scenario.packets))
    needed = scenario.packets * ((TRACE_BYTES_PER_PACKET if keep_trace else 0) + (worst_line if all_warnings else 0))
    existing = Path(out_dir).resolve()
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if needed > free:
        what = "its trace and every warning" if keep_trace else "every warning (--warnings all)"
        advice = "run it with --summary-only" if keep_trace else "keep the first and last 1000 (--warnings summary)"
        raise InputError("--out", f"{what} may need {needed / 2**30:.1f} GiB, more than the {free / 2**30:.1f} GiB free "
                                  f"in {existing}: {advice}, or write elsewhere")


def is_complete(out_dir) -> bool:
    return (Path(out_dir) / SUMMARY_FILE).is_file()


def load_summary(out_dir) -> RunRecord:
    """A run's summary.json as its typed record, checked: JSON, a record of a format this ringlab
    reads, and a valid scenario; else an InputError naming the file and the problem."""
    record = RunRecord.load(out_dir)
    _check_scenario(record.scenario, Path(out_dir) / SUMMARY_FILE)
    return record


def _check_scenario(data: dict, path: Path) -> None:
    """The summary's scenario validated like any other (a stall file it names may have moved since)."""
    from ringlab.scenario.fields import scenario_from_dict

    try:
        scenario_from_dict(data, base_dir=path.parent)
    except InputError as error:
        if error.field.startswith("stalls") and "cannot read" in error.problem:
            return
        raise InputError(str(path), f"damaged: its scenario: {error}") from None


def load_trace(out_dir, summary: RunRecord | None = None) -> Trace:
    """A run's trace; with its ``summary``, checked to be the trace that summary describes (its
    digest), so a directory holding files of two runs is refused."""
    path = Path(out_dir) / TRACE_FILE
    if not path.is_file():
        raise InputError(str(out_dir), f"has no {TRACE_FILE}")
    trace = Trace.load(path)
    expected = summary.trace_digest if summary is not None else None
    if expected is not None and file_digest(path) != expected:
        raise InputError(str(path), f"is not the trace {SUMMARY_FILE} describes (its digest differs): "
                                    "the run directory is damaged; run it again")
    return trace


def load_run(out_dir) -> tuple[Trace, RunRecord]:
    """A complete run's trace and summary, checked to belong together; an InputError if the
    directory holds no such run."""
    out_dir = Path(out_dir)
    summary = load_summary(out_dir)
    if not summary.has_trace:
        raise InputError(str(out_dir), "was run with --summary-only: it has no trace")
    return load_trace(out_dir, summary), summary


def file_digest(path) -> str:
    """``sha256:`` and the hex digest of a file's bytes."""
    with open(path, "rb") as handle:
        return f"sha256:{hashlib.file_digest(handle, 'sha256').hexdigest()}"
