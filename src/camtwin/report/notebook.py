"""Rich notebook display (Jupyter/IPython) of camtwin objects, in one place.

The classes keep one-line ``_repr_html_`` / ``_repr_png_`` methods that call
:func:`repr_html` / :func:`repr_png` here, so a cell ending in a :class:`~camtwin.scene.Scene`,
:class:`~camtwin.optics.OpticalImage`, :class:`~camtwin.raw.RawFrame`,
:class:`~camtwin.isp.RenderedImage`, :class:`~camtwin.evaluate.verdict.Evaluation` or an
EMVA 1288 result shows a picture and its key numbers instead of a dataclass dump.

Pictures
--------
* Scene / OpticalImage: the spectral radiance (irradiance) integrated against the CIE 1931
  colour-matching functions, converted to linear sRGB (IEC 61966-2-1 matrix), scaled so the
  99.5th percentile of luminance is white, sRGB-encoded — what an ideal colorimetric camera
  would show, not what a module sees.
* RawFrame: the mosaic in false colour, each pixel in its filter's colour
  (:func:`raw_false_colour`).
* RenderedImage: its display image ``srgb``.
* Evaluation: the verdict table; the PNG is a bar chart of each requirement's margin.
* EMVA 1288 results: the summary table and the photon-transfer curve.

Images wider than :data:`MAX_SIDE_PX` are reduced (area averaging) so notebooks stay small.

Example
-------
>>> import camtwin
>>> m = camtwin.load_module("default").replace(sensor={"width_px": 64, "height_px": 48})
>>> scene = camtwin.module_scene(m, "colorchecker", illuminance_lux=100)
>>> scene._repr_png_()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import base64
import html as _html
import math

import numpy as np

from .figures import figure_png_bytes, new_figure

#: Longest side of a displayed image [pixels].
MAX_SIDE_PX = 800

#: CIE XYZ → linear sRGB (IEC 61966-2-1:1999, D65 white).
XYZ_TO_LINEAR_SRGB = np.array([[3.2404542, -1.5371385, -0.4985314],
                               [-0.9692660, 1.8760108, 0.0415560],
                               [0.0556434, -0.2040259, 1.0572252]])

#: Display colour of each CFA channel in the false-colour raw view.
CHANNEL_COLOURS = {"R": (1.0, 0.1, 0.1), "G": (0.1, 1.0, 0.1), "B": (0.15, 0.3, 1.0),
                   "IR": (0.8, 0.2, 0.8), "C": (1.0, 1.0, 1.0), "M": (1.0, 1.0, 1.0),
                   "Y": (1.0, 1.0, 0.2)}


# ---------------------------------------------------------------------------------------
# pictures
# ---------------------------------------------------------------------------------------
def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding of linear values (clipped to 0..1 first)."""
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def spectral_to_srgb(cube: np.ndarray, wavelengths_nm: np.ndarray) -> np.ndarray:
    """(L, H, W) spectral radiance or irradiance → (H, W, 3) display sRGB in 0..1."""
    from ..spectra import cie1931_cmfs

    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    cmf = cie1931_cmfs(wl) * np.gradient(wl)[:, None]  # (L, 3), Δλ folded in
    bands, h, w = cube.shape
    xyz = (cube.reshape(bands, h * w).T.astype(np.float64) @ cmf).reshape(h, w, 3)
    top = float(np.percentile(xyz[..., 1], 99.5))
    if not top > 0:
        return np.zeros((h, w, 3), np.float32)
    rgb = (xyz / top) @ XYZ_TO_LINEAR_SRGB.T
    return srgb_encode(rgb)


