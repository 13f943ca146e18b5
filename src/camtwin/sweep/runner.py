"""Run a compiled sweep on ``dask.distributed`` and write the results store.

* Without a scheduler address: a :class:`~distributed.LocalCluster` of ``workers`` processes
  (default: the CPUs this process may use), one thread each.
* One task per batch of points (``batch_size``; default: about sixteen batches per worker,
  at most 16 points each; points are dealt to the batches in turn, so a batch mixes cheap
  and expensive corners of the grid). Every task runs its points one after another with numba limited
  to ``numba_threads`` (default 1) threads, so workers × threads never exceed the CPUs.
* Random streams: point *i* measures with
  ``SeedSequence(seed, spawn_key=(k_i,))`` — the child that ``SeedSequence(seed).spawn``
  gives for key ``k_i`` — where ``k_i`` comes from the point's hash (its module, conditions,
  parameters, measurements and seed), not from its position: results depend neither on the
  scheduling, nor on the batch size, nor on which other points the sweep has.
* The driver holds the store's lock for the whole run (a second sweep into the same store
  is refused; see :class:`.store.StoreLock`) and writes each finished batch to the store
  (atomic; see :mod:`.store`); points
  already in the store (same hash) are skipped, so an interrupted sweep resumes where it
  stopped. A measurement that raises marks its point ``error`` with the message; a batch
  lost with its worker is retried by Dask and, if it still fails, left for the next run.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .spec import CompiledSweep, Point, descriptors

#: Points per task, at most, when the batch size is chosen automatically.
MAX_AUTO_BATCH = 16


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {text}"


def run_point(point: Point, measurements, seed: int) -> dict:
    """Measure one point → its row (status ``ok``, or ``error`` and the message)."""
    t0, c0 = time.perf_counter(), time.process_time()
    row = {"point_hash": point.hash, "point_index": point.index, "status": "ok",
           "error": None}
    children = np.random.SeedSequence(seed, spawn_key=(point.seed_key,)).spawn(
        len(measurements))
    results: dict = {}
    for m, child in zip(measurements, children):
        try:
            results.update(m.run(point.module, point.conditions, np.random.default_rng(child)))
        except Exception as exc:  # a failing point is data, not a crash of the sweep
            row["status"], row["error"] = "error", f"{m.column}: {_one_line(exc)}"
            results = {}
            break
    row["seconds"] = time.perf_counter() - t0          # wall
    row["cpu_seconds"] = time.process_time() - c0      # CPU of the worker process
    return {**row, **results}


def run_batch(points: list[Point], measurements, seed: int, sweep_name: str,
              param_columns: dict, numba_threads: int = 1) -> list[dict]:
    """The Dask task: the rows of ``points`` (see :func:`run_point`)."""
    import numba

    from ..memory import tune_allocator

    tune_allocator()        # also on workers of a remote cluster
    numba.set_num_threads(max(1, min(int(numba_threads), numba.config.NUMBA_NUM_THREADS)))
    rows = []
    for p in points:
        row = run_point(p, measurements, seed)
        row["sweep"] = sweep_name
        for name, col in param_columns.items():
            row[col] = p.params.get(name)
        row.update(descriptors(p.module))
        rows.append(row)
    return rows


@dataclass
class SweepOutcome:
    """What a run did."""

    store: str
    total: int                  # points in the spec
    skipped: int                # already in the store
    computed: int = 0           # written by this run
    errors: int = 0             # of computed, with status error
    lost: int = 0               # in batches that failed (worker lost): rerun to resume
    seconds: float = 0.0
    workers: int = 0
    batch_size: int = 0
    lost_messages: list = field(default_factory=list)
    notices: list = field(default_factory=list)   # e.g. a stale lock taken over

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("store", "total", "skipped", "computed",
                                              "errors", "lost", "seconds", "workers",
                                              "batch_size")}


def auto_batch_size(n_points: int, n_workers: int) -> int:
    """About sixteen batches per worker (load balance, fine-grained resume and progress),
    at most :data:`MAX_AUTO_BATCH` points each."""
    return max(1, min(MAX_AUTO_BATCH, math.ceil(n_points / max(1, 16 * n_workers))))


def _worker_env(numba_threads: int) -> dict:
    n = str(numba_threads)
    return {"NUMBA_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n}


def _pre_spawn_environ() -> dict:
    """Dask's environment for new worker processes (set before they start, where glibc
    reads it) plus glibc heap slack against its ``MALLOC_TRIM_THRESHOLD_=65536``
    (:func:`camtwin.memory.tune_allocator`)."""
    import dask

    from ..memory import ALLOCATOR_TOP_PAD_BYTES

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
    env.setdefault("MALLOC_TOP_PAD_", os.environ.get("MALLOC_TOP_PAD_",
                                                     str(ALLOCATOR_TOP_PAD_BYTES)))
    return env


def local_cluster(n_workers: int, *, numba_threads: int = 1, log_level: int = logging.ERROR):
    """The LocalCluster of a sweep: ``n_workers`` single-threaded worker processes on the
    loopback interface (any free dashboard port: never the 8787 another cluster may hold,
    never all interfaces), with numba/BLAS threads and glibc heap slack set before they
    start (:func:`_pre_spawn_environ`)."""
    import dask
    from distributed import LocalCluster

    # Dask's nannies run in this process and set the workers' environment in *its*
    # os.environ before spawning them, and leave it there: after a sweep, every process
    # the user starts (and any OpenMP runtime started later here) inherited
    # OMP_NUM_THREADS=1, MALLOC_TOP_PAD_ and MALLOC_TRIM_THRESHOLD_ (distributed
    # 2026.8). The workers have spawned when LocalCluster returns: put it back (a nanny
    # restarting a worker sets them again: run_sweep restores them once more at the end).
    saved = dict(os.environ)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": _pre_spawn_environ()}):
            return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                dashboard_address="127.0.0.1:0", silence_logs=log_level,
                                env=_worker_env(numba_threads))
    finally:
        _restore_environ(saved)


def _restore_environ(saved: dict) -> None:
    """Make ``os.environ`` ``saved`` again (what :func:`local_cluster`'s nannies set)."""
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


def run_sweep(sweep: CompiledSweep, store_url, *, scheduler: str | None = None,
              workers: int | None = None, batch_size: int | None = None,
              numba_threads: int = 1, retry_errors: bool = False,
              progress: Callable[[int, int, int], None] | None = None,
              on_batch: Callable[[int, object], None] | None = None,
              notify: Callable[[str], None] | None = None,
              log_level: int = logging.ERROR) -> SweepOutcome:
    """Run ``sweep`` into the store at ``store_url``.

    Parameters
    ----------
    scheduler : str, optional
        ``tcp://host:port`` of a running Dask scheduler; default: a LocalCluster.
    workers : int, optional
        LocalCluster worker processes (default: usable CPUs); ignored with ``scheduler``.
    batch_size : int, optional
        Points per task (default: the spec's ``batch_size``, else :func:`auto_batch_size`).
    numba_threads : int
        numba threads per task.
    retry_errors : bool
        Also rerun points stored with status ``error`` (their old rows are removed first).
    progress : callable, optional
        ``progress(points_done, points_to_do, errors)`` after every batch.
    on_batch : callable, optional
        ``on_batch(batches_done, client)`` after every batch (tests use it to kill a worker).
    notify : callable, optional
        ``notify(message)`` for what the user should know at once (a stale lock of a dead
        sweep taken over); the messages are also in :attr:`SweepOutcome.notices`.

    Raises
    ------
    ConfigError
        Bad options; another sweep writing into the store; an unreadable part file.
    """
    from .store import open_store

    if workers is not None and not 1 <= int(workers) <= 4096:
        raise ConfigError(f"--workers = {workers}: must be in 1..4096")
    if batch_size is not None and not 1 <= int(batch_size) <= 10_000:
        raise ConfigError(f"--batch-size = {batch_size}: must be in 1..10000")
    if scheduler is not None and not str(scheduler).strip():
        raise ConfigError("--scheduler: empty address (expected tcp://HOST:PORT)")
    t0 = time.perf_counter()
    store = open_store(store_url)
    with store.lock() as lock:   # one writer per store: a second one is refused
        notices = [lock.notice] if lock.notice else []
        if notify is not None:
            for n in notices:
                notify(n)
        return _run_locked(sweep, store, t0, notices, scheduler=scheduler, workers=workers,
                           batch_size=batch_size, numba_threads=numba_threads,
                           retry_errors=retry_errors, progress=progress, on_batch=on_batch,
                           log_level=log_level)


def _run_locked(sweep, store, t0, notices, *, scheduler, workers, batch_size, numba_threads,
                retry_errors, progress, on_batch, log_level) -> SweepOutcome:
    store.prepare()
    done = store.completed()
    if retry_errors:
        retry = {h for h, s in done.items() if s == "error"} & {p.hash for p in sweep.points}
        if retry:
            store.drop_points(retry)
            done = {h: s for h, s in done.items() if h not in retry}
    todo = [p for p in sweep.points if p.hash not in done]
    out = SweepOutcome(store=store.url, total=len(sweep.points),
                       skipped=len(sweep.points) - len(todo), notices=list(notices))
    store.write_meta(sweep.spec_dict())
    if progress is not None:
        progress(0, len(todo), 0)
    if not todo:
        store.write_duckdb_view()
        out.seconds = time.perf_counter() - t0
        return out

    from distributed import Client, as_completed

    cluster = None
    environ = dict(os.environ)
    if scheduler is None:
        n = int(workers) if workers is not None else usable_cpus()
        cluster = local_cluster(n, numba_threads=numba_threads, log_level=log_level)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {}))
                        if scheduler is not None else int(workers or usable_cpus()))
        out.workers = n_workers
        bs = int(batch_size or sweep.spec.batch_size or auto_batch_size(len(todo), n_workers))
        out.batch_size = bs
        # strided batches: neighbouring points (similar cost) go to different tasks, so
        # the last tasks of a sweep are not all the expensive corner of the grid
        n_batches = math.ceil(len(todo) / bs)
        batches = [todo[i::n_batches] for i in range(n_batches)]
        futures = {}
        for b in batches:
            fut = client.submit(run_batch, b, sweep.measurements, sweep.spec.seed,
                                sweep.spec.name, sweep.param_columns, numba_threads,
                                key=f"camtwin-sweep-{b[0].hash}-{len(b)}", pure=False)
            futures[fut] = b
        n_done = n_batches = 0
        for fut in as_completed(list(futures)):
            batch = futures.pop(fut)
            try:
                rows = fut.result()
            except Exception as exc:  # worker lost too often, or unpicklable result
                out.lost += len(batch)
                out.lost_messages.append(_one_line(exc))
            else:
                store.write_batch(rows, sweep.schema)
                out.computed += len(rows)
                out.errors += sum(r["status"] == "error" for r in rows)
            n_done += len(batch)
            n_batches += 1
            fut.release()
            if progress is not None:
                progress(n_done, len(todo), out.errors)
            if on_batch is not None:
                on_batch(n_batches, client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
            _restore_environ(environ)
    store.write_meta(sweep.spec_dict(), run={
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **out.as_dict(),
        "seconds": round(time.perf_counter() - t0, 3)})
    store.write_duckdb_view()
    out.seconds = time.perf_counter() - t0
    return out

