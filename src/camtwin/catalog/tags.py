"""Tags derived from catalog figures — never typed by hand.

Resolution class
----------------
From width × height: ``"< 2 MP"``, ``"2–5 MP"`` (2 ≤ MP ≤ 5), ``"> 5 MP"``.

Application rules
-----------------
Each rule reads only sourced figures (see :mod:`camtwin.catalog.schema`). A sensor gets
every tag whose rule it satisfies; the thresholds are stated in :data:`APPLICATION_RULES`.
"NIR response" means a published QE ≥ 20 % at 850 nm or ≥ 10 % at 940 nm, or a published
statement of NIR sensitivity (``nir_sensitive``).

* mobile phone — rolling shutter, BSI, pitch ≤ 1.2 µm and ≥ 12 MP (small-pixel, high-count
  main cameras).
* tablet/laptop — rolling shutter, BSI, pitch ≤ 1.4 µm and 2–64 MP.
* automotive ADAS — published automotive grade (AEC-Q100), or a published high dynamic
  range ≥ 120 dB, or an HDR output ≥ 20 bit (multi-exposure HDR needed on the road).
* automotive in-cabin — NIR response and (global shutter or automotive grade): driver and
  occupant monitoring under 850/940 nm illumination.
* security/surveillance — rolling-shutter CMOS with pitch ≥ 1.45 µm, 1–16 MP, and either
  NIR response or BSI (low-light video), or any automotive-grade HDR part ≤ 3 MP.
* industrial — global shutter or CCD with pitch ≥ 2.5 µm (machine-vision formats).
* UAV/drone — global shutter ≤ 2 MP at ≥ 100 fps (visual navigation), or a rolling BSI
  sensor ≥ 12 MP with pitch ≥ 0.8 µm (payload camera).
* smart home — rolling BSI 1–8 MP with NIR response (night-vision indoor cameras,
  doorbells), or global shutter ≤ 2 MP with NIR response (face authentication).
* medical endoscopy — active area ≤ 1.2 mm on each side (chip-on-tip scopes of a few mm
  outer diameter).

Lenses get tags too (field of view, IR cut); a module's applications are the sensor's tags
that its lens does not rule out (:func:`module_applications`). An IR-cut rules out NIR
applications only when it is fixed: a module with an IR-cut switcher (``day_night:
ir_cut_switcher``, :mod:`camtwin.daynight`) swings it out at night.
"""

from __future__ import annotations

from .schema import LensEntry, SensorEntry

#: The application tags, in display order.
APPLICATIONS = ("mobile phone", "tablet/laptop", "automotive ADAS", "automotive in-cabin",
                "security/surveillance", "medical endoscopy", "industrial", "UAV/drone",
                "smart home")

#: Resolution classes, in order.
RESOLUTION_CLASSES = ("< 2 MP", "2–5 MP", "> 5 MP")

#: Thresholds used by the rules (see the module docstring).
APPLICATION_RULES = {
    "nir_qe_850_min": 0.20,
    "nir_qe_940_min": 0.10,
    "mobile_pitch_max_um": 1.2,
    "mobile_mp_min": 12.0,
    "tablet_pitch_max_um": 1.4,
    "tablet_mp_range": (2.0, 64.0),
    "adas_dr_min_db": 120.0,
    "adas_hdr_bits_min": 20,
    "security_pitch_min_um": 1.45,
    "security_mp_range": (1.0, 16.0),
    "industrial_pitch_min_um": 2.5,
    "drone_gs_mp_max": 2.0,
    "drone_gs_fps_min": 100.0,
    "drone_rs_mp_min": 12.0,
    "drone_rs_pitch_min_um": 0.8,
    "smart_home_mp_range": (1.0, 8.0),
    "endoscope_side_max_mm": 1.2,
}


def resolution_class(width_px: int, height_px: int) -> str:
    """``"< 2 MP"``, ``"2–5 MP"`` or ``"> 5 MP"`` from the pixel count."""
    mp = width_px * height_px / 1e6
    if mp < 2.0:
        return RESOLUTION_CLASSES[0]
    return RESOLUTION_CLASSES[1] if mp <= 5.0 else RESOLUTION_CLASSES[2]


def nir_response(s: SensorEntry) -> bool:
    """Published NIR response (see the module docstring)."""
    r = APPLICATION_RULES
    return bool(s.value("qe_850nm", 0.0) >= r["nir_qe_850_min"]
                or s.value("qe_940nm", 0.0) >= r["nir_qe_940_min"]
                or s.value("nir_sensitive", False))


