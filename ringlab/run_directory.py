"""A run directory: the files of one run, the same for both backends, written by one function.

``trace.npz`` (one record per packet; absent for a summary-only run), ``warnings.log`` (the
poller's warnings), ``scenario.toml`` (what was run), for hardware ``sent.npy`` (send times), and
``summary.json`` (the figures, the provenance, and what only hardware knows), written last: a
directory with a summary holds a complete run.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ringlab.analysis import format_warnings
from ringlab.atomic_files import atomic_path, read_json, write_json, write_text, write_toml
from ringlab.errors import InputError
from ringlab.provenance import provenance
from ringlab.runner import RunResult
from ringlab.trace import Trace

TRACE_FILE = "trace.npz"
SUMMARY_FILE = "summary.json"
WARNINGS_FILE = "warnings.log"
SCENARIO_FILE = "scenario.toml"
SENT_FILE = "sent.npy"


def write_warnings(path: Path, result: RunResult) -> None:
    """The poller's warning lines, atomically: formatted in C from the read order; or the file a
    streamed run wrote them to, moved into place; or the first and last ones a streamed run kept,
    with a line saying how many were not."""
    path = Path(path)
    if result.delivered_ids is not None:
        from ringlab.sim.fast_engine import write_warnings_file

        with atomic_path(path) as tmp:
            write_warnings_file(result.delivered_ids, tmp)
    elif result.warnings.file is not None:
        os.replace(result.warnings.file, path)
    else:
        kept = result.warnings
        skipped = kept.count - len(kept.first) - len(kept.last)
        note = f"# {skipped} warnings not kept here (ringlab sim --summary-only --warnings all keeps them all)\n"
        write_text(path, format_warnings(kept.first) + (note if skipped else "") + format_warnings(kept.last))


def hardware_figures(trial) -> dict:
    """What a hardware trial adds to its summary: the XDP counters, the sender, conservation."""
    from ringlab.latency import LatencyHistogram

    delays = trial.send_to_xdp_ns()
    if delays is None:  # the sender ran on another host: its own record has its figures
        sender = {"on_another_host": True, "planned": trial.sent}
    else:
        sender = {"sent": trial.sent, "late_sends": trial.late_sends, "mean_gap_ns": trial.mean_gap_ns,
                  "send_to_xdp": {**LatencyHistogram.of(np.maximum(delays, 0)).figures(),
                                  "negative": int(np.sum(delays < 0))}}
    return {"xdp_counters": trial.counters, "sender": sender, "arrivals": trial.arrival_spacing(),
            "conservation": trial.conservation, "environment": trial.environment, "pause_tracing": trial.tracing}


def write_run_directory(out_dir, result: RunResult, extra: dict | None = None) -> Path:
    """Write ``result``'s files into ``out_dir`` (each atomically, the summary last); return the directory."""
    out_dir = Path(out_dir)
    if result.trace is not None:
        result.trace.save(out_dir / TRACE_FILE)
    else:
        (out_dir / TRACE_FILE).unlink(missing_ok=True)
    if result.hardware is not None and result.hardware.sent_ns is not None:
        with atomic_path(out_dir / SENT_FILE) as tmp, open(tmp, "wb") as handle:
            np.save(handle, result.hardware.sent_ns)
    write_warnings(out_dir / WARNINGS_FILE, result)
    scenario = result.scenario
    write_toml(out_dir / SCENARIO_FILE, scenario.to_dict())
    document = {
        **provenance(result.backend),
        "backend": result.backend,
        "engine": result.engine,
        "scenario_name": scenario.name,
        "scenario_key": scenario.key(),
        "seed": scenario.seed,
        "scenario": scenario.to_dict(),
        "summary": result.summary.to_dict(),
        "trace_file": TRACE_FILE if result.trace is not None else None,
        "notes": list(result.notes),
    }
    if result.hardware is not None:
        document.update(hardware_figures(result.hardware))
    document.update(extra or {})
    write_json(out_dir / SUMMARY_FILE, document)
    return out_dir


def is_complete(out_dir) -> bool:
    return (Path(out_dir) / SUMMARY_FILE).is_file()


def load_summary(out_dir) -> dict:
    return read_json(Path(out_dir) / SUMMARY_FILE)


def load_trace(out_dir) -> Trace:
    return Trace.load(Path(out_dir) / TRACE_FILE)


def load_run(out_dir) -> tuple[Trace, dict]:
    """A complete run's trace and summary; an InputError if the directory holds no such run."""
    out_dir = Path(out_dir)
    if not is_complete(out_dir):
        raise InputError(str(out_dir), "not a complete ringlab run (no summary.json)")
    summary = load_summary(out_dir)
    if summary.get("trace_file", TRACE_FILE) is None:
        raise InputError(str(out_dir), "was run with --summary-only: it has no trace")
    return load_trace(out_dir), summary
