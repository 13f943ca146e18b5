"""Catalog entries → simulator specs (SensorSpec, LensSpec, ModuleSpec).

What the simulator needs but a datasheet rarely prints is derived here, each rule stated:

* **Conversion gain** ``K = (2^adc_bits − 1 − black_level_dn) / full_well_e`` [DN/e⁻]: the
  published saturation maps onto the ADC white level (EMVA 1288 saturation is defined at
  the ADC clip). Black level ``2^(adc_bits − 6)`` DN (64 DN at 12 bit).
* **Row time** ``1 / (max_fps · height_px)`` [s] when a maximum frame rate is published
  (blanking neglected, so this is the shortest possible row time); otherwise the
  :class:`~camtwin.sensor.shutter.ShutterSpec` default.
* **Pixel model** (:class:`~camtwin.sensor.pixel.PixelSpec`): when a peak QE (and QE at
  850/940 nm) is published, PixelSpec fields are fitted by a small least-squares problem
  (:func:`fit_pixel`) so that the modelled bare-pixel QE peak — and the NIR points — match
  the published figures; without a QE figure the architecture defaults are used, with a
  NIR-enhanced silicon stack (6 µm epi, optical path ×3; see
  :mod:`camtwin.sensor.pixel`) for sensors with a published NIR-sensitivity statement.
* A measured QE curve (``qe_curve``) is used as is (:class:`~camtwin.sensor.spec.QESpec`
  ``curve``) and wins over the pixel model.
* **HDR mode** (``hdr`` figure, :func:`hdr_spec_for`): written in catalog units — full
  wells and read noises in e⁻, no DN — and turned into
  :class:`~camtwin.sensor.hdr.HdrSpec` (+ the sensor's ``lcg`` block) with every extra
  read's conversion gain from the same rule as the main one, K = (white − black)/FWC of
  that read (each read's saturation at the ADC white level).
* **Anti-blooming drain** (``antiblooming_drain`` figure): the fraction of the charge
  beyond full well that the pixel's drain removes → ``noise.antiblooming_drain``; without
  the figure the :class:`~camtwin.sensor.noise.NoiseSpec` default holds.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ConfigError, unknown_name
from ..module import ModuleSpec
from ..optics.lens import IRCutSpec, LensSpec
from ..sensor.pixel import PixelSpec
from ..sensor.qe import pixel_qe
from ..sensor.shutter import ShutterSpec
from ..sensor.spec import QESpec, QuantumEfficiencyCurve, SensorSpec
from .loader import get_lens, get_module, get_sensor, isp_presets
from .schema import LensEntry, SensorEntry

#: Wavelength grid [nm] on which the modelled peak QE is searched (the camtwin default grid).
FIT_GRID_NM = np.arange(380.0, 1000.0 + 1e-9, 5.0)

#: Tolerance [absolute QE] the fit must reach on every published point, else it fails.
FIT_TOLERANCE = 0.005

#: Starting PixelSpec fields per architecture. FSI: the parameters shown to reach IMX273 /
#: PYTHON 1300 in tests/test_pixel_qe.py (40 % aperture, 4 µm epi). BSI global shutter:
#: a light shield over the storage node leaves ~50 % aperture (IMX540 there). BSI rolling
#: shutter: open pixel (architecture default fill factor 1.0).
_START = {
    ("fsi", "any"): dict(epi_thickness_um=4.0, fill_factor=0.40, microlens_efficiency=0.75,
                         metal_stack_transmission=0.85),
    ("bsi", "global"): dict(epi_thickness_um=3.5, fill_factor=0.50, microlens_efficiency=0.5),
    ("bsi", "rolling"): dict(epi_thickness_um=3.0, microlens_efficiency=0.8),
}

#: NIR-enhanced silicon used when NIR sensitivity is stated without a number
#: (camtwin.sensor.pixel: NIR-enhanced BSI epi ≈ 5–8 µm, diffractive path factor 2–6).
_NIR_ENHANCED = dict(epi_thickness_um=6.0, nir_path_factor=3.0)


def _start_fields(illumination: str, shutter: str, nir: bool) -> dict:
    key = ("fsi", "any") if illumination == "fsi" else (
        ("bsi", "global") if shutter == "global" else ("bsi", "rolling"))
    out = dict(_START[key])
    if nir:
        out.update(_NIR_ENHANCED)
    return out


def modelled_qe(pixel: PixelSpec, illumination: str, pitch_um: float, wavelengths_nm=None):
    """Bare-pixel QE of the pixel model on ``wavelengths_nm`` (default :data:`FIT_GRID_NM`)."""
    wl = FIT_GRID_NM if wavelengths_nm is None else np.asarray(wavelengths_nm, float)
    return pixel_qe(wl, pixel, illumination, pixel_pitch_um=pitch_um)


@lru_cache(maxsize=256)
def fit_pixel(illumination: str, pitch_um: float, shutter: str, qe_peak: float,
              qe_850nm: float | None = None, qe_940nm: float | None = None,
              nir: bool = False) -> PixelSpec:
    """PixelSpec whose modelled peak QE (and 850/940 nm QE) match published figures.

    Free parameters: ``microlens_efficiency`` (0..1), ``fill_factor`` (0.15..1) and
    ``ar_transmission`` (0.6..1); for FSI also ``metal_stack_transmission`` (0.5..1); with
    NIR points also ``epi_thickness_um`` (1.5..20) and
    ``nir_path_factor`` (1..8). Weak priors keep them near the architecture start values
    (:data:`_START`), so the published points decide and the rest stays typical.
    Solved with :func:`scipy.optimize.least_squares` (bounded trust region); cached.

    Raises
    ------
    ConfigError
        If the model cannot reach a published point within :data:`FIT_TOLERANCE`.
    """
    start = _start_fields(illumination, shutter, nir)
    base = PixelSpec(**start)
    ff0 = base.resolved(illumination, "fill_factor")
    names = ["microlens_efficiency", "fill_factor", "ar_transmission"]
    x0 = [base.microlens_efficiency, ff0, base.ar_transmission]
    lo, hi = [0.0, 0.15, 0.6], [1.0, 1.0, 1.0]
    if illumination == "fsi":  # gate/metal stack transmission (transparent ITO gates: ~1)
        names.append("metal_stack_transmission")
        x0.append(base.metal_stack_transmission)
        lo.append(0.5)
        hi.append(1.0)
    if qe_850nm is not None or qe_940nm is not None:
        names += ["epi_thickness_um", "nir_path_factor"]
        x0 += [base.epi_thickness_um, base.nir_path_factor]
        lo += [1.5, 1.0]
        hi += [20.0, 8.0]
    x0 = np.clip(np.array(x0, float), lo, hi)
    scale = np.array(hi) - np.array(lo)
    targets = [(None, qe_peak)] + [(wl, q) for wl, q in ((850.0, qe_850nm), (940.0, qe_940nm))
                                   if q is not None]

    def pixel_of(x) -> PixelSpec:
        fields = dict(start)
        fields.update({n: float(v) for n, v in zip(names, x)})
        return PixelSpec(**fields)

    def residuals(x):
        q = modelled_qe(pixel_of(x), illumination, pitch_um)
        res = []
        for wl, target in targets:
            model = float(q.max()) if wl is None else float(np.interp(wl, FIT_GRID_NM, q))
            res.append((model - target) / 1e-3)
        prior = 0.3 * (x - x0) / scale
        return np.concatenate([np.asarray(res), prior])

    from scipy.optimize import least_squares  # lazily: ≈0.25 s to import, only for fits

    sol = least_squares(residuals, x0, bounds=(lo, hi), x_scale=scale, xtol=1e-12,
                        ftol=1e-12, gtol=1e-12, max_nfev=2000)
    pixel = pixel_of(sol.x)
    q = modelled_qe(pixel, illumination, pitch_um)
    for wl, target in targets:
        model = float(q.max()) if wl is None else float(np.interp(wl, FIT_GRID_NM, q))
        if abs(model - target) > FIT_TOLERANCE:
            what = "peak QE" if wl is None else f"QE at {wl:g} nm"
            raise ConfigError(f"pixel model cannot reach the published {what} {target:.3f} "
                              f"({illumination}, {pitch_um} µm pitch): best {model:.3f}")
    return pixel


def pixel_for(entry: SensorEntry) -> PixelSpec:
    """The PixelSpec used for a catalog sensor (fitted when a peak QE is published)."""
    ill, shutter = entry.value("illumination"), entry.value("shutter")
    nir = bool(entry.value("nir_sensitive", False))
    if entry.qe_peak is None:
        return PixelSpec(**_start_fields(ill, shutter, nir)) if nir else PixelSpec()
    return fit_pixel(ill, float(entry.value("pixel_pitch_um")), shutter,
                     float(entry.value("qe_peak")), entry.value("qe_850nm"),
                     entry.value("qe_940nm"), nir)


def emva_assumptions(entry: SensorEntry | str) -> dict[str, str]:
    """EMVA 1288 result keys whose value, measured on the twin of catalog sensor ``entry``,
    comes from an assumption or a rule rather than a published figure → why.

    The catalog has no DSNU/PRNU figures (the twin has none, so the measurement reports its
    own residual); K follows the rule of the module docstring; an unpublished dark current is
    zero; η at λ comes from the pixel model (fitted to the published peak QE, or the
    architecture default without one); figures of confidence ``estimated`` are marked with
    their note.
    """
    from ..measure.emva1288.datasheet import RESULT_KEYS

    s = get_sensor(entry) if isinstance(entry, str) else entry
    figs = s.figures()
    why = {
        "dsnu_e": "DSNU not in the catalog: the twin has none (0 e⁻); the value is the "
                  "residual of the simulated measurement, not a figure of the part",
        "prnu_percent": "PRNU not in the catalog: the twin has none (0 %); the value is the "
                        "residual of the simulated measurement, not a figure of the part",
        "system_gain_dn_per_e": "K not published: K = (2^bits − 1 − black)/full well (the "
                                "saturation at the ADC white level)",
    }
    if "dark_current_e_per_s" not in figs:
        why["dark_current_e_per_s"] = "dark current not published: the twin has none (0 e⁻/s)"
    if "qe_curve" not in figs:
        why["quantum_efficiency"] = (
            f"η at λ from the pixel model fitted to the published peak QE "
            f"{float(s.value('qe_peak')):.2f}" if "qe_peak" in figs else
            "no QE published: η from the architecture-default pixel model")
    for field, target in (("full_well_e", "saturation_capacity_e"),
                          ("read_noise_e", "temporal_dark_noise_e"), ("adc_bits", "adc_bits")):
        fig = figs.get(field)
        if fig is not None and fig.confidence == "estimated":
            why[target] = f"{field} estimated: {fig.note}"
    return {key: reason for field, reason in why.items()
            for key in RESULT_KEYS.get(field, (field,))}


def conversion_gain_dn_per_e(full_well_e: float, adc_bits: int) -> float:
    """``(2^bits − 1 − black) / full_well`` with black = 2^(bits − 6) DN (module docstring)."""
    white = 2 ** adc_bits - 1
    return (white - black_level_dn(adc_bits)) / full_well_e


def black_level_dn(adc_bits: int) -> int:
    """Black level [DN]: 2^(adc_bits − 6) (64 DN at 12 bit)."""
    return 2 ** (adc_bits - 6)


def hdr_spec_for(entry: SensorEntry):
    """(HdrSpec, lcg ConversionMode or None) of a catalog sensor's ``hdr`` figure, or
    (None, None) without one.

    The figure's value holds ``mode`` and that mode's block as
    :class:`~camtwin.sensor.hdr.HdrSpec` takes them, in catalog units:

    * ``lcg: {full_well_e, read_noise_e}`` — a low-conversion-gain read of the (large)
      photodiode: the sensor's ``lcg`` block; with ``mode: split_pixel`` it sets
      ``lpd_dual_gain``; needed by ``mode: dcg``;
    * ``split_pixel: {sensitivity_ratio, full_well_e, read_noise_e}`` and
      ``lofic: {capacitor_e, read_noise_e}``, whose ``conversion_gain_dn_per_e`` (if not
      given) follows :func:`conversion_gain_dn_per_e` of that read's full well
      (FWC_SPD; FWC_PD + C_cap for LOFIC);
    * ``dol``, ``pwl``, ``very_short``, ``switch_fraction`` as in HdrSpec.

    Raises
    ------
    ConfigError
        A value that does not make a valid HdrSpec for this sensor (message names
        ``hdr.value`` and the field).
    """
    from ..sensor.hdr import HdrSpec
    from ..sensor.spec import ConversionMode

    if entry.hdr is None:
        return None, None
    value = dict(entry.value("hdr"))
    bits = int(entry.value("adc_bits"))
    try:
        lcg = value.pop("lcg", None)
        lcg_mode = None
        if lcg is not None:
            lcg = dict(lcg)
            lcg_mode = ConversionMode(
                conversion_gain_dn_per_e=lcg.pop(
                    "conversion_gain_dn_per_e",
                    conversion_gain_dn_per_e(float(lcg["full_well_e"]), bits)), **lcg)
        if value.get("split_pixel") is not None:
            sp = dict(value["split_pixel"])
            sp.setdefault("conversion_gain_dn_per_e",
                          conversion_gain_dn_per_e(float(sp["full_well_e"]), bits))
            sp.setdefault("lpd_dual_gain", lcg_mode is not None)
            value["split_pixel"] = sp
        if value.get("lofic") is not None:
            lo = dict(value["lofic"])
            lo.setdefault("conversion_gain_dn_per_e", conversion_gain_dn_per_e(
                float(entry.value("full_well_e")) + float(lo["capacitor_e"]), bits))
            value["lofic"] = lo
        spec = HdrSpec.from_dict(value, source=f"catalog sensor {entry.name!r}: hdr.value")
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"catalog sensor {entry.name!r}: hdr.value: "
                          f"{' '.join(str(exc).split())[:300]}") from None
    return spec, lcg_mode


def to_sensor_spec(entry: SensorEntry | str) -> SensorSpec:
    """A :class:`~camtwin.sensor.spec.SensorSpec` from a catalog sensor (entry or name).

    Published full well, read noise, dark current, ADC bits, pitch and resolution are
    carried over unchanged; the rest is derived as the module docstring states.
    """
    s = get_sensor(entry) if isinstance(entry, str) else entry
    bits = int(s.value("adc_bits"))
    fw = float(s.value("full_well_e"))
    height = int(s.value("height_px"))
    stype = s.value("shutter")
    shutter = {"type": stype}
    fps = s.value("max_fps")
    if fps is not None and stype in ("rolling", "global"):
        shutter["line_time_s"] = min(1.0 / (float(fps) * height), 1e-2)
    qe = QESpec()
    if s.qe_curve is not None:
        c = s.value("qe_curve")
        qe = QESpec(curve=QuantumEfficiencyCurve(wavelengths_nm=tuple(c["wavelengths_nm"]),
                                                 values=tuple(c["values"])))
    fields = dict(
        name=s.name, width_px=int(s.value("width_px")), height_px=height,
        pixel_pitch_um=float(s.value("pixel_pitch_um")), illumination=s.value("illumination"),
        pixel=pixel_for(s) if s.qe_curve is None else PixelSpec(), cfa=s.value("cfa"), qe=qe,
        full_well_e=fw, conversion_gain_dn_per_e=conversion_gain_dn_per_e(fw, bits),
        read_noise_e=float(s.value("read_noise_e")), adc_bits=bits,
        black_level_dn=black_level_dn(bits), shutter=ShutterSpec(**shutter),
        dark_current_e_per_s=float(s.value("dark_current_e_per_s", 0.0)))
    if s.dark_reference_c is not None:
        fields["dark_reference_c"] = float(s.value("dark_reference_c"))
    if s.antiblooming_drain is not None:
        fields["noise"] = {"antiblooming_drain": float(s.value("antiblooming_drain"))}
    hdr, lcg = hdr_spec_for(s)
    if hdr is not None:
        fields["hdr"] = hdr
        if lcg is not None:
            fields["lcg"] = lcg
    return SensorSpec(**fields)


def _format_diagonal_mm(fmt: str) -> float | None:
    """Image diagonal [mm] of an optical format such as ``1/2.8"`` (video-tube convention:
    ≈ 16 mm per inch of type for 1/2" and larger, ≈ 18 mm per inch below — e.g. 1/2.8"
    ≈ 6.4 mm, 1/2.3" ≈ 7.8 mm, 2/3" ≈ 11 mm, as sensor datasheets print them)."""
    import re

    m = re.match(r'^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?\s*["”]?', str(fmt))
    if not m:
        return None
    inch = float(m.group(1)) / (float(m.group(2)) if m.group(2) else 1.0)
    return (16.0 if inch >= 0.5 else 18.0) * inch


def to_lens_spec(entry: LensEntry | str, *, object_distance_m: float = 1.0) -> LensSpec:
    """A :class:`~camtwin.optics.lens.LensSpec` from a catalog lens (entry or name).

    Carried over: focal length, f-number, the IR-cut filter (50 % point ``ir_cut_nm``,
    default 650 nm), and where published: optical distortion at full field
    (``optical_distortion_pct`` → ``distortion.percent``; TV distortion is a different
    measure and is not used), the chief-ray angle at full field (``cra_deg``), the image
    circle (from ``image_format``, 16 mm per inch of type), the projection (fisheye
    mapping, ``projection``), and the relative illumination at
    full field (``relative_illumination_pct`` = RI): the mechanical vignetting that, with
    the natural cos⁴ of the CRA, gives it, ``v = 1 − RI / cos⁴(CRA)`` (none when cos⁴ alone
    already explains the figure). The scene plane sits at ``object_distance_m``.
    """
    import math

    lens = get_lens(entry) if isinstance(entry, str) else entry
    ir = None
    if lens.value("ir_cut"):
        ir = IRCutSpec(cutoff_nm=float(lens.value("ir_cut_nm", 650.0)))
    extra: dict = {}
    dist = lens.value("optical_distortion_pct")
    if dist is not None:
        extra["distortion"] = {"percent": float(dist)}
    cra = lens.value("cra_deg")
    if cra is not None:
        extra["cra_full_field_deg"] = float(cra)
    diag = _format_diagonal_mm(lens.value("image_format", "")) if lens.value("image_format") else None
    if diag:
        extra["image_circle_mm"] = diag
    projection = lens.value("projection")
    if projection is not None:
        extra["projection"] = projection
    ri = lens.value("relative_illumination_pct")
    if ri is not None:
        cos4 = math.cos(math.radians(float(cra or 0.0))) ** 4
        v = max(0.0, 1.0 - float(ri) / 100.0 / cos4) * 100.0
        if v > 0:
            extra["shading"] = {"vignetting_percent": min(v, 99.0)}
    return LensSpec(name=lens.name, focal_length_mm=float(lens.value("focal_length_mm")),
                    f_number=float(lens.value("f_number")), object_distance_m=object_distance_m,
                    ir_cut=ir, **extra)


@lru_cache(maxsize=64)
def _module(name: str, root) -> ModuleSpec:
    m = get_module(name, root)
    sensor, lens = get_sensor(m.sensor, root), get_lens(m.lens, root)
    presets = isp_presets(root)
    if m.isp not in presets:
        raise unknown_name(f"ISP preset (catalog module {m.name!r}: isp)", m.isp, presets)
    lens_spec = to_lens_spec(lens, object_distance_m=m.object_distance_m)
    extra = {}
    if m.day_night is not None:
        lens_spec, extra["day_night"] = _day_night(m.day_night, lens_spec)
    if m.stabiliser is not None:
        extra["stabiliser"] = _stabiliser(m.stabiliser)
    return ModuleSpec(name=m.name, description=m.description or
                      f"{sensor.vendor} {sensor.part} + {lens.maker} {lens.part}",
                      sensor=to_sensor_spec(sensor), lens=lens_spec,
                      isp=presets[m.isp].spec, **extra)


def _day_night(dn, lens_spec: LensSpec):
    """(day lens, DayNightSpec) of a catalog module's ``day_night`` block: an IR-cut
    switcher puts its day filter (``ir_cut_nm``, default 650 nm) in front of a lens that
    has none; the LEDs become the illuminator (:mod:`camtwin.daynight`)."""
    from ..daynight import DayNightSpec, IlluminatorSpec

    switch = bool(dn.value("ir_cut_switcher"))
    if switch and lens_spec.ir_cut is not None:
        raise ConfigError(f"day_night.ir_cut_switcher = true: lens {lens_spec.name!r} has a "
                          "fixed IR-cut (ir_cut: true) that a switcher cannot remove; valid: "
                          "a lens without IR-cut (the switcher's filter: ir_cut_nm)")
    if switch:
        lens_spec = lens_spec.model_copy(update={
            "ir_cut": IRCutSpec(cutoff_nm=float(dn.value("ir_cut_nm", 650.0)))})
    ill = None
    if dn.illuminator_nm is not None:
        ill = IlluminatorSpec(
            wavelength_nm=int(dn.value("illuminator_nm")),
            radiant_intensity_mw_sr=float(dn.value("illuminator_radiant_intensity_mw_sr")),
            beam_angle_deg=float(dn.value("illuminator_beam_angle_deg", 60.0)))
    return lens_spec, DayNightSpec(ir_cut_switchable=switch, illuminator=ill)


def _stabiliser(st):
    """StabiliserSpec of a catalog module's ``stabiliser`` block: the ``ois`` figure's
    preset, with the figure's source as the stabiliser's source (the note stays in the
    catalog entry)."""
    from ..motion.stabilise import StabiliserSpec

    return StabiliserSpec(ois=st.ois.value, source=st.ois.source)


def to_module(name: str, root=None) -> ModuleSpec:
    """The :class:`~camtwin.module.ModuleSpec` of catalog module ``name`` (cached)."""
    return _module(name, None if root is None else str(root))
