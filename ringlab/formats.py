"""The JSON files ringlab writes, each with its format's version (docs/formats.md describes them).

Every JSON file carries ``format_version``. A reader accepts the current version, reads a file of
an earlier ringlab that has none (version 0: the same fields, before versions were written), and
refuses a newer one in one line naming the file and both versions.
"""

from __future__ import annotations

from pathlib import Path

from ringlab.errors import InputError

# File name -> the version ringlab writes now. A change a reader must know of raises the version.
FORMAT_VERSIONS = {
    "summary.json": 1,      # a run's figures and provenance; or a measured pause profile's figures
    "profile.json": 1,      # a pause profile's figures (its arrays in pauses.npz)
    "prediction.json": 1,   # ringlab predict: the bands of loss, drops and latency
    "size.json": 1,         # ringlab size: the answer and the table searched
    "replay.json": 1,       # ringlab replay: agreement with the measured trial
    "report.json": 1,       # ringlab compare: every figure of the report
    "sender.json": 1,       # ringlab hw send --out: the sender's own record
    "diff.json": 1,         # ringlab diff: what changed between two runs, sweeps or profiles
    "plan.json": 1,         # ringlab hw experiment: what was asked, the knobs found, the order of the trials
    "experiment.json": 1,   # ringlab hw experiment: each source's and the loss's change, paired
}
UNVERSIONED = 0  # files written before versions were


def stamped(path: Path, data: dict) -> dict:
    """``data`` with the ``format_version`` of the file it is written to."""
    name = Path(path).name
    if name not in FORMAT_VERSIONS:
        raise KeyError(f"{name} is not a registered ringlab format (ringlab/formats.py)")
    return {**data, "format_version": FORMAT_VERSIONS[name]}


def check_version(path: Path, data: dict) -> int:
    """The version of ``data``, read from ``path``; InputError in one line if this ringlab cannot
    read it."""
    version = data.get("format_version", UNVERSIONED) if isinstance(data, dict) else UNVERSIONED
    current = FORMAT_VERSIONS[Path(path).name]
    if not isinstance(version, int) or isinstance(version, bool) or not UNVERSIONED <= version <= current:
        raise InputError(str(path), f"format_version {version!r}: this ringlab reads {Path(path).name} up to version "
                                    f"{current} (a newer ringlab wrote it)")
    return version
