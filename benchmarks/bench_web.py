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

``--bombs`` instead measures the server's memory under hostile uploads (issue 22): N
concurrent uploads of a small PNG that decodes to 5000 × 4999 pixels (accepted: below the
25 MP limit), N of a 180 MP bomb (413 from the header), N oversized JSON bodies and N
oversized uploads (413). It reads the server process's resident memory (``VmRSS``) before
and after, and its peak (``VmHWM``), from ``/proc/PID/status``.

    python benchmarks/bench_web.py --bombs 16
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


def start_server(port: int, workers: int, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from camtwin.cli import main; main()", "serve",
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", *extra]
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
        # one client session (cookie) for every request: jobs belong to their session
        (await client.get("/api/health")).raise_for_status()
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


def memory_mib(pid: int) -> dict:
    """Resident memory of process ``pid`` now (VmRSS) and at its peak (VmHWM) [MiB]."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024  # kB → MiB
    return out


def bomb_pngs() -> dict[str, bytes]:
    """Small files that decode to many pixels: 5000 × 4999 (25.0 MP, accepted by the
    default limit) and 15000 × 12000 (180 MP, above Pillow's own bomb limit)."""
    import io

    from PIL import Image

    out = {}
    for name, size in (("25mp", (5000, 4999)), ("180mp", (15000, 12000))):
        buf = io.BytesIO()
        Image.new("L", size, 128).save(buf, "PNG", optimize=True)
        out[name] = buf.getvalue()
    return out


async def run_bombs(base: str, n: int, *, max_upload_bytes: int, max_body_bytes: int,
                    timeout_s: float = 600.0) -> dict:
    """``n`` concurrent requests of each hostile kind; their status codes by kind."""
    files = bomb_pngs()
    limits = httpx.Limits(max_connections=4 * n + 4)
    async with httpx.AsyncClient(base_url=base, timeout=timeout_s, limits=limits) as client:
        (await client.get("/api/health")).raise_for_status()
        png = {"content-type": "image/png"}
        kinds = {
            "upload 25 MP PNG": lambda: client.post("/api/uploads", content=files["25mp"],
                                                    headers=png),
            "upload 180 MP PNG": lambda: client.post("/api/uploads", content=files["180mp"],
                                                     headers=png),
            "oversized JSON body": lambda: client.post(
                "/api/validate", content=b'{"name": "' + b"x" * (max_body_bytes + 1) + b'"}',
                headers={"content-type": "application/json"}),
            "oversized upload": lambda: client.post(
                "/api/uploads", content=b"\x89PNG\r\n\x1a\n" + bytes(max_upload_bytes + 70_000),
                headers=png),
        }
        order = [k for k in kinds for _ in range(n)]
        t0 = time.perf_counter()
        responses = await asyncio.gather(*(kinds[k]() for k in order))
        wall = time.perf_counter() - t0
    codes: dict[str, dict[int, int]] = {}
    for k, r in zip(order, responses):
        codes.setdefault(k, {}).setdefault(r.status_code, 0)
        codes[k][r.status_code] += 1
    return {"codes": codes, "wall_s": wall,
            "sizes": {k: len(v) for k, v in files.items()}}


def bombs_main(n: int, workers: int) -> None:
    from camtwin.web import WebSettings

    s = WebSettings()
    port = free_port()
    proc = start_server(port, workers)
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(run_bombs(base, 1, max_upload_bytes=s.max_upload_bytes,
                              max_body_bytes=s.max_body_bytes))  # warm-up: imports, first decode
        before = memory_mib(proc.pid)
        res = asyncio.run(run_bombs(base, n, max_upload_bytes=s.max_upload_bytes,
                                    max_body_bytes=s.max_body_bytes))
        after = memory_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; "
          f"python {platform.python_version()}; nproc {os.cpu_count()}")
    print(f"{n} concurrent requests of each kind (files: 25 MP PNG {res['sizes']['25mp']} B, "
          f"180 MP PNG {res['sizes']['180mp']} B); decode budget "
          f"{s.max_decode_bytes / 2**20:.0f} MiB; wall {res['wall_s']:.1f} s")
    print()
    print("| request | status codes |")
    print("|---|---|")
    for k, c in res["codes"].items():
        print(f"| {k} | " + ", ".join(f"{code} × {cnt}" for code, cnt in sorted(c.items()))
              + " |")
    print()
    print(f"server RSS: {before['VmRSS']:.0f} MiB before, peak {after['VmHWM']:.0f} MiB "
          f"(+{after['VmHWM'] - before['VmRSS']:.0f}), {after['VmRSS']:.0f} MiB after")


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
    ap.add_argument("--bombs", type=int, default=0,
                    help="measure memory under N concurrent hostile uploads of each kind")
    args = ap.parse_args()
    if args.bombs:
        return bombs_main(args.bombs, args.workers)
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
        proc.stderr.close()
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
