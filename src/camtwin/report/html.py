"""Self-contained HTML reports: figures and images embedded as base64 PNG, no external files.

Shared by every camtwin report (evaluate/compare, EMVA 1288, ...): build the body from
:func:`table`, :func:`figure_img` and :func:`image_img`, then :func:`write_page`.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from .._io import write_bytes_atomic

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#e3f6e3}.fail{background:#fbe1e1}.muted{color:#777;font-size:.85em}
.row{display:flex;flex-wrap:wrap;gap:1em}.row figure{margin:0}
figcaption{font-size:.85em;color:#555;text-align:center}
img{max-width:100%}
"""


def escape(text) -> str:
    return html.escape(str(text))


def figure_png_b64(fig) -> str:
    """A matplotlib figure as a base64 PNG string."""
    from .figures import figure_png_bytes

    return base64.b64encode(figure_png_bytes(fig)).decode("ascii")


def figure_img(fig, alt: str = "") -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{figure_png_b64(fig)}">'


def image_img(rgb: np.ndarray, alt: str = "", *, width: int | None = None) -> str:
    """An (H, W, 3) display image in [0, 1] (or uint8) as an embedded PNG."""
    import cv2

    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(np.nan_to_num(a) * 255.0), 0, 255).astype(np.uint8)
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR)
    ok, png = cv2.imencode(".png", a)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError("PNG encoding failed")
    w = f' width="{int(width)}"' if width else ""
    return (f'<img alt="{escape(alt)}"{w} '
            f'src="data:image/png;base64,{base64.b64encode(png.tobytes()).decode("ascii")}">')


def table(header, rows, *, row_classes=None) -> str:
    """An HTML table; cells are escaped unless given as ``("html", markup)``; numbers are
    right-aligned."""
    def cell(v, tag):
        if isinstance(v, tuple) and len(v) == 2 and v[0] == "html":
            return f"<{tag}>{v[1]}</{tag}>"
        cls = ' class="num"' if isinstance(v, (int, float)) and tag == "td" else ""
        return f"<{tag}{cls}>{escape(v)}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell(h, "th") for h in header) + "</tr>"]
    for i, r in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(cell(v, "td") for v in r) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def write_page(path, title: str, body: str) -> Path:
    """Write a complete, self-contained HTML page atomically."""
    doc = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
           f"<h1>{escape(title)}</h1>\n{body}\n</body></html>")
    return write_bytes_atomic(path, doc.encode("utf-8"))
