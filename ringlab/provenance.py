"""Where a result came from: ringlab's version (from the package metadata, the one place it is
set), the git commit of the source when it runs from a checkout, and a digest of the code that
computes a backend's results, so that a sweep recomputes instead of reusing a point computed by
other code."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import subprocess
from pathlib import Path

# The packages every result depends on (scenario and plan, trace, analysis), and each backend's own.
SHARED_MODULES = ("ringlab.scenario", "ringlab.trace", "ringlab.analysis")
BACKEND_PACKAGES = {"sim": ("ringlab.sim",), "hw": ("ringlab.hw", "ringlab.bpf")}
SOURCE_SUFFIXES = (".py", ".c", ".h")


@functools.cache
def version() -> str:
    """ringlab's version as installed (``pyproject.toml`` sets it)."""
    try:
        return importlib.metadata.version("ringlab")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout ringlab runs from (suffixed ``-dirty`` if it has changes), or None."""
    source = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def source_files(backend: str) -> list[tuple[str, Path]]:
    """Every source file (``.py``, ``.c``, ``.h``) of the packages that compute ``backend``'s results,
    found recursively through every subpackage, each with its path inside its package."""
    files = []
    for name in SHARED_MODULES + BACKEND_PACKAGES[backend]:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        for location in spec.submodule_search_locations or ():
            root = Path(location)
            files += [(f"{name}/{path.relative_to(root).as_posix()}", path) for path in root.rglob("*")
                      if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file()]
    return sorted(files)


@functools.cache
def code_digest(backend: str) -> str:
    """A short digest of every source file that computes ``backend``'s results: a change to any of
    them, in any subfolder, gives another digest."""
    digest = hashlib.sha256()
    for name, path in source_files(backend):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def provenance(backend: str) -> dict:
    """What every run records about the code that made it."""
    return {"ringlab_version": version(), "git_commit": git_commit(), "code_digest": code_digest(backend)}
