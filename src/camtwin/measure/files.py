"""Measure an image file from Python the way ``camtwin sfr`` and ``camtwin colour`` do.

:func:`measure_file` is the public entry point (``camtwin.measure_file``); the CLI commands
call the same functions, so a number printed by the CLI and one computed in a notebook come
from one code path:

* ``kind="sfr"`` — ISO 12233:2017 e-SFR of a slanted edge: MTF50 [cycles per sensor pixel],
  MTF at Nyquist/2 and Nyquist. Steps: :func:`~camtwin.measure.imread.read_measured_image`
  → one channel (:func:`~camtwin.measure.imread.image_channel`) → the ROI (given, or
  :func:`~camtwin.measure.sfr.auto_roi`) → :func:`~camtwin.measure.sfr.esfr`.
* ``kind="colour"`` — CIEDE2000 and per-patch SNR of a ColorChecker Classic capture. Steps:
  :func:`~camtwin.measure.imread.read_measured_image` →
  :func:`~camtwin.measure.color.colorchecker_report` (chart found and verified, or placed).

Regions are ``(x, y, w, h)`` in pixels — left column, top row, width, height — as on the
command line (:mod:`camtwin.regions`); results report them the same way (``roi_xywh``: the
edge region used; ``chart['xywh']``: the outline of the 24 patches found).

Example
-------
>>> import camtwin, numpy as np, tifffile, tempfile, os
>>> y, x = np.mgrid[0:160, 0:160]
>>> edge = (0.2 + 0.6 * (x - 80 - 0.1 * (y - 80) > 0)).astype(np.float32)
>>> path = os.path.join(tempfile.mkdtemp(), "edge.tif")
>>> tifffile.imwrite(path, edge)
>>> r = camtwin.measure_file(path, "sfr", channel="y")
>>> r["encoding"], r["frequency_unit"]
('linear', 'cycles per sensor pixel')
"""

from __future__ import annotations

from ..errors import ConfigError


def measure_sfr_file(path, *, roi=None, channel: str = "g",
                     encoding: str | None = None) -> dict:
    """ISO 12233:2017 e-SFR of the slanted edge in an image or raw file.

    Parameters
    ----------
    path : path-like
        Rendered image (PNG/TIFF/JPEG/BMP) or raw (DNG, camera raw, camtwin NPZ/raw TIFF).
    roi : (x, y, w, h), optional
        Edge region [px]: left column, top row, width, height. Default: 128 px across the
        edge, centred on it, 512 px (at most 90 % of the image) along it
        (:func:`camtwin.measure.sfr.auto_roi`).
    channel : str
        ``r``, ``g``, ``b`` or ``y`` (luminance) of an image; of a raw, a CFA colour with
        every site of it at its own sensor position.
    encoding : {"srgb", "linear", "gamma:G"}, optional
        How an image file encodes light; default: from the file
        (:mod:`camtwin.measure.imread`). Raw files are linear.

    Returns
    -------
    dict
        What ``camtwin sfr --json`` prints: ``mtf50_cy_px``, ``mtf_at_nyquist_half``,
        ``mtf_at_nyquist``, ``edge_angle_deg``, ``frequencies_cy_px``, ``sfr``, ...,
        ``roi_xywh`` (the region used, x, y, w, h), ``encoding`` and where it came from,
        ``source`` (which plane was measured). Frequencies are cycles per sensor pixel.

    Raises
    ------
    ConfigError
        Unreadable file, bad encoding/channel/ROI, no measurable edge.
    """
    return sfr_of_file(path, roi=roi, channel=channel, encoding=encoding)[1]


def sfr_of_file(path, *, roi=None, channel: str = "g", encoding: str | None = None):
    """``(SfrResult, dict)``: :func:`measure_sfr_file`'s dict and the
    :class:`~camtwin.measure.sfr.SfrResult` behind it (for plots, :meth:`SfrResult.mtf_at`)."""
    from ..regions import box_to_xywh, xywh_to_box
    from .imread import image_channel, read_measured_image
    from .sfr import auto_roi, esfr

    img = read_measured_image(path, encoding=encoding)
    plane = image_channel(img, channel)
    box = None if roi is None else xywh_to_box(roi, "roi")
    if box is None:
        box = auto_roi(plane.values, mask=plane.mask)
    res = esfr(plane.values, roi=box, mask=plane.mask)
    return res, {"image": str(path), "channel": channel, "kind": img.kind,
                 "encoding": img.encoding, "encoding_source": img.encoding_source,
                 "source": plane.description, "frequency_unit": "cycles per sensor pixel",
                 "roi_xywh": list(box_to_xywh(res.roi)), **res.to_dict()}


def measure_colour_file(path, *, chart_box=None, encoding: str | None = None) -> dict:
    """CIEDE2000 and per-patch SNR of a ColorChecker Classic in a rendered image file.

    Parameters
    ----------
    path : path-like
        Rendered (white-balanced, colour-corrected) image; a raw file is refused.
    chart_box : (x, y, w, h), optional
        The chart's outer edge [px]: left column, top row, width, height. Default: found
        and verified automatically (:func:`camtwin.measure.color.find_colorchecker`).
    encoding : {"srgb", "linear", "gamma:G"}, optional
        As for :func:`measure_sfr_file`.

    Returns
    -------
    dict
        What ``camtwin colour --json`` prints: ``mean``, ``max`` (ΔE00), ``delta_e00`` (24),
        ``exposure_error_stops``, ``patches``, ``chart`` (with ``xywh``), ``encoding``.

    Raises
    ------
    ConfigError
        Unreadable file, a raw file, bad chart box;
        :class:`~camtwin.measure.color.NoColorChecker` when no chart is found.
    """
    from ..regions import xywh_to_box
    from .color import colorchecker_report
    from .imread import read_measured_image

    img = read_measured_image(path, encoding=encoding)
    if img.kind == "raw":
        raise ConfigError(f"IMAGE = {str(path)!r}: colour needs a rendered (white-balanced, "
                          f"colour-corrected) image, not a raw file; render it first "
                          f"(camtwin process)")
    if img.srgb_primaries is False:
        raise ConfigError(f"IMAGE = {str(path)!r}: its ICC profile has other primaries than "
                          f"sRGB (e.g. Adobe RGB, Display P3) and ΔE00 here assumes sRGB; "
                          f"convert the image to sRGB first")
    box = None if chart_box is None else xywh_to_box(chart_box, "chart_box")
    rep = colorchecker_report(img.linear, chart_box=box, detect=box is None)
    return {"image": str(path), "encoding": img.encoding,
            "encoding_source": img.encoding_source, **rep}


#: Kind → function of :func:`measure_file`.
FILE_MEASUREMENTS = {"sfr": measure_sfr_file, "colour": measure_colour_file,
                     "color": measure_colour_file}


def measure_file(path, kind: str = "sfr", **options) -> dict:
    """Measure an image file: ``kind="sfr"`` (:func:`measure_sfr_file`: ``roi``,
    ``channel``, ``encoding``) or ``kind="colour"`` (:func:`measure_colour_file`:
    ``chart_box``, ``encoding``). Regions are ``(x, y, w, h)`` [px].

    Returns the dict ``camtwin sfr --json`` / ``camtwin colour --json`` prints.
    """
    fn = FILE_MEASUREMENTS.get(str(kind).lower())
    if fn is None:
        raise ConfigError(f"kind = {kind!r}: valid choices are sfr, colour")
    return fn(path, **options)
