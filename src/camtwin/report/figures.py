"""Figures people would rather look at than read: QE curves, SNR vs light level, contact sheets.

Every function draws on a fresh figure with the non-interactive Agg backend and writes a PNG
atomically (:func:`camtwin._io.atomic_path`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import atomic_path


def new_figure(figsize, *, dpi: int = 110):
    """A fresh matplotlib Figure on the non-interactive Agg backend (no pyplot state)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi, layout="constrained")


def save_figure(fig, path) -> Path:
    """Write ``fig`` as a PNG atomically (temp file, then rename)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def figure_png_bytes(fig) -> bytes:
    """``fig`` encoded as PNG bytes (for HTML embedding and notebook reprs)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


_figure, _save = new_figure, save_figure  # the names this module's plots use


def plot_qe(module, path) -> Path:
    """Spectral QE per channel of the module's sensor, alone and behind the lens (IR-cut)."""
    from ..sensor.response import channel_qe
    from ..spectra import DEFAULT_WAVELENGTHS_NM as wl

    qe = channel_qe(module.sensor, wl)
    t = module.lens.spectral_transmission(wl)
    fig = _figure((6.4, 3.6))
    ax = fig.add_subplot()
    colours = ["tab:red", "tab:green", "tab:blue"] if qe.shape[1] == 3 else ["k"]
    names = ["R", "G", "B"] if qe.shape[1] == 3 else ["mono"]
    for c, (col, name) in enumerate(zip(colours, names)):
        ax.plot(wl, qe[:, c], color=col, lw=1.0, ls="--", alpha=0.6)
        ax.plot(wl, qe[:, c] * t, color=col, lw=1.8, label=f"{name} (with lens)")
    ax.set(xlabel="wavelength [nm]", ylabel="quantum efficiency",
           title=f"{module.sensor.name}: QE (dashed: sensor alone)", xlim=(wl[0], wl[-1]),
           ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_snr_vs_lux(images: list[dict], path, *, title: str = "") -> Path:
    """Mid-grey SNR [dB] against illuminance [lx] for each scene of a summary."""
    fig = _figure((5.6, 3.6))
    ax = fig.add_subplot()
    scenes = sorted({im["scene"] for im in images})
    for s in scenes:
        pts = sorted((im["lux"], im["grey_snr_db"]) for im in images if im["scene"] == s)
        ax.semilogx(*zip(*pts), marker="o", label=s)
    ax.axhline(20 * np.log10(10), color="grey", ls=":", lw=1)
    ax.text(ax.get_xlim()[0], 20.5, " SNR 10 (ISO 12232 'acceptable')", fontsize=7, color="grey")
    ax.set(xlabel="illuminance on the scene [lx]", ylabel="mid-grey SNR [dB]",
           title=title or "SNR against light level")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


#: Width of one panel of :func:`plot_contact_sheet` [in] and its resolution [dpi].
_PANEL_IN, _SHEET_DPI = 3.2, 110

#: Widest image a contact-sheet panel shows [px] (the panel's width at its resolution).
THUMBNAIL_PX = int(_PANEL_IN * _SHEET_DPI)


def thumbnail(img: np.ndarray, width_px: int = THUMBNAIL_PX) -> np.ndarray:
    """``img`` (H, W[, C]) scaled down to at most ``width_px`` columns by area averaging
    (``cv2.INTER_AREA``: each output pixel the mean of the input pixels it covers — no
    aliasing of fine detail, as plain decimation gives), aspect ratio kept; a copy, so the
    full-size image can be freed. Images already that narrow are returned as they are."""
    h, w = img.shape[:2]
    if w <= width_px:
        return img
    import cv2

    a = np.ascontiguousarray(img)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    return cv2.resize(a, (width_px, max(1, round(h * width_px / w))),
                      interpolation=cv2.INTER_AREA)


def plot_contact_sheet(images: list[tuple[str, np.ndarray]], path, *, columns: int = 3) -> Path:
    """A grid of rendered sRGB images (float 0..1 or uint8) with their titles; each image
    is drawn from its :func:`thumbnail` (matplotlib resampling the full frames instead: the
    demo's figures took 2.1 s, 1.65 s now; RESULTS.md, "First run after a fresh install")."""
    rows = int(np.ceil(len(images) / columns))
    fig = new_figure((_PANEL_IN * columns, 2.6 * rows), dpi=_SHEET_DPI)
    for i, (title, img) in enumerate(images):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(thumbnail(img), interpolation="lanczos")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    return _save(fig, path)
