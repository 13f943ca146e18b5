"""The memory budget: every capture path checks its working set before it allocates.

A job that cannot fit raises :class:`MemoryBudgetError` (a :class:`~camtwin.errors.CamtwinError`
and a :class:`MemoryError`) with one line saying what it needs, what the budget is and how
to reduce it; the CLI prints that line and exits 2 — the kernel's OOM killer never gets
the job, and no array of the job has been allocated yet.

The budget [bytes] is, in order of precedence:

1. the value given to :func:`using_budget` (the CLI's ``--max-memory``),
2. the environment variable ``CAMTWIN_MAX_MEMORY``,
3. :data:`DEFAULT_FRACTION` × the memory available to this process (``MemAvailable`` of
   the system plus what the process already holds, via psutil).

Sizes are written as a number with an optional unit: ``4G``, ``4GB``, ``4GiB``, ``512M``,
``1.5g``, ``2000000000`` (bytes). Units are binary (1 G = 2³⁰ bytes), as ``free -h`` and
``top`` print them.

Working-set model
-----------------
:func:`estimate_capture_bytes` counts the arrays alive at the peak of one streamed capture
(:func:`camtwin.camera.shoot` → :mod:`camtwin.optics.stream` → :func:`camtwin.sensor.capture`
→ ISP), per sensor pixel N_px and per optical-image sample N_oi (N_oi = N_px × oversample²,
larger for a fisheye scene plane):

    bytes ≈ N_oi · (scene + planes·4 + FFT) + N_px · (mosaic + hdr·n_hdr) + fixed

with ``scene`` the bytes per sample of the scene description (reflectance index or
weights, :class:`camtwin.scene.scene.Scene`), ``planes`` the per-channel float32 planes of
the spectral collapse (2 per CFA channel), ``FFT`` the padded real and complex work
buffers of one plane (≈ 12 bytes per sample), ``mosaic`` the float32/uint16 mosaics of
the sensor chain plus the ISP's RGB output, ``hdr`` the bytes per pixel of each of an HDR
sensor's n_hdr components beyond it (:data:`BYTES_PER_PIXEL_HDR_COMPONENT`). The
constants are fitted to measured peak RSS with a margin (benchmarks/RESULTS.md,
``bench_capture_scale.py``): 1.2 / 12 / 48 MP ColorChecker captures are estimated at
440 MiB / 1.2 GiB / 3.8 GiB and measured at 0.38 / 0.91 / 2.51 GiB. The number of
spectral bands does not appear — the spectral dimension is streamed. Sensors captured in
row strips (``camtwin capture`` above 16 MP, :mod:`camtwin.strips`) have their own model,
:func:`camtwin.strips.estimate_strip_capture_bytes` (frame-size arrays of ≈ 9 bytes per
pixel plus one strip's working set).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import resource

from .errors import CamtwinError, ConfigError

#: Fraction of the available memory a job may use when no budget is given.
DEFAULT_FRACTION = 0.7
#: Environment variable holding a budget (e.g. ``4G``).
ENV_VAR = "CAMTWIN_MAX_MEMORY"

#: Working-set model constants [bytes] (module docstring), fitted to measured peak RSS.
BYTES_PER_OI_SAMPLE_FFT = 12
BYTES_PER_PIXEL_MOSAIC = 40
#: Plus, for an HDR sensor, per component (:func:`camtwin.sensor.hdr.component_names`):
#: its DN (uint16) and mean electrons (float32, per charge group), its read's fixed-pattern
#: maps stacked for the fused kernel (offset float32, RTN flags) and its share of the
#: combined signal (and PWL code). Measured beyond the rest of the model (peak-RSS growth of
#: ``shoot`` in a fresh process, ColorChecker): 11.6, 10.1 and 10.7 B per pixel and
#: component for the catalog's AR0820AT (DOL, 3), IMX490 (split pixel, 3) and OX03C10
#: (split pixel + PWL, 4) (benchmarks/RESULTS.md, "Capture at real size", run 5; the
#: estimate bounding the growth: ``tests/test_memory_budget.py``).
BYTES_PER_PIXEL_HDR_COMPONENT = 16
#: Python, NumPy, SciPy, numba and the compiled kernels of a fresh process.
FIXED_BYTES = 350 * 2**20

_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.I)

_override: contextvars.ContextVar[int | None] = contextvars.ContextVar("camtwin_budget",
                                                                        default=None)


class MemoryBudgetError(CamtwinError, MemoryError):
    """A job needs more memory than the budget allows (raised before anything is allocated)."""


def parse_bytes(text: str | int | float, *, option: str = "--max-memory") -> int:
    """``'4G'`` → 4294967296. Accepts a plain number of bytes or k/M/G/T with an optional
    ``B``/``iB`` (binary units). Raises :class:`ConfigError` naming ``option``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _SIZE_RE.match(str(text))
        if not m:
            raise ConfigError(f"{option} = {text!r}: expected a size such as 4G, 512M or a "
                              f"number of bytes")
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not value >= 16 * 2**20:
        raise ConfigError(f"{option} = {text!r}: must be at least 16M")
    return int(value)


