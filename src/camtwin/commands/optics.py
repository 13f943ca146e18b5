"""``camtwin sfr`` and ``camtwin colour``: image-quality measurements on image files.

* ``sfr IMAGE``: ISO 12233 e-SFR of a slanted edge (:func:`camtwin.measure.sfr.esfr`) in a
  rendered image (PNG/TIFF/JPEG, sRGB-decoded to linear; channel r, g, b or y = luminance)
  or a raw frame (DNG/NPZ, black level removed; a colour of the CFA, sampled once per CFA
  period — for Bayer g the first green — or the whole mono frame); frequencies are in
  cycles per sample of the analysed plane.
* ``colour IMAGE``: CIEDE2000 and per-patch SNR of a ColorChecker capture, patches located
  from the chart geometry (:func:`camtwin.measure.color.colorchecker_report`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..errors import ConfigError

RAW_SUFFIXES = (".dng", ".npz")
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
_RGB = {"r": 0, "g": 1, "b": 2}


def parse_xywh(text: str | None, option: str):
    """``"x,y,w,h"`` (pixels) → box (row0, row1, col0, col1); None stays None."""
    if text is None:
        return None
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{option} = {text!r}: expected four integers x,y,w,h") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ConfigError(f"{option} = {text!r}: need x, y >= 0 and w, h > 0")
    return (y, y + h, x, x + w)


def load_channel(path: Path, channel: str) -> np.ndarray:
    """One channel of an image or raw file as a 2-D float array (linear signal)."""
    if not path.is_file():
        raise ConfigError(f"IMAGE = {str(path)!r}: file does not exist")
    ch = channel.lower()
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        from ..raw import load_raw

        raw = load_raw(path)
        dn = raw.dn.astype(np.float64) - raw.black_level_dn
        if raw.cfa == "mono":
            return dn
        from ..raw.cfa import cfa_layout

        layout = cfa_layout(raw.cfa)
        wanted = ch.upper()
        if wanted not in layout.channels:
            raise ConfigError(f"--channel = {channel!r}: valid choices for this raw "
                              f"({raw.cfa}) are {', '.join(c.lower() for c in layout.channels)}")
        py, px = layout.period
        # the first position of that colour in the CFA tile; one sample per period: a
        # regular sub-lattice of the channel (pitch = period × pixel pitch)
        dy, dx = next((r, c) for r in range(py) for c in range(px)
                      if layout.tile[r][c] == wanted)
        return dn[dy::py, dx::px]
    if suffix not in IMAGE_SUFFIXES:
        raise ConfigError(f"IMAGE = {str(path)!r}: extension must be one of "
                          f"{', '.join(IMAGE_SUFFIXES + RAW_SUFFIXES)}")
    from ..measure.color import read_linear_srgb

    lin = read_linear_srgb(path)
    if ch == "y":
        return lin @ np.array([0.2126, 0.7152, 0.0722])
    if ch not in _RGB:
        raise ConfigError(f"--channel = {channel!r}: valid choices for an image are r, g, b, y")
    return lin[..., _RGB[ch]]


def register(app, guard, fail, console) -> None:
    """Add the ``sfr`` and ``colour`` commands to the typer ``app``."""

    @app.command("sfr")
    def sfr_cmd(
        image: Path = typer.Argument(..., help="Image (.png/.tif/.jpg) or raw (.dng/.npz)."),
        roi: Optional[str] = typer.Option(None, help="Edge ROI x,y,w,h [px]; default: all."),
        channel: str = typer.Option("g", help="r, g, b or y (luminance; images only)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        plot: Optional[Path] = typer.Option(None, help="Also write the SFR plot (.png)."),
    ):
        """ISO 12233:2017 e-SFR of a slanted edge: MTF50, MTF at Nyquist/2 and Nyquist."""
        guard(_sfr, image, roi, channel, json_out, plot, console)

    @app.command("colour")
    def colour_cmd(
        image: Path = typer.Argument(..., help="sRGB image of a ColorChecker Classic."),
        chart_box: Optional[str] = typer.Option(
            None, help="Chart outline x,y,w,h [px]; default: the chart fills the image."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ):
        """CIEDE2000 and per-patch SNR of a ColorChecker capture."""
        guard(_colour, image, chart_box, json_out, console)


def _sfr(image: Path, roi, channel, json_out, plot, console):
    from ..measure.sfr import esfr

    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot = {str(plot)!r}: extension must be .png")
    plane = load_channel(image, channel)
    res = esfr(plane, roi=parse_xywh(roi, "--roi"))
    out = {"image": str(image), "channel": channel, **res.to_dict()}
    if plot is not None:
        from ..report.sfr_plot import plot_sfr

        plot_sfr(res, plot, labels=[f"{image.name} ({channel})"])
        out["plot"] = str(plot)
    if json_out:
        print(json.dumps(out, indent=2))
    else:
        mtf50 = "n/a" if res.mtf50_cy_px != res.mtf50_cy_px else f"{res.mtf50_cy_px:.4f}"
        console.print(f"{image.name} [{channel}]: MTF50 {mtf50} cy/px, "
                      f"MTF(Nyq/2) {res.mtf_at_nyquist_half:.3f}, MTF(Nyq) "
                      f"{res.mtf_at_nyquist:.3f}, edge {res.edge_angle_deg:.2f}°")


def _colour(image: Path, chart_box, json_out, console):
    from ..measure.color import colorchecker_report, read_linear_srgb

    if not image.is_file():
        raise ConfigError(f"IMAGE = {str(image)!r}: file does not exist")
    lin = read_linear_srgb(image)
    box = parse_xywh(chart_box, "--chart-box")
    rep = colorchecker_report(lin, chart_box=box)
    out = {"image": str(image), **rep}
    if json_out:
        print(json.dumps(out, indent=2))
    else:
        console.print(f"{image.name}: mean ΔE00 {rep['mean']:.2f}, max {rep['max']:.2f}, "
                      f"exposure error {rep['exposure_error_stops']:+.2f} stops")
