"""camtwin's ISP against LibRaw (rawpy) on the same raw, side by side in one run.

Two sizes:

* 1.2 MP — a ColorChecker at 500 lx captured with the ``default`` module (1280×960,
  auto exposure, seed 1) through the full simulation;
* ~12 MP (4000×3000 by default) — a synthetic frame: each of the four Bayer planes of the
  1.2 MP raw is resized (OpenCV, bilinear) to the larger size, so the CFA phase, black and
  white levels, white balance and colour matrix are those of the 1.2 MP capture. Running
  the optics at 12 MP is not what is being measured here.

Each frame is written as a DNG with :func:`camtwin.raw.write_dng`, then timed (median of
``--repeats`` runs after one warm-up run, ``time.perf_counter``; the camtwin pipelines and
the 8-bit rawpy rows run one tool at a time by default (``--order blocks``); with
``--order shuffled`` they run round-robin, one call of each per round in a fresh seeded
order, so that changes of the machine load hit them alike — but then a call right after
LibRaw's AAHD, which returns ~1 GB to the kernel, pays 0.1–0.3 s for faulting in its own
fresh buffers (this VM re-compacts huge pages), which penalises whichever tool allocates
most, not the one that is slower in steady use):

* ``camtwin isp.process`` — bilinear demosaic, the module's CCM (fitted once, outside the
  timing, and passed as a fixed matrix), dcraw-style auto brightness, sRGB tone; input is
  the in-memory RawFrame, output float32 linear and sRGB images.
* ``rawpy postprocess LINEAR`` — ``postprocess(demosaic_algorithm=LINEAR,
  use_camera_wb=True, output_bps=16, no_auto_bright=False)`` on the already unpacked DNG
  (only ``postprocess`` is timed); output uint16 sRGB (BT.709 gamma).
* ``rawpy postprocess AHD`` — the same with LibRaw's default demosaic (``--no-ahd`` skips).

* ``camtwin fast pipeline`` — :func:`camtwin.isp.run_pipeline` with the built-in
  ``fast`` pipeline: black level → white balance (as shot) → Malvar 2004 → CCM from the
  DNG ColorMatrix (``ccm: camera``, LibRaw's method) → auto exposure → sRGB → uint8.
* ``camtwin hq pipeline`` — the built-in ``hq`` pipeline: the same with the
  ``directional_ri`` demosaic (gradient-weighted green + residual interpolation).
* ``rawpy postprocess LINEAR / AHD / AAHD, 8-bit`` — ``use_camera_wb=True, output_bps=8``,
  LibRaw's auto brightness: the product comparable to camtwin's pipelines (uint8 sRGB).
"CPU s" is the median CPU time (user + system, all threads) of the same calls: it barely
depends on what else the machine runs, unlike the wall time.

* ``camtwin directional_ri (demosaic only)`` — :func:`camtwin.isp.demosaic` on the
  normalised float32 mosaic (12 MP only; output allocation included).
* fresh-memory line (12 MP, with AHD): seconds to fault in 300 MB of new memory, normally
  and right after a LibRaw AAHD call (:func:`fresh_memory_cost`) — why the order matters.
* ``colour-demosaicing Menon 2007`` — ``demosaicing_CFA_Bayer_Menon2007`` on the
  normalised mosaic (float64; demosaic only, one run; ``--no-menon`` skips).

File reading is reported on its own lines: ``rawpy imread+unpack`` and camtwin's
``read_raw`` (which itself reads through LibRaw).

Quality (``--no-quality`` skips): scikit-image's astronaut, coffee, chelsea and rocket,
mosaicked to RGGB (colour-demosaicing ``mosaicing_CFA_Bayer``), demosaicked, mean CPSNR
with a 10-px border excluded (the protocol of ``tests/test_demosaic.py``). LibRaw runs on
a 16-bit DNG of the mosaic (black 0, white 65535) with ``output_color=raw, gamma=(1, 1),
no_auto_bright=True, user_wb=[1, 1, 1, 1], user_sat=65535, user_black=0`` so that its
output is the demosaicked mosaic itself.

Cross-check: the linear outputs of both pipelines (camtwin ``RenderedImage.linear``; rawpy
with ``gamma=(1, 1), no_auto_bright=True``, LINEAR demosaic) are compared after one scalar
gain (least squares) brings rawpy to camtwin's brightness, on the image minus an 8-pixel
border, both clipped to [0, 1]. The colour matrices differ (camtwin: CCM fitted on the
ColorChecker; LibRaw: derived from the DNG ColorMatrix1), so this is a sanity check of
"the same picture", not an accuracy figure.

Run::

    /work/venv/bin/python benchmarks/bench_isp_vs_libraw.py [--repeats 7] [--no-ahd]
        [--no-menon] [--no-quality] [--order blocks|shuffled]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rawpy

import camtwin
from camtwin.camera import expose, module_ccm, module_scene
from camtwin.isp import load_pipeline, process, run_pipeline
from camtwin.module import load_module
from camtwin.optics import form_image
from camtwin.raw import RawFrame, read_raw, write_dng

BORDER_PX = 8  # demosaic borders differ between implementations; left out of the comparison


#: CPU seconds (user + system, all threads of this process) of the last timed call of each
#: tool, by the time.perf_counter() list they belong to (see :func:`cpu_median`).
_CPU: dict[int, list[float]] = {}


def _call(fn) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def timed(fn, repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time [s] of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls
    (CPU times are kept for :func:`cpu_median`)."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        wall, c = _call(fn)
        times.append(wall)
        cpu.append(c)
    _CPU[id(times)] = cpu
    return statistics.median(times), times


def timed_blocks(fns: dict, repeats: int) -> dict:
    """:func:`timed` for each tool in turn (its warm-up and all its runs together)."""
    return {name: timed(fn, repeats) for name, fn in fns.items()}


def timed_round_robin(fns: dict, repeats: int) -> dict:
    """Like :func:`timed` for several tools, one call of each per round (after one warm-up
    round): ``{name: (median s, [times])}``.

    The order of each round is a fresh (seeded) shuffle, so no tool always runs right
    after the same one: a call right after a tool that frees a lot of memory (LibRaw's
    AAHD) pays 100–300 ms more here for re-faulting its own buffers, whichever tool it is.
    """
    for fn in fns.values():
        fn()
    order = random.Random(0)
    names = list(fns)
    times = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for _ in range(repeats):
        order.shuffle(names)
        for name in names:
            fn = fns[name]
            wall, c = _call(fn)
            times[name].append(wall)
            cpu[name].append(c)
    for name in fns:
        _CPU[id(times[name])] = cpu[name]
    return {name: (statistics.median(t), t) for name, t in times.items()}


def fresh_memory_cost(rp, megabytes: int = 300, repeats: int = 3) -> tuple[float, float]:
    """Seconds to fault in ``megabytes`` of new memory (write one float per 4 KiB page),
    normally and right after a LibRaw AAHD call (median of ``repeats`` each): the cost a
    tool pays for its fresh buffers depending on what ran before it."""
    def touch():
        t0 = time.perf_counter()
        a = np.empty(megabytes * 2**20 // 4, np.float32)
        a[::1024] = 1.0
        return time.perf_counter() - t0

    normal, after = [], []
    for _ in range(repeats):
        normal.append(touch())
        rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.AAHD, use_camera_wb=True,
                       output_bps=8)
        after.append(touch())
    return statistics.median(normal), statistics.median(after)


def cpu_median(times: list[float]) -> float:
    """Median CPU seconds of the calls whose wall times are ``times`` (NaN if unknown).

    CPU time counts the work of every thread and hardly depends on how busy the machine
    is; on this 2-core VM a perfectly parallel tool has wall ≈ CPU / 2 when it is alone.
    """
    cpu = _CPU.get(id(times))
    return statistics.median(cpu) if cpu else float("nan")


def capture_1mp(module, seed: int = 1) -> RawFrame:
    scene = module_scene(module, "colorchecker", illuminance_lux=500.0)
    return expose(module, form_image(scene, module.lens), exposure_s=None, rng=seed)


def upscale_bayer(raw: RawFrame, width_px: int, height_px: int) -> RawFrame:
    """Resize each Bayer plane of ``raw`` so the mosaic becomes ``height_px × width_px``.

    The CFA phase is kept (plane (dy, dx) of the output comes from plane (dy, dx) of the
    input); all metadata except the chart layout is kept.
    """
    if width_px % 2 or height_px % 2:
        raise ValueError("width and height must be even to keep the Bayer phase")
    dn = np.empty((height_px, width_px), dtype=np.uint16)
    for dy in (0, 1):
        for dx in (0, 1):
            plane = raw.dn[dy::2, dx::2].astype(np.float32)
            big = cv2.resize(plane, (width_px // 2, height_px // 2),
                             interpolation=cv2.INTER_LINEAR)
            dn[dy::2, dx::2] = np.clip(np.rint(big), 0, raw.white_level_dn).astype(np.uint16)
    meta = {k: v for k, v in raw.metadata.items() if k != "layout_px"}
    meta["synthetic"] = f"Bayer planes of a {raw.shape[1]}x{raw.shape[0]} capture resized"
    return raw.with_(dn=dn, mean_electrons=None, sensor=None, metadata=meta)


def linear_mad(camtwin_linear: np.ndarray, rawpy_linear16: np.ndarray) -> float | None:
    """Mean |camtwin − g·rawpy| over the image minus a border, in units of white (1.0).

    ``g`` is the least-squares scalar gain; ``None`` when the shapes differ (LibRaw cropped
    or rotated), in which case the comparison is not meaningful.
    """
    if camtwin_linear.shape != rawpy_linear16.shape:
        return None
    b = BORDER_PX
    a = np.asarray(camtwin_linear[b:-b, b:-b], dtype=np.float64)
    r = np.asarray(rawpy_linear16[b:-b, b:-b], dtype=np.float64) / 65535.0
    gain = float((a * r).sum() / (r * r).sum())
    return float(np.mean(np.abs(np.clip(a, 0, 1) - np.clip(gain * r, 0, 1))))


def bench_size(label: str, raw: RawFrame, ccm: np.ndarray, spec, folder: Path, repeats: int,
               ahd: bool, menon: bool = False,
               order: str = "blocks") -> tuple[list[tuple], str]:
    h, w = raw.shape
    mp = h * w / 1e6
    dng = folder / f"{label}.dng"
    write_dng(dng, raw)
    rows = []

    def row(tool, timing, note=""):
        median_s, times = timing
        rows.append((f"{w}x{h}", tool, median_s, min(times), max(times), cpu_median(times),
                     mp / median_s, note))

    row("camtwin read_raw (DNG via LibRaw)", timed(lambda: read_raw(dng), repeats),
        "file → RawFrame")

    def rawpy_open():
        rp = rawpy.imread(str(dng))
        rp.unpack()
        rp.close()

    row("rawpy imread+unpack", timed(rawpy_open, repeats), "file → unpacked raw")

    rendered = None
    fault_note = ""

    def camtwin_isp():
        nonlocal rendered
        rendered = process(raw, spec, ccm=ccm)

    row("camtwin isp.process (bilinear, fixed CCM, auto-bright)", timed(camtwin_isp, repeats),
        "float32 out")

    loaded = read_raw(dng)  # through LibRaw, with the DNG's ColorMatrix and AsShotNeutral
    with rawpy.imread(str(dng)) as rp:
        rp.unpack()
        # the head-to-head rows: one tool at a time, or round-robin (--order shuffled)
        tools = {}
        for name in ("fast", "hq"):
            pipe = load_pipeline(name)
            method = pipe.stage("demosaic").method
            tools[f"camtwin {name} pipeline ({method}, ccm camera, auto-bright)"] = (
                lambda pipe=pipe: run_pipeline(loaded, pipe))
        algos = [("LINEAR", rawpy.DemosaicAlgorithm.LINEAR)]
        if ahd:
            algos += [("AHD", rawpy.DemosaicAlgorithm.AHD), ("AAHD", rawpy.DemosaicAlgorithm.AAHD)]
        for label_, algo in algos:
            tools[f"rawpy postprocess {label_}, 8-bit"] = (
                lambda algo=algo: rp.postprocess(demosaic_algorithm=algo, use_camera_wb=True,
                                                 output_bps=8, no_auto_bright=False))
        run = timed_blocks if order == "blocks" else timed_round_robin
        for tool, timing in run(tools, repeats).items():
            row(tool, timing, "uint8 sRGB out")
        row("rawpy postprocess LINEAR",
            timed(lambda: rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
                                         use_camera_wb=True, output_bps=16,
                                         no_auto_bright=False), repeats), "uint16 out")
        if ahd:
            row("rawpy postprocess AHD (default)",
                timed(lambda: rp.postprocess(use_camera_wb=True, output_bps=16,
                                             no_auto_bright=False), repeats), "uint16 out")
        if ahd and label == "big":
            normal, after = fresh_memory_cost(rp)
            fault_note = (f"{w}x{h}: faulting in 300 MB of new memory takes {normal:.3f} s, "
                          f"{after:.3f} s right after a LibRaw AAHD call")
        lin16 = rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
                               use_camera_wb=True, output_bps=16, no_auto_bright=True,
                               gamma=(1, 1))
    if label == "big":
        from camtwin.isp import demosaic

        mosaic32 = ((raw.dn.astype(np.float32) - np.float32(raw.black_level_dn))
                    / np.float32(raw.white_level_dn - raw.black_level_dn))
        row("camtwin directional_ri (demosaic only)",
            timed(lambda: demosaic(mosaic32, raw.cfa, "directional_ri"), repeats),
            "float32 RGB out")
    if menon and label == "big":
        from colour_demosaicing import demosaicing_CFA_Bayer_Menon2007

        mosaic = (raw.dn.astype(np.float64) - raw.black_level_dn) / (
            raw.white_level_dn - raw.black_level_dn)
        row("colour-demosaicing Menon 2007 (demosaic only)",
            timed(lambda: demosaicing_CFA_Bayer_Menon2007(mosaic, raw.cfa), 1, warmup=0),
            "float64, 1 run")
    mad = linear_mad(rendered.linear, lin16)
    if mad is None:
        note = (f"{w}x{h}: linear outputs not compared (camtwin {rendered.linear.shape}, "
                f"rawpy {lin16.shape})")
    else:
        note = (f"{w}x{h}: mean |camtwin linear − g·rawpy linear| = {mad:.4f} of white "
                f"({255 * mad:.1f}/255), {BORDER_PX}-px border excluded")
    if fault_note:
        note += "\n" + fault_note
    return rows, note


QUALITY_IMAGES = ("astronaut", "coffee", "chelsea", "rocket")


def cpsnr(estimate, truth, border: int = 10) -> float:
    """10·log10(1/MSE) over the three channels, border excluded, no clipping [dB]."""
    b = border
    err = np.asarray(estimate, np.float64)[b:-b, b:-b] - truth[b:-b, b:-b]
    return float(10 * np.log10(1.0 / np.mean(err * err)))


def quality_table(folder: Path) -> list[tuple[str, list[float]]]:
    """CPSNR [dB] per image of camtwin's, colour-demosaicing's and LibRaw's demosaics."""
    import warnings

    import skimage.data
    from camtwin.isp import demosaic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import colour_demosaicing as cd
    rows: dict[str, list[float]] = {}
    for name in QUALITY_IMAGES:
        img = getattr(skimage.data, name)().astype(np.float64) / 255.0
        mosaic = cd.mosaicing_CFA_Bayer(img, "RGGB")
        for method in ("bilinear", "malvar2004", "directional_ri"):
            rows.setdefault(f"camtwin {method}", []).append(
                cpsnr(demosaic(mosaic.astype(np.float32), "RGGB", method), img))
        for label, fn in (("bilinear", cd.demosaicing_CFA_Bayer_bilinear),
                          ("Malvar 2004", cd.demosaicing_CFA_Bayer_Malvar2004),
                          ("Menon 2007", cd.demosaicing_CFA_Bayer_Menon2007)):
            rows.setdefault(f"colour-demosaicing {label}", []).append(
                cpsnr(fn(mosaic, "RGGB"), img))
        dng = folder / f"{name}.dng"
        write_dng(dng, RawFrame(np.rint(mosaic * 65535).astype(np.uint16), "RGGB", 0, 65535,
                                exposure_s=0.01, conversion_gain_dn_per_e=1.0))
        with rawpy.imread(str(dng)) as rp:
            for label in ("LINEAR", "AHD", "AAHD"):
                out = rp.postprocess(demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, label),
                                     output_color=rawpy.ColorSpace.raw, gamma=(1, 1),
                                     no_auto_bright=True, output_bps=16, user_wb=[1, 1, 1, 1],
                                     user_flip=0, user_sat=65535, user_black=0)
                rows.setdefault(f"LibRaw {label}", []).append(cpsnr(out / 65535.0, img))
    return list(rows.items())


