"""50 concurrent captures against a real uvicorn server on 127.0.0.1.

Bounded: 50 requests, one run, a hard overall timeout; only loopback is contacted. Checks
that every capture completes without error, that the server answers health checks while
the jobs are queued (the simulation runs in the worker pool, not the event loop), and that
it still works afterwards. Latency figures are in benchmarks/bench_web.py, not asserted.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from camtwin.web import WebSettings
from camtwin.web.server import BackgroundServer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_web.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_web", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_50_concurrent_captures(bench):
    small = [{"name": "catalog:endoscope-ov6948"},
             {"name": "default", "crop_width_px": 96, "crop_height_px": 72}]
    payloads = [{**p, "module": small[i % 2], "measure_mtf": i % 5 == 0}
                for i, p in enumerate(bench.payloads_for(50, "default", None))]
    with BackgroundServer(WebSettings(workers=2)) as srv:
        assert srv.host == "127.0.0.1"
        base = srv.url.rstrip("/")
        res = asyncio.run(bench.run_load(base, payloads, timeout_s=300))
        after = bench.httpx.get(f"{base}/api/health", timeout=10).json()
    rs = res["results"]
    assert len(rs) == 50
    assert [r.get("error") for r in rs] == [None] * 50
    sizes = {(r["job"]["result"]["width_px"], r["job"]["result"]["height_px"]) for r in rs}
    assert sizes == {(200, 200), (96, 72)}
    for r in rs:
        m = r["job"]["result"]["metrics"]
        assert m["grey_snr_db"] is not None and 0 <= m["clipped_percent"] <= 100
    # responsive under load: health checks answered while captures were still pending
    health = res["health"]
    assert health and all(status == 200 for _, status, _ in health)
    assert any(pending > 0 for _, _, pending in health)
    assert after["status"] == "ok" and after["pending"] == 0
    assert after["jobs"]["done"] == 50 and after["jobs"]["error"] == 0
