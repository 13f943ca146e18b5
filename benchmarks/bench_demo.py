"""Wall time of ``camtwin demo`` end to end, and of the stages of one 1.2 MP capture.

1. End to end: ``python -m camtwin.cli demo --out <tmp>`` in a fresh process, ``--runs``
   times (default 3); min and median reported. For scale, the start-up floor of a fresh
   process (``python -m camtwin.cli --help``) is timed the same way.
2. Stages, in this process, with the ``default`` module (1280×960): scene build
   (``module_scene``, ColorChecker at 500 lx), ``form_image`` (camera equation, cos⁴,
   diffraction OTF), sensor capture (``expose``: auto exposure + ``capture``), ISP
   (``render`` with the module's CCM), writing the PNG and the DNG. The first ("cold") call
   of each stage includes lazy imports, first-touch allocations and loading numba's on-disk
   cache; "warm" is the median of ``--repeats`` further calls. The one-off CCM fit (a
   ColorChecker capture + ISP front end + least squares, cached per module), done in the
   cold run just before its ISP stage, is reported on its own line.

The peer tool for the end-to-end figure is ISETCam (MATLAB), which cannot run on this
machine; no figure is given for it.

Run::

    /work/venv/bin/python benchmarks/bench_demo.py [--runs 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_subprocess(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def end_to_end(runs: int) -> list[tuple]:
    rows = []
    cli = [sys.executable, "-m", "camtwin.cli"]
    t = time_subprocess(cli + ["--help"], runs)
    rows.append(("python -m camtwin.cli --help (start-up floor)", runs, min(t),
                 statistics.median(t)))
    with tempfile.TemporaryDirectory(prefix="camtwin-bench-demo-") as tmp:
        t = []
        for i in range(runs):
            t += time_subprocess(cli + ["demo", "--out", str(Path(tmp) / f"run{i}")], 1)
        n_files = len(list((Path(tmp) / "run0").iterdir()))
    rows.append((f"python -m camtwin.cli demo ({n_files} files written)", runs, min(t),
                 statistics.median(t)))
    return rows


def stages(repeats: int, import_s: float) -> list[tuple]:
    from camtwin.camera import expose, module_ccm, module_scene, render
    from camtwin.isp import write_image
    from camtwin.module import load_module
    from camtwin.optics import form_image
    from camtwin.raw import save_raw

    rows = [("import camtwin (with its dependencies)", import_s, None)]
    module = load_module("default")
    h, w = module.sensor.height_px, module.sensor.width_px
    out = Path(tempfile.mkdtemp(prefix="camtwin-bench-stages-"))
    ccm_fit_s = None

    def isp(state):
        nonlocal ccm_fit_s
        if "ccm" not in state:  # cold run: fit the CCM first, timed on its own line
            t0 = time.perf_counter()
            state["ccm"] = module_ccm(module)
            ccm_fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rendered = render(module, state["raw"], ccm=state["ccm"])
        return rendered, time.perf_counter() - t0

    steps = [
        ("scene build (ColorChecker, 500 lx)",
         lambda s: module_scene(module, "colorchecker", illuminance_lux=500.0)),
        ("form_image (camera equation, cos⁴, diffraction OTF)",
         lambda s: form_image(s["scene"], module.lens)),
        ("capture (auto exposure + sensor noise → raw)",
         lambda s: expose(module, s["oi"], exposure_s=None, rng=s["i"])),
        ("ISP render (bilinear, fixed CCM, auto-bright, sRGB)", isp),
        ("write PNG (8 bit)", lambda s: write_image(out / "x.png", s["rendered"])),
        ("write DNG", lambda s: save_raw(out / "x.dng", s["raw"])),
    ]
    keys = ("scene", "oi", "raw", "rendered", None, None)
    times = {name: [] for name, _ in steps}
    ccm = None
    for i in range(1 + repeats):  # run 0 is the cold run
        state = {"i": i} if ccm is None else {"i": i, "ccm": ccm}
        for (name, fn), key in zip(steps, keys):
            t0 = time.perf_counter()
            result = fn(state)
            elapsed = time.perf_counter() - t0
            if fn is isp:
                result, elapsed = result
            times[name].append(elapsed)
            if key:
                state[key] = result
        ccm = state["ccm"]
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    for name, _ in steps:
        rows.append((name, times[name][0], statistics.median(times[name][1:])))
    total_cold = sum(times[name][0] for name, _ in steps)
    total_warm = sum(statistics.median(times[name][1:]) for name, _ in steps)
    rows.append((f"total of the capture stages ({w}x{h})", total_cold, total_warm))
    rows.append(("CCM fit (one-off per module, cached; not in the total)", ccm_fit_s, None))
    return rows


def print_table(header, rows) -> None:
    widths = [max(len(str(c[i])) for c in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
                            for i, (h, w) in enumerate(zip(header, widths))) + " |")
    print("|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                         for i, w in enumerate(widths)) + "|")
    for r in rows:
        print("| " + " | ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                                for i, (c, w) in enumerate(zip(r, widths))) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="end-to-end runs (fresh processes)")
    parser.add_argument("--repeats", type=int, default=5, help="warm repeats per stage")
    parser.add_argument("--skip-end-to-end", action="store_true")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    import camtwin
    import_s = time.perf_counter() - t0
    import numpy as np

    print(f"camtwin {camtwin.__version__}, numpy {np.__version__}, Python "
          f"{platform.python_version()}; {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.skip_end_to_end:
        rows = end_to_end(args.runs)
        print()
        print_table(("end to end (fresh process)", "runs", "min s", "median s"),
                    [(n, r, f"{lo:.2f}", f"{med:.2f}") for n, r, lo, med in rows])
    rows = stages(args.repeats, import_s)
    print()
    print_table(("stage (default module, 1 capture)", "cold s", f"warm s (median of "
                 f"{args.repeats})"),
                [(n, f"{c:.3f}", "" if w is None else f"{w:.3f}") for n, c, w in rows])
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
