"""IspSpec: the validated settings of the ISP pipeline.

Every field is checked once, at construction; a bad value raises :class:`ConfigError` whose
one-line message names the field, the value and the valid range or choices — both for
``IspSpec(...)`` and ``IspSpec.from_dict`` / ``from_yaml``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, FiniteFloat, field_validator

from .._spec import FrozenSpec

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
    tone : {"srgb", "linear", "reinhard", "filmic"}
        Output encoding: IEC 61966-2-1 sRGB curve, linear (both clipped to [0, 1]), or an
        HDR tone map followed by sRGB (:mod:`camtwin.isp.tone`).
    output_bits : {8, 16}
        Default bit depth for :func:`camtwin.isp.write_image`.
    lens_shading : {"none", "lens"}
        ``"lens"``: correct the module's vignetting (lens cos⁴ × sensor CRA acceptance,
        :func:`camtwin.isp.shading.gain_from_lens`) before white balance; needs the lens,
        which :func:`camtwin.camera.render` passes.
    defect_pixel : bool
        Dynamic defect-pixel correction (:func:`camtwin.isp.defects.correct_defects`,
        default threshold).
    denoise : {"none", "bilateral", "guided"}
        Edge-preserving denoise of camera RGB with an automatic noise estimate.
    sharpen : float in [0, 5]
        Unsharp-mask amount on the display luminance (σ = 1 px); 0 = off.

    Notes
    -----
    :meth:`to_pipeline` turns these settings into the equivalent
    :class:`~camtwin.isp.config.PipelineSpec`; :func:`camtwin.isp.process` runs that.
    The older keys keep their meaning, so module YAML files written for the first version
    still load unchanged.
    """

    white_balance: Literal["illuminant", "gray_world", "white_patch", "none"] = "illuminant"
    demosaic: str = "bilinear"
    ccm: Literal["fitted", "identity"] | Matrix3x3 = "fitted"
    exposure_gain: float | None = Field(None, gt=0, allow_inf_nan=False)
    auto_bright_percentile: float = Field(99.0, gt=50, le=100, allow_inf_nan=False)
    auto_bright_white: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    tone: Literal["srgb", "linear", "reinhard", "filmic"] = "srgb"
    output_bits: Literal[8, 16] = 8
    lens_shading: Literal["none", "lens"] = "none"
    defect_pixel: bool = False
    denoise: Literal["none", "bilateral", "guided"] = "none"
    sharpen: float = Field(0.0, ge=0, le=5, allow_inf_nan=False)

    def to_pipeline(self):
        """The equivalent :class:`~camtwin.isp.config.PipelineSpec` (validated)."""
        from .config import PipelineSpec

        stages: list = ["black_level"]
        if self.defect_pixel:
            stages.append("defect_pixel")
        if self.lens_shading == "lens":
            stages.append({"lens_shading": {"source": "lens"}})
        stages += [{"white_balance": {"method": self.white_balance}},
                   {"demosaic": {"method": self.demosaic}}]
        if self.denoise != "none":
            stages.append({"denoise": {"method": self.denoise}})
        stages += [{"ccm": {"matrix": self.ccm}},
                   {"exposure": {"gain": "auto" if self.exposure_gain is None
                                 else self.exposure_gain,
                                 "percentile": self.auto_bright_percentile,
                                 "white": self.auto_bright_white}},
                   {"tone": {"curve": self.tone}}]
        if self.sharpen > 0:
            stages.append({"sharpen": {"amount": self.sharpen}})
        stages.append({"output": {"bits": self.output_bits}})
        return PipelineSpec.from_dict({"name": "IspSpec", "stages": stages})

    @field_validator("ccm", mode="before")
    @classmethod
    def _ccm_form(cls, value):
        # Checked before the union so a bad value gets one message, not one per branch.
        from .config import check_matrix_choice

        return check_matrix_choice(value, ("fitted", "identity"))

    @field_validator("demosaic")
    @classmethod
    def _known_demosaic(cls, value: str) -> str:
        from .config import check_demosaic_method

        return check_demosaic_method(value)