def raw_false_colour(raw) -> np.ndarray:
    """The raw mosaic with every pixel drawn in its filter's colour, uint8 (H, W, 3).

    Signal above black is scaled so its 99.5th percentile is full scale and gamma-encoded
    (1/2.2), so dim captures stay visible; a mono sensor is drawn in grey.
    """
    v = (raw.dn.astype(np.float32) - np.float32(raw.black_level_dn)) / np.float32(
        raw.white_level_dn - raw.black_level_dn)
    v = np.clip(v, 0.0, 1.0)
    top = float(np.percentile(v, 99.5)) or 1.0
    v = np.clip(v / top, 0.0, 1.0) ** (1 / 2.2)
    if raw.cfa == "mono":
        return to_uint8(np.repeat(v[..., None], 3, axis=2))
    colours = np.array([CHANNEL_COLOURS.get(c, (1.0, 1.0, 1.0)) for c in raw.channels],
                       dtype=np.float32)
    return to_uint8(v[..., None] * colours[raw.channel_index])


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float 0..1 (or uint8) → uint8."""
    a = np.asarray(rgb)
    if a.dtype == np.uint8:
        return a
    return np.clip(np.rint(np.nan_to_num(a) * 255.0), 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray, *, max_side_px: int | None = MAX_SIDE_PX) -> bytes:
    """An (H, W, 3) RGB or (H, W) grey image (uint8, or float in 0..1) as PNG bytes,
    reduced to ``max_side_px`` on its longest side (None: full size)."""
    import cv2

    a = to_uint8(image)
    if max_side_px and max(a.shape[:2]) > max_side_px:
        f = max_side_px / max(a.shape[:2])
        a = cv2.resize(a, (max(1, round(a.shape[1] * f)), max(1, round(a.shape[0] * f))),
                       interpolation=cv2.INTER_AREA)
    if a.ndim == 3:
        a = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", a)
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 images
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _figure(figsize):
    return new_figure(figsize, dpi=100)


def picture(obj) -> np.ndarray | None:
    """The display image of ``obj`` (None for objects shown as a plot)."""
    from ..isp.pipeline import RenderedImage
    from ..optics.image import OpticalImage
    from ..raw.frame import RawFrame
    from ..scene.scene import Scene

    if isinstance(obj, Scene):
        return spectral_to_srgb(obj.radiance, obj.wavelengths_nm)
    if isinstance(obj, OpticalImage):
        return spectral_to_srgb(obj.irradiance, obj.wavelengths_nm)
    if isinstance(obj, RawFrame):
        return raw_false_colour(obj)
    if isinstance(obj, RenderedImage):
        return np.asarray(obj.srgb)
    return None


def _evaluation_figure(ev):
    rows = ev.verdicts
    fig = _figure((6.4, 0.45 * len(rows) + 1.0))
    ax = fig.add_subplot()
    labels, vals, colours = [], [], []
    for v in rows:
        rel = v.relative_margin
        rel = 0.0 if not math.isfinite(rel) else max(-1.0, min(1.0, rel))
        labels.append(v.requirement.metric)
        vals.append(100 * rel)
        colours.append("tab:green" if v.passed else "tab:red")
    y = np.arange(len(rows))[::-1]
    ax.barh(y, vals, color=colours)
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="margin [% of the limit] (clipped to ±100 %)", xlim=(-105, 105),
           title=f"{getattr(ev.module, 'name', 'module')} for {ev.application.title}: "
                 f"{'PASS' if ev.passed else 'FAIL'}")
    ax.grid(alpha=0.3, axis="x")
    return fig


def _emva_figure(res):
    c, s = res.curves, res.summary
    fig = _figure((6.4, 3.6))
    ax = fig.add_subplot()
    if "signal_dn" in c and "variance_dn2" in c:
        ax.plot(np.asarray(c["signal_dn"]), np.asarray(c["variance_dn2"]), "o", ms=3,
                label="measured")
        k = s.get("system_gain_dn_per_e")
        if k:
            x = np.asarray(c["signal_dn"], dtype=np.float64)
            ax.plot(x, k * x, "-", lw=1, label=f"σ² = K·μ, K = {k:.4g} DN/e⁻")
        ax.set(xlabel="mean signal above dark μ_y − μ_y.dark [DN]",
               ylabel="temporal variance σ²_y − σ²_y.dark [DN²]",
               title="EMVA 1288 photon transfer")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        ax.text(0.5, 0.5, "no photon-transfer data", ha="center", va="center")
        ax.set_axis_off()
    return fig


def _emva_class():
    try:
        from ..measure.emva1288.analysis import Emva1288Results
    except ImportError:  # pragma: no cover - the EMVA package is part of camtwin
        return None
    return Emva1288Results


def repr_png(obj) -> bytes | None:
    """PNG bytes of ``obj`` for a notebook (None if it has no picture)."""
    from ..evaluate.verdict import Evaluation

    img = picture(obj)
    if img is not None:
        return png_bytes(img)
    if isinstance(obj, Evaluation):
        return figure_png_bytes(_evaluation_figure(obj))
    emva = _emva_class()
    if emva is not None and isinstance(obj, emva):
        return figure_png_bytes(_emva_figure(obj))
    return None


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------
_CSS = ("<style>.camtwin-nb table{border-collapse:collapse;font-size:12px;margin:4px 0}"
        ".camtwin-nb td,.camtwin-nb th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        ".camtwin-nb td.n{text-align:right}.camtwin-nb tr.pass td{background:#e7f7e7}"
        ".camtwin-nb tr.fail td{background:#fbe4e4}.camtwin-nb .flex{display:flex;gap:12px;"
        "align-items:flex-start;flex-wrap:wrap}</style>")


def _esc(x) -> str:
    return _html.escape(str(x))


def _fmt(v, spec: str = ".4g") -> str:
    if v is None:
        return "—"
    if isinstance(v, (float, np.floating)):
        return format(float(v), spec) if math.isfinite(v) else str(float(v))
    return str(v)


def _kv_table(rows) -> str:
    body = "".join(f"<tr><th>{_esc(k)}</th><td class='n'>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _img_tag(png: bytes, alt: str) -> str:
    return (f"<img alt='{_esc(alt)}' style='max-width:480px;image-rendering:auto' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>")


def _card(title: str, rows, png: bytes | None, alt: str) -> str:
    img = _img_tag(png, alt) if png is not None else ""
    return (f"<div class='camtwin-nb'>{_CSS}<b>{_esc(title)}</b><div class='flex'>{img}"
            f"{_kv_table(rows)}</div></div>")


def _rows(obj) -> tuple[str, list]:
    from ..isp.pipeline import RenderedImage
    from ..optics.image import OpticalImage
    from ..raw.frame import RawFrame
    from ..scene.scene import Scene

    if isinstance(obj, Scene):
        h, w = obj.shape
        wl = obj.wavelengths_nm
        return f"Scene '{obj.name}'", [
            ("size [samples]", f"{w} × {h}"), ("width × height [m]",
                                               f"{obj.width_m:.4g} × {obj.height_m:.4g}"),
            ("distance [m]", _fmt(obj.distance_m)), ("illuminant", obj.illuminant),
            ("illuminance [lx]", _fmt(obj.illuminance_lux)),
            ("wavelengths [nm]", f"{wl[0]:g}–{wl[-1]:g} ({wl.size} bands)"),
            ("regions", ", ".join(obj.layout) or "—")]
    if isinstance(obj, OpticalImage):
        h, w = obj.shape
        lens = obj.lens
        return f"OpticalImage of '{obj.scene_name}'", [
            ("size [samples]", f"{w} × {h}"), ("sample pitch [µm]", _fmt(obj.sample_pitch_um)),
            ("lens", f"f = {lens.focal_length_mm:g} mm, f/{lens.f_number:g}"),
            ("illuminant", obj.illuminant), ("scene illuminance [lx]",
                                             _fmt(obj.illuminance_lux)),
            ("mean irradiance [W/m²]",
             _fmt(float(np.mean(obj.irradiance, dtype=np.float64))
                  * float(np.sum(np.gradient(obj.wavelengths_nm)))))]
    if isinstance(obj, RawFrame):
        h, w = obj.shape
        e = obj.electrons()
        return f"RawFrame {obj.metadata.get('scene', '')}".strip(), [
            ("size [px]", f"{w} × {h}"), ("CFA", obj.cfa),
            ("black / white [DN]", f"{obj.black_level_dn:g} / {obj.white_level_dn}"),
            ("exposure [ms]", _fmt(obj.exposure_s * 1e3)),
            ("system gain K [DN/e⁻]", _fmt(obj.conversion_gain_dn_per_e)),
            ("temperature [°C]", _fmt(obj.temperature_c)),
            ("mean signal [e⁻]", _fmt(float(np.mean(e, dtype=np.float64)))),
            ("clipped [%]", _fmt(100 * obj.clipped_fraction(), ".3g")),
            ("illuminant", obj.illuminant or "—"),
            ("ground truth", "mean electrons" if obj.mean_electrons is not None else "—")]
    if isinstance(obj, RenderedImage):
        h, w = obj.shape
        spec = obj.spec
        return "RenderedImage", [
            ("size [px]", f"{w} × {h}"),
            ("white balance gains", ", ".join(f"{g:.3f}" for g in obj.wb_gains)),
            ("exposure gain", _fmt(obj.exposure_gain)),
            ("CCM diagonal", ", ".join(f"{v:.3f}" for v in np.diag(obj.ccm))),
            ("demosaic / tone", f"{spec.demosaic} / {spec.tone}" if spec is not None else "—"),
            ("notes", "; ".join(obj.notes) or "—")]
    raise TypeError(type(obj).__name__)


def _evaluation_html(ev) -> str:
    from ..evaluate.verdict import format_value

    head = ("<tr><th>requirement</th><th>limit</th><th>measured</th><th>margin</th>"
            "<th>verdict</th><th>basis</th></tr>")
    rows = []
    for v in ev.verdicts:
        r = v.requirement
        cond = ", ".join(f"{k}={c}" for k, c in r.conditions.items())
        rows.append(f"<tr class='{'pass' if v.passed else 'fail'}'>"
                    f"<td>{_esc(r.metric + (f' ({cond})' if cond else ''))}</td>"
                    f"<td>{_esc(r.limit_text)}</td>"
                    f"<td class='n'>{_esc(format_value(v.value, r.unit))}</td>"
                    f"<td class='n'>{_esc(format_value(v.margin, r.unit))}</td>"
                    f"<td>{'pass' if v.passed else 'FAIL'}</td>"
                    f"<td title='{_esc(r.source)}'>{_esc(r.basis)}</td></tr>")
    name = getattr(ev.module, "name", "module")
    title = (f"{name} for {ev.application.title}: {'PASS' if ev.passed else 'FAIL'} "
             f"({ev.n_failed} of {len(ev.verdicts)} failed, seed {ev.seed}, {ev.seconds:.1f} s)")
    return (f"<div class='camtwin-nb'>{_CSS}<b>{_esc(title)}</b>"
            f"<table>{head}{''.join(rows)}</table></div>")


def _emva_html(res) -> str:
    from ..measure.emva1288.report import SUMMARY_ROWS

    s = res.summary
    rows = []
    for key, label, unit, fmt in SUMMARY_ROWS:
        if key not in s:
            continue
        v = s[key]
        text = "—" if v is None else (f"{100 * v:.1f}" if fmt == "pct" else format(v, fmt))
        rows.append((f"{label} [{'%' if fmt == 'pct' else unit}]", text))
    title = f"{s.get('standard', 'EMVA 1288')} — {s.get('source', '')}"
    return _card(title, rows, figure_png_bytes(_emva_figure(res)), "photon transfer")


def repr_html(obj) -> str | None:
    """An HTML card for ``obj``: its picture (embedded PNG) and key numbers."""
    from ..evaluate.verdict import Evaluation

    if isinstance(obj, Evaluation):
        return _evaluation_html(obj)
    emva = _emva_class()
    if emva is not None and isinstance(obj, emva):
        return _emva_html(obj)
    img = picture(obj)
    if img is None:
        return None
    title, rows = _rows(obj)
    return _card(title, rows, png_bytes(img, max_side_px=480), title)
