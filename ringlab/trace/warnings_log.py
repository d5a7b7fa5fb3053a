"""A run's ``warnings.log``: the poller's warning lines, written in C (``warnings_log.c``, sharing
``warning_lines.h`` with the fast engine, which streams them while it runs), byte for byte what
:func:`ringlab.analysis.summary.format_warnings` gives."""

from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ringlab import native

KEEP_WARNINGS = 1000  # a run that does not keep every warning keeps its first and last these many
WARNING_LINES_HEADER = Path(__file__).with_name("warning_lines.h")
_SOURCE = Path(__file__).with_name("warnings_log.c")


def _load():
    i64, pointer, text = ctypes.c_int64, ctypes.c_void_p, ctypes.c_char_p
    return native.declared(_SOURCE, (WARNING_LINES_HEADER,), lambda: {
        "ringlab_write_warnings": ([pointer, i64, text], i64),
        "ringlab_write_kept_warnings": ([text, pointer, i64, text, pointer, i64], ctypes.c_int),
        "ringlab_open": ([text], pointer),
        "ringlab_close": ([pointer], ctypes.c_int)})


@dataclass(frozen=True)
class Warnings:
    """The warnings of a run that did not keep its read order: how many, and the file they were
    streamed to, or the first and the last KEEP_WARNINGS as rows (missed, current, id)."""

    count: int
    file: Path | None
    first: np.ndarray
    last: np.ndarray


def write_warnings_file(delivered_ids: np.ndarray, path) -> int:
    """Write the poller's warnings for reads of ``delivered_ids`` (in read order) to ``path``;
    return how many."""
    ids = np.ascontiguousarray(delivered_ids, np.int64)
    count = _load().ringlab_write_warnings(ids.ctypes.data, len(ids), os.fsencode(path))
    if count < 0:
        raise _write_error(path)
    return int(count)


def write_kept_warnings(warnings: Warnings, path) -> None:
    """Write the warnings a streamed run kept to ``path``: the first ones, a line saying how many
    were not kept (if any), the last ones."""
    skipped = warnings.count - len(warnings.first) - len(warnings.last)
    note = f"# {skipped} warnings not kept here (ringlab sim --summary-only --warnings all keeps them all)\n"
    first, last = (np.ascontiguousarray(rows, np.int64).reshape(-1, 3) for rows in (warnings.first, warnings.last))
    if _load().ringlab_write_kept_warnings(os.fsencode(path), first.ctypes.data, len(first),
                                           (note if skipped else "").encode(), last.ctypes.data, len(last)) != 0:
        raise _write_error(path)


@contextmanager
def warning_stream(path: Path):
    """A C ``FILE *`` (as an address) open for writing at ``path``, for an engine to stream warning
    lines into; closed on exit, and an OSError if anything could not be written."""
    library = _load()
    stream = library.ringlab_open(os.fsencode(path))
    if not stream:
        raise _write_error(path)
    try:
        yield stream
    finally:
        if library.ringlab_close(stream) != 0:
            raise _write_error(path)


def _write_error(path) -> OSError:
    """The C library's failure to write ``path``, with its reason (errno)."""
    number = ctypes.get_errno()
    return OSError(number, os.strerror(number) if number else "the write failed", str(path))