def print_table(rows) -> None:
    header = ("size", "tool", "median s", "min–max s", "CPU s", "MP/s", "note")
    cells = [header] + [(s, t, f"{m:.4f}", f"{lo:.4f}–{hi:.4f}", f"{c:.3f}", f"{r:.1f}", n)
                        for s, t, m, lo, hi, c, r, n in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = (2, 3, 4, 5)
    fmt = "| " + " | ".join(f"{{:{'>' if i in right else '<'}{w}}}"
                            for i, w in enumerate(widths)) + " |"
    print(fmt.format(*header))
    print("|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                         for i, w in enumerate(widths)) + "|")
    for c in cells[1:]:
        print(fmt.format(*c))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per tool (median)")
    parser.add_argument("--big", default="4000x3000", help="size WxH of the synthetic frame")
    parser.add_argument("--no-ahd", action="store_true", help="skip rawpy's AHD/AAHD demosaic")
    parser.add_argument("--no-menon", action="store_true",
                        help="skip colour-demosaicing's Menon 2007 at the big size")
    parser.add_argument("--no-quality", action="store_true", help="skip the CPSNR table")
    parser.add_argument("--order", choices=("blocks", "shuffled"), default="blocks",
                        help="head-to-head rows one tool at a time, or round-robin in a "
                             "shuffled order per round")
    args = parser.parse_args(argv)
    big_w, big_h = (int(v) for v in args.big.lower().split("x"))

    module = load_module("default")
    # the module's ISP without its lens-shading stage (the synthetic 12 MP frame has no
    # lens geometry of its own), as in the first version of this benchmark
    spec = module.isp.replace(lens_shading="none")
    assert spec.demosaic == "bilinear" and spec.exposure_gain is None, spec
    t0 = time.perf_counter()
    raw_small = capture_1mp(module)
    ccm = module_ccm(module)  # fitted once, then used as a fixed matrix
    raw_big = upscale_bayer(raw_small, big_w, big_h)
    setup_s = time.perf_counter() - t0

    print(f"camtwin {camtwin.__version__}, numpy {np.__version__}, rawpy {rawpy.__version__}, "
          f"LibRaw {'.'.join(map(str, rawpy.libraw_version))}, OpenCV {cv2.__version__}")
    print(f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"median of {args.repeats} runs after 1 warm-up, order {args.order}; "
          f"setup {setup_s:.1f} s")
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="camtwin-bench-") as tmp:
        for label, raw in (("small", raw_small), ("big", raw_big)):
            r, n = bench_size(label, raw, ccm, spec, Path(tmp), args.repeats, not args.no_ahd,
                              not args.no_menon, args.order)
            rows += r
            notes.append(n)
    print()
    print_table(rows)
    print()
    for n in notes:
        print(n)
    if not args.no_quality:
        with tempfile.TemporaryDirectory(prefix="camtwin-bench-q-") as tmp:
            table = quality_table(Path(tmp))
        print()
        print("| demosaic (RGGB, 10-px border excluded) | " + " | ".join(QUALITY_IMAGES)
              + " | mean CPSNR dB |")
        print("|---|" + "---:|" * (len(QUALITY_IMAGES) + 1))
        for name, vals in table:
            print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals)
                  + f" | {np.mean(vals):.2f} |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
