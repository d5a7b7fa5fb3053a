"""Files written whole, so that an interrupted run never leaves half a file behind; and files read
with a bound, so that a huge or special file is refused instead of read."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ringlab.errors import InputError


def new_temporary_file(path: Path) -> str:
    """A new empty hidden file beside ``path`` (``.name.XXXX.tmp``), readable as results are."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; results are for sharing
    return tmp


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success rename it over ``path``, else remove it.
    Temporary files a killed writer of ``path`` left beside it are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    tmp = new_temporary_file(path)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise named(error, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


STAGING_SUFFIX = ".staging"   # a directory being written, beside the one it will replace
REPLACED_SUFFIX = ".replaced" # a directory just replaced, being removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not supported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:
        return False
    at_cwd, rename_exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(b))


def remove_leftovers(target: Path) -> None:
    """Remove what killed writers of ``target`` left beside it (staged or replaced directories,
    named with their writer's process id): never those of a writer still running."""
    target = Path(target)
    for suffix in (STAGING_SUFFIX, REPLACED_SUFFIX):
        for leftover in target.parent.glob(f".{target.name}.*{suffix}"):
            if not _writer_alive(leftover.name[len(target.name) + 2:].split(".")[0]):
                shutil.rmtree(leftover, ignore_errors=True)


def _writer_alive(pid_text: str) -> bool:
    """Whether the process named in a leftover's name still runs (not if it names none)."""
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def staged_directory(target: Path, clean: bool = True):
    """Yield a new hidden directory beside ``target`` (``.NAME.XXXX.staging``) to write into; on
    success it takes ``target``'s place whole, in one step where the filesystem can swap two
    directories (a previous ``target`` is then removed); on failure it is removed and ``target`` is
    untouched. Leftovers of killed writers of ``target`` are removed first (unless ``clean`` is
    false: a sweep removes all its points' leftovers once, before it starts)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if clean:
        remove_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=STAGING_SUFFIX, dir=target.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; results are for sharing
        yield staging
        if not target.exists() and _renamed(staging, target):
            pass
        elif _exchange(staging, target):
            shutil.rmtree(staging)  # now the previous target
        else:
            replaced = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=REPLACED_SUFFIX,
                                             dir=target.parent))
            os.rename(target, replaced / "previous")
            os.rename(staging, target)
            shutil.rmtree(replaced)
    except OSError as error:
        raise named(error, target) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _renamed(staging: Path, target: Path) -> bool:
    """Rename ``staging`` to ``target``; False if another writer made ``target`` in between (then
    the two are swapped instead: one run wins whole)."""
    try:
        os.rename(staging, target)
    except OSError as error:
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return False
        raise
    return True


def named(error: OSError, path) -> OSError:
    """``error``, naming ``path`` if it names no file itself (so that its one line says where)."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror or str(error), str(path))


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as UTF-8; a path named in it with bytes that are not
    UTF-8 (the surrogates Python decodes them to) is written back as those bytes."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically as JSON, with its format's version (ringlab/formats.py)."""
    from ringlab.formats import stamped

    write_text(path, json.dumps(stamped(path, data), indent=2, sort_keys=True) + "\n")


def read_json(path: Path):
    """The JSON at ``path``, whose format's version this ringlab reads (else an InputError)."""
    from ringlab.formats import check_version

    with open(path) as handle:
        data = json.load(handle)
    check_version(path, data)
    return data


def read_bounded(path, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; else an InputError naming the file."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputError(str(path), f"the {what} is not a regular file")
            content = handle.read(limit + 1)
    except OSError as error:
        raise InputError(str(path), f"cannot read the {what}: {error.strerror}") from None
    if len(content) > limit:
        raise InputError(str(path), f"the {what} is larger than {limit // 1024} KiB")
    return content
