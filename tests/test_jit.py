"""camtwin._jit: the numba cache bug of nested parallel kernels (numba issues #8578, #10184)
and the package-wide rule that avoids it."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import numba as nb
import pytest

import camtwin

# A cached non-parallel function calling a cached parallel one: the smallest case of the
# bug (the shape camtwin.sensor._bloom._bloom_frame had, calling _over_full, before its
# kernels ran on threads: camtwin._jit.on_row_threads).
_MODULE = '''
import sys
import numba as nb
import numpy as np


@nb.njit(cache=True, parallel=True)
def inner(x, out):
    for i in nb.prange(x.size):
        out[i] = 2 * x[i]


@nb.njit(cache=True)
def outer(x, s):
    out = np.empty_like(x)
    inner(x, out)
    return out.sum() + s


if sys.argv[2] == "helper":
    import camtwin._jit as j
    assert not j._started                    # (importing camtwin does not start it)
    j.parallel_backend()
    j.parallel_backend()                     # (once per process)
print(outer(np.arange(1000.0), {"int": 1, "float": 1.0}[sys.argv[1]]))
'''


def test_parallel_backend_prevents_the_cached_nested_kernel_crash(tmp_path):
    """Four fresh processes on an empty numba cache: the int specialisation (compiles both
    kernels), the float one (compiled with ``inner`` loaded from the cache: the bad cache
    entry), the float one loaded from the cache and called first (the crash), and the same
    after ``parallel_backend()`` (no crash)."""
    (tmp_path / "nested.py").write_text(_MODULE)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    codes = []
    for arg, mode in (("int", "plain"), ("float", "plain"), ("float", "plain"),
                      ("float", "helper")):
        r = subprocess.run([sys.executable, str(tmp_path / "nested.py"), arg, mode],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        codes.append(r.returncode)
        if r.returncode == 0:
            assert float(r.stdout.split()[-1]) == 999001.0
        else:
            assert r.returncode < 0 or mode == "helper", r.stderr[-2000:]
    if codes[2] == 0:
        pytest.skip("this numba loads a nested parallel kernel from its cache safely "
                    "(issue #8578 fixed): camtwin._jit.parallel_backend is no longer needed")
    assert codes[:2] == [0, 0]
    assert codes[2] < 0, codes              # killed by a signal (SIGSEGV)
    assert codes[3] == 0, codes


@nb.njit(parallel=True)
def _probe_inner(x):  # pragma: no cover - jit, never called
    return x


@nb.njit
def _probe_outer(x):  # pragma: no cover - jit, never called
    return _probe_inner(x)


def _dispatchers():
    """Every numba dispatcher defined in camtwin: (module, name) → dispatcher."""
    from numba.core.registry import CPUDispatcher

    found = {}
    for info in pkgutil.walk_packages(camtwin.__path__, "camtwin."):
        mod = importlib.import_module(info.name)
        for name, value in vars(mod).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == mod.__name__:
                found[(mod.__name__, name)] = value
    return found


def _global_names(code):
    yield from code.co_names
    for const in code.co_consts:
        if inspect.iscode(const):
            yield from _global_names(const)


def _nested(dispatchers) -> set:
    """The non-parallel dispatchers that call a parallel one (directly or through others)."""
    from numba.core.registry import CPUDispatcher

    def callees(d):
        g = d.py_func.__globals__
        return [g[n] for n in set(_global_names(d.py_func.__code__))
                if isinstance(g.get(n), CPUDispatcher)]

    parallel = {id(d) for d in dispatchers.values() if d.targetoptions.get("parallel")}
    reaches: set = set(parallel)
    changed = True
    while changed:
        changed = False
        for d in dispatchers.values():
            if id(d) not in reaches and any(id(c) in reaches for c in callees(d)):
                reaches.add(id(d))
                changed = True
    return {key for key, d in dispatchers.items() if id(d) in reaches - parallel}


def test_every_python_caller_of_a_nested_kernel_starts_the_backend_first():
    dispatchers = _dispatchers()
    # the scan sees the case (none is left in camtwin: its kernels run on threads)
    probe = {("probe", "inner"): _probe_inner, ("probe", "outer"): _probe_outer}
    assert _nested({**dispatchers, **probe}) - _nested(dispatchers) == {("probe", "outer")}
    nested = _nested(dispatchers)
    names = {name for _, name in nested}
    offenders = []
    for info in pkgutil.walk_packages(camtwin.__path__, "camtwin."):
        mod = importlib.import_module(info.name)
        tree = ast.parse(inspect.getsource(mod))
        jitted = {name for (m, name) in dispatchers if m == mod.__name__}
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or fn.name in jitted:
                continue
            # calls by name (f(...)) and through a module (_bloom.f(...))
            calls = sorted((c.lineno, c.func.id if isinstance(c.func, ast.Name)
                            else c.func.attr) for c in ast.walk(fn)
                           if isinstance(c, ast.Call)
                           and isinstance(c.func, (ast.Name, ast.Attribute)))
            first = next((ln for ln, f in calls if f in names), None)
            if first is None:
                continue
            started = [ln for ln, f in calls if f == "parallel_backend" and ln < first]
            if not started:
                offenders.append(f"{mod.__name__}.{fn.name} (line {first})")
    assert not offenders, ("call camtwin._jit.parallel_backend() before these nested "
                           "parallel kernels: " + ", ".join(offenders))


def test_the_kernels_of_a_first_capture_process_or_burst_are_not_prange_kernels():
    """A first capture (pixel chain, blooming, read-out, HDR chain and merge, optics), a
    first ``process`` (ISP), a first ``burst`` alignment and a first iToF ``depth`` capture
    compile no ``parallel=True``
    kernel: numba's parallel passes cost a first use tens of seconds here (RESULTS.md
    "First run after a fresh install", twenty-first session). They run on threads by
    ``camtwin._jit.on_row_threads``. The exceptions are listed with their reason: the
    benchmarks' RNG probe, and the burst merge and defect-correction kernels, which were
    measured slower as threads."""
    from numba.core.registry import CPUDispatcher

    modules = ("camtwin.sensor._bloom", "camtwin.sensor._kernels",
               "camtwin.sensor._hdr_kernels", "camtwin.isp._kernels", "camtwin.isp._hdr_kernels",
               "camtwin.optics._kernels", "camtwin.burst._kernels", "camtwin.isp.defects",
               "camtwin.depth._itof_kernels")
    parallel = sorted(f"{m}.{name}" for m in modules
                      for name, d in vars(importlib.import_module(m)).items()
                      if isinstance(d, CPUDispatcher) and d.targetoptions.get("parallel"))
    assert parallel == ["camtwin.burst._kernels.gather_windowed",
                        "camtwin.burst._kernels.overlap_add",
                        "camtwin.burst._kernels.planes_to_mosaic",
                        "camtwin.burst._kernels.wiener_accumulate",
                        "camtwin.isp.defects._dpc_kernel",
                        "camtwin.sensor._kernels.fill_normal"]
