"""Rectangular regions of interest shared by the ISP (CCM fitting) and the measurements.

Two spellings of one region, converted only here:

* **public** (CLI options ``--roi``, ``--chart-box``, ``--window`` and the top-level Python
  functions :func:`camtwin.measure_file`, :func:`camtwin.window_module`): ``(x, y, w, h)``
  in pixels — the left column, the top row, the width and the height;
* **internal** (array code, e.g. :func:`camtwin.measure.sfr.esfr`'s ``roi``): a *box*
  ``(row0, row1, col0, col1)``, half-open: ``image[row0:row1, col0:col1]``.

``xywh_to_box((x, y, w, h)) == (y, y + h, x, x + w)``; :func:`box_to_xywh` is its inverse.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ConfigError


def xywh_to_box(xywh: Sequence[int], name: str = "region") -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` [px] → box ``(row0, row1, col0, col1)`` = ``(y, y + h, x, x + w)``.

    Raises
    ------
    ConfigError
        Not four integers, ``x`` or ``y`` < 0, or ``w`` or ``h`` ≤ 0.
    """
    try:
        x, y, w, h = (int(v) for v in xywh)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {xywh!r}: expected four integers x, y, w, h") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ConfigError(f"{name} = {tuple(xywh)!r}: need x, y >= 0 and w, h > 0")
    return y, y + h, x, x + w


def box_to_xywh(box: Sequence[int]) -> tuple[int, int, int, int]:
    """Box ``(row0, row1, col0, col1)`` → ``(x, y, w, h)`` [px] (inverse of
    :func:`xywh_to_box`)."""
    r0, r1, c0, c1 = (int(v) for v in box)
    return c0, r0, c1 - c0, r1 - r0


def inset_box(box: Sequence[int], fraction: float = 0.2) -> tuple[int, int, int, int]:
    """Shrink ``box`` by ``fraction`` of its height/width on every side (stays non-empty)."""
    r0, r1, c0, c1 = (int(v) for v in box)
    dr, dc = int((r1 - r0) * fraction), int((c1 - c0) * fraction)
    if r1 - r0 - 2 * dr < 1 or c1 - c0 - 2 * dc < 1:
        return r0, r1, c0, c1
    return r0 + dr, r1 - dr, c0 + dc, c1 - dc


def check_box(box, shape, name: str = "box") -> tuple[int, int, int, int]:
    """Validate a box against an image ``shape``; return it as ints."""
    if len(box) != 4:
        raise ConfigError(f"{name} = {box!r}: need (row0, row1, col0, col1)")
    r0, r1, c0, c1 = (int(v) for v in box)
    h, w = shape[:2]
    if not (0 <= r0 < r1 <= h and 0 <= c0 < c1 <= w):
        raise ConfigError(f"{name} = {tuple(box)}: must satisfy 0 <= row0 < row1 <= {h} "
                          f"and 0 <= col0 < col1 <= {w}")
    return r0, r1, c0, c1


def patch_means(image, boxes: Sequence[Sequence[int]], *, lower: float | None = None
                ) -> np.ndarray:
    """Mean of ``image`` (H, W) or (H, W, C) inside each box, accumulated in float64;
    ``lower``: each box's values clipped from below first (no clipped copy of the image).

    Returns (N,) or (N, C). Boxes are used as given; inset them first (:func:`inset_box`) to
    stay clear of blurred patch edges.

    Raises
    ------
    ConfigError
        If a box is empty or reaches outside the image.
    """
    img = np.asarray(image)
    out = []
    for i, box in enumerate(boxes):
        r0, r1, c0, c1 = check_box(box, img.shape, f"boxes[{i}]")
        v = img[r0:r1, c0:c1] if lower is None else np.maximum(img[r0:r1, c0:c1], lower)
        out.append(v.reshape(-1, *img.shape[2:]).mean(axis=0, dtype=np.float64))
    return np.array(out)
