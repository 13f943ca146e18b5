"""numba housekeeping shared by the kernels (one place).

A cached ``@njit`` function that is not ``parallel=True`` but calls one that is (the
parallel kernel is linked into its machine code) records, when compiled, that loading it
from numba's cache must first start numba's parallel backend (the thread pool) — but only
if the parallel callee was itself compiled in that process. A specialisation compiled in a
process that had *loaded* the callee from the cache records nothing, and the next process
that loads that specialisation and calls it before any other parallel kernel jumps into a
thread pool that was never started: a segmentation fault (numba issues #8578 and #10184,
still in numba 0.68; reproduced here by ``tests/test_jit.py``). camtwin hit it with
:func:`camtwin.sensor._bloom.bloom` called first with a float64 full well in a process
whose kernels came from the cache.

:func:`parallel_backend` does what numba's cache loader does for a parallel kernel (its
``_reload_parfors``): start the backend, once per process. Every Python function that calls
such a nested kernel calls it first (``tests/test_jit.py`` checks the whole package). It is
deliberately not called at import: with the OpenMP layer a process that has started it can
no longer ``fork`` safely, and importing camtwin must not take that away.
"""

from __future__ import annotations

_started = False


def parallel_backend() -> None:
    """Start numba's parallel backend (thread pool) in this process if it is not yet."""
    global _started
    if _started:
        return
    from numba.np.ufunc.parallel import _launch_threads

    _launch_threads()
    _started = True


def _no_alias_compiler():
    """numba's default compiler with its ``noalias`` flag set (see :data:`NO_ALIAS`)."""
    from numba.core.compiler import Compiler

    class NoAliasCompiler(Compiler):
        def define_pipelines(self):
            self.state.flags.noalias = True
            return super().define_pipelines()

    return NoAliasCompiler


#: ``pipeline_class`` of a row kernel whose array arguments never overlap: its arrays are
#: marked ``noalias`` for LLVM, as numba marks a ``prange`` loop's (its parfor gufunc's)
#: when no two of its arrays alias. A loop that gathers (reads at computed indices) and
#: stores to another array vectorises only so: LLVM cannot bound a gather's addresses to
#: check them at run time. (The footprints' read-out lost its vectorisation moving from a
#: ``prange`` to :func:`on_row_threads`: 3× slower; RESULTS.md "Blooming", twenty-first
#: session.)
NO_ALIAS = _no_alias_compiler()


#: Rows per thread below which :func:`on_row_threads` uses fewer threads.
_MIN_ROWS_PER_THREAD = 64
#: ``min_rows`` of a kernel over the elements of a flat array (each element a "row").
FLAT_MIN_PER_THREAD = 1 << 14


def on_row_threads(kernel, args, n_rows: int, min_rows: int | None = None) -> None:
    """``kernel(*args, i0, i1)`` over rows 0 … ``n_rows`` − 1 on numba's number of threads
    (``numba.get_num_threads``): four blocks of rows per thread, thread t taking blocks t,
    t + n, … (a kernel that runs without the GIL; each row's result does not depend on
    which thread made it). Threads are started per call and joined (a pool's threads would
    hang a process forked after them); an exception in any is raised here. ``min_rows``
    (default :data:`_MIN_ROWS_PER_THREAD`): fewer threads when there are fewer rows per
    thread than that ("rows" may be any unit of work: 1 for lists or chunks each worth a
    thread's start)."""
    import threading

    import numba
    import numpy as np

    if min_rows is None:
        min_rows = _MIN_ROWS_PER_THREAD
    n = min(numba.get_num_threads(), max(1, n_rows // max(int(min_rows), 1)))
    if n <= 1:
        kernel(*args, np.int64(0), np.int64(n_rows))
        return
    k = min(4 * n, n_rows)
    bounds = [np.int64(n_rows * c // k) for c in range(k + 1)]
    errors = []

    def work(t):
        try:
            for c in range(t, k, n):
                kernel(*args, bounds[c], bounds[c + 1])
        except BaseException as exc:   # (raised in the caller's thread below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), name="camtwin-rows", daemon=True)
               for t in range(1, n)]
    for th in threads:
        th.start()
    work(0)
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def on_rows(rows_kernel, n_rows, name: str, min_rows: int | None = None):
    """A Python function ``name(*args)`` running ``rows_kernel(*args, i0, i1)`` (a nogil
    kernel over rows i0 … i1 − 1) over ``n_rows(*args)`` rows with :func:`on_row_threads`:
    what a ``prange`` over rows did, compiled without numba's parallel passes (the
    pixel chain: 12 → 8 s on a first use; RESULTS.md "First run after a fresh install",
    twentieth session). ``min_rows``: as :func:`on_row_threads` (a kernel over the
    elements of a flat array takes many)."""
    def run(*args):
        on_row_threads(rows_kernel, args, n_rows(*args), min_rows)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = rows_kernel.__doc__
    return run
