"""Displays of camtwin objects — notebook cards, short reprs, pandas/xarray — in one place.

The classes keep one-line ``_repr_html_`` / ``_repr_png_`` / ``__repr__`` / ``to_pandas`` /
``to_xarray`` methods that call the functions here:

* :func:`repr_html` / :func:`repr_png`: a cell ending in a :class:`~camtwin.ModuleSpec`,
  :class:`~camtwin.scene.Scene`, :class:`~camtwin.optics.OpticalImage`,
  :class:`~camtwin.Shot`, :class:`~camtwin.raw.RawFrame`, :class:`~camtwin.isp.RenderedImage`,
  :class:`~camtwin.evaluate.verdict.Evaluation`, an EMVA 1288 result or a sweep store / run
  shows a picture or table and its key numbers instead of a dataclass dump;
* :func:`short_repr`: ``repr`` of every data and result object (shots, frames, images,
  evaluations, EMVA 1288, e-SFR, burst merges, HDR, AF, sweeps) is one line with its size,
  dtype and key numbers — never an array dump;
* :func:`evaluation_to_pandas`, :func:`emva_summary_to_pandas`, :func:`emva_ptc_to_pandas`,
  :func:`emva_to_xarray`, :func:`sweep_to_pandas`, :func:`raw_to_xarray`,
  :func:`shot_to_xarray`: tables and arrays with their units (columns, ``attrs``). pandas
  and xarray are optional: imported inside, a one-line ImportError naming
  ``pip install pandas`` / ``xarray`` when missing (:func:`require`).

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

    if type(obj).__name__ == "Shot":
        obj = obj.rendered
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
                    f"<td title='{_esc(v.result.reason or '')}'>"
                    f"{_esc({'fail': 'FAIL'}.get(_status(v), _status(v)))}</td>"
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
    special = _HTML.get(type(obj).__name__)
    if special is not None:
        return globals()[special](obj)
    emva = _emva_class()
    if emva is not None and isinstance(obj, emva):
        return _emva_html(obj)
    img = picture(obj)
    if img is None:
        return None
    title, rows = _rows(obj)
    return _card(title, rows, png_bytes(img, max_side_px=480), title)


# ---------------------------------------------------------------------------------------
# more HTML cards: ModuleSpec, Shot, sweeps
# ---------------------------------------------------------------------------------------
def _module_rows(m) -> list:
    s, lens = m.sensor, m.lens
    return [("sensor", f"{s.width_px} × {s.height_px} px, {s.pixel_pitch_um:g} µm, {s.cfa}, "
                       f"{s.adc_bits}-bit"),
            ("full well [e⁻]", _fmt(s.full_well_e)),
            ("read noise [e⁻]", _fmt(s.read_noise_e)),
            ("lens", f"f = {lens.focal_length_mm:.4g} mm, f/{lens.f_number:g}, "
                     f"{lens.projection}"),
            ("field of view H × V [°]", f"{m.horizontal_fov_deg:.1f} × "
                                        f"{m.vertical_fov_deg:.1f}"),
            ("ISP", f"demosaic {m.isp.demosaic}, tone {m.isp.tone}"),
            ("description", m.description or "—")]


def module_html(m) -> str:
    """HTML card of a :class:`~camtwin.ModuleSpec`: sensor, lens, field of view, ISP."""
    return _card(f"ModuleSpec '{m.name}'", _module_rows(m), None, m.name)


def shot_html(shot) -> str:
    """HTML card of a :class:`~camtwin.Shot`: the rendered image and the raw frame's numbers."""
    _, rows = _rows(shot.raw)
    rows = [("scene", getattr(shot.scene, "name", None) or shot.raw.metadata.get("scene", "—"))]\
        + rows[:7]
    if shot.lens is not None:
        rows.append(("lens", f"f = {shot.lens.focal_length_mm:.4g} mm, "
                             f"f/{shot.lens.f_number:g}"))
    return _card("Shot", rows, png_bytes(np.asarray(shot.rendered.srgb), max_side_px=480),
                 "rendered image")


