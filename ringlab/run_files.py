"""The files of one run, the same for both backends: trace, summary, warnings, scenario.

``summary.json`` is written last, so a directory with a summary holds a complete run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ringlab
from ringlab.analysis import RunSummary, format_warnings, poller_warnings, summarize
from ringlab.results import atomic_path, read_json, write_json, write_toml
from ringlab.scenario import Scenario
from ringlab.trace import Trace

TRACE_FILE = "trace.npz"
SUMMARY_FILE = "summary.json"
WARNINGS_FILE = "warnings.log"
SCENARIO_FILE = "scenario.toml"
SENT_FILE = "sent.npy"


def write_warnings(path: Path, delivered_ids, rows_per_chunk: int = 200_000) -> None:
    """Write the poller's warning lines atomically, a chunk at a time (there can be millions)."""
    rows = poller_warnings(delivered_ids)
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "w") as handle:
            for start in range(0, len(rows), rows_per_chunk):
                handle.write(format_warnings(rows[start:start + rows_per_chunk]))


def write_run(out_dir, scenario: Scenario, trace: Trace | None, backend: str, notes=(), extra=None,
              summary: RunSummary | None = None, delivered_ids=None) -> RunSummary:
    """Write a run's files into ``out_dir`` atomically and return its summary.

    Without a trace (a summary-only run) pass ``summary`` and ``delivered_ids``: there is then no
    trace file, and the summary says so.
    """
    out_dir = Path(out_dir)
    if trace is not None:
        summary = summary if summary is not None else summarize(trace)
        delivered_ids = trace.delivered_ids()
        trace.save(out_dir / TRACE_FILE)
    else:
        (out_dir / TRACE_FILE).unlink(missing_ok=True)
    write_warnings(out_dir / WARNINGS_FILE, delivered_ids)
    write_toml(out_dir / SCENARIO_FILE, scenario.to_dict())
    document = {
        "ringlab_version": ringlab.__version__,
        "backend": backend,
        "scenario_name": scenario.name,
        "scenario_key": scenario.key(),
        "seed": scenario.seed,
        "scenario": scenario.to_dict(),
        "summary": summary.to_dict(),
        "trace_file": TRACE_FILE if trace is not None else None,
        "notes": list(notes),
    }
    document.update(extra or {})
    write_json(out_dir / SUMMARY_FILE, document)
    return summary


def write_hardware_run(out_dir, scenario: Scenario, result, notes=(), extra=None) -> RunSummary:
    """A hardware trial's files: those of every run, plus the send times (``sent.npy``), the XDP
    counters, the sender's count and the conservation check in the summary."""
    out_dir = Path(out_dir)
    with atomic_path(out_dir / SENT_FILE) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, result.sent_ns)
    sender = {"sent": result.sent, "late_sends": result.late_sends, "mean_gap_ns": result.mean_gap_ns}
    extra = {"xdp_counters": result.counters, "sender": sender,
             "conservation": result.conservation, **(extra or {})}
    return write_run(out_dir, scenario, result.trace, "hw", notes, extra)


def is_complete(out_dir) -> bool:
    return (Path(out_dir) / SUMMARY_FILE).is_file()


def load_trace(out_dir) -> Trace:
    return Trace.load(Path(out_dir) / TRACE_FILE)


def load_summary(out_dir) -> dict:
    return read_json(Path(out_dir) / SUMMARY_FILE)
