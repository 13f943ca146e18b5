"""Background jobs: a bounded thread pool, progress and results that the page polls.

The simulation (NumPy, SciPy FFTs, numba kernels) releases the GIL in its heavy parts, so a
small thread pool keeps the CPUs busy while the event loop only queues work and answers
polls. The pool has ``workers`` threads; at most ``max_pending`` jobs may be queued or
running (one more is refused); finished jobs are kept up to ``max_stored`` (oldest dropped
first). A job belongs to the client session that submitted it (``owner``); :meth:`get`
with an owner finds only that owner's jobs, and :meth:`drop_owner` forgets an expired
session's jobs.

numba's parallel kernels are safe to call from several threads only with the OpenMP or TBB
threading layer; with the fallback "workqueue" layer concurrent launches abort the process,
so :class:`JobManager` then runs one simulation at a time.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import CamtwinError

#: Job states, in order.
STATES = ("queued", "running", "done", "error")


class QueueFull(RuntimeError):
    """Too many jobs are queued or running."""


@dataclass
class Job:
    """One unit of background work and what it produced."""

    id: str
    kind: str
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    created_s: float = field(default_factory=time.time)
    started_s: float | None = None
    finished_s: float | None = None
    result: Any = None
    error: str | None = None
    #: binary artefacts (PNG bytes, arrays for zooms, raw frames) served by their own
    #: endpoints
    files: dict = field(default_factory=dict)
    #: the client session that submitted the job (None: anyone may read it)
    owner: str | None = None

    def as_dict(self) -> dict:
        out = {"id": self.id, "kind": self.kind, "status": self.status,
               "progress": round(self.progress, 4), "message": self.message,
               "created_s": self.created_s, "started_s": self.started_s,
               "finished_s": self.finished_s}
        if self.status == "done":
            out["result"] = self.result
        if self.status == "error":
            out["error"] = self.error
        return out


class Progress:
    """Handed to a job function: ``progress(fraction, message)``."""

    def __init__(self, job: Job):
        self._job = job

    def __call__(self, fraction: float, message: str = "") -> None:
        self._job.progress = float(min(1.0, max(self._job.progress, fraction)))
        if message:
            self._job.message = message


class JobManager:
    """Queue job functions on a bounded thread pool and keep their results."""

    def __init__(self, workers: int, *, max_pending: int, max_stored: int):
        self.workers = workers
        self.max_pending = max_pending
        self.max_stored = max_stored
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="camtwin-web")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._serial = threading.Lock()  # one simulation at a time on numba's workqueue layer
        self._closed = False

    # --- bookkeeping ------------------------------------------------------------------
    def pending(self) -> int:
        with self._lock:
            return sum(j.status in ("queued", "running") for j in self._jobs.values())

    def counts(self) -> dict:
        with self._lock:
            out = {s: 0 for s in STATES}
            for j in self._jobs.values():
                out[j.status] += 1
            return out

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None if there is none or (given ``owner``) it belongs to another."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (owner is not None and job.owner != owner):
            return None
        return job

    def drop_owner(self, owner: str) -> int:
        """Forget ``owner``'s finished jobs; its running ones become nobody's (unreadable)
        and are dropped when they finish."""
        with self._lock:
            mine = [k for k, j in self._jobs.items()
                    if j.owner == owner and j.status in ("done", "error")]
            for k in mine:
                del self._jobs[k]
            for j in self._jobs.values():
                if j.owner == owner:
                    j.owner = ""
        return len(mine)

    def submit(self, kind: str, fn: Callable[[Job, Progress], Any], *,
               owner: str | None = None) -> Job:
        """Queue ``fn(job, progress)``; its return value becomes ``job.result``.

        Raises :class:`QueueFull` when ``max_pending`` jobs are queued or running.
        """
        with self._lock:
            if self._closed:
                raise QueueFull("the server is shutting down")
            pending = sum(j.status in ("queued", "running") for j in self._jobs.values())
            if pending >= self.max_pending:
                raise QueueFull(f"{pending} jobs are queued or running (limit "
                                f"{self.max_pending}); try again in a few seconds")
            job = Job(id=uuid.uuid4().hex, kind=kind, owner=owner)
            self._jobs[job.id] = job
            self._evict()
        self._pool.submit(self._run, job, fn)
        return job

    def _evict(self) -> None:
        for k in [k for k, j in self._jobs.items()
                  if j.owner == "" and j.status in ("done", "error")]:
            del self._jobs[k]
        finished = [k for k, j in self._jobs.items() if j.status in ("done", "error")]
        excess = len(self._jobs) - self.max_stored
        for k in finished[:max(0, excess)]:
            del self._jobs[k]

    # --- running ----------------------------------------------------------------------
    def _run(self, job: Job, fn) -> None:
        job.status, job.started_s, job.message = "running", time.time(), "starting"
        try:
            guard = self._serial if _needs_serial_numba() else _NullLock()
            with guard:
                result = fn(job, Progress(job))
        except CamtwinError as exc:
            job.error, job.status = str(exc), "error"
        except MemoryError:
            job.error, job.status = "out of memory: use a smaller sensor or crop", "error"
        except Exception as exc:  # a bug: keep the worker alive, report one line
            traceback.print_exc()
            job.error, job.status = f"internal error: {type(exc).__name__}: {exc}", "error"
        else:
            job.result, job.progress, job.message, job.status = result, 1.0, "done", "done"
        finally:
            job.finished_s = time.time()

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)


class _NullLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _needs_serial_numba() -> bool:
    """True unless numba's parallel kernels are known to be thread safe here."""
    try:
        import numba

        return numba.threading_layer() not in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet in this process: be careful once
        return True
    except ImportError:  # pragma: no cover - numba is a hard dependency
        return False
