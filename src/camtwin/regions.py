"""Rectangular regions of interest shared by the ISP (CCM fitting) and the measurements.

A box is ``(row0, row1, col0, col1)`` in pixels, half-open: ``image[row0:row1, col0:col1]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ConfigError


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


def patch_means(image, boxes: Sequence[Sequence[int]]) -> np.ndarray:
    """Mean of ``image`` (H, W) or (H, W, C) inside each box, accumulated in float64.

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
        out.append(img[r0:r1, c0:c1].reshape(-1, *img.shape[2:]).mean(axis=0, dtype=np.float64))
    return np.array(out)
