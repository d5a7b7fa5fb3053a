"""Native code built on first use: a C source compiled with the system compiler into a shared
library, cached by the hash of its source and flags, and loaded with ctypes.

The build happens once per source version (a later run loads the cached library in a millisecond);
the library is written under a temporary name and renamed into place, so concurrent first uses and
interrupted builds never leave a broken library behind.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE_DIR = Path(os.environ.get("RINGLAB_CACHE", Path.home() / ".cache" / "ringlab"))
CFLAGS = ("-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror")


class NativeBuildError(RuntimeError):
    """The C compiler is missing or rejected the source; the message carries its output."""


def library_path(source: Path, cflags=CFLAGS) -> Path:
    digest = hashlib.sha256(source.read_bytes() + " ".join(cflags).encode()).hexdigest()[:16]
    return CACHE_DIR / f"{source.stem}-{digest}.so"


def build(source: Path, cflags=CFLAGS) -> Path:
    """Compile ``source`` unless a library of this exact source is cached; return its path."""
    target = library_path(source, cflags)
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise NativeBuildError("no C compiler found (install gcc: apt-get install gcc)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        result = subprocess.run([compiler, *cflags, "-o", tmp, str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise NativeBuildError(f"compiling {source.name} failed:\n{result.stderr}")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def load(source: Path, cflags=CFLAGS) -> ctypes.CDLL:
    """Build (if needed) and load ``source`` as a shared library."""
    return ctypes.CDLL(str(build(source, cflags)))