def format_bytes(n: float) -> str:
    """A byte count as ``'3.2 GiB'`` / ``'410 MiB'``."""
    n = float(n)
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB"


def _proc_status_bytes(key: str) -> int:
    """The ``key`` line (``"VmRSS:"``, ``"VmHWM:"``) of ``/proc/self/status`` [bytes]
    (Linux; OSError elsewhere)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key)) * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far [bytes]: on Linux its memory's
    high-water mark (``VmHWM`` of ``/proc/self/status``), which starts afresh at ``exec``;
    elsewhere ``getrusage`` (macOS reports bytes). Linux's ``ru_maxrss`` carries the peak
    of the process image before ``exec``: a ``camtwin capture --json`` started from a
    1.1 GiB Python process (a ``subprocess.run`` in a test run) reported 1144 MiB for a
    capture whose own peak was 0.3 GiB. (After :func:`call_peak_growth` has reset the
    mark, the peak since then.)"""
    try:
        return _proc_status_bytes("VmHWM:")
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import sys

    return int(ru if sys.platform == "darwin" else ru * 1024)


def call_peak_growth(fn, *args, **kwargs):
    """``(fn(*args, **kwargs), growth [bytes])``: how far the peak resident set rose above
    the resident set at the call's start, i.e. the call's own working set. Linux only (the
    peak, VmHWM, is reset through ``/proc/self/clear_refs`` just before the call, so earlier
    peaks such as compilation do not hide it); elsewhere the growth is None."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _proc_status_bytes("VmRSS:")
    except OSError:
        return fn(*args, **kwargs), None
    out = fn(*args, **kwargs)
    return out, _proc_status_bytes("VmHWM:") - base


def release_pages(a) -> int:
    """Give the memory pages lying wholly inside the C-contiguous array ``a`` (usually a
    view: the rows of a large array no longer needed) back to the system
    (``madvise(MADV_DONTNEED)``, Linux); returns the bytes released (0 elsewhere or when
    the call fails; a part smaller than a page releases nothing). **The values there
    read as 0 afterwards** (private memory; a file mapping's are read from the file
    again): only for arrays no one will read there again
    (:func:`camtwin.strips.capture_strips` releases the rows of a scene it built once no
    later strip needs them)."""
    import mmap
    import sys

    if not sys.platform.startswith("linux") or not a.flags.c_contiguous or a.nbytes == 0:
        return 0
    page = mmap.PAGESIZE
    start = a.__array_interface__["data"][0]
    lo = -(-start // page) * page
    hi = (start + a.nbytes) // page * page
    if hi <= lo:
        return 0
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        if libc.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED):
            return 0
    except (OSError, AttributeError):
        return 0
    return hi - lo


_MADV_DONTNEED = 4


def current_rss_bytes() -> int:
    """Resident set size of this process now [bytes] (psutil; the peak so far without it)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil ships with the test extras
        return peak_rss_bytes()


def available_bytes() -> int:
    """Memory this process may still grow into [bytes]: the system's available memory plus
    the process's own resident set (psutil; ``os.sysconf`` if psutil is missing)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available + psutil.Process().memory_info().rss)
    except ImportError:  # pragma: no cover - psutil ships with the test extras
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


#: Slack glibc's malloc keeps at the top of each heap/arena [bytes] (``M_TOP_PAD``), see
#: :func:`tune_allocator`.
ALLOCATOR_TOP_PAD_BYTES = 256 * 2**20
_M_TOP_PAD = -2     # glibc <malloc.h>
_tuned = False


def tune_allocator() -> bool:
    """Keep freed memory for reuse instead of returning it to the kernel at once (glibc).

    camtwin allocates and frees frame-sized arrays (FFT buffers, per-band planes) many
    times per capture. Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``), so glibc trims every freed block above 64 KiB
    at the top of a heap and the next allocation of the same size faults every page in
    again: a Monte-Carlo yield run spent 45 % of its CPU in the kernel (119 M minor page
    faults for 200 draws). ``mallopt(M_TOP_PAD, 256 MiB)`` keeps that much slack when a
    heap grows or is trimmed: the same run spends ~5 % in the kernel and takes ~40 % less
    wall time (``benchmarks/RESULTS.md``, module engineering); peak RSS does not grow (the
    slack is reused, not added). Applied by the CLI, in the environment of LocalCluster
    workers and at the start of every sweep/yield task (remote workers too); a user's own
    ``MALLOC_TOP_PAD_`` is respected. Returns True when applied (glibc only; elsewhere a
    no-op)."""
    global _tuned
    if _tuned:
        return True
    if "MALLOC_TOP_PAD_" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        _tuned = bool(libc.mallopt(_M_TOP_PAD, ALLOCATOR_TOP_PAD_BYTES))
    except (OSError, AttributeError):
        return False
    return _tuned


def budget_bytes(max_memory: str | int | None = None) -> int:
    """The memory budget [bytes] (module docstring for the precedence)."""
    if max_memory is not None:
        return parse_bytes(max_memory)
    override = _override.get()
    if override is not None:
        return override
    env = os.environ.get(ENV_VAR)
    if env:
        return parse_bytes(env, option=ENV_VAR)
    return int(DEFAULT_FRACTION * available_bytes())


@contextlib.contextmanager
def using_budget(max_memory: str | int | None):
    """Within the block, :func:`budget_bytes` returns ``max_memory`` (parsed; ``None``
    keeps the default). The CLI wraps a command in it for ``--max-memory``."""
    if max_memory is None:
        yield budget_bytes()
        return
    token = _override.set(parse_bytes(max_memory))
    try:
        yield _override.get()
    finally:
        _override.reset(token)


def check_budget(nbytes: float, what: str, hint: str, *, budget: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``nbytes`` exceeds the budget.

    ``what`` names the job (``"capture of catalog:phone-imx586-main (8000 × 6000 px)"``),
    ``hint`` says how to reduce it (``"use --crop 4000,3000"``). The message is one line.
    """
    limit = budget_bytes() if budget is None else int(budget)
    if nbytes > limit:
        raise MemoryBudgetError(f"{what} needs about {format_bytes(nbytes)} of memory; the "
                                f"budget is {format_bytes(limit)} (--max-memory or {ENV_VAR}); "
                                f"{hint}")


