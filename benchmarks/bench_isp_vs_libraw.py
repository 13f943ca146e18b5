"""camtwin's ISP against LibRaw (rawpy) on the same raw, side by side in one run.

Two sizes:

* 1.2 MP — a ColorChecker at 500 lx captured with the ``default`` module (1280×960,
  auto exposure, seed 1) through the full simulation;
* ~12 MP (4000×3000 by default) — a synthetic frame: each of the four Bayer planes of the
  1.2 MP raw is resized (OpenCV, bilinear) to the larger size, so the CFA phase, black and
  white levels, white balance and colour matrix are those of the 1.2 MP capture. Running
  the optics at 12 MP is not what is being measured here.

Each frame is written as a DNG with :func:`camtwin.raw.write_dng`, then timed (median of
``--repeats`` runs after one warm-up run, ``time.perf_counter``):

* ``camtwin isp.process`` — bilinear demosaic, the module's CCM (fitted once, outside the
  timing, and passed as a fixed matrix), dcraw-style auto brightness, sRGB tone; input is
  the in-memory RawFrame, output float32 linear and sRGB images.
* ``rawpy postprocess LINEAR`` — ``postprocess(demosaic_algorithm=LINEAR,
  use_camera_wb=True, output_bps=16, no_auto_bright=False)`` on the already unpacked DNG
  (only ``postprocess`` is timed); output uint16 sRGB (BT.709 gamma).
* ``rawpy postprocess AHD`` — the same with LibRaw's default demosaic (``--no-ahd`` skips).

File reading is reported on its own lines: ``rawpy imread+unpack`` and camtwin's
``read_raw`` (which itself reads through LibRaw).

Cross-check: the linear outputs of both pipelines (camtwin ``RenderedImage.linear``; rawpy
with ``gamma=(1, 1), no_auto_bright=True``, LINEAR demosaic) are compared after one scalar
gain (least squares) brings rawpy to camtwin's brightness, on the image minus an 8-pixel
border, both clipped to [0, 1]. The colour matrices differ (camtwin: CCM fitted on the
ColorChecker; LibRaw: derived from the DNG ColorMatrix1), so this is a sanity check of
"the same picture", not an accuracy figure.

Run::

    /work/venv/bin/python benchmarks/bench_isp_vs_libraw.py [--repeats 7] [--no-ahd]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import rawpy

import camtwin
from camtwin.camera import expose, module_ccm, module_scene
from camtwin.isp import process
from camtwin.module import load_module
from camtwin.optics import form_image
from camtwin.raw import RawFrame, read_raw, write_dng

BORDER_PX = 8  # demosaic borders differ between implementations; left out of the comparison


def timed(fn, repeats: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time [s] of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


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
               ahd: bool) -> tuple[list[tuple], str]:
    h, w = raw.shape
    mp = h * w / 1e6
    dng = folder / f"{label}.dng"
    write_dng(dng, raw)
    rows = []

    def row(tool, timing, note=""):
        median_s, times = timing
        rows.append((f"{w}x{h}", tool, median_s, min(times), max(times), mp / median_s, note))

    row("camtwin read_raw (DNG via LibRaw)", timed(lambda: read_raw(dng), repeats),
        "file → RawFrame")

    def rawpy_open():
        rp = rawpy.imread(str(dng))
        rp.unpack()
        rp.close()

    row("rawpy imread+unpack", timed(rawpy_open, repeats), "file → unpacked raw")

    rendered = None

    def camtwin_isp():
        nonlocal rendered
        rendered = process(raw, spec, ccm=ccm)

    row("camtwin isp.process (bilinear, fixed CCM, auto-bright)", timed(camtwin_isp, repeats),
        "float32 out")

    with rawpy.imread(str(dng)) as rp:
        rp.unpack()
        row("rawpy postprocess LINEAR",
            timed(lambda: rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
                                         use_camera_wb=True, output_bps=16,
                                         no_auto_bright=False), repeats), "uint16 out")
        if ahd:
            row("rawpy postprocess AHD (default)",
                timed(lambda: rp.postprocess(use_camera_wb=True, output_bps=16,
                                             no_auto_bright=False), repeats), "uint16 out")
        lin16 = rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
                               use_camera_wb=True, output_bps=16, no_auto_bright=True,
                               gamma=(1, 1))
    mad = linear_mad(rendered.linear, lin16)
    if mad is None:
        note = (f"{w}x{h}: linear outputs not compared (camtwin {rendered.linear.shape}, "
                f"rawpy {lin16.shape})")
    else:
        note = (f"{w}x{h}: mean |camtwin linear − g·rawpy linear| = {mad:.4f} of white "
                f"({255 * mad:.1f}/255), {BORDER_PX}-px border excluded")
    return rows, note


def print_table(rows) -> None:
    header = ("size", "tool", "median s", "min–max s", "MP/s", "note")
    cells = [header] + [(s, t, f"{m:.4f}", f"{lo:.4f}–{hi:.4f}", f"{r:.1f}", n)
                        for s, t, m, lo, hi, r, n in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = (2, 3, 4)
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
    parser.add_argument("--no-ahd", action="store_true", help="skip rawpy's AHD demosaic")
    args = parser.parse_args(argv)
    big_w, big_h = (int(v) for v in args.big.lower().split("x"))

    module = load_module("default")
    spec = module.isp
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
          f"median of {args.repeats} runs after 1 warm-up; setup {setup_s:.1f} s")
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="camtwin-bench-") as tmp:
        for label, raw in (("small", raw_small), ("big", raw_big)):
            r, n = bench_size(label, raw, ccm, spec, Path(tmp), args.repeats, not args.no_ahd)
            rows += r
            notes.append(n)
    print()
    print_table(rows)
    print()
    for n in notes:
        print(n)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
