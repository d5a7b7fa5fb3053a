"""The table of a sweep: one row per point and backend, from the points' summaries."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ringlab.atomic_files import read_bounded, write_text
from ringlab.errors import InputError
from ringlab.runs.run_directory import load_summary

TABLE_FILE = "table.csv"
# Columns taken from the summary's latency figures: column -> (figure, key)
LATENCY_COLUMNS = {"latency_p50_ns": ("latency", "p50_ns"), "latency_p99_ns": ("latency", "p99_ns"),
                   "latency_p99_9_ns": ("latency", "p99_9_ns")}
FIGURES = ("packets", "delivered", "dropped_full", "in_ring", "lost_before_ring", "pending", "loss_fraction",
           "out_of_order", "max_displacement", "warnings", "stalls", "drops_per_stall_mean",
           "recovery_median_ns", "lasting_offset_slots")


def table_rows(sweep, out_dir) -> list[dict]:
    """Rows in the sweep's point order: backend, repeat, seed, the varied parameters, the figures."""
    from ringlab.compare.sweeps.sweep_file import point_dir

    rows = []
    for point in sweep.points:
        summary = load_summary(point_dir(out_dir, point))
        row = {"backend": point.backend, "repeat": point.repeat, "seed": point.scenario.seed,
               "point": point.key, **dict(point.parameters)}
        row.update({name: getattr(summary.summary, name) for name in FIGURES})
        row.update({column: getattr(summary.summary, figure)[key] for column, (figure, key) in LATENCY_COLUMNS.items()})
        rows.append(row)
    return rows


def write_table(sweep, out_dir) -> Path:
    rows = table_rows(sweep, out_dir)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["backend"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(out_dir) / TABLE_FILE
    write_text(path, buffer.getvalue())
    return path


MAX_TABLE_BYTES = 1 << 30
COUNT_COLUMNS = ("repeat", "seed", "packets", "delivered", "dropped_full", "in_ring", "lost_before_ring", "pending",
                 "out_of_order", "max_displacement", "warnings", "stalls", "lasting_offset_slots")  # every run has them


def read_table(path) -> list[dict]:
    """A sweep's table, checked: UTF-8 CSV with the columns ``write_table`` writes, a known backend
    and whole counts on every row; else an InputError naming the file and the first problem."""
    from ringlab.compare.sweeps.sweep_file import BACKENDS

    try:
        text = read_bounded(path, "sweep table", MAX_TABLE_BYTES).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(str(path), f"not UTF-8 text (byte {error.start})") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = list(reader)
    except csv.Error as error:
        raise InputError(str(path), f"not CSV: {error}") from None
    missing = [c for c in ("backend", "point", *COUNT_COLUMNS, *FIGURES, *LATENCY_COLUMNS) if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(str(path), f"not a ringlab sweep table: no column {missing[0]!r}")
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise InputError(str(path), f"line {number}: not as many values as columns")
        if row["backend"] not in BACKENDS:
            raise InputError(str(path), f"line {number}: unknown backend {row['backend']!r}")
        for column in COUNT_COLUMNS:
            if not (row[column].isascii() and row[column].isdigit()) or len(row[column]) > 18:  # "²".isdigit()
                raise InputError(str(path), f"line {number}: {column} is {row[column]!r}, not a whole count")
        for column in (*FIGURES, *LATENCY_COLUMNS):
            if column not in COUNT_COLUMNS and not _is_number(row[column]):
                raise InputError(str(path), f"line {number}: {column} is {row[column]!r}, not a number")
        packets = int(row["packets"])
        if packets == 0:
            raise InputError(str(path), f"line {number}: a point of 0 packets")
        fates = ("delivered", "dropped_full", "in_ring", "lost_before_ring", "pending")
        over = [column for column in fates if int(row[column]) > packets]
        if over:
            raise InputError(str(path), f"line {number}: {over[0]} is more than the {packets} packets")
        if sum(int(row[column]) for column in fates) != packets:
            raise InputError(str(path), f"line {number}: the packets' fates do not add up to its {packets} packets")
    return rows


def _is_number(text: str) -> bool:
    """Whether a table cell holds a figure: a finite number, or empty or None where there is none."""
    if text in ("", "None", "nan"):
        return True
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
