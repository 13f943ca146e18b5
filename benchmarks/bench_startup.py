"""CLI start-up (issue 17): wall time and peak RSS of fresh processes, warm caches.

Each row runs a command in a fresh process under GNU ``/usr/bin/time -v`` (wall clock and
"Maximum resident set size"), once untimed first (warms the page cache, numba's on-disk
cache and camtwin's fitted-CCM cache, camtwin.cache), then ``--runs`` times; min and median
wall and the max peak RSS are printed with the load average before and after.

Rows: ``python -c 'import camtwin'``; ``camtwin --help``; ``camtwin capture --module
default --scene colorchecker --lux 500`` (1.2 MP); ``camtwin demo``.
Goals: capture ≤ 3 s wall and ≤ 0.4 GB peak RSS; demo ≤ 10 s (warm second run).

Run::

    .venv/bin/python benchmarks/bench_startup.py [--runs 3] [--skip-demo]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall [s], peak RSS [GiB]) of ``cmd`` under /usr/bin/time -v."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                         check=True)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    h, m, s = (float(wall.group(1) or 0), float(wall.group(2)), float(wall.group(3)))
    rss_kb = float(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)[1])
    return h * 3600 + m * 60 + s, rss_kb * 1024 / 2**30


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="camtwin-startup-"))
    cli = str(BIN / "camtwin")
    rows = {
        "python -c 'import camtwin'": [sys.executable, "-c", "import camtwin"],
        "camtwin --help": [cli, "--help"],
        "camtwin capture default (1.2 MP)": [cli, "capture", "--module", "default", "--scene",
                                             "colorchecker", "--lux", "500", "--out",
                                             str(tmp / "cc.png")],
    }
    if not args.skip_demo:
        rows["camtwin demo"] = [cli, "demo", "--out", str(tmp / "demo")]
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print(f"| command | wall min [s] | wall median [s] | peak RSS [GiB] | runs |")
    print("|---|---:|---:|---:|---:|")
    for name, cmd in rows.items():
        timed(cmd)  # warm-up
        res = [timed(cmd) for _ in range(args.runs)]
        walls = [w for w, _ in res]
        print(f"| {name} | {min(walls):.2f} | {statistics.median(walls):.2f} | "
              f"{max(r for _, r in res):.3f} | {args.runs} |", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
