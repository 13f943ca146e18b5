"""``camtwin sfr`` and ``camtwin colour``: image-quality measurements on image files.

* ``sfr IMAGE``: ISO 12233 e-SFR of a slanted edge (:func:`camtwin.measure.sfr.esfr`) in a
  rendered image (PNG/TIFF/JPEG decoded to linear with the encoding of ``--encoding`` or
  the one the file declares, :mod:`camtwin.measure.imread`; channel r, g, b or y =
  luminance) — the processed image, ISP included — or a raw frame (DNG/NPZ/camera raw,
  linear, black level removed; a colour of the CFA, every site of it at its own sensor
  position — for Bayer g both greens — or the whole mono frame). Frequencies are always
  cycles per sensor pixel.
* ``colour IMAGE``: CIEDE2000 and per-patch SNR of a ColorChecker capture, the chart found
  and verified automatically or placed with ``--chart-box``
  (:func:`camtwin.measure.color.colorchecker_report`); exit 2 "no ColorChecker found".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError


def parse_xywh(text: str | None, option: str):
    """``"x,y,w,h"`` (pixels) → the region (x, y, w, h), checked; None stays None."""
    if text is None:
        return None
    from ..regions import xywh_to_box

    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{option} = {text!r}: expected four integers x,y,w,h") from None
    xywh_to_box((x, y, w, h), option)
    return (x, y, w, h)


def register(app, guard, fail, console) -> None:
    """Add the ``sfr`` and ``colour`` commands to the typer ``app``."""

    @app.command("sfr")
    def sfr_cmd(
        image: Path = typer.Argument(..., help="Image (.png/.tif/.jpg) or raw (.dng/.npz)."),
        roi: Optional[str] = typer.Option(
            None, help="Edge ROI x,y,w,h [px]; default: 128 px across the edge, centred on "
                       "it, 512 px (at most 90 %) along it."),
        channel: str = typer.Option("g", help="r, g, b or y (luminance; images only); raw: a "
                                    "CFA colour, every site of it at its sensor position."),
        encoding: Optional[str] = typer.Option(
            None, help="srgb, linear or gamma:G of an image file; default: from the file "
                       "(ICC/PNG/EXIF tags; untagged >= 12-bit TIFF linear, else sRGB). Raw: "
                       "linear."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        plot: Optional[Path] = typer.Option(None, help="Also write the SFR plot (.png)."),
    ):
        """ISO 12233:2017 e-SFR of a slanted edge: MTF50, MTF at Nyquist/2 and Nyquist
        (cycles per sensor pixel)."""
        guard(_sfr, image, roi, channel, json_out, plot, console, encoding)

    @app.command("colour")
    def colour_cmd(
        image: Path = typer.Argument(..., help="Rendered image of a ColorChecker Classic."),
        chart_box: Optional[str] = typer.Option(
            None, help="Chart outline x,y,w,h [px]; default: found automatically."),
        encoding: Optional[str] = typer.Option(
            None, help="srgb, linear or gamma:G; default: from the file (as for sfr)."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ):
        """CIEDE2000 and per-patch SNR of a ColorChecker capture (exit 2 if there is none)."""
        guard(_colour, image, chart_box, json_out, console, encoding)


def _sfr(image: Path, roi, channel, json_out, plot, console, encoding=None):
    from rich.markup import escape

    from .._io import check_outputs
    from ..measure.files import sfr_of_file

    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot = {str(plot)!r}: extension must be .png")
    check_outputs({"IMAGE": image}, {"--plot": plot})
    res, out = sfr_of_file(image, roi=parse_xywh(roi, "--roi"), channel=channel,
                           encoding=encoding)
    if plot is not None:
        from ..report.sfr_plot import plot_sfr

        plot_sfr(res, plot, labels=[f"{image.name} ({channel}, {out['kind']})"])
        out["plot"] = str(plot)
    if json_out:
        print(json.dumps(out, indent=2))
    else:
        mtf50 = "n/a" if res.mtf50_cy_px != res.mtf50_cy_px else f"{res.mtf50_cy_px:.4f}"
        console.print(escape(f"{image.name} [{channel}]: MTF50 {mtf50} cy/px, "
                             f"MTF(Nyq/2) {res.mtf_at_nyquist_half:.3f}, MTF(Nyq) "
                             f"{res.mtf_at_nyquist:.3f}, edge {res.edge_angle_deg:.2f}°"))
        console.print(escape(f"  encoding {out['encoding']} ({out['encoding_source']}); "
                             f"{out['source']}"))


def _colour(image: Path, chart_box, json_out, console, encoding=None):
    from rich.markup import escape

    from ..measure.files import measure_colour_file

    rep = out = measure_colour_file(image, chart_box=parse_xywh(chart_box, "--chart-box"),
                                    encoding=encoding)
    if json_out:
        print(json.dumps(out, indent=2))
    else:
        console.print(escape(f"{image.name}: mean ΔE00 {rep['mean']:.2f}, max {rep['max']:.2f}, "
                             f"exposure error {rep['exposure_error_stops']:+.2f} stops"))
        console.print(escape(f"  chart {rep['chart']['method']} at x,y,w,h "
                             f"{','.join(str(v) for v in rep['chart']['xywh'])}; "
                             f"encoding {out['encoding']} ({out['encoding_source']})"))
