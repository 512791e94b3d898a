"""The steps every fit shares, whatever the model: read and validate the data, screen fast
outliers, run one task per unit (here, in forked worker processes or as Dask tasks) and pass
each unit's messages on as :class:`~sdekit.ddm.results.FitWarning`.
"""

from __future__ import annotations

import os
import sys
import warnings

import pandas as pd

from sdekit.ddm.results import FitWarning, fit_task

__all__ = ["load_data", "without_fast", "fast_by_unit", "run_tasks", "warn_messages",
           "POOL_MIN_SECONDS", "CHUNKS_PER_WORKER"]

#: Serial work (seconds, estimated from the first fit) below which no worker processes start.
POOL_MIN_SECONDS = 1.0
#: Tasks per worker process the units are split into (load balance against transfer cost).
CHUNKS_PER_WORKER = 8


def load_data(data, cond_cols, min_trials, subject):
    from sdekit.ddm import data as ddata

    if isinstance(data, (str, os.PathLike)):
        df = ddata.read_csv(data, conditions=cond_cols or None, min_trials=min_trials)
    elif isinstance(data, pd.DataFrame):
        df = ddata.from_dataframe(data, conditions=cond_cols or None, min_trials=min_trials)
    else:
        raise TypeError(f"data must be a DataFrame or a CSV path, got {type(data).__name__}")
    return df


def without_fast(data, min_rt, min_trials):
    """The data, read and validated, without its trials faster than ``min_rt`` (recorded)."""
    from sdekit.ddm.data import exclude_fast

    try:
        min_rt = float(min_rt)
    except (TypeError, ValueError):
        raise ValueError(f"min_rt must be a number of seconds, got {min_rt!r}") from None
    if isinstance(data, pd.DataFrame) and "sdekit" in data.attrs:
        return exclude_fast(data, min_rt)
    return exclude_fast(load_data(data, None, min_trials, None), min_rt)


class FastByUnit(list):
    """Each unit's fast outliers as (row, rt) pairs; ``word``: how the rows go by."""

    word = "line"


def fast_by_unit(df, units, spec, by, stacklevel=4):
    """Flag each unit's fast outliers, and warn before a fit without contaminants."""
    from sdekit.ddm._fast_outliers import fast_outlier_warning
    from sdekit.ddm.data import fast_outliers
    out = FastByUnit()
    for key, sub in units:
        mine = fast_outliers(sub)
        out.word = mine.attrs["row_word"]
        pairs = tuple(zip(mine["row"], mine["rt"].astype(float), strict=True))
        out.append(pairs)
        if pairs and spec["p_outlier"] is None:
            who = "pooled data" if key is None else f"{by} {key}"
            text = fast_outlier_warning(pairs, out.word, "t0" in spec["free"])
            warnings.warn(f"{who}: {text}", FitWarning, stacklevel=stacklevel)
    return out


def run_tasks(payloads, progress, n_jobs, scheduler, worker=None):
    """Fit every task with ``worker`` (default :func:`sdekit.ddm.results.fit_task`): here, in
    forked worker processes or as Dask tasks; results in task order."""
    from tqdm.auto import tqdm

    worker = fit_task if worker is None else worker

    bar = tqdm(total=len(payloads), desc="fitting", unit="fit", file=sys.stderr,
               disable=not progress or len(payloads) < 2)
    try:
        if scheduler is not None:
            return _run_dask(payloads, scheduler, n_jobs, bar, worker)
        jobs = (os.cpu_count() or 1) if n_jobs is None else int(n_jobs)
        if jobs <= 1 or len(payloads) < 2:
            out = []
            for pl in payloads:
                pl.threads = jobs > 1
                out.append(worker(pl))
                bar.update()
            return out
        import concurrent.futures as cf
        import multiprocessing as mp

        # Processes, not threads: much of a fit is scipy's Python-level optimiser loop, which
        # holds the GIL. Forked workers inherit the compiled kernels.
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        # The first two fits run here: the first loads the compiled kernels, which the forked
        # workers then inherit instead of each loading them again, and the second tells how long
        # a fit takes.
        out = [None] * len(payloads)
        done = 0
        for pl in payloads[:2]:
            out[done] = worker(pl)
            done += 1
            bar.update()
        rest = payloads[done:]
        if out[done - 1].fit_seconds * len(rest) < POOL_MIN_SECONDS:
            # Starting worker processes costs about a second: not worth it for quick work.
            for i, pl in enumerate(rest):
                out[done + i] = worker(pl)
                bar.update()
            return out
        workers = max(1, min(jobs, len(rest)))
        # Several fits per task: a quick fit costs little more than sending it and its result
        # between processes. Several chunks per worker keep the load balanced and the bar moving.
        size = max(1, len(rest) // (CHUNKS_PER_WORKER * workers))
        chunks = [(done + i, rest[i:i + size]) for i in range(0, len(rest), size)]
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            futs = {ex.submit(_fit_chunk, worker, part): (first, len(part))
                    for first, part in chunks}
            for f in cf.as_completed(futs):
                first, n = futs[f]
                out[first:first + n] = f.result()
                bar.update(n)
        return out
    finally:
        bar.close()



def _fit_chunk(worker, payloads):
    return [worker(pl) for pl in payloads]



def _run_dask(payloads, scheduler, n_jobs, bar, worker):
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError("scheduler= needs Dask: pip install 'sdekit[dask]'") from None
    own = []
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        # Threads, not processes: worker processes would be spawned, which re-imports the
        # user's script (failing without a __main__ guard); the likelihood kernels release the
        # GIL. For processes, start a cluster yourself and pass its Client or address.
        cluster = LocalCluster(n_workers=1, threads_per_worker=n_jobs or os.cpu_count() or 1,
                               processes=False, dashboard_address=None)
        client = Client(cluster)
        own = [client, cluster]
    elif isinstance(scheduler, str):
        client = Client(scheduler)
        own = [client]
    else:
        raise ValueError(f"scheduler must be None, 'local', an address or a Client, got "
                         f"{scheduler!r}")
    try:
        futs = client.map(worker, payloads, pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        out = [None] * len(payloads)
        for f in as_completed(futs):
            out[index[f.key]] = f.result()
            bar.update()
        return out
    finally:
        for obj in own:
            obj.close()


def warn_messages(results, by, stacklevel=3):
    """One :class:`FitWarning` per message of each unit's results, naming the unit;
    ``stacklevel`` as in :func:`warnings.warn`, counted from here."""
    for r in results:
        who = "pooled data" if r.key is None else f"{by} {r.key}"
        for m in r.messages:
            warnings.warn(f"{who}: {m}", FitWarning, stacklevel=stacklevel)
