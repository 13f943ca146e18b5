"""IspSpec: the validated settings of the ISP pipeline.

Every field is checked once, at construction; a bad value raises :class:`ConfigError` whose
one-line message names the field, the value and the valid range or choices — both for
``IspSpec(...)`` and ``IspSpec.from_dict`` / ``from_yaml``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, FiniteFloat, field_validator

from .._spec import FrozenSpec
from .demosaic import DEMOSAIC_METHODS

#: A 3×3 colour-correction matrix given row by row (camera RGB → linear sRGB).
Matrix3x3 = tuple[tuple[FiniteFloat, FiniteFloat, FiniteFloat],
                  tuple[FiniteFloat, FiniteFloat, FiniteFloat],
                  tuple[FiniteFloat, FiniteFloat, FiniteFloat]]


class IspSpec(FrozenSpec):
    """Settings of :func:`camtwin.isp.process`.

    Attributes
    ----------
    white_balance : {"illuminant", "gray_world", "none"}
        ``"illuminant"``: gains from ``raw.as_shot_neutral`` (DNG AsShotNeutral); when the
        frame has none, gray world is used instead and the fallback is recorded in
        ``RenderedImage.notes``. ``"gray_world"``: gains from the mean of each CFA colour.
        ``"none"``: unit gains.
    demosaic : str
        Name of a method in :data:`camtwin.isp.DEMOSAIC_METHODS` (``"bilinear"``).
    ccm : "fitted", "identity" or 3×3 tuple of floats
        Camera RGB (white balanced) → linear sRGB matrix. ``"fitted"``: the caller passes a
        matrix from :func:`camtwin.isp.calibrate_ccm` / :func:`camtwin.isp.fit_ccm` to
        ``process(..., ccm=M)``. A literal matrix is used as given (rows → output channels).
    exposure_gain : float > 0 or None
        Fixed digital gain applied after the CCM (dimensionless). ``None`` = automatic
        (dcraw-style auto brightness, see below).
    auto_bright_percentile : float in (50, 100]
        Percentile [%] of the linear luminance that auto brightness maps to
        ``auto_bright_white``.
    auto_bright_white : float in (0, 1]
        Linear level that the percentile is mapped to (1.0 = output white).
    tone : {"srgb", "linear"}
        Output encoding: IEC 61966-2-1 sRGB curve or linear (both clipped to [0, 1]).
    output_bits : {8, 16}
        Default bit depth for :func:`camtwin.isp.write_image`.
    """

    white_balance: Literal["illuminant", "gray_world", "none"] = "illuminant"
    demosaic: str = "bilinear"
    ccm: Literal["fitted", "identity"] | Matrix3x3 = "fitted"
    exposure_gain: float | None = Field(None, gt=0, allow_inf_nan=False)
    auto_bright_percentile: float = Field(99.0, gt=50, le=100, allow_inf_nan=False)
    auto_bright_white: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    tone: Literal["srgb", "linear"] = "srgb"
    output_bits: Literal[8, 16] = 8

    @field_validator("ccm", mode="before")
    @classmethod
    def _ccm_form(cls, value):
        # Checked before the union so a bad value gets one message, not one per branch.
        msg = "must be 'fitted', 'identity' or a 3×3 matrix of finite numbers"
        if isinstance(value, str):
            if value not in ("fitted", "identity"):
                raise ValueError(msg)
            return value
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(msg) from None
        if arr.shape != (3, 3) or not np.all(np.isfinite(arr)):
            raise ValueError(msg)
        return tuple(tuple(float(x) for x in row) for row in arr)

    @field_validator("demosaic")
    @classmethod
    def _known_demosaic(cls, value: str) -> str:
        if value not in DEMOSAIC_METHODS:
            raise ValueError(f"unknown demosaic method; valid choices: "
                             f"{', '.join(sorted(DEMOSAIC_METHODS))}")
        return value
