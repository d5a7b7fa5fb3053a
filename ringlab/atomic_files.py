"""Result files, written so that an interrupted run never leaves half a file behind."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import tomli_w


def new_temporary_file(path: Path) -> str:
    """A new empty hidden file beside ``path`` (``.name.XXXX.tmp``), readable as results are."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are for sharing
    return tmp


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else remove it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_temporary_file(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_toml(path: Path, data: dict) -> None:
    write_text(path, tomli_w.dumps(data))


def read_json(path: Path):
    with open(path) as handle:
        return json.load(handle)
