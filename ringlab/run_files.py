"""The files of one run, the same for both backends: trace, summary, warnings, scenario.

``summary.json`` is written last, so a directory with a summary holds a complete run.
"""

from __future__ import annotations

from pathlib import Path

import ringlab
from ringlab.analysis import RunSummary, format_warnings, poller_warnings, summarize
from ringlab.results import read_json, write_json, write_text, write_toml
from ringlab.scenario import Scenario
from ringlab.trace import Trace

TRACE_FILE = "trace.npz"
SUMMARY_FILE = "summary.json"
WARNINGS_FILE = "warnings.log"
SCENARIO_FILE = "scenario.toml"


def write_run(out_dir, scenario: Scenario, trace: Trace, backend: str, notes=(), extra=None) -> RunSummary:
    """Write a run's files into ``out_dir`` atomically and return its summary."""
    out_dir = Path(out_dir)
    summary = summarize(trace)
    trace.save(out_dir / TRACE_FILE)
    write_text(out_dir / WARNINGS_FILE, format_warnings(poller_warnings(trace.delivered_ids())))
    write_toml(out_dir / SCENARIO_FILE, scenario.to_dict())
    document = {
        "ringlab_version": ringlab.__version__,
        "backend": backend,
        "scenario_name": scenario.name,
        "scenario_key": scenario.key(),
        "seed": scenario.seed,
        "scenario": scenario.to_dict(),
        "summary": summary.to_dict(),
        "notes": list(notes),
    }
    document.update(extra or {})
    write_json(out_dir / SUMMARY_FILE, document)
    return summary


def is_complete(out_dir) -> bool:
    return (Path(out_dir) / SUMMARY_FILE).is_file()


def load_trace(out_dir) -> Trace:
    return Trace.load(Path(out_dir) / TRACE_FILE)


def load_summary(out_dir) -> dict:
    return read_json(Path(out_dir) / SUMMARY_FILE)
