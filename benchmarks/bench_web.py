"""Web workbench under load: N concurrent capture requests against a real server.

Starts ``camtwin serve`` in a subprocess on 127.0.0.1 (a free port; nothing else is ever
contacted), fires ``--requests`` capture requests at once from an asyncio httpx client,
polls each job until it is done, and meanwhile asks ``/api/health`` every 50 ms to see that
the event loop stays responsive. Prints a Markdown table of latency percentiles:

* submit: POST /api/capture → 202 (validation + queueing; the simulation runs later);
* end to end: POST → the job reported done (includes queueing behind the other requests;
  polled every 20 ms);
* run: the job's own time in a worker (started → finished);
* health: GET /api/health while the jobs run.

    python benchmarks/bench_web.py [--requests 50] [--workers 2] [--module catalog:endoscope-ov6948]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time

import numpy as np

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older environments
    import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from camtwin.cli import main; main()", "serve",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 60 s")


async def run_load(base: str, payloads: list[dict], *, timeout_s: float = 600.0) -> dict:
    """Submit every payload at once, wait for all jobs; health-check meanwhile."""
    limits = httpx.Limits(max_connections=len(payloads) + 4)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        done = asyncio.Event()
        health: list[tuple[float, int, int]] = []  # (latency s, status, pending)

        async def probe():
            while not done.is_set():
                t0 = time.perf_counter()
                r = await client.get("/api/health")
                health.append((time.perf_counter() - t0, r.status_code,
                               r.json().get("pending", -1)))
                await asyncio.sleep(0.05)

        async def one(payload):
            t0 = time.perf_counter()
            r = await client.post("/api/capture", json=payload)
            t_submit = time.perf_counter() - t0
            if r.status_code != 202:
                return {"error": f"{r.status_code}: {r.text[:200]}"}
            job_id = r.json()["job_id"]
            while True:
                j = (await client.get(f"/api/jobs/{job_id}")).json()
                if j["status"] in ("done", "error"):
                    break
                await asyncio.sleep(0.02)
            out = {"submit_s": t_submit, "total_s": time.perf_counter() - t0,
                   "run_s": j["finished_s"] - j["started_s"], "job": j}
            if j["status"] == "error":
                out["error"] = j["error"]
            else:
                img = await client.get(f"/api/jobs/{job_id}/images/processed.png")
                if img.status_code != 200 or not img.content.startswith(b"\x89PNG"):
                    out["error"] = f"image: {img.status_code}"
            return out

        prober = asyncio.create_task(probe())
        t0 = time.perf_counter()
        try:
            results = await asyncio.wait_for(asyncio.gather(*(one(p) for p in payloads)),
                                             timeout_s)
        finally:
            done.set()
            await prober
        wall = time.perf_counter() - t0
    return {"results": results, "health": health, "wall_s": wall}


def payloads_for(n: int, module: str, crop: tuple[int, int] | None) -> list[dict]:
    m = {"name": module}
    if crop:
        m.update(crop_width_px=crop[0], crop_height_px=crop[1])
    scenes = ("colorchecker", "slanted_edge", "siemens_star", "uniform")
    return [{"module": m, "scene": scenes[i % 4], "lux": 100 + 10 * i, "seed": i}
            for i in range(n)]


def percentiles(values) -> tuple[float, float, float]:
    a = np.asarray(values, dtype=np.float64) * 1e3
    return float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(a.max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--module", default="catalog:endoscope-ov6948")
    ap.add_argument("--crop", default="", help="WxH centre crop, e.g. 160x120")
    args = ap.parse_args()
    crop = tuple(int(v) for v in args.crop.split("x")) if args.crop else None

    port = free_port()
    proc = start_server(port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        # warm-up: compile numba kernels, fit the module's CCM once
        asyncio.run(run_load(base, payloads_for(2, args.module, crop)))
        res = asyncio.run(run_load(base, payloads_for(args.requests, args.module, crop)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rs = res["results"]
    errors = [r["error"] for r in rs if "error" in r]
    ok = [r for r in rs if "error" not in r]
    size = ok[0]["job"]["result"] if ok else {}
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; "
          f"python {platform.python_version()}; nproc {os.cpu_count()}; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"module {args.module} {size.get('width_px')}×{size.get('height_px')}, "
          f"{args.requests} concurrent captures (4 charts, MTF50 included), "
          f"{args.workers} worker threads")
    print(f"completed {len(ok)}/{len(rs)}, errors {len(errors)}"
          + (f": {errors[:3]}" if errors else "") + f"; wall {res['wall_s']:.2f} s, "
          f"throughput {len(ok) / res['wall_s']:.2f} captures/s")
    h = res["health"]
    under_load = [lat for lat, status, pending in h if status == 200 and pending > 0]
    print(f"health checks: {len(h)}, all 200: {all(s == 200 for _, s, _ in h)}, "
          f"{len(under_load)} answered while jobs were pending")
    print()
    print("| measure | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, vals in (("submit (POST → 202)", [r["submit_s"] for r in ok]),
                       ("end to end (POST → done)", [r["total_s"] for r in ok]),
                       ("run in worker", [r["run_s"] for r in ok]),
                       ("GET /api/health during load", under_load)):
        if vals:
            p50, p95, mx = percentiles(vals)
            print(f"| {name} | {len(vals)} | {p50:.0f} | {p95:.0f} | {mx:.0f} |")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
