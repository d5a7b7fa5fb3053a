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


def _module_files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None:
        return []
    if spec.submodule_search_locations:  # a package: every source file in it
        return sorted(p for location in spec.submodule_search_locations for p in Path(location).iterdir()
                      if p.suffix in SOURCE_SUFFIXES)
    return [Path(spec.origin)]


@functools.cache
def code_digest(backend: str) -> str:
    """A short digest of every source file that computes ``backend``'s results."""
    digest = hashlib.sha256()
    for name in SHARED_MODULES + BACKEND_PACKAGES[backend]:
        for path in _module_files(name):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def provenance(backend: str) -> dict:
    """What every run records about the code that made it."""
    return {"ringlab_version": version(), "git_commit": git_commit(), "code_digest": code_digest(backend)}
