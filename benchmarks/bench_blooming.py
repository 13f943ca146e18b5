"""Blooming on a 12 MP frame: the numba kernel (camtwin.sensor._bloom, used by
``collect_charge`` and ``simulate_pixels``) vs the whole-frame NumPy/SciPy formulation it
replaced (``collect_charge_reference``, the peer: camtwin's own previous implementation;
no open simulator models spill with an anti-blooming drain), and the whole per-pixel chain
on the same frame with and without saturation.

The job: a 4000×3000 frame of means uniform in 200…3000 e⁻ (FWC 6000 e⁻, K 0.5 DN/e⁻,
read noise 2 e⁻, blooming on, no drain) in which ``--saturated`` of the pixels (default
1.5 %) lie in 5×5 blobs at 30000 e⁻ (5× full well), like lamps in a night scene. The issue's
goal: the saturated frame within 2× the time of the unsaturated one.

Timing: glibc's allocator tuned as the CLI tunes it (``camtwin.memory.tune_allocator``;
``--untuned``: left as it is, as in a Python user's own process);
warm (one untimed call first), median and best of ``--repeats`` calls; the two
``simulate_pixels`` jobs run alternately (plain, saturated, plain, …) so that a change of
machine load hits both alike, and the ratio is given of the medians and of the best
times. The load average (1/5/15 min) is printed at the start and the end because the
machine may be shared.

``--patterns`` adds the same ratio for other shapes of saturation at the same 1.5 %: one
square lamp, a band of sky along the top edge, 1×3 streaks at 2× full well, and isolated
single pixels (the blob case is the issue's; the others show where the cost goes: one large
bloom runs on one core, and many tiny groups cost their per-group overhead); a third
of the frame exposed to 0.98× and to 1.0× full well, where the shot noise makes speckle
over full well, and a strip of 3 % of the rows at 1.0× full well (≈ 1.5 % of the frame
over: the issue's fraction as a real exposure makes it) — the "% above full well" column
is of the charge the chain draws.

``--photos`` adds the same ratio on the 15 photos of ``skimage.data`` below (scikit-image,
a test extra; nobody tuned the kernel on them before the tenth session), as a 12 MP frame
each: linear luminance (sRGB decoded), resized bilinearly to 4000×3000, scaled so that its
brightest 1.5 % lie above full well, their excess ×5 (highlights up to several full
wells); the plain frame is the same photo exposed to 0.9× full well at its brightest.
The shot noise then puts more than 1.5 % of the pixels over full well where a photo has
much area just below its brightest 1.5 % (``page``'s paper: 2.85 %); with
``--photos-by-charge`` each photo is exposed instead so that 1.5 % of its pixels' charge
lies above full well (the issue's wording: "1.5 % of its pixels above full well").
With ``--against-git REV`` the saturated frame is also timed with that revision's kernel
(``simulate_pixels`` calling it) — in turn with this tree's, DN compared. A last line
names the path the kernel chose for each photo before any group ran (what a first use
compiles).

``--against-git REV`` times the kernel alone (``camtwin.sensor._bloom.bloom``, in place on
the same generated charge) against the kernel of git revision REV (its ``_bloom.py``,
loaded from ``git show`` into a temporary module), in turn, on the blob frame and every
pattern. "This tree" is timed as a copy loaded the same way (the package's own module,
loaded from numba's cache, ran up to several per cent slower than such a copy of itself:
the copy took 0.88–1.03× its time on one thread, RESULTS.md "Blooming", seventh session),
and the package's module against that copy is a column of its own — the row's noise:
changes smaller than it are not measured. On the 2-core benchmark machine the same kernel
against itself has come out anywhere in 0.92–1.00× on two threads; run with
``NUMBA_NUM_THREADS=1`` for changes of a few per cent (0.99–1.00× there).

``--large`` blooms 48 MP frames (8000×6000, FWC 6000 e⁻) in fresh processes and prints the
time and the growth of peak RSS during the call (``camtwin.memory.call_peak_growth``):
every pixel but one at 5× full well (one region, one pixel to spill into: the worst case
for memory), every pixel at 5× full well (nowhere to spill: the kernel's short path), and
a 1500×1500 lamp at 5× full well on the uniform 200…3000 e⁻ background.

``--first-use`` (alone) times, in fresh processes with an empty numba cache, the first
``simulate_pixels`` of a small frame without and with pixels over full well and with a
per-row dark, and the first ``bloom`` of two lamps (the grouped path), of a strip of sky
at full well and of a lamp among small highlights (the one-group path) (with
``--against-git REV``: that revision's too) — CPU seconds, mostly compilation.

``--hostile`` blooms 12 MP frames that defeated the grouping, each in a fresh process
(peak-RSS growth of a first call, which compiles or loads every kernel the frame takes,
and the time of a second; with ``--against-git REV`` that revision's kernel too): a Bayer
green channel at 1.2× full well (R and B at half: each green pixel a group of its own,
one step), the same at 3× (R and B fill: the blooms merge), and 5×5 blobs covering 12 %
of the frame.

    .venv/bin/python benchmarks/bench_blooming.py
    .venv/bin/python benchmarks/bench_blooming.py --repeats 5 --skip-reference
    .venv/bin/python benchmarks/bench_blooming.py --repeats 5 --skip-reference --patterns
    .venv/bin/python benchmarks/bench_blooming.py --repeats 9 --skip-reference --photos
    .venv/bin/python benchmarks/bench_blooming.py --repeats 9 --skip-reference --photos \
        --photos-by-charge
    .venv/bin/python benchmarks/bench_blooming.py --photos --untuned --skip-reference
    .venv/bin/python benchmarks/bench_blooming.py --large --skip-reference --repeats 1
    .venv/bin/python benchmarks/bench_blooming.py --against-git e586bd0 --skip-reference
    .venv/bin/python benchmarks/bench_blooming.py --hostile --against-git 948e1f4 --skip-reference
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from scipy import ndimage

H, W = 3000, 4000
FWC = 6000.0


def frames(saturated: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.uniform(200.0, 3000.0, (H, W)).astype(np.float32)
    # blob centres as a Poisson process: a pixel is covered with probability 1 − e^(−25ρ)
    rho = -math.log1p(-saturated) / 25.0
    mask = ndimage.binary_dilation(rng.random((H, W)) < rho, structure=np.ones((5, 5), bool))
    sat = base.copy()
    sat[mask] = 5 * FWC
    return base, sat, float(mask.mean())


def patterns(base: np.ndarray, fraction: float, seed: int = 1) -> dict:
    """Other shapes of saturation covering ``fraction`` of the frame (5× full well unless
    stated)."""
    rng = np.random.default_rng(seed)
    out = {}
    a = base.copy()
    n = int(math.sqrt(fraction * H * W))
    a[1000:1000 + n, 1500:1500 + n] = 5 * FWC
    out["one square lamp"] = a
    a = base.copy()
    a[:int(round(fraction * H)), :] = 5 * FWC
    out["sky band along the top edge"] = a
    a = base.copy()
    m = rng.random((H, W)) < fraction / 3
    m[:, 1:] |= m[:, :-1]
    m[:, 2:] |= m[:, :-2]
    a[m] = 2 * FWC
    out["1×3 streaks at 2× full well"] = a
    a = base.copy()
    a[rng.random((H, W)) < fraction] = 5 * FWC
    out["isolated single pixels"] = a
    # a sky or a wall exposed to just below / right at full well: the shot noise of the
    # chain puts part of its pixels over (speckle, not a shape); these means are not
    # scaled to ``fraction`` (30 % of the rows at 0.98× full well put ≈ 1.7 % of the
    # frame over full well, at 1.0× ≈ 15 %)
    for level in (0.98, 1.0):
        a = base.copy()
        a[:int(0.3 * H)] = level * FWC
        out[f"30 % of the rows at {level:.2f}× full well (shot-noise speckle)"] = a
    # … and a strip of sky right at full well whose speckle is the 1.5 %
    a = base.copy()
    a[:int(0.03 * H)] = FWC
    out["3 % of the rows at 1.00× full well (shot-noise speckle)"] = a
    return out


#: ``--photos``: skimage.data's photos (grey ones as grey)
PHOTOS = ("astronaut", "brick", "camera", "chelsea", "clock", "coffee", "grass", "gravel",
          "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
          "text")


def _exposed(y: np.ndarray, level: float) -> np.ndarray:
    """Mean electrons of luminance ``y`` exposed so that ``level`` reaches full well, the
    excess above full well ×5 (highlights up to several full wells)."""
    sat = (y / level * FWC).astype(np.float32)
    over = sat > FWC
    sat[over] = FWC + (sat[over] - FWC) * 5.0
    return sat


def photo_frames(fraction: float, by_charge=None):
    """(name, plain, saturated) 12 MP mean-electron frames of :data:`PHOTOS` (module
    docstring). ``by_charge`` (a SensorSpec): the exposure is found (bisection on the
    level that reaches full well, 30 steps) so that ``fraction`` of the pixels' charge —
    ``generate_charge(..., key=1)``, the draws of the timed frame — lies above full well,
    instead of ``fraction`` of the means."""
    import cv2
    from skimage import data

    for name in PHOTOS:
        img = getattr(data, name)()
        img = img[..., :3] if img.ndim == 3 else np.stack([img] * 3, -1)
        x = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else float(img.max()))
        lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        y = cv2.resize((lin @ np.float32([0.2126, 0.7152, 0.0722])).astype(np.float32),
                       (W, H), interpolation=cv2.INTER_LINEAR)
        y = np.maximum(y, 1e-4)
        level = float(np.quantile(y, 1.0 - fraction))
        if by_charge is not None:
            from camtwin.sensor.pixels import generate_charge

            def over(lv):
                return float((generate_charge(_exposed(y, lv), 0.0, by_charge, key=1)
                              > FWC).mean())

            lo, hi = np.log(level), np.log(level)
            while over(np.exp(hi)) > fraction:      # (more light: more pixels over)
                hi += 0.1
            while over(np.exp(lo)) < fraction:
                lo -= 0.1
            for _ in range(30):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if over(np.exp(mid)) > fraction else (lo, mid)
            level = float(np.exp(hi))
        sat = _exposed(y, level)
        plain = (y / y.max() * 0.9 * FWC).astype(np.float32)
        yield name, plain, sat


_LARGE = """
import json, time, numpy as np
from camtwin.memory import call_peak_growth
from camtwin.sensor._bloom import bloom
h, w, fw = 6000, 8000, np.float32(6000.0)
if {case!r} in ("all", "all but one"):
    q = np.full((h, w), 5 * fw, np.float32)
    if {case!r} == "all but one":
        q[h // 2, w // 2] = 0.5 * fw
else:
    q = np.random.default_rng(0).random((h, w), dtype=np.float32)   # (no temporaries)
    q *= 2800.0
    q += 200.0
    q[2000:3500, 2000:3500] = 5 * fw
bloom(np.full((8, 8), 5 * fw, np.float32), fw, 0.0, False, 10000, 1e-3)   # compile/load
t = time.perf_counter()
(steps, pend, lost), grow = call_peak_growth(bloom, q, fw, 0.0, False, 10000, 1e-3)
dt = time.perf_counter() - t
print(json.dumps({{"s": dt, "rss_growth_mb": grow / 2 ** 20, "steps": int(steps),
                  "full": float((q >= fw).mean())}}))
"""


_HOSTILE = """
import json, sys, time, numpy as np
from camtwin.memory import call_peak_growth, tune_allocator
tune_allocator()
sys.path.insert(0, {here!r})
from bench_blooming import H as h, W as w, FWC, frames, kernel_at
fw = np.float32(FWC)
{load}
case = {case!r}
if case.startswith("green"):           # a Bayer G channel over full well, R and B not
    q = np.full((h, w), 0.5 * fw, np.float32)
    level = 1.2 if case == "green 1.2" else 3.0
    q[0::2, 0::2] = level * fw
    q[1::2, 1::2] = level * fw
else:                                  # 5×5 blobs at 5× full well on 12 % of the frame
    q = frames(0.12)[1]
over = float((q > fw).mean())
# the first call's peak-RSS growth; the second call's time (the first compiles or loads
# every kernel the frame takes: a revision loaded from git has no numba cache, and each
# path is a kernel of its own)
_, grow = call_peak_growth(bloom, q.copy(), fw, 0.0, False, 10000, 1e-3)
t = time.perf_counter()
steps, pend, lost = bloom(q, fw, 0.0, False, 10000, 1e-3)
print(json.dumps({{"s": time.perf_counter() - t, "mb": grow / 2 ** 20, "over": over,
                  "steps": int(steps)}}))
"""

#: (case, label) of ``--hostile``: frames where every over-full pixel was a group of its own
#: or the grouping's bookkeeping outgrew the blooms.
HOSTILE = (("green 1.2", "Bayer green channel at 1.2× full well (one step)"),
           ("green 3", "Bayer green channel at 3× full well (R, B fill)"),
           ("blobs 12", "5×5 blobs at 5× full well on 12 % of the frame"))


def hostile_cases(rev=None):
    """(label, % over, steps, s, MB[, s, MB of git ``rev``]) of the 12 MP :data:`HOSTILE`
    frames, each kernel in a fresh process (peak RSS is per process)."""
    this = "from camtwin.sensor._bloom import bloom"
    there = f"bloom = kernel_at({rev!r}).bloom"
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for case, label in HOSTILE:
        row = [label]
        for load in ([this] + ([there] if rev else [])):
            code = _HOSTILE.format(load=load, case=case, here=here)
            out = subprocess.run([sys.executable, "-c", code],
                                 capture_output=True, text=True, check=True, timeout=1800)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if len(row) == 1:
                row += [100 * r["over"], r["steps"]]
            row += [r["s"], r["mb"]]
        rows.append(row)
    return rows


def large_cases():
    """(name, seconds, peak-RSS growth MB, steps, full fraction) of the 48 MP cases, each
    in a fresh process (peak RSS is per process)."""
    rows = []
    for case, name in (("all but one", "48 MP, every pixel but one at 5× full well"),
                       ("all", "48 MP, every pixel at 5× full well (short path)"),
                       ("lamp", "48 MP, one 1500×1500 lamp at 5× full well")):
        out = subprocess.run([sys.executable, "-c", _LARGE.format(case=case)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((name, r["s"], r["rss_growth_mb"], r["steps"], r["full"]))
    return rows


def kernel_at(rev: str | None):
    """``camtwin.sensor._bloom`` as of git revision ``rev`` — or, with ``None``, of the
    working tree: a second copy of this tree's kernel, timed against the first to show the
    table's noise — a module loaded from a temporary file (numba caches its compiled code
    next to it, i.e. not at all; named inside ``camtwin.sensor`` for its relative
    imports)."""
    import importlib.util
    import tempfile
    here = os.path.dirname(os.path.abspath(__file__))
    if rev is None:
        with open(os.path.join(here, "..", "src", "camtwin", "sensor", "_bloom.py")) as f:
            src = f.read()
    else:
        src = subprocess.run(["git", "show", f"{rev}:src/camtwin/sensor/_bloom.py"],
                             capture_output=True, text=True, check=True, cwd=here).stdout
    tag = rev or "tree"
    path = os.path.join(tempfile.mkdtemp(), f"_bloom_{tag}.py")
    with open(path, "w") as f:
        f.write(src)
    name = f"camtwin.sensor._bloom_{tag}"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def timed_alternately(fns, repeats):
    """(median, best) seconds of each of ``fns``, called in turn ``repeats`` times, in
    reverse order every other time (a blooming kernel timed against itself, always
    second, came out 1–5 % slower)."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for r in range(repeats):
        order = list(zip(fns, ts))
        for fn, t_list in (order if r % 2 == 0 else order[::-1]):
            t = time.perf_counter()
            fn()
            t_list.append(time.perf_counter() - t)
    return [(statistics.median(t_list), min(t_list)) for t_list in ts]


