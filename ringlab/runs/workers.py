"""Where many independent simulations run: in this process, in local worker processes, or on a
Dask cluster. Sweeps and predictions hand their work here in batches (one message to and from a
worker per batch, not per simulation)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from ringlab.errors import InputError

SCHEDULER_TIMEOUT_S = 10
BATCHES_PER_WORKER = 8  # enough to balance uneven work, few enough that messages cost little


def batches(items: list, workers: int) -> list[list]:
    """``items`` cut into batches for ``workers``: about BATCHES_PER_WORKER each, in order."""
    size = max(1, -(-len(items) // (workers * BATCHES_PER_WORKER)))
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_batches(function: Callable, items: list, workers: int | None = None, scheduler: str | None = None,
                prepare: Callable[[], object] | None = None, **arguments) -> Iterator:
    """Call ``function(batch, **arguments)`` on batches of ``items`` and yield each result as it
    comes: on the Dask scheduler at ``scheduler``, in this process (``workers=1``), or in local
    worker processes (default: one per core). ``prepare`` runs once before the workers fork (the
    caller's way to load the fast engine, so that no worker builds or loads it again)."""
    if not items:
        return
    if scheduler:
        yield from _on_dask(function, items, scheduler, arguments)
        return
    if workers is not None and workers < 1:
        raise InputError("--workers", "must be at least 1")
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for batch in batches(items, 1):
            yield function(batch, **arguments)
        return
    if prepare is not None:
        prepare()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(function, batch, **arguments) for batch in batches(items, workers)]
        for future in as_completed(futures):
            yield future.result()


def _on_dask(function: Callable, items: list, scheduler: str, arguments: dict) -> Iterator:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as error:
        raise InputError("--scheduler", f"cannot reach a Dask scheduler at {scheduler!r} within "
                                        f"{SCHEDULER_TIMEOUT_S} s ({type(error).__name__}: {error})") from None
    with client:
        workers = max(1, len(client.scheduler_info()["workers"]))
        futures = client.map(function, batches(items, workers), **arguments, pure=False)
        for future in dask_completed(futures):
            yield future.result()
