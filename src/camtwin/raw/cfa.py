"""Colour-filter-array layouts: which channel sits on which pixel.

A layout is a repeating tile of channel names. Channel order (the index stored per pixel)
is the layout's ``channels`` tuple: (R, G, B) for Bayer — so Bayer code written for the
first version keeps working — (R, C, B) for RCCB (clear in the green slot), (R, G, B, IR)
for RGB-IR, and (M,) for monochrome.

Layouts and sources:

* Bayer RGGB/GRBG/GBRG/BGGR — B. E. Bayer, US patent 3,971,065 (1976).
* ``QUADBAYER`` — 2×2 same-colour clusters in a Bayer arrangement (Sony "Quad Bayer",
  e.g. IMX586; Samsung "Tetracell"), 4×4 tile starting with R.
* ``RGBIR`` — the 4×4 RGB-IR layout with one IR pixel in four (OmniVision OV2744/OV2778,
  onsemi AR0237IR): rows B G R G / G IR G IR / R G B G / G IR G IR.
* ``RCCB`` — red/clear/clear/blue, common in automotive front cameras (onsemi AR0231AT
  RCCB variant).
* ``mono`` — no colour filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class CFALayout:
    """A periodic colour-filter layout."""

    name: str
    tile: tuple[tuple[str, ...], ...]
    channels: tuple[str, ...]

    @property
    def period(self) -> tuple[int, int]:
        return len(self.tile), len(self.tile[0])

    @property
    def is_bayer(self) -> bool:
        return self.period == (2, 2) and sorted(sum(self.tile, ())) == ["B", "G", "G", "R"]


def _bayer(name: str) -> CFALayout:
    return CFALayout(name, ((name[0], name[1]), (name[2], name[3])), ("R", "G", "B"))


#: Name → layout of every supported CFA.
CFA_LAYOUTS: dict[str, CFALayout] = {
    **{n: _bayer(n) for n in ("RGGB", "GRBG", "GBRG", "BGGR")},
    "QUADBAYER": CFALayout("QUADBAYER", (("R", "R", "G", "G"), ("R", "R", "G", "G"),
                                         ("G", "G", "B", "B"), ("G", "G", "B", "B")),
                           ("R", "G", "B")),
    "RGBIR": CFALayout("RGBIR", (("B", "G", "R", "G"), ("G", "IR", "G", "IR"),
                                 ("R", "G", "B", "G"), ("G", "IR", "G", "IR")),
                       ("R", "G", "B", "IR")),
    "RCCB": CFALayout("RCCB", (("R", "C"), ("C", "B")), ("R", "C", "B")),
    "mono": CFALayout("mono", (("M",),), ("M",)),
}

#: Supported CFA names (first version exposed the Bayer phases and mono under this name).
CFA_PATTERNS = tuple(CFA_LAYOUTS)


def cfa_layout(cfa: str) -> CFALayout:
    """The :class:`CFALayout` named ``cfa``; unknown names raise :class:`ConfigError`."""
    try:
        return CFA_LAYOUTS[cfa]
    except KeyError:
        raise ConfigError(f"cfa = {cfa!r}: must be one of {', '.join(CFA_PATTERNS)}") from None


@lru_cache(maxsize=64)
def _tile_index(cfa: str) -> np.ndarray:
    lay = cfa_layout(cfa)
    t = np.array([[lay.channels.index(c) for c in row] for row in lay.tile], dtype=np.uint8)
    t.setflags(write=False)
    return t


def cfa_channel_index(cfa: str, shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel channel index into ``cfa_layout(cfa).channels``, shape ``shape``, uint8.

    For Bayer layouts 0 = R, 1 = G, 2 = B; for ``"mono"`` every pixel is 0.
    """
    tile = _tile_index(cfa)
    h, w = shape
    ph, pw = tile.shape
    return np.tile(tile, (-(-h // ph), -(-w // pw)))[:h, :w]