def _table_html(columns, rows, units: dict, caption: str) -> str:
    head = "".join(f"<th>{_esc(c)}{f' [{_esc(units[c])}]' if units.get(c) else ''}</th>"
                   for c in columns)
    body = "".join("<tr>" + "".join(f"<td class='n'>{_esc(_fmt(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return (f"<div class='camtwin-nb'>{_CSS}<b>{_esc(caption)}</b>"
            f"<table><tr>{head}</tr>{body}</table></div>")


#: Rows of a sweep's points table shown in a notebook.
MAX_TABLE_ROWS = 20


def sweep_store_html(store) -> str:
    """HTML of a :class:`~camtwin.sweep.SweepStore`: the first :data:`MAX_TABLE_ROWS`
    points, column headers with their units."""
    table = store.read_table()
    units = sweep_units(table.schema)
    cols = table.column_names
    head = table.slice(0, MAX_TABLE_ROWS).to_pylist()
    return _table_html(cols, [[r[c] for c in cols] for r in head], units,
                       f"sweep store {store.url}: {table.num_rows} points"
                       + (f" (first {MAX_TABLE_ROWS})" if table.num_rows > MAX_TABLE_ROWS
                          else ""))


def sweep_outcome_html(out) -> str:
    """HTML of a :class:`~camtwin.sweep.SweepOutcome`: what the run did."""
    d = out.as_dict()
    rows = [(k.replace("_", " ") + (" [s]" if k == "seconds" else ""), _fmt(v))
            for k, v in d.items()]
    rows += [("lost batch", m) for m in out.lost_messages[:5]]
    return _card("sweep run", rows, None, "sweep")


#: Class name → the function here that draws its HTML card.
_HTML = {"ModuleSpec": "module_html", "Shot": "shot_html", "SweepStore": "sweep_store_html",
         "SweepOutcome": "sweep_outcome_html"}


# ---------------------------------------------------------------------------------------
# short text reprs: shape, dtype and key numbers, never an array dump
# ---------------------------------------------------------------------------------------
def _ms(t) -> str:
    return "—" if t is None else f"{1e3 * float(t):.4g} ms"


def _r_module(m) -> str:
    s, lens = m.sensor, m.lens
    return (f"ModuleSpec({m.name!r}: {s.width_px} × {s.height_px} px {s.cfa} "
            f"{s.pixel_pitch_um:g} µm, f = {lens.focal_length_mm:.4g} mm f/{lens.f_number:g}, "
            f"HFOV {m.horizontal_fov_deg:.1f}°)")


def _r_raw(r) -> str:
    h, w = r.shape
    scene = r.metadata.get("scene")
    return (f"RawFrame({w} × {h} px {r.dn.dtype} {r.cfa}, black {r.black_level_dn:g} / "
            f"white {r.white_level_dn} DN, exposure {_ms(r.exposure_s)}, "
            f"K {r.conversion_gain_dn_per_e:.4g} DN/e⁻, mean "
            f"{float(np.mean(r.dn, dtype=np.float64)):.1f} DN"
            + (f", scene {scene!r}" if scene else "") + ")")


def _r_rendered(r) -> str:
    h, w = r.shape
    spec = r.spec
    return (f"RenderedImage({w} × {h} px, linear/srgb (H, W, 3) {r.srgb.dtype}, "
            f"WB gains {'/'.join(f'{g:.3g}' for g in np.ravel(r.wb_gains))}, exposure gain "
            f"{r.exposure_gain:.3g}"
            + (f", demosaic {spec.demosaic!r}, tone {spec.tone!r}" if spec is not None else "")
            + (f", {len(r.notes)} notes" if r.notes else "") + ")")


def _r_optical(o) -> str:
    h, w = o.shape
    return (f"OpticalImage({o.scene_name!r}, {w} × {h} samples × {len(o.wavelengths_nm)} bands "
            f"{o.irradiance.dtype}, pitch {o.sample_pitch_um:.4g} µm, f = "
            f"{o.lens.focal_length_mm:.4g} mm f/{o.lens.f_number:g}, illuminance "
            f"{_fmt(o.illuminance_lux)} lx)")


def _r_shot(s) -> str:
    r = s.raw
    h, w = r.shape
    scene = getattr(s.scene, "name", None) or r.metadata.get("scene", "")
    lens = (f", f = {s.lens.focal_length_mm:.4g} mm f/{s.lens.f_number:g}"
            if s.lens is not None else "")
    return (f"Shot({scene!r}, {w} × {h} px {r.cfa}, exposure {_ms(r.exposure_s)}, mean "
            f"{float(np.mean(r.electrons(), dtype=np.float64)):.4g} e⁻, clipped "
            f"{100 * r.clipped_fraction():.2g} %{lens}; .raw .rendered .optical_image)")


def _r_evaluation(ev) -> str:
    name = getattr(ev.module, "name", "module")
    failed = [v.requirement.metric for v in ev.verdicts if not v.passed]
    tail = f"; failed: {', '.join(failed[:4])}{' …' if len(failed) > 4 else ''}" if failed else ""
    return (f"Evaluation({name!r} for {ev.application.name!r}: "
            f"{'PASS' if ev.passed else 'FAIL'}, {ev.n_failed} of {len(ev.verdicts)} "
            f"requirements failed, seed {ev.seed}{tail})")


def _r_verdict(v) -> str:
    r = v.requirement
    from ..evaluate.verdict import format_value

    return (f"Verdict({r.metric}: {format_value(v.value, r.unit)} vs {r.limit_text}, "
            f"{_status(v)})")


def _status(v) -> str:
    """"pass", "fail" or "n/a" of a verdict (older verdicts without ``status``)."""
    return getattr(v, "status", "pass" if v.passed else "fail")


def _r_emva(res) -> str:
    s = res.summary
    parts = []
    for key, label, unit in (("system_gain_dn_per_e", "K", "DN/e⁻"),
                             ("quantum_efficiency", "QE", ""),
                             ("temporal_dark_noise_e", "σ_d", "e⁻"),
                             ("saturation_capacity_e", "μ_e.sat", "e⁻"),
                             ("dynamic_range_db", "DR", "dB"),
                             ("snr_max_db", "SNR_max", "dB")):
        v = s.get(key)
        if v is None:
            continue
        parts.append(f"{label} {100 * v:.1f} %" if key == "quantum_efficiency"
                     else f"{label} {v:.4g} {unit}")
    return (f"Emva1288Results({s.get('source', '')!r}, {s.get('steps', '?')} steps: "
            f"{', '.join(parts)})")


def _r_sfr(r) -> str:
    return (f"SfrResult(MTF50 {r.mtf50_cy_px:.4g} cy/px, MTF(Nyq/2) "
            f"{r.mtf_at_nyquist_half:.3g}, MTF(Nyq) {r.mtf_at_nyquist:.3g}, edge "
            f"{r.edge_angle_deg:.2f}° {r.orientation}, roi (row0, row1, col0, col1) = "
            f"{tuple(int(v) for v in r.roi)}, {len(r.frequencies_cy_px)} frequencies)")


def _r_merge(m) -> str:
    h, w = np.shape(m.mosaic_dn)
    return (f"MergeResult({w} × {h} px {m.mosaic_dn.dtype}, {np.size(m.mean_weight)} frames, "
            f"reference {m.reference}, mean weight "
            f"{'/'.join(f'{x:.2f}' for x in np.ravel(m.mean_weight)[:8])})")


def _r_hdr(r) -> str:
    h, w = np.shape(r.electrons)
    return (f"HdrResult({w} × {h} px {r.electrons.dtype} e⁻, exposures "
            f"{', '.join(_ms(t) for t in r.exposures_s)} (ratio {r.exposure_ratio:.3g}), "
            f"saturation {r.saturation_e:.4g} e⁻, "
            f"{100 * float(np.mean(np.asarray(r.valid_frames) == 0)):.2g} % all clipped)")


def _r_burst(b) -> str:
    f0 = b.frames[0]
    h, w = f0.shape
    return (f"Burst({len(b.frames)} frames of {w} × {h} px {f0.cfa}, exposure "
            f"{_ms(f0.exposure_s)}, {len(b.object_boxes)} moving objects)")


def _r_af(r) -> str:
    return (f"AfResult({r.method}/{r.measure}: error {r.focus_error_um:+.3g} µm = "
            f"{r.focus_error_dof:.2f} DOF ({'in focus' if r.in_focus else 'out of focus'}), "
            f"{r.frames} frames, {r.lens_moves} lens moves, {r.time_s * 1e3:.4g} ms, "
            f"object at {r.distance_m:g} m)")


def _r_outcome(o) -> str:
    return (f"SweepOutcome({o.store!r}: {o.computed} computed, {o.skipped} skipped, "
            f"{o.errors} errors, {o.lost} lost of {o.total} points, {o.seconds:.1f} s, "
            f"{o.workers} workers)")


def _r_store(s) -> str:
    n = len(s.part_files()) if s.exists() else 0
    return f"SweepStore({s.url!r}, {n} part files)"


def _r_metric(r) -> str:
    num = [k for k, v in r.details.items() if isinstance(v, (int, float))][:4]
    extra = ", ".join(f"{k} {r.details[k]:.4g}" for k in num)
    value = f"n/a ({r.reason})" if r.reason else f"{r.value:.4g}"
    return (f"MetricResult({value}" + (f"; {extra}" if extra else "")
            + (f"; {len(r.details) - len(num)} more details" if len(r.details) > len(num)
               else "") + ")")[:390]


def _r_snr_curve(c) -> str:
    lv = np.asarray(c.level)
    return (f"SnrCurve({lv.size} levels {lv.min():.3g}–{lv.max():.3g} {c.unit}, SNR "
            f"{np.nanmin(c.snr):.3g}–{np.nanmax(c.snr):.3g}, exposure {_ms(c.exposure_s)})"
            if lv.size else f"SnrCurve(no levels, {c.unit})")


def _r_pipeline(r) -> str:
    shown = next((a for a in (r.image, r.display, r.linear) if a is not None), None)
    size = f"{shown.shape[1]} × {shown.shape[0]} px" if shown is not None else "no image"
    return (f"PipelineResult({size}, {r.bits}-bit, WB gains "
            f"{'/'.join(f'{g:.3g}' for g in np.ravel(r.wb_gains))}, exposure gain "
            f"{r.exposure_gain:.3g}, {len(r.intermediates)} intermediates, "
            f"{len(r.notes)} notes)")


def _r_alignment(a) -> str:
    d = np.asarray(a.displacement)
    n, ny, nx = d.shape[:3]
    return (f"Alignment({n} frames × {ny} × {nx} tiles of {a.grid.tile} samples, max |d| "
            f"{float(np.abs(d).max()) if d.size else 0.0:.3g} samples)")


def _r_measured(m) -> str:
    if m.kind == "raw":
        h, w = m.raw.shape
        body = f"raw {w} × {h} px {m.raw.cfa}"
    else:
        h, w = m.linear.shape[:2]
        body = f"rendered {w} × {h} px, {m.bits}-bit"
    return f"MeasuredImage({m.path.name!r}, {body}, encoding {m.encoding})"


_REPRS = {"ModuleSpec": _r_module, "RawFrame": _r_raw, "RenderedImage": _r_rendered,
          "OpticalImage": _r_optical, "Shot": _r_shot, "Evaluation": _r_evaluation,
          "Verdict": _r_verdict, "Emva1288Results": _r_emva, "SfrResult": _r_sfr,
          "MergeResult": _r_merge, "HdrResult": _r_hdr, "Burst": _r_burst,
          "AfResult": _r_af, "SweepOutcome": _r_outcome, "SweepStore": _r_store,
          "MetricResult": _r_metric, "SnrCurve": _r_snr_curve, "PipelineResult": _r_pipeline,
          "Alignment": _r_alignment, "MeasuredImage": _r_measured}


def short_repr(obj) -> str:
    """A repr of at most a few lines — shape, dtype and key numbers, never an array dump —
    for camtwin's data and result objects (the classes' ``__repr__`` call this)."""
    for cls in type(obj).__mro__:
        f = _REPRS.get(cls.__name__)
        if f is not None:
            try:
                return f(obj)
            except Exception as exc:  # noqa: BLE001 - a repr must never raise
                return f"<{type(obj).__name__} ({type(exc).__name__} in repr)>"
    return object.__repr__(obj)


# ---------------------------------------------------------------------------------------
# pandas / xarray (optional): imported inside, a one-line error when missing
# ---------------------------------------------------------------------------------------
def require(package: str, what: str):
    """Import the optional ``package`` for ``what`` or raise a one-line ImportError that
    names the install command."""
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(f"{what} needs {package}: pip install {package}") from None


def evaluation_to_pandas(ev):
    """One row per requirement: metric, conditions, value, unit, threshold (min, max and the
    limit text), margin (metric unit), relative margin, pass, basis, source."""
    pd = require("pandas", "Evaluation.to_pandas()")
    rows = []
    for v in ev.verdicts:
        r = v.requirement
        rows.append({"metric": r.metric,
                     "conditions": ", ".join(f"{k}={c}" for k, c in r.conditions.items()),
                     "value": float(v.value), "unit": r.unit, "threshold": r.limit_text,
                     "min": r.min, "max": r.max, "margin": float(v.margin),
                     "relative_margin": float(v.relative_margin), "pass": bool(v.passed),
                     "status": _status(v), "not_applicable": v.result.reason,
                     "basis": r.basis, "source": r.source})
    df = pd.DataFrame(rows, columns=["metric", "conditions", "value", "unit", "threshold",
                                     "min", "max", "margin", "relative_margin", "pass",
                                     "status", "not_applicable", "basis", "source"])
    df.attrs.update({"module": getattr(ev.module, "name", "module"),
                     "application": ev.application.name, "seed": ev.seed,
                     "passed": ev.passed})
    return df


#: Units of the per-step EMVA 1288 photon-transfer arrays (``Emva1288Results.curves``).
PTC_UNITS = {"photons": "photons/pixel", "signal_dn": "DN", "variance_dn2": "DN²",
             "mean_dn": "DN", "dark_mean_dn": "DN", "variance_total_dn2": "DN²",
             "dark_variance_dn2": "DN²", "exposure_s": "s", "fit_mask": "",
             "linearity_mask": "", "linearity_deviation_percent": "%"}


def emva_summary_to_pandas(res):
    """The EMVA 1288 summary table: one row per quantity (key, quantity, value, unit)."""
    pd = require("pandas", "Emva1288Results.to_pandas()")
    from ..measure.emva1288.report import SUMMARY_ROWS

    rows = []
    for key, label, unit, fmt in SUMMARY_ROWS:
        if key not in res.summary:
            continue
        v = res.summary[key]
        if v is not None and fmt == "pct":   # stored as a fraction, shown in %
            v = 100.0 * v
        rows.append({"key": key, "quantity": label, "value": v, "unit": unit})
    df = pd.DataFrame(rows, columns=["key", "quantity", "value", "unit"])
    df.attrs.update({"standard": res.summary.get("standard"),
                     "source": res.summary.get("source")})
    return df


def _ptc(res) -> dict:
    """The per-step photon-transfer arrays of ``res.curves`` (one value per step)."""
    n = int(res.summary.get("steps", len(res.curves.get("signal_dn", ()))))
    return {k: np.asarray(res.curves[k]) for k in PTC_UNITS
            if k in res.curves and np.ndim(res.curves[k]) == 1 and len(res.curves[k]) == n}


def emva_ptc_to_pandas(res):
    """The photon-transfer data: one row per illumination step, one column per quantity;
    units in ``df.attrs['units']``."""
    pd = require("pandas", "Emva1288Results.to_pandas('ptc')")
    cols = _ptc(res)
    df = pd.DataFrame(cols)
    df.attrs["units"] = {k: PTC_UNITS[k] for k in cols}
    return df


def emva_to_xarray(res):
    """The photon-transfer data as an ``xarray.Dataset`` over dimension ``step``, each
    variable's unit in its ``attrs['units']``, the summary numbers in the dataset's attrs."""
    xr = require("xarray", "Emva1288Results.to_xarray()")
    ds = xr.Dataset({k: ("step", v, {"units": PTC_UNITS[k]}) for k, v in _ptc(res).items()})
    ds.attrs.update({k: v for k, v in res.summary.items()
                     if isinstance(v, (int, float, str, bool)) and v is not None})
    return ds


def sweep_units(schema) -> dict:
    """``{column: unit}`` of a sweep store's Arrow schema (from the fields' metadata)."""
    from ..sweep.measurements import field_label_unit

    return {f.name: field_label_unit(f)[1] for f in schema}


def sweep_to_pandas(store, columns=None):
    """The points table of a sweep store as a DataFrame; ``df.attrs['units']`` maps each
    column to its unit (from the Parquet field metadata)."""
    require("pandas", "SweepStore.to_pandas()")
    table = store.read_table(columns)
    df = table.to_pandas()
    df.attrs["units"] = sweep_units(table.schema)
    df.attrs["store"] = store.url
    return df


def raw_to_xarray(raw, **extra_attrs):
    """A :class:`~camtwin.raw.RawFrame` as an ``xarray.DataArray`` of DN over dims
    (``y``, ``x``) [pixel indices], with the frame's metadata in ``attrs`` (units, CFA,
    black/white level [DN], exposure [s], system gain [DN/e⁻], ...)."""
    xr = require("xarray", "to_xarray()")
    h, w = raw.shape
    attrs = {"units": "DN", "long_name": "raw digital number (black level included)",
             "cfa": raw.cfa, "black_level_dn": float(raw.black_level_dn),
             "white_level_dn": int(raw.white_level_dn), "exposure_s": float(raw.exposure_s),
             "conversion_gain_dn_per_e": float(raw.conversion_gain_dn_per_e),
             "analog_gain": float(raw.analog_gain), "temperature_c": float(raw.temperature_c),
             "pixel_pitch_um": float(raw.pixel_pitch_um)}
    if raw.illuminant:
        attrs["illuminant"] = raw.illuminant
    attrs.update({k: v for k, v in raw.metadata.items()
                  if isinstance(v, (int, float, str, bool))})
    attrs.update(extra_attrs)
    return xr.DataArray(raw.dn, dims=("y", "x"),
                        coords={"y": np.arange(h), "x": np.arange(w)}, name="dn",
                        attrs=attrs)


def shot_to_xarray(shot):
    """The raw frame of a :class:`~camtwin.Shot` as an ``xarray.DataArray`` (see
    :func:`raw_to_xarray`), with the scene and lens in ``attrs``."""
    extra = {}
    if shot.scene is not None:
        extra["scene"] = shot.scene.name
        if shot.scene.illuminance_lux is not None:
            extra["illuminance_lux"] = float(shot.scene.illuminance_lux)
    if shot.lens is not None:
        extra.update(focal_length_mm=float(shot.lens.focal_length_mm),
                     f_number=float(shot.lens.f_number))
    return raw_to_xarray(shot.raw, **extra)
