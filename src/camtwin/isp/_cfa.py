"""Bayer phase bookkeeping shared by the ISP stages (private).

A Bayer mosaic is four interleaved sub-images, one per position in the 2×2 tile. Working on
the strided views ``mosaic[r::2, c::2]`` touches each pixel once without building full-size
index or mask arrays.
"""

from __future__ import annotations

from functools import lru_cache

from ..raw import cfa_channel_index


@lru_cache(maxsize=None)
def cfa_phases(cfa: str) -> tuple[tuple[int, int, int], ...]:
    """``((row_offset, col_offset, channel), ...)`` for the four positions of the 2×2 tile.

    ``channel`` is 0=R, 1=G, 2=B (all 0 for ``"mono"``). Raises :class:`ConfigError` for an
    unknown pattern (via :func:`camtwin.raw.cfa_channel_index`).
    """
    tile = cfa_channel_index(cfa, (2, 2))
    return tuple((r, c, int(tile[r, c])) for r in (0, 1) for c in (0, 1))