def scene_bytes_per_sample(scene_kind: str = "chart") -> int:
    """Bytes per scene sample of the scene description: a chart's reflectance index
    (``"index"``, 1 byte) or mixing weights (``"two_tone"`` 4, ``"rgb"`` 12 bytes)."""
    return {"index": 1, "two_tone": 4, "chart": 4, "rgb": 12}.get(scene_kind, 12)


def scene_kind(scene) -> str:
    """The kind of the scene :func:`camtwin.camera.module_scene` builds for ``scene`` (a
    chart name or an image path), for :func:`scene_bytes_per_sample`: ``"rgb"`` for a
    photo, ``"index"`` for the ColorChecker and the uniform chart, ``"chart"`` else."""
    from pathlib import Path

    if Path(scene).suffix or Path(scene).is_file():
        return "rgb"
    return "index" if scene in ("colorchecker", "uniform") else "chart"


def estimate_capture_bytes(module, *, frames: int = 1, oversample: int = 1,
                           scene_kind: str = "chart", include_fixed: bool = True) -> int:
    """Peak working set [bytes] of ``frames`` streamed captures of ``module`` (its sensor as
    given, i.e. after any crop); model in the module docstring.

    Frames are captured one after another; each keeps its raw mosaic (uint16 DN and float32
    mean electrons, 6 bytes per pixel) for the caller, the rest is reused.
    """
    from .camera import scene_extent

    s = module.sensor
    n_px = int(s.width_px) * int(s.height_px)
    (rows, cols), _ = scene_extent(module, oversample=oversample)
    n_oi = rows * cols
    n_ch = 1 if s.cfa == "mono" else 3
    per_oi = scene_bytes_per_sample(scene_kind) + 2 * n_ch * 4 + BYTES_PER_OI_SAMPLE_FFT
    per_px = BYTES_PER_PIXEL_MOSAIC
    if s.hdr is not None:
        from .sensor.hdr import component_names

        per_px += BYTES_PER_PIXEL_HDR_COMPONENT * len(component_names(s.hdr))
    total = n_oi * per_oi + n_px * per_px + (frames - 1) * n_px * 6
    return int(total + (FIXED_BYTES if include_fixed else 0))


def capture_hint(module) -> str:
    """How to shrink a capture of ``module``: a centre crop of a quarter of the area."""
    s = module.sensor
    return (f"reduce it with --crop {max(64, s.width_px // 2)},{max(64, s.height_px // 2)} "
            f"(a centre crop), --window X,Y,W,H, fewer frames, or raise --max-memory")


def check_capture(module, *, frames: int = 1, oversample: int = 1, scene_kind: str = "chart",
                  what: str | None = None, extra_bytes: float = 0,
                  build_bytes: float = 0, hint: str | None = None) -> int:
    """Check a capture of ``module`` against the budget; return its estimate [bytes].
    ``extra_bytes``: what a variant of the capture adds (e.g. the planes of a shaken
    capture, :func:`camtwin.motion.capture.shake_extra_bytes`); ``build_bytes``: the peak
    of building its scene before any of the capture's own arrays exist (a photo's decoding
    and fitting, :func:`camtwin.camera.photo_build_bytes`, and the scene; the interpreter's
    own bytes added here) — the estimate is the larger of the two stages. ``hint``: how
    to reduce it (default :func:`capture_hint`)."""
    need = estimate_capture_bytes(module, frames=frames, oversample=oversample,
                                  scene_kind=scene_kind) + int(extra_bytes)
    if build_bytes:
        need = max(need, int(build_bytes) + FIXED_BYTES)
    s = module.sensor
    label = what or (f"capture of {module.name} ({s.width_px} × {s.height_px} px"
                     + (f", {frames} frames" if frames > 1 else "") + ")")
    check_budget(need, label, hint or capture_hint(module))
    return need
