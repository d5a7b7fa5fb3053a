"""Running a sweep: every point once, each result written atomically under a key derived from its
scenario, so that an interrupted sweep resumes where it stopped and recomputes nothing finished.

Simulation points run in parallel (local processes, or a Dask cluster); hardware points run one at
a time in this process, since they share the machine's one testbed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from ringlab.atomic_files import staged_directory
from ringlab.compare.sweeps.sweep_file import POINTS_DIR, Sweep, SweepPoint, point_dir
from ringlab.compare.sweeps.table import TABLE_FILE, write_table
from ringlab.errors import HardwareError, InputError
from ringlab.runs.run_directory import is_complete, write_run_files
from ringlab.runs.runner import run
from ringlab.runs.workers import run_batches
from ringlab.sim.fast_engine import load_engine


def run_point(point: SweepPoint, out_dir: str, keep_trace: bool, engine: str = "fast") -> str:
    """Run one point into its run directory, which appears whole when it is done.

    Simulation points use the fast engine, or the SimPy reference with ``engine="simpy"`` (which
    always keeps its trace); both give the same results. A point that keeps no trace keeps the
    first and last of its warnings (a buggy point of 10^5 packets has about as many, 5 MB)."""
    final = point_dir(Path(out_dir), point)
    if is_complete(final):
        return point.key
    with staged_directory(final, clean=False) as staging:  # run_sweep removed the leftovers
        result = run(point.scenario, point.backend, engine=engine if point.backend == "sim" else None,
                     keep_trace=keep_trace or engine == "simpy" or point.backend == "hw")
        write_run_files(staging, result, {"sweep_parameters": dict(point.parameters), "repeat": point.repeat,
                                          "point": point.key})
    return point.key


def run_points(points: list[SweepPoint], out_dir: str, keep_trace: bool, engine: str = "fast") -> list[str]:
    """Run several points in one task (one message to and from a worker instead of one per point)."""
    return [run_point(point, out_dir, keep_trace, engine) for point in points]


def remove_staging_leftovers(out_dir: Path) -> None:
    """Remove half-written points a killed sweep left (they are recomputed)."""
    for leftover in (Path(out_dir) / POINTS_DIR).glob(".*"):
        shutil.rmtree(leftover, ignore_errors=True)


def sweep_output_directory(path) -> Path:
    """``--out`` for a sweep: a new or empty directory, or one a sweep wrote (it resumes there)."""
    from ringlab.runs.run_directory import check_output_path

    path = check_output_path(path)
    if path.exists() and any(path.iterdir()) and not ((path / POINTS_DIR).is_dir() or (path / TABLE_FILE).is_file()
                                                     or (path / LOCK_FILE).is_file()):
        raise InputError("--out", f"{path} holds files but no sweep (no {POINTS_DIR}/ or {TABLE_FILE}): choose a new "
                                  "or empty directory")
    return path


def run_sweep_file(path, out_dir, scheduler: str | None = None, workers: int | None = None, progress: bool = True,
                   engine: str = "fast") -> dict:
    """Load the sweep file at ``path`` and run it into ``out_dir`` (``run_sweep``), after checking
    that the output directory is a sweep's and that real XDP can run here if the sweep asks for it.
    Returns ``run_sweep``'s counts and the sweep's name."""
    from ringlab.compare.sweeps.sweep_file import load_sweep

    sweep = load_sweep(path)
    sweep_output_directory(out_dir)
    if "hw" in sweep.backends:
        from ringlab.hw.doctor import hardware_ready

        ready, reason = hardware_ready()
        if not ready:
            raise HardwareError(f"the sweep asks for hw points, but real XDP cannot run here: {reason}")
    if workers is not None and workers < 1:
        raise InputError("--workers", "must be at least 1")
    return {"name": sweep.name, **run_sweep(sweep, out_dir, scheduler=scheduler, workers=workers, progress=progress,
                                            engine=engine)}


def run_sweep(sweep: Sweep, out_dir, scheduler: str | None = None, workers: int | None = None,
              progress: bool = True, engine: str = "fast") -> dict:
    """Run every missing point of ``sweep`` into ``out_dir``, then write the table.

    Returns counts: points in all, already finished (skipped), computed now.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with sweep_lock(out_dir):
            return _run_sweep(sweep, out_dir, scheduler, workers, progress, engine)
    except BaseException:
        if created:  # a sweep refused before it wrote a point (an unreachable scheduler) leaves nothing
            with contextlib.suppress(OSError):
                (out_dir / LOCK_FILE).unlink()
                out_dir.rmdir()
        raise


LOCK_FILE = ".ringlab-sweep.lock"


@contextmanager
def sweep_lock(out_dir: Path):
    """Hold the sweep directory for this process; a second sweep into it is refused in one line
    (the lock goes with the process, so a killed sweep leaves none)."""
    with open(out_dir / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise InputError("--out", f"another ringlab sweep (pid {handle.read().strip() or '?'}) is writing into "
                                      f"{out_dir}: wait for it, then run again to add what is missing") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def _run_sweep(sweep: Sweep, out_dir: Path, scheduler, workers, progress, engine) -> dict:
    remove_staging_leftovers(out_dir)
    missing = [p for p in sweep.points if not is_complete(point_dir(out_dir, p))]
    skipped = len(sweep.points) - len(missing)
    sim_points = [p for p in missing if p.backend == "sim"]
    hw_points = [p for p in missing if p.backend == "hw"]
    bar = tqdm(total=len(sweep.points), initial=skipped, desc=sweep.name, unit="point", disable=not progress)
    try:
        for done in run_batches(run_points, sim_points, workers=workers, scheduler=scheduler, prepare=load_engine,
                                out_dir=str(out_dir),
                                keep_trace=sweep.keep_traces, engine=engine):
            bar.update(len(done))
        for point in hw_points:
            run_point(point, str(out_dir), True)
            bar.update()
    finally:
        bar.close()
    write_table(sweep, out_dir)
    return {"points": len(sweep.points), "skipped": skipped, "computed": len(missing)}