def timed(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)


_FIRST_USE = """
import json, sys, time, numpy as np
sys.path.insert(0, {here!r})
rng = np.random.default_rng(0)
plain = rng.uniform(200.0, 3000.0, (48, 64)).astype(np.float32)
sat = plain.copy()
sat[10:15, 10:15] = 30000.0
sat[30:35, 40:45] = 30000.0
if {rev!r}:
    from bench_blooming import kernel_at
    bloom = kernel_at({rev!r}).bloom
else:
    from camtwin.sensor._bloom import bloom
out = {{}}
if {chain!r} is True:
    from camtwin.sensor import SensorSpec
    from camtwin.sensor.pixels import simulate_pixels
    s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=1.4, full_well_e=6000.0,
                   conversion_gain_dn_per_e=0.5, read_noise_e=2.0, noise={{"blooming": True}})
    for name, img, dark in (("plain", plain, 0.0), ("saturated", sat, 0.0),
                            ("saturated (per-row dark)", sat, np.full(48, 2.0))):
        c = time.process_time()
        simulate_pixels(img, dark, s, key=1)
        out[name] = time.process_time() - c
elif {chain!r} is False:
    c = time.process_time()
    bloom(sat / 5.0, np.float32(1000.0), 0.0, False, 10000, 1e-3)
    out["bloom"] = time.process_time() - c
elif {chain!r} == "sky":    # a strip of sky at full well (shot-noise speckle)
    sky = rng.uniform(200.0, 900.0, (512, 512)).astype(np.float32)
    sky[:80] = rng.normal(1000.0, 31.6, (80, 512))
    c = time.process_time()
    bloom(sky, np.float32(1000.0), 0.0, False, 10000, 1e-3)
    out["bloom"] = time.process_time() - c
else:       # a lamp among small highlights: the lamp holds most of the charge
    lamp = rng.uniform(200.0, 900.0, (256, 256)).astype(np.float32)
    lamp[100:120, 100:120] = 5000.0
    lamp[rng.integers(0, 256, 40), rng.integers(0, 256, 40)] = 1500.0
    c = time.process_time()
    bloom(lamp, np.float32(1000.0), 0.0, False, 10000, 1e-3)
    out["bloom"] = time.process_time() - c
print(json.dumps(out))
"""


