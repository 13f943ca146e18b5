"""Time ``camtwin evaluate`` (one module × one application) for every built-in application.

The issue's goal: under 30 s per evaluation on a 2-core laptop. There is no runnable peer
(ISETCam needs MATLAB; Imatest is a licensed GUI), so only camtwin is timed.

    python benchmarks/bench_evaluate.py [--module default] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from camtwin.evaluate import builtin_applications, load_application
from camtwin.evaluate.verdict import evaluate
from camtwin.module import load_module


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", default="default")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    module = load_module(args.module)
    t0 = time.perf_counter()
    evaluate(module, load_application("industrial"))  # warm-up: imports, numba cache, CCM
    print(f"warm-up (imports, numba, first captures): {time.perf_counter() - t0:.2f} s\n")
    print("| application | requirements | median s | min s | verdict |")
    print("|---|---:|---:|---:|---|")
    for name in builtin_applications():
        app = load_application(name)
        times, ev = [], None
        for r in range(args.repeats):
            t = time.perf_counter()
            ev = evaluate(module, app, seed=r)
            times.append(time.perf_counter() - t)
        print(f"| {name} | {len(app.requirements)} | {statistics.median(times):.2f} | "
              f"{min(times):.2f} | {'PASS' if ev.passed else f'FAIL ({ev.n_failed})'} |")


if __name__ == "__main__":
    main()
