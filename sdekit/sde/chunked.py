"""Running a problem in chunks of paths: for a progress bar, or as Dask tasks.

A path's noise depends on (seed, path index) only, so a chunk of paths computed anywhere (another
thread, another process, another machine) is bit-for-bit the corresponding slice of the whole
run. Splitting work is therefore only a matter of scheduling: no state has to travel between
chunks.
"""

from __future__ import annotations

import math

import numpy as np

from .problem import run_problem

__all__ = ["run_in_chunks", "dask_client"]

_TARGET_CHUNKS = 20
_MIN_CHUNK = 1024


def _bounds(n_paths, chunk_paths):
    if chunk_paths is None:
        chunk_paths = max(_MIN_CHUNK, math.ceil(n_paths / _TARGET_CHUNKS))
    if not isinstance(chunk_paths, (int, np.integer)) or chunk_paths < 1:
        raise ValueError(f"chunk_paths must be a positive integer, got {chunk_paths!r}")
    starts = range(0, n_paths, int(chunk_paths))
    return [(start, min(start + int(chunk_paths), n_paths)) for start in starts]


def dask_client(scheduler):
    """A ``distributed.Client`` for ``"local"``, an address, or a Client given as it is."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError(
            "running on Dask needs the distributed package: pip install 'sdekit[dask]'"
        ) from exc
    if isinstance(scheduler, Client):
        return scheduler, False
    if scheduler == "local":
        cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                               dashboard_address=None)
        return Client(cluster), True
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise TypeError("scheduler must be 'local', a scheduler address or a distributed.Client")


def run_in_chunks(problem, *, scheduler=None, progress=False, chunk_paths=None):
    """Run ``problem`` chunk by chunk, locally or on Dask; same result as one run."""
    from tqdm.auto import tqdm

    n = problem.n_paths
    states = np.empty((n, problem.save_at.size, problem.sde.dim))
    fpt = np.empty(n)
    hit = np.empty(n, dtype=np.int16)
    bounds = _bounds(n, chunk_paths)
    bar = tqdm(total=n, unit="path", disable=not progress, desc="sdekit.solve")

    def store(start, stop, result):
        states[start:stop], fpt[start:stop], hit[start:stop] = result
        bar.update(stop - start)

    try:
        if scheduler is None:
            for start, stop in bounds:
                store(start, stop, run_problem(problem.chunk(start, stop)))
        else:
            from distributed import as_completed

            client, owned = dask_client(scheduler)
            try:
                futures = {client.submit(run_problem, problem.chunk(start, stop), pure=False):
                           (start, stop) for start, stop in bounds}
                for future in as_completed(futures):
                    store(*futures[future], future.result())
            finally:
                if owned:
                    cluster = getattr(client, "cluster", None)
                    client.close()
                    if cluster is not None:
                        cluster.close()
    finally:
        bar.close()
    return states, fpt, hit