def first_path(charge: np.ndarray) -> str:
    """The path :func:`camtwin.sensor._bloom._bloom_frame` chooses for a frame of charge
    (before any group runs; "groups" may still become one group after the premerge): the
    paths are kernels of their own, so this is also what a first use compiles."""
    from camtwin.sensor import _bloom as b
    q = charge.copy()
    code = int(b._bloom_frame(q, np.float32(FWC), 0.0, False, 10000, 1e-3, b._NO_COUNTS,
                              b.dense_groups(q.size), b._NO_BITS, True, True,
                              b._DENSE_SHARE)[0])
    return {b._TO_ONE_STEP: "one step", b._TO_DENSE: "one group",
            b._TO_FIRST_STEP: "stencil step", b._TO_GROUPS: "groups"}.get(code, "done")


def first_use(rev: str | None) -> list[tuple[str, float]]:
    """CPU seconds of first calls in fresh processes with an empty numba cache
    (``NUMBA_CACHE_DIR`` a new temporary directory): ``simulate_pixels`` on a 64×48 frame
    without, then with, pixels over full well, then with a per-row dark; and ``bloom``
    alone on the saturated frame (two lamps: the grouped path), on a 512×512 frame
    whose top 80 rows are exposed at full well (shot-noise speckle: the one-group path, a
    cut tried) and on a 256×256 frame with a 20×20 lamp at 5× full well among 40 single
    pixels at 1.5× (the lamp holds most of the charge: the one-group path, as most photos
    with a highlight take it) — this tree's and, with ``rev``, that revision's kernel.
    Mostly numba compilation: what a user's first over-exposed capture waits for."""
    import tempfile
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    runs = [("this tree", "", True)]
    for label, r in (("this tree", ""), *([(f"git {rev}", rev)] if rev else [])):
        runs += [(label, r, False), (label, r, "sky"), (label, r, "lamp")]
    for label, r, chain in runs:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            res = subprocess.run([sys.executable, "-c",
                                  _FIRST_USE.format(here=here, rev=r, chain=chain)],
                                 capture_output=True, text=True, check=True, env=env)
        for name, sec in json.loads(res.stdout.strip().splitlines()[-1]).items():
            what = (f"simulate_pixels, first {name} frame" if chain is True
                    else "bloom alone, first call" if chain is False
                    else "bloom alone, first call, a strip of sky at full well"
                    if chain == "sky" else "bloom alone, first call, a lamp among highlights")
            rows.append((f"{what} ({label})", sec))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--saturated", type=float, default=0.015)
    ap.add_argument("--patterns", action="store_true",
                    help="also time other shapes of saturation (see the module docstring)")
    ap.add_argument("--photos-by-charge", action="store_true",
                    help="with --photos: expose each photo so that --saturated of its "
                         "pixels' charge (after shot noise) lies above full well, not of "
                         "its means")
    ap.add_argument("--photos", action="store_true",
                    help="also time 15 photos of skimage.data with highlights over full "
                         "well (see the module docstring)")
    ap.add_argument("--against-git", metavar="REV",
                    help="also time the kernel alone against the kernel of git revision REV")
    ap.add_argument("--large", action="store_true",
                    help="also bloom 48 MP frames in fresh processes (time, peak-RSS growth)")
    ap.add_argument("--hostile", action="store_true",
                    help="also bloom 12 MP frames that defeated the grouping (a Bayer "
                         "channel over full well, dense blobs) in fresh processes; with "
                         "--against-git, that revision's kernel too")
    ap.add_argument("--first-use", action="store_true",
                    help="only: CPU seconds of first calls with an empty numba cache (fresh "
                         "processes; with --against-git, that revision's kernel too)")
    ap.add_argument("--untuned", action="store_true",
                    help="leave glibc's allocator as it is (a Python user's process: only "
                         "the CLI and camtwin's workers tune it)")
    ap.add_argument("--skip-reference", action="store_true",
                    help="skip the NumPy/SciPy reference (≈ 10–20 s per call)")
    args = ap.parse_args()
    if args.first_use:
        print("| first call, empty numba cache | CPU s |\n|---|---|")
        for name, sec in first_use(args.against_git):
            print(f"| {name} | {sec:.1f} |")
        return

    from camtwin.memory import tune_allocator
    from camtwin.sensor import SensorSpec

    # glibc keeps freed memory for reuse, as in the CLI: otherwise, depending on what the
    # process freed before, a 24 MB output array may fault in every page again (seen:
    # the plain frame 0.043 s instead of 0.015 s after the isolated-pixel frames)
    if not args.untuned:
        tune_allocator()
    from camtwin.sensor.pixels import (blooming_possible, collect_charge,
                                       collect_charge_reference, generate_charge,
                                       simulate_pixels)

    s = SensorSpec(width_px=W, height_px=H, pixel_pitch_um=1.4, full_well_e=FWC,
                   conversion_gain_dn_per_e=0.5, read_noise_e=2.0,
                   noise={"blooming": True, "antiblooming_drain": 0.0})
    load0 = os.getloadavg()
    base, sat, frac = frames(args.saturated)
    charge = generate_charge(sat, 0.0, s, key=1)
    rows = []
    t_plain, t_sat = timed_alternately([lambda: simulate_pixels(base, 0.0, s, key=1),
                                        lambda: simulate_pixels(sat, 0.0, s, key=1)],
                                       args.repeats)
    rows.append(("simulate_pixels, no pixel near full well", *t_plain))
    rows.append(("  of which blooming_possible (reads the whole frame: nothing near full well)",
                 *timed(lambda: blooming_possible(base, 0.0, s), args.repeats)))
    rows.append((f"simulate_pixels, {100 * frac:.2f} % above full well", *t_sat))
    t_kernel = timed(lambda: collect_charge(charge, s), args.repeats)
    rows.append(("collect_charge (numba kernel, with its 48 MB copy) alone", *t_kernel))
    # the saturated path's stages (simulate_pixels: check, the fused pass keeping the
    # charge, the kernel in place, the footprint boxes read out again)
    from camtwin.sensor import _kernels as K
    from camtwin.sensor._bloom import bloom
    from camtwin.sensor.pixels import (_as_dark, _col_map, _fixed, _readonly, _readout_scalars,
                                       _row_map)

    fp = _fixed(s, None)
    dark, row_map = _as_dark(0.0, s), _row_map(fp, H)     # (as simulate_pixels passes them)
    col_map = _col_map(fp, W)
    fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white = _readout_scalars(s)
    seeds = (K.stream_seed(1, K.STREAM_PIXEL), K.stream_seed(1, K.STREAM_EXACT_POISSON),
             K.stream_seed(1, K.STREAM_ROW))
    work, dn = np.empty_like(sat), np.empty(sat.shape, np.uint16)
    counts = np.zeros(H + 1, np.int64)
    bits = np.empty((H, -(-W // 64)), np.uint64)

    def fused_keep():
        K.fused_chain_keep(_readonly(sat), dark, fp.photo_gain, fp.dark_scale, fp.offset_e,
                           row_map, col_map, fp.rtn, *seeds, True, fw,
                           inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white,
                           np.int64(0), dn, work, counts, bits)

    rows.append(("  its stages: blooming_possible (stops at the first rows holding a lamp)",
                 *timed(lambda: blooming_possible(sat, 0.0, s), args.repeats)))
    rows.append(("  the fused pass, keeping the charge (fused_chain_keep)",
                 *timed(fused_keep, args.repeats)))
    kept = work.copy()
    rest = (fp.offset_e, row_map, col_map, fp.rtn, seeds[0], seeds[2], fw, inv_fw,
            nl, read_e, rtn_half, row_e, k_dn, black, white, np.int64(0), dn)

    def kernel_times(**kw):
        t_list = []
        for _ in range(args.repeats + 1):
            work[...] = kept                    # (the copy is not timed)
            t = time.perf_counter()
            out = bloom(work, fw, 0.0, False, 10000, 1e-3, counts, boxes=True, bits=bits,
                        **kw)
            t_list.append(time.perf_counter() - t)
        return out, statistics.median(t_list[1:]), min(t_list[1:])

    out, *t_fp = kernel_times(footprints=True)
    boxes, lists = out[3], out[4]
    rows.append(("  the kernel, handing the grouped blooms' footprints back (as simulate_pixels)",
                 *t_fp))
    n_box = int(((boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])).sum())
    if len(boxes):
        rows.append((f"  boxes of the other paths read out again ({len(boxes)} boxes, "
                     f"{n_box} px)", *timed(lambda: K.readout_boxes(work, boxes, *rest),
                                            args.repeats)))
    rows.append((f"  the footprints read out from their lists ({len(lists[0])} lists, "
                 f"{int(lists[0][:, 2].sum())} px)",
                 *timed(lambda: K.readout_lists(*lists, *rest), args.repeats)))
    # the kernel writing the footprints into the frame instead, and their boxes read out
    # (the path before the lists: for comparison)
    out, *t_in = kernel_times()
    boxes = out[3]
    n_box = int(((boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2])).sum())
    rows.append(("  (for comparison: the kernel writing them into the frame)", *t_in))
    rows.append((f"  (… and their boxes read out again: {len(boxes)} boxes, {n_box} px)",
                 *timed(lambda: K.readout_boxes(work, boxes, *rest), args.repeats)))
    if not args.skip_reference:
        t_ref = timed(lambda: collect_charge_reference(charge, s), 1)
        rows.append(("collect_charge_reference (NumPy/SciPy, previous) alone", *t_ref))
        a, b = collect_charge(charge, s), collect_charge_reference(charge, s)
        agree = float(np.abs(a - b).max())
    load1 = os.getloadavg()
    print(f"# blooming, {W}×{H}, load average (1/5/15 min) at start "
          f"{' / '.join(f'{x:.2f}' for x in load0)}, at end "
          f"{' / '.join(f'{x:.2f}' for x in load1)}; {os.cpu_count()} CPUs, "
          f"repeats {args.repeats}")
    print("| job | median s | best s |")
    print("|---|---|---|")
    for name, med, best in rows:
        print(f"| {name} | {med:.3f} | {best:.3f} |")
    print(f"\nsaturated / unsaturated frame: {t_sat[0] / t_plain[0]:.2f}× (medians), "
          f"{t_sat[1] / t_plain[1]:.2f}× (best times); goal ≤ 2×")
    if not args.skip_reference:
        print(f"kernel speed-up over the NumPy/SciPy formulation: {t_ref[0] / t_kernel[0]:.1f}×;"
              f" largest difference {agree:.2e} e⁻")
    if args.patterns:
        print("\n| saturation pattern | % above full well | plain s | saturated s | ratio |")
        print("|---|---|---|---|---|")
        for name, sat_p in patterns(base, args.saturated).items():
            (tp, _), (ts, _) = timed_alternately(
                [lambda: simulate_pixels(base, 0.0, s, key=1),
                 lambda sat_p=sat_p: simulate_pixels(sat_p, 0.0, s, key=1)], args.repeats)
            over = float((generate_charge(sat_p, 0.0, s, key=1) > FWC).mean())
            print(f"| {name} | {100 * over:.2f} | {tp:.3f} | {ts:.3f} | {ts / tp:.2f}× |")
    if args.photos:
        import camtwin.sensor._bloom as bloom_mod
        rev = args.against_git
        this = bloom_mod.bloom
        old_bloom = kernel_at(rev).bloom if rev else None

        def shot(img, fn):
            def go():
                bloom_mod.bloom = fn        # (simulate_pixels imports it at each call)
                try:
                    simulate_pixels(img, 0.0, s, key=1)
                finally:
                    bloom_mod.bloom = this
            return go

        print("\n| photo (12 MP) | % above full well | plain s | saturated s | ratio |"
              + (f" git {rev}: saturated s | ratio | largest DN difference |" if rev else ""))
        print("|---|---|---|---|---|" + ("---|---|---|" if rev else ""))
        ratios = []
        paths = {}
        for name, plain, sat_p in photo_frames(args.saturated,
                                               s if args.photos_by_charge else None):
            charge = generate_charge(sat_p, 0.0, s, key=1)
            over = float((charge > FWC).mean())
            paths.setdefault(first_path(charge), []).append(name)
            fns = [shot(plain, this), shot(sat_p, this)]
            if rev:
                fns.append(shot(sat_p, old_bloom))
            t = [m for m, _ in timed_alternately(fns, args.repeats)]
            ratios.append(t[1] / t[0])
            row = f"| {name} | {100 * over:.2f} | {t[0]:.3f} | {t[1]:.3f} | {t[1] / t[0]:.2f}× |"
            if rev:
                a = simulate_pixels(sat_p, 0.0, s, key=1)
                bloom_mod.bloom = old_bloom
                try:
                    b = simulate_pixels(sat_p, 0.0, s, key=1)
                finally:
                    bloom_mod.bloom = this
                diff = int(np.abs(a.astype(np.int32) - b).max())
                row += f" {t[2]:.3f} | {t[2] / t[0]:.2f}× | {diff} |"
            print(row, flush=True)
        print(f"\nphotos within 2×: {sum(r <= 2.0 for r in ratios)} of {len(ratios)}; "
              f"median ratio {statistics.median(ratios):.2f}×, largest {max(ratios):.2f}×")
        print("path chosen before any group runs (_bloom._bloom_frame): "
              + "; ".join(f"{k} {len(v)} ({', '.join(v)})" for k, v in sorted(paths.items())))
    if args.against_git:
        old = kernel_at(args.against_git)
        again = kernel_at(None)
        from camtwin.sensor._bloom import bloom
        print(f"\n| kernel alone (in place), saturation pattern | git {args.against_git} s | "
              f"this tree s | speed-up | the package's module against that copy (noise) | "
              f"largest difference e⁻ |")
        print("|---|---|---|---|---|---|")
        work = np.empty_like(base)
        for name, img in {"5×5 blobs": sat, **patterns(base, args.saturated)}.items():
            q0 = generate_charge(img, 0.0, s, key=1)
            outs, ts = {}, {"old": [], "new": [], "again": []}
            trio = [("old", old.bloom), ("new", bloom), ("again", again.bloom)]
            for i in range(max(args.repeats, 5) + 1):     # the first call of each untimed
                # (in turn, the order rotated every time: a kernel timed against itself
                # came out 1–5 % slower when always second)
                for tag, fn in trio[i % 3:] + trio[:i % 3]:
                    work[...] = q0                      # (the copy is not timed)
                    t = time.perf_counter()
                    fn(work, np.float32(FWC), 0.0, False, 10000, 1e-3)
                    if i:
                        ts[tag].append(time.perf_counter() - t)
                    if tag not in outs:
                        outs[tag] = work.copy()
            t_old, t_new, t_again = (statistics.median(ts[k]) for k in ("old", "new", "again"))
            diff = float(np.abs(outs["old"] - outs["new"]).max())
            print(f"| {name} | {t_old:.3f} | {t_again:.3f} | {t_old / t_again:.2f}× | "
                  f"{t_again / t_new:.2f}× | {diff:.1e} |")
    if args.hostile:
        rev = args.against_git
        head = "| 12 MP frame (fresh process) | % over full | steps | s | peak RSS growth MB |"
        print("\n" + head + (f" git {rev} s | git {rev} MB |" if rev else ""))
        print("|---" * (5 + (2 if rev else 0)) + "|")
        for row in hostile_cases(rev):
            label, over, steps, *t = row
            cells = [f"{t[i]:.2f} | {t[i + 1]:.0f}" for i in range(0, len(t), 2)]
            print(f"| {label} | {over:.1f} | {steps} | " + " | ".join(cells) + " |")
    if args.large:
        print("\n| 48 MP frame (fresh process) | s | peak RSS growth MB | steps | full after |")
        print("|---|---|---|---|---|")
        for name, dt, grow, steps, full in large_cases():
            print(f"| {name} | {dt:.2f} | {grow:.0f} | {steps} | {100 * full:.1f} % |")


if __name__ == "__main__":
    main()
