"""A run's ``summary.json`` as a typed, versioned record: what ran, its figures, where its trace is,
the code that made it, and what its backend added. :func:`ringlab.runs.run_directory.write_run_files`
dumps one; every reader of a run loads one (:meth:`RunRecord.load`), so a damaged file or one of a
newer format is refused in one line, and no reader digs in a dict."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ringlab.analysis.summary import RunSummary
from ringlab.atomic_files import read_json, write_json
from ringlab.errors import InputError
from ringlab.formats import check_version

SUMMARY_FILE = "summary.json"
PROVENANCE_KEYS = ("ringlab_version", "git_commit", "code_digest")
REQUIRED_KEYS = ("backend", "scenario", "scenario_name", "summary")


@dataclass(frozen=True)
class RunRecord:
    """One run's record. ``figures`` holds what only its backend knows, by name (a trial's
    ``hardware``, ``conservation``, ``delivery``, ``environment``, ``pause_tracing``; the
    simulator's ``engine_mode``; an experiment's ``experiment``: its arm and knobs); those readers
    use have a property of their own."""

    backend: str
    engine: str
    scenario_name: str
    scenario: dict  # the scenario's table, as scenario.toml holds it
    summary: RunSummary
    scenario_key: str | None = None
    seed: int | None = None
    trace_file: str | None = None
    trace_digest: str | None = None
    notes: tuple[str, ...] = ()
    provenance: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    @property
    def has_trace(self) -> bool:
        return self.trace_file is not None

    @property
    def environment(self) -> dict | None:
        return self.figures.get("environment")

    @property
    def pause_tracing(self) -> dict | None:
        return self.figures.get("pause_tracing")

    def to_dict(self) -> dict:
        """The record as summary.json holds it (without its format version)."""
        return {**self.provenance, "backend": self.backend, "engine": self.engine, "scenario_name": self.scenario_name,
                "scenario_key": self.scenario_key, "seed": self.seed, "scenario": self.scenario,
                "summary": self.summary.to_dict(), "trace_file": self.trace_file, "trace_digest": self.trace_digest,
                "notes": list(self.notes), **self.figures}

    def dump(self, directory) -> Path:
        """Write ``directory``/summary.json, stamped with its format version."""
        path = Path(directory) / SUMMARY_FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, data: dict, path: Path) -> RunRecord:
        """The record of ``data``, read from ``path``; an InputError in one line if it is not one."""
        if not isinstance(data, dict):
            raise InputError(str(path), "damaged: not a JSON object")
        check_version(path, data)
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise InputError(str(path), f"damaged: no {missing[0]!r}")
        if not isinstance(data["summary"], dict) or not isinstance(data["scenario"], dict):
            raise InputError(str(path), "damaged: 'summary' and 'scenario' must be tables")
        names = [f.name for f in dataclasses.fields(RunSummary)]
        absent = [name for name in names if name not in data["summary"]]
        if absent:
            raise InputError(str(path), f"damaged: its summary has no {absent[0]!r}")
        own = {f.name for f in dataclasses.fields(cls)} | set(PROVENANCE_KEYS) | {"format_version"}
        return cls(backend=data["backend"], engine=data.get("engine", ""), scenario_name=data["scenario_name"],
                   scenario=data["scenario"], summary=RunSummary(**{name: data["summary"][name] for name in names}),
                   scenario_key=data.get("scenario_key"), seed=data.get("seed"), trace_file=data.get("trace_file", "trace.npz"),
                   trace_digest=data.get("trace_digest"), notes=tuple(data.get("notes", ())),
                   provenance={key: data[key] for key in PROVENANCE_KEYS if key in data},
                   figures={key: value for key, value in data.items() if key not in own})

    @classmethod
    def load(cls, directory) -> RunRecord:
        """The record of the run in ``directory``; an InputError naming the file and the problem if
        there is none, or it is damaged, or of a newer format."""
        path = Path(directory) / SUMMARY_FILE
        try:
            data = read_json(path)
        except FileNotFoundError:
            raise InputError(str(directory), "not a complete ringlab run (no summary.json)") from None
        except OSError as error:
            raise InputError(str(path), f"cannot read it: {error.strerror}") from None
        except (ValueError, RecursionError) as error:
            raise InputError(str(path), f"damaged: not JSON ({error})") from None
        return cls.from_dict(data, path)