def sensor_applications(s: SensorEntry) -> tuple[str, ...]:
    """Application tags of a sensor from its figures (rules in the module docstring)."""
    r = APPLICATION_RULES
    shutter, ill = s.value("shutter"), s.value("illumination")
    pitch, mp, fps = s.value("pixel_pitch_um"), s.megapixels, s.value("max_fps", 0.0)
    rolling, gs = shutter == "rolling", shutter in ("global", "ccd")
    bsi, nir = ill == "bsi", nir_response(s)
    auto = bool(s.value("automotive_grade", False))
    hdr = (s.value("dynamic_range_db", 0.0) >= r["adas_dr_min_db"]
           or s.value("hdr_output_bits", 0) >= r["adas_hdr_bits_min"])
    tags = set()
    if rolling and bsi and pitch <= r["mobile_pitch_max_um"] and mp >= r["mobile_mp_min"]:
        tags.add("mobile phone")
    lo, hi = r["tablet_mp_range"]
    if rolling and bsi and pitch <= r["tablet_pitch_max_um"] and lo <= mp <= hi:
        tags.add("tablet/laptop")
    if auto or hdr:
        tags.add("automotive ADAS")
    if nir and (shutter == "global" or auto):
        tags.add("automotive in-cabin")
    lo, hi = r["security_mp_range"]
    if (rolling and pitch >= r["security_pitch_min_um"] and lo <= mp <= hi and (nir or bsi)) \
            or ((auto or hdr) and mp <= 3.0):
        tags.add("security/surveillance")
    if gs and pitch >= r["industrial_pitch_min_um"]:
        tags.add("industrial")
    if (shutter == "global" and mp <= r["drone_gs_mp_max"] and fps >= r["drone_gs_fps_min"]) \
            or (rolling and bsi and mp >= r["drone_rs_mp_min"]
                and pitch >= r["drone_rs_pitch_min_um"]):
        tags.add("UAV/drone")
    lo, hi = r["smart_home_mp_range"]
    if nir and ((rolling and bsi and lo <= mp <= hi) or (shutter == "global" and mp <= 2.0)):
        tags.add("smart home")
    side = r["endoscope_side_max_mm"]
    if s.width_mm <= side and s.height_mm <= side:
        tags.add("medical endoscopy")
    return tuple(a for a in APPLICATIONS if a in tags)


def lens_excludes(lens: LensEntry, *, ir_cut_switchable: bool = False) -> tuple[str, ...]:
    """Applications a lens rules out by its published figures.

    * a lens with a fixed IR-cut filter rules out "automotive in-cabin" (needs 850/940 nm);
      a switchable one (``ir_cut_switchable``: the filter leaves the path at night) does not;
    * a diagonal field of view > 150° (fisheye) rules out "mobile phone", "tablet/laptop"
      and "industrial" (rectilinear measurement optics);
    * a minimum object distance ≥ 0.1 m rules out "medical endoscopy" (scopes focus at mm);
    * a focal length > 8 mm rules out "mobile phone" and "tablet/laptop" (module height).
    """
    out = set()
    if lens.value("ir_cut") and not ir_cut_switchable:
        out.add("automotive in-cabin")
    if lens.value("dfov_deg", 0.0) > 150.0:
        out |= {"mobile phone", "tablet/laptop", "industrial"}
    if lens.value("min_object_distance_m", 0.0) >= 0.1:
        out.add("medical endoscopy")
    if lens.value("focal_length_mm") > 8.0:
        out |= {"mobile phone", "tablet/laptop"}
    return tuple(a for a in APPLICATIONS if a in out)


def module_applications(sensor: SensorEntry, lens: LensEntry, module=None
                        ) -> tuple[str, ...]:
    """Sensor tags that the lens does not rule out (:func:`lens_excludes`); ``module`` (a
    :class:`~camtwin.catalog.schema.ModuleEntry`) with an IR-cut switcher keeps the NIR
    applications."""
    dn = getattr(module, "day_night", None)
    switch = bool(dn is not None and dn.value("ir_cut_switcher"))
    ex = set(lens_excludes(lens, ir_cut_switchable=switch))
    return tuple(a for a in sensor_applications(sensor) if a not in ex)
