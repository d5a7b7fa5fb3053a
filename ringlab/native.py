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

from ringlab.errors import BuildError

CACHE_DIR = Path(os.environ.get("RINGLAB_CACHE", Path.home() / ".cache" / "ringlab"))
CFLAGS = ("-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror")


def library_path(source: Path, cflags=CFLAGS, headers=(), libraries=()) -> Path:
    """Where the library of this exact source, headers, flags and linked libraries is cached."""
    content = b"".join(Path(f).read_bytes() for f in (source, *headers)) + " ".join((*cflags, *libraries)).encode()
    return CACHE_DIR / f"{source.stem}-{hashlib.sha256(content).hexdigest()[:16]}.so"


def build(source: Path, cflags=CFLAGS, headers=(), libraries=()) -> Path:
    """Compile ``source`` (which may include ``headers``, linked with ``libraries``, e.g. ``"xdp"``)
    unless a library of this exact source is cached; return its path."""
    target = library_path(source, cflags, headers, libraries)
    if target.exists():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise BuildError("no C compiler found (install gcc: apt-get install gcc, or run make setup)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        includes = [f"-I{directory}" for directory in sorted({str(Path(h).parent) for h in headers})]
        result = subprocess.run([compiler, *cflags, *includes, "-o", tmp, str(source),
                                 *(f"-l{name}" for name in libraries)], capture_output=True, text=True)
        if result.returncode != 0:
            first = next((line for line in result.stderr.splitlines() if "error" in line), result.stderr.strip()[:200])
            raise BuildError(f"compiling {source.name} failed: {first}", result.stderr)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def load(source: Path, cflags=CFLAGS, headers=(), libraries=()) -> ctypes.CDLL:
    """Build (if needed) and load ``source`` as a shared library."""
    return ctypes.CDLL(str(build(source, cflags, headers, libraries)), use_errno=True)


_DECLARED: dict[Path, ctypes.CDLL] = {}


def declared(source: Path, headers, signatures, libraries=()) -> ctypes.CDLL:
    """``source``'s library, built and loaded once per process, with each function's ``(argtypes,
    restype)`` of ``signatures`` (a mapping, or a function giving one, called on first use) declared."""
    source = Path(source)
    if source not in _DECLARED:
        library = load(source, headers=headers, libraries=libraries)
        for name, (argtypes, restype) in (signatures() if callable(signatures) else signatures).items():
            function = getattr(library, name)
            function.argtypes, function.restype = argtypes, restype
        _DECLARED[source] = library
    return _DECLARED[source]
