"""Issue 22, web server: decompression-bomb uploads.

Before the fix an upload above Pillow's bomb limit (~179 MP) answered 500 (Pillow's
DecompressionBombError escaped), and concurrent uploads of small files that decode to
25 MP each were decoded all at once (16 × 5000×4999 took the server from 0.7 to 5 GB).
Now the size is read from the header before Pillow sees the file (413 naming the limit),
and concurrent decodes share a byte budget.
"""

from __future__ import annotations

import io
import threading
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from camtwin.web import WebSettings, create_app
from camtwin.web import service as sv

BASE_URL = "http://127.0.0.1"


def bilevel_png(w: int, h: int) -> bytes:
    """A tiny PNG file that decodes to w × h pixels (a decompression bomb when large)."""
    buf = io.BytesIO()
    Image.new("1", (w, h)).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def jpeg(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (w, h), 90).save(buf, "JPEG", quality=50)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bomb_180mp():
    data = bilevel_png(15000, 12000)
    assert len(data) < 100_000  # a small file ...
    return data  # ... of 180 MP, above Pillow's 2 × 89.5 MP bomb limit


def test_bomb_above_pillows_limit_is_413_not_500(bomb_180mp):
    # the server's own pixel limit set above Pillow's: Pillow's refusal must still be a 413
    app = create_app(WebSettings(max_upload_pixels=10**9))
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as c:
        r = c.post("/api/uploads", content=bomb_180mp, headers={"content-type": "image/png"})
        assert r.status_code == 413, r.text
        assert r.json()["field"] == "file"
        assert "1000.0 MP" in r.json()["detail"]  # the limit is named
        assert c.get("/api/health").json()["status"] == "ok"


def test_bomb_refused_from_its_header_before_decoding(bomb_180mp, monkeypatch):
    decoded = []
    monkeypatch.setattr(sv, "_decode_reduced", lambda *a, **k: decoded.append(1))
    with TestClient(create_app(WebSettings()), base_url=BASE_URL) as c:
        for data, dims in ((bomb_180mp, "15000 × 12000"), (jpeg(6000, 5000), "6000 × 5000"),
                           (bilevel_png(5001, 5000), "5001 × 5000")):
            r = c.post("/api/uploads", content=data)
            assert r.status_code == 413, r.text
            detail = r.json()["detail"]
            assert dims in detail and "limit of 25.0 MP" in detail
    assert decoded == []  # never decoded


def test_bmp_and_tiff_are_checked_too():
    with TestClient(create_app(WebSettings(max_upload_pixels=100_000, max_upload_bytes=2**20)),
                    base_url=BASE_URL) as c:
        for fmt in ("BMP", "TIFF"):
            buf = io.BytesIO()
            Image.new("1", (600, 400)).save(buf, fmt)
            r = c.post("/api/uploads", content=buf.getvalue())
            assert r.status_code == 413 and "600 × 400" in r.json()["detail"], (fmt, r.text)


def test_concurrent_decodes_stay_within_the_byte_budget(monkeypatch):
    """Eight uploads at once, a budget for two: never more than two decodes at a time."""
    data = bilevel_png(1000, 1000)
    cost = sv.decode_cost_bytes(1000, 1000, "1")
    budget = sv.DecodeBudget(int(2.5 * cost))
    inside, peak, lock = [0], [0], threading.Lock()
    real = sv._decode_reduced

    def counting(img, side):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        try:
            time.sleep(0.05)  # hold the reservation so the others must queue
            return real(img, side)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(sv, "_decode_reduced", counting)
    out = [None] * 8

    def run(i):
        out[i] = sv.decode_upload(data, max_pixels=10**7, max_side_px=256, budget=budget)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(o is not None and o.shape == (256, 256, 3) for o in out)
    assert 1 <= peak[0] <= 2
    assert budget.free == budget.limit  # every reservation returned


def test_a_decode_above_the_whole_budget_is_413():
    data = bilevel_png(2000, 2000)
    with pytest.raises(sv.WebInputError) as e:
        sv.decode_upload(data, max_pixels=10**7, max_side_px=256,
                         budget=sv.DecodeBudget(1_000_000))
    assert e.value.status == 413 and "decode budget of 1 MiB" in str(e.value)


def test_large_jpeg_is_reduced_in_the_dct():
    img = sv.decode_upload(jpeg(4000, 3000), max_pixels=25_000_000, max_side_px=500)
    assert img.shape == (375, 500, 3) and img.dtype.name == "uint8"
    assert abs(int(img.mean()) - 90) <= 3


def test_format_is_checked_by_its_magic_bytes():
    for data in (b"GIF89a\x10\x00\x10\x00", b"<svg></svg>", b"\x89PNG\r\n\x1a\n"):
        with pytest.raises(sv.WebInputError) as e:
            sv.decode_upload(data, max_pixels=10**6, max_side_px=64)
        assert e.value.status == 415
