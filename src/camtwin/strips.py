"""Row-strip capture: a sensor of any size in bounded memory, scene → raw → image file.

:func:`camtwin.camera.shoot` forms the optical image of the whole sensor at once (12 bytes
per pixel of channel planes plus the FFT buffers and the ISP's float images: 9.3 GiB measured
for a 200 MP sensor, benchmarks/RESULTS.md). This module runs the same physics strip by strip:

1. **Optics, per strip.** The strip of rows [r0, r1) plus a halo of ``h`` rows is imaged as
   a sensor window at its true field position (:func:`camtwin.camera.form_module_image`:
   the scene part it needs, with the margin of the PSF support and of the lens geometry;
   field-dependent PSF, distortion, lateral colour, relative illumination, CRA of its
   place). The electron-rate mosaic ė'(p) [e⁻/s] of the strip (CFA, CRA, crosstalk) keeps
   its interior rows, written into one float32 frame. The halo (≥ 2 CFA periods) covers
   the crosstalk kernel, so the interior equals the whole-frame result. Band groups take
   their effective wavelengths from the spectrum of the *whole* scene.
2. **Exposure** from the whole rate frame (:func:`camtwin.sensor.capture.exposure_for_rate`).
3. **Photo-charge, in place.** μ_ph = ė'·T·⟨m⟩_row (rolling shutter: row r integrates over
   [start + r·t_l, … + T]; flicker m as :func:`camtwin.sensor.timing.integrate_photo`);
   global shutter: + PLS·ė'·w_r with w_r = r·t_l, and storage dark current ·w_r. Light
   sources of a :class:`~camtwin.scene.lights.LitScene` are imaged per strip like the
   scene (each alone, where it reaches the strip) and add T·ė_k·⟨m_k⟩_row; the storage
   node and auto exposure see their time mean.
4. **Pixels, per strip.** The noise kernels draw from a counter-based stream keyed on the
   *sensor's* pixel and row index (``row0``), and the fixed-pattern maps are drawn strip
   after strip from the same generators (:class:`~camtwin.sensor.fixed_pattern.FixedPatternRows`),
   so the strips give exactly the DN of the whole frame. When any pixel might exceed full
   well (blooming on), the charge of the whole frame is generated strip by strip, bloomed
   as one frame (blooming crosses strip boundaries) and read out strip by strip.
5. **ISP, per strip** (:func:`camtwin.isp.strips.render_strips`) straight to the 8/16-bit
   image, which is written atomically.

Peak memory: the largest stage's (:func:`estimate_strip_capture_bytes`) — the scene and
one strip's optics, the frame filling as the scene's rows go back (a scene the strips
build themselves, as ``camtwin capture`` does: dropped after the optics, its rows released
as the strips pass; 12 B per sample for a photo), then N_px·(4 rate/mean + 2 DN + 3 or 6
image) and one strip's ISP — independent of the number of spectral bands; + 4·N_px of
charge when the frame blooms and the blooming kernel's work space, checked against the
budget once the charge shows how much blooms: 24 B per pixel that ends up full + 8 per
over-full pixel + 256 per bloom + 64 MB (the grouped path), or for a frame bloomed as one
group its cells (4.5 B per pixel), 8 B per over-full pixel and 36 per bloom beforehand and
its lists as they grow, within what the budget leaves (a 200 MP photo 43 % over full:
1.69 GiB of work space in all, where a bound on the lists said 10.2 GiB;
:func:`camtwin.sensor._bloom.work_bytes` ``guarded``,
:func:`camtwin.sensor._bloom.bloom` ``max_work_bytes``).

Not striped (the whole-frame path of :func:`camtwin.camera.shoot` is used, within the memory
budget): CCD shutters (smear and CTI act along whole columns), image motion and time-varying
scenes (content moves across strips), fisheye lenses (no off-axis windows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .crop import _period
from .errors import ConfigError

#: Optics working set a strip aims at [bytes] (sets the default strip height).
STRIP_TARGET_BYTES = 512 * 2**20
#: Bytes per optical-image sample of one strip's optics (scene, channel planes, FFT).
STRIP_OPTICS_BYTES_PER_SAMPLE = 64


def strip_supported(module, *, motion_px_per_s=(0.0, 0.0), scene_at=None,
                    scene=None) -> str | None:
    """None if ``module`` (and ``scene``) can be captured in strips, else the reason
    (a :class:`~camtwin.scene.lights.LitScene` can: its lights are imaged per strip)."""
    if module.sensor.hdr is not None:
        return "HDR modes are captured on the whole frame"
    if module.sensor.shutter.type == "ccd":
        return "a CCD's smear and charge transfer act along whole columns"
    if not module.lens.rectilinear:
        return "off-axis windows are not modelled for a fisheye projection"
    if scene_at is not None or any(float(v) != 0 for v in motion_px_per_s):
        return "image motion moves content across strips"
    return None


def default_strip_rows(module) -> int:
    """Strip height [rows]: about :data:`STRIP_TARGET_BYTES` of optics work, a multiple of
    16 rows (every CFA period divides it), at least 64."""
    w = module.sensor.width_px
    rows = STRIP_TARGET_BYTES // max(1, w * STRIP_OPTICS_BYTES_PER_SAMPLE)
    return int(max(64, rows // 16 * 16))


def strip_bounds(height: int, rows: int) -> list[tuple[int, int]]:
    """Consecutive (r0, r1) covering [0, height) in strips of ``rows`` rows."""
    return [(r0, min(height, r0 + rows)) for r0 in range(0, height, rows)]


def estimate_strip_capture_bytes(module, *, strip_rows: int | None = None,
                                 scene_kind: str = "chart", bits: int = 8, n_lights: int = 0,
                                 include_fixed: bool = True,
                                 release_scene: bool = False,
                                 photo_bytes: int | None = None) -> int:
    """Peak working set [bytes] of :func:`shoot_strips` (module docstring), the largest of
    its stages': building the scene (its samples and, for a photo, ``photo_bytes`` —
    reading and fitting the file, :func:`camtwin.camera.photo_build_bytes`; not given: one
    channel of the placed part of a letterboxed photo, :func:`camtwin.scene.rgb.fit_planes`);
    the optics (the scene, the
    rate frame [4 B/px] filled strip by strip and one strip's optics — with
    ``release_scene``, as :func:`capture_strips` does for a scene without lights it
    builds, the rows no later strip reads are given back as the frame fills, so at most
    the larger of the two plus a strip of scene rows); the sensor and ISP (the rate/mean
    electrons, DN and output image frames and one strip's ISP); and throughout, per light
    source its rate frame and coverage map (+ one time-mean frame). A frame that blooms
    needs 4 bytes per pixel more for its charge and blooming's work space: those are
    checked against the budget when the capture finds it blooms (before the charge frame
    is allocated, and as the work space grows)."""
    from .memory import ALLOCATOR_TOP_PAD_BYTES, FIXED_BYTES, scene_bytes_per_sample
    from .camera import scene_extent

    s = module.sensor
    n_px = int(s.width_px) * int(s.height_px)
    rows = strip_rows or default_strip_rows(module)
    (r, c), _ = scene_extent(module)
    scene = r * c * scene_bytes_per_sample(scene_kind)
    if photo_bytes is not None:
        build = scene + int(photo_bytes)
    else:
        build = scene + (scene // 3 if scene_kind == "rgb" else 0)
    lights = n_px * (8 * n_lights + 4) if n_lights else 0
    rate = 4 * n_px
    optics_strip = (rows + 64) * (s.width_px + 64) * STRIP_OPTICS_BYTES_PER_SAMPLE
    if release_scene and not n_lights and rows < s.height_px:
        # (as capture_strips releases: a scene without lights, in two strips or more; a
        # strip's scene rows and its halo held on top — the scene's rows per sensor row)
        held = max(scene, rate) + -(-(rows + 64) * scene // max(1, int(s.height_px)))
    else:
        held = scene + rate
    from .isp.strips import default_strip_rows as isp_rows, strip_working_bytes

    isp = strip_working_bytes(s.width_px, isp_rows(s.width_px, module.isp, cfa=s.cfa),
                              module.isp, cfa=s.cfa, height_px=s.height_px)
    later = n_px * (4 + 2 + 3 * bits // 8) + isp     # rate/mean, DN, image; the ISP strip
    peak = max(build, held + optics_strip, later) + lights
    # + the interpreter's own and the heap's slack the CLI keeps (memory.tune_allocator):
    # a 400 MP frame's ISP stage peaked at 3.96 GiB, what the stage's arrays and
    # FIXED_BYTES alone come to: no margin (RESULTS.md "Capture at real size", run 6)
    return int(peak + (FIXED_BYTES + ALLOCATOR_TOP_PAD_BYTES if include_fixed else 0))


def _strip_window(module, a: int, b: int):
    """(module of rows [a, b), its SensorWindow): the full width, whatever the CFA period
    (a starts on a period; the sensor's own width and height need not be multiples)."""
    from .crop import SensorWindow

    s = module.sensor
    win = SensorWindow(0, int(a), s.width_px, int(b - a), s.width_px, s.height_px)
    if b - a == s.height_px:
        return module, win
    return module.replace(sensor={"height_px": int(b - a)}), win


def _scene_rows_releasable(scene) -> bool:
    """Whether :func:`capture_strips` may give back the rows of ``scene`` its strips have
    passed: a reflectance scene (what :func:`camtwin.camera.scene_window` reads) whose
    objects and arrays only it holds (CPython reference counts: the scene built by the
    caller's function, not one the function also keeps elsewhere)."""
    import sys

    refl = getattr(scene, "reflectance", None)
    if refl is None or scene._radiance is not None:
        return False
    arrays = [a for a in (refl.index, refl.weights) if a is not None]
    # (counts, CPython 3.11–3.13: the holders, this function's names, getrefcount's
    # argument; one more holder anywhere and nothing is released)
    return (sys.getrefcount(scene) <= 3 and sys.getrefcount(refl) <= 3
            and all(a.base is None and a.flags.c_contiguous and sys.getrefcount(a) <= 4
                    for a in arrays))


def _release_scene_rows(scene, r0: int, r1: int) -> None:
    """Give rows [r0, r1) of ``scene``'s reflectance arrays back to the system
    (:func:`camtwin.memory.release_pages`; they read as 0 afterwards)."""
    from .memory import release_pages

    refl = scene.reflectance
    if refl.index is not None:
        release_pages(refl.index[r0:r1])
    if refl.weights is not None:
        for plane in refl.weights:
            release_pages(plane[r0:r1])


def _oi_geometry(module, scene):
    """A stand-in for the whole-frame optical image: what
    :func:`camtwin.sensor.capture.layout_to_pixels` reads (layout, lens, grid)."""
    from types import SimpleNamespace

    pitch = scene.sample_pitch_m * module.lens.magnification * 1e6
    h, w = scene.shape
    return SimpleNamespace(layout=dict(scene.layout), lens=module.lens, shape=(h, w),
                           sample_pitch_um=pitch, height_um=h * pitch, width_um=w * pitch)


def capture_strips(module, scene, *, exposure_s: float | None = None, rng=None,
                   strip_rows: int | None = None, band_group_nm=None, flicker=None,
                   start_s: float = 0.0, timings: dict | None = None, progress=None,
                   release_scene: bool = False):
    """Scene → :class:`~camtwin.raw.RawFrame` of ``module``'s whole sensor, strip by strip.

    Same physics and the same frame as ``shoot(module, scene, …).raw`` (module docstring):
    the mean electrons agree up to the truncation of the PSF's tails at each strip's margin
    (≤ 1 % of the frame maximum; float rounding on a uniform scene) and the DN, drawn from
    the same per-pixel streams, are identical wherever the means are
    (``tests/test_strips.py``). ``scene`` fills the
    full sensor at one sample per pixel (:func:`camtwin.camera.module_scene`).

    Parameters
    ----------
    module : ModuleSpec
    scene : Scene or camtwin.scene.lights.LitScene, or a function returning one
        A lit scene's lights are imaged strip by strip (those reaching each strip's window)
        and integrated with their waveforms over each row's window, as
        :func:`camtwin.scene.lights.expose_lit`; the raw's metadata gains ``lights``.
        A function (no arguments) builds the scene here; a scene built so (without lights)
        is dropped once the optics are done, so the sensor and ISP stages run without its
        sample arrays (a photo on the 200 MP ``phone-isocell-hp2-main``: 2.4 GB of
        reflectance weights, ``camtwin capture`` 5.2 → 3.7 GiB peak).
    release_scene : bool
        With a function as ``scene`` whose scene nothing else uses: the rows of its
        reflectance arrays that no later strip reads are given back to the system as the
        strips move down (:func:`camtwin.memory.release_pages`; they read as 0
        afterwards), so the scene and the frame being filled are never both whole
        (``camtwin capture`` sets it). Not done when something else holds the scene or
        its arrays (reference counts) or with a single strip.
    exposure_s : float, optional
        Integration time [s]; None = auto exposure (99th percentile of the rate at 60 % of
        the usable range, :func:`camtwin.sensor.auto_exposure_s`).
    rng : numpy.random.Generator or int
        Draws the frame key, as :func:`camtwin.sensor.capture`.
    strip_rows : int, optional
        Rows per strip (a multiple of the CFA period); default :func:`default_strip_rows`.
    band_group_nm : float or None
        As :func:`camtwin.camera.shoot` (default its default).
    flicker : camtwin.sensor.timing.Flicker, optional
        Light modulation (rows integrate (1/T)∫m over their own window).
    start_s : float
        Row 0's integration start [s].
    timings : dict, optional
        Receives ``optics_s`` and ``sensor_s``.
    progress : callable, optional
        ``progress(stage, done, total)``.
    """
    from .camera import form_module_image
    from .optics.stream import DEFAULT_BAND_GROUP_NM
    from .raw.frame import RawFrame
    from .sensor.capture import (_as_rng, exposure_for_rate, layout_to_pixels,
                                 rate_from_density)
    from .sensor.characterize import camera_characterization
    from .sensor.fixed_pattern import FixedPatternRows
    from .sensor.pixels import (blooming_possible, collect_charge, generate_charge, read_out,
                                simulate_pixels)

    own = callable(scene)  # (built here: no one else holds it)
    if own:
        scene = scene()
    reason = strip_supported(module, scene=scene)
    if reason:
        raise ConfigError(f"module {module.name} cannot be captured in strips: {reason}")
    from .scene.lights import LitScene

    lit = scene if isinstance(scene, LitScene) else None  # lights: imaged per strip too
    if lit is not None:
        from .scene.lights import light_boxes_px, light_signals, lights_reaching_window
        from .sensor.timing import window_means

        scene = lit.steady_scene()
        light_scenes = [lit.light_scene(j) for j in range(len(lit.lights))]
        light_frames = [np.zeros(scene.shape, np.float32) for _ in lit.lights]
    if exposure_s is not None and not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    if not np.isfinite(start_s):
        raise ConfigError(f"start_s = {start_s}: must be finite")
    s = module.sensor
    h, w = int(s.height_px), int(s.width_px)
    if tuple(scene.shape) != (h, w):
        raise ConfigError(f"strips need the scene of the full sensor ({h} × {w} samples); "
                          f"got {scene.shape}")
    period = _period(module)
    rows = default_strip_rows(module) if strip_rows is None else int(strip_rows)
    if rows < period or rows % period:
        raise ConfigError(f"strip_rows = {strip_rows}: must be a positive multiple of the "
                          f"CFA period ({period} rows)")
    bands = DEFAULT_BAND_GROUP_NM if band_group_nm is None else band_group_nm
    bands = None if bands == 0 else bands
    halo = max(4, 2 * period)
    t = {} if timings is None else timings
    note = progress or (lambda *a: None)
    strips = strip_bounds(h, rows)
    mean_l = scene.mean_spectrum() if bands is not None else None

    # 1. optics → electron rate, strip by strip (interior rows kept)
    t0 = time.perf_counter()
    frame = np.empty((h, w), np.float32)  # rate [e⁻/s], then μ_ph, then μ_ph + μ_d
    # each strip's rows with their halo: (first row a, its module, its window)
    plan = [(a, *_strip_window(module, a, b))
            for a, b in ((max(0, r0 - halo), min(h, r1 + halo)) for r0, r1 in strips)]
    margins = keep_from = None
    if (release_scene and own and lit is None and len(strips) > 1
            and _scene_rows_releasable(scene)):
        # a scene built here: the rows no later strip reads go back to the system as the
        # strips move down (camtwin.memory.release_pages), so the scene and the frame
        # being filled are not both whole at once — each strip's first scene row from
        # the margin it is imaged with (camtwin.camera.window_margin)
        from .camera import window_margin

        margins, first = [], []
        for _, _, win in plan:
            margins.append(window_margin(scene, module, win))
            first.append(max(0, win.y - margins[-1]))
        # (after strip k: the least first row of the strips after it, or h)
        keep_from = np.minimum.accumulate(np.array(first + [h])[::-1])[::-1][1:]
        released = 0
    for k, (r0, r1) in enumerate(strips):
        a, sub, win = plan[k]
        if keep_from is not None and max(0, win.y - margins[k]) < released:
            raise RuntimeError(f"strip {k} reads scene rows released before it")  # (a bug)
        ci = form_module_image(module, scene, window=win, band_group_nm=bands,
                               mean_spectrum=mean_l,
                               margin=None if margins is None else margins[k])
        rate = rate_from_density(ci.density, ci.sample_pitch_um, sub.sensor, module.lens,
                                 offset_px=ci.sensor_offset_px,
                                 full_sensor_px=ci.full_sensor_px)
        del ci
        frame[r0:r1] = rate[r0 - a:r1 - a]
        del rate
        if lit is not None:  # each light reaching the strip: its own image, its own rate
            reach = {lt.name for lt in lights_reaching_window(module, lit, win).lights}
            for j, lt in enumerate(lit.lights):
                if lt.name not in reach:
                    continue
                ci = form_module_image(module, light_scenes[j], window=win, band_group_nm=bands)
                rate_j = rate_from_density(ci.density, ci.sample_pitch_um, sub.sensor,
                                           module.lens, offset_px=ci.sensor_offset_px,
                                           full_sensor_px=ci.full_sensor_px)
                light_frames[j][r0:r1] = rate_j[r0 - a:r1 - a]
                del ci, rate_j
        if keep_from is not None and keep_from[k] > released and k + 1 < len(strips):
            _release_scene_rows(scene, released, int(keep_from[k]))
            released = int(keep_from[k])
        note("optics", k + 1, len(strips))
    t["optics_s"] = time.perf_counter() - t0
    geo = _oi_geometry(module, scene)
    illuminant, scene_md = scene.illuminant, {"scene": scene.name,
                                              "illuminance_lux": scene.illuminance_lux}
    if own and lit is None:  # the scene's samples are not needed any more
        del scene, mean_l
    note("sensor", 0, len(strips))  # (exposure, charge and blooming are the sensor's time)

    # 2. exposure; 3. photo-charge in place
    t0 = time.perf_counter()
    if exposure_s is None:
        if lit is None:
            exposure_s = exposure_for_rate(frame, s)
        else:  # the time-mean light, as camtwin.scene.lights.expose_lit
            total = frame.copy()
            for f in light_frames:
                total += f
            exposure_s = exposure_for_rate(total, s)
            del total
    exposure_s = float(exposure_s)
    gen = _as_rng(rng)
    key = int(gen.integers(0, 2**63 - 1))
    t_line = float(s.shutter.line_time_s) if s.shutter.type == "rolling" else 0.0
    wait = dark_rows = None
    if s.shutter.type == "global":  # storage node: row r waits w_r = r·t_l after the exposure
        wait = (np.arange(h) * s.shutter.line_time_s).astype(np.float32)[:, None]
        dark_rows = np.float32(s.shutter.storage_dark_current_e_per_s) * wait
    for r0, r1 in strips:  # the operations of integrate_photo + storage_node_charge
        block = frame[r0:r1]
        mean_rate = block  # the time-mean light (storage node), as sensor.capture
        if lit is not None:
            for f in light_frames:
                mean_rate = mean_rate + f[r0:r1]
        pls = None if wait is None else mean_rate * (np.float32(s.shutter.pls) * wait[r0:r1])
        if flicker is None:
            block *= np.float32(exposure_s)
        else:
            t_row = start_s + np.arange(r0, r1) * t_line
            gain = flicker.mean_over(t_row, t_row + exposure_s).astype(np.float32)
            block *= (np.float32(exposure_s) * gain)[:, None]
        if lit is not None:  # + T·ė_k·⟨m_k⟩ of each row's window (integrate_photo)
            t_row = start_s + np.arange(r0, r1) * t_line
            for lt, f in zip(lit.lights, light_frames):
                m = window_means(lt.waveform, t_row, t_row + exposure_s)
                block += f[r0:r1] * (np.float32(exposure_s) * m.astype(np.float32))[:, None]
        if pls is not None:
            block += pls
    dark0 = np.float32(s.dark_current_at() * exposure_s)

    def dark_of(r0, r1):
        return dark0 if dark_rows is None else dark0 + dark_rows[r0:r1]

    sub_sensor = {}

    def strip_sensor(n_rows):
        if n_rows not in sub_sensor:
            sub_sensor[n_rows] = _strip_window(module, 0, n_rows)[0].sensor
        return sub_sensor[n_rows]

    # 4. pixels: DN per strip — the whole-frame charge when any strip may bloom
    # (simulate_pixels' own test, with the strip's real maps)
    bloom = False
    if s.noise.blooming:
        fpr = FixedPatternRows(s.noise, h, w)
        for r0, r1 in strips:
            if blooming_possible(frame[r0:r1], dark_of(r0, r1), strip_sensor(r1 - r0),
                                 fixed=fpr.take(r1 - r0)):
                bloom = True
                break
    dn = np.empty((h, w), np.uint16)
    fpr = FixedPatternRows(s.noise, h, w)
    if not bloom:
        for k, (r0, r1) in enumerate(strips):
            fp = fpr.take(r1 - r0)
            dn[r0:r1] = simulate_pixels(frame[r0:r1], dark_of(r0, r1), strip_sensor(r1 - r0),
                                        key=key, fixed=fp, row0=r0)
            note("sensor", k + 1, len(strips))
    else:
        from .memory import (ENV_VAR, MemoryBudgetError, budget_bytes, capture_hint,
                             check_budget, current_rss_bytes, format_bytes)
        from .sensor._bloom import work_bytes as bloom_work_bytes

        # the whole-frame charge (blooming crosses strips): checked before it is allocated;
        # the ISP's strips come after it is freed
        rss = current_rss_bytes()
        check_budget(rss + 4 * h * w,
                     f"the blooming charge frame of {module.name} ({format_bytes(4 * h * w)} "
                     f"on top of {format_bytes(rss)} in use)", capture_hint(module))
        charge = np.empty((h, w), np.float32)
        for r0, r1 in strips:
            charge[r0:r1] = generate_charge(frame[r0:r1], dark_of(r0, r1),
                                            strip_sensor(r1 - r0), key=key,
                                            fixed=fpr.take(r1 - r0), row0=r0)
        # the kernel's work space grows with what blooms: checked before it runs
        fw32 = np.float32(s.effective_full_well_e)
        n_over, n_starts, excess = 0, 0, 0.0
        for r0, r1 in strips:
            m = charge[r0:r1] > fw32
            over = charge[r0:r1][m]
            n_over += over.size
            excess += float(over.sum(dtype=np.float64)) - over.size * float(fw32)
            # over-full pixels without one above or to the left: ≥ the number of blooms
            start = m.copy()
            start[:, 1:] &= ~m[:, :-1]
            start[1:] &= ~m[:-1]
            if r0 > 0:
                start[0] &= ~(charge[r0 - 1] > fw32)
            n_starts += int(np.count_nonzero(start))
        need = bloom_work_bytes(n_over, excess, float(fw32), h * w,
                                s.noise.antiblooming_drain, n_starts, guarded=True)
        rss = current_rss_bytes()
        if need:
            check_budget(rss + need,
                         f"blooming {n_over} pixels above full well in {module.name} "
                         f"({format_bytes(need)} of work space on top of {format_bytes(rss)} "
                         f"in use)", capture_hint(module))
        # the one-group path's lists grow with the bloom: checked as they do, against
        # what the budget leaves (camtwin.sensor._bloom.bloom max_work_bytes)
        room = max(budget_bytes() - rss, 0)
        try:
            charge = collect_charge(charge, s, along_columns=False, in_place=True,
                                    max_work_bytes=room)
        except MemoryBudgetError:
            raise MemoryBudgetError(
                f"blooming {n_over} pixels above full well in {module.name} needs more than "
                f"the {format_bytes(room)} of work space the budget leaves on top of "
                f"{format_bytes(rss)} in use (--max-memory or {ENV_VAR}); "
                f"{capture_hint(module)}") from None
        fpr = FixedPatternRows(s.noise, h, w)  # the same maps again, for the read-out
        for k, (r0, r1) in enumerate(strips):
            dn[r0:r1] = read_out(charge[r0:r1], strip_sensor(r1 - r0), key=key,
                                 fixed=fpr.take(r1 - r0), row0=r0)
            note("sensor", k + 1, len(strips))
        del charge
    for r0, r1 in strips:  # ground truth: μ_ph + μ_d
        frame[r0:r1] += dark_of(r0, r1)
    t["sensor_s"] = time.perf_counter() - t0

    neutral, xyz_to_cam = (None, None)
    if illuminant is not None:
        neutral, xyz_to_cam = camera_characterization(s, module.lens, illuminant)
    lit_md = {}
    if lit is not None:
        boxes = light_boxes_px(module, lit, sample_pitch_um=geo.sample_pitch_um)
        lit_md = {"start_s": float(start_s),
                  "lights": light_signals(s, lit, light_frames, boxes, exposure_s=exposure_s,
                                          start_s=start_s)}
        del light_frames
    return RawFrame(
        dn=dn, cfa=s.cfa, black_level_dn=float(s.black_level_dn),
        white_level_dn=s.white_level_dn, exposure_s=exposure_s,
        conversion_gain_dn_per_e=float(s.system_gain_dn_per_e), analog_gain=s.analog_gain,
        temperature_c=s.temperature_c, pixel_pitch_um=s.pixel_pitch_um,
        illuminant=illuminant, as_shot_neutral=neutral, xyz_to_camera=xyz_to_cam,
        sensor=s, mean_electrons=frame,
        metadata={**scene_md,
                  "layout_px": layout_to_pixels(geo.layout, geo, s),
                  "shutter": s.shutter.type, "frame_key": key,
                  "motion_px_per_s": [0.0, 0.0],
                  "flicker_hz": None if flicker is None else flicker.frequency_hz,
                  "strip_rows": rows, **lit_md})


#: Sensors above this many pixels are captured in strips by :func:`camtwin.camera` users
#: that write files (``camtwin capture``): a fixed size, not the free memory, decides, so
#: the same command gives the same image on every machine.
STRIP_ABOVE_PX = 16_000_000


def use_strips(module) -> bool:
    """Whether ``camtwin capture`` takes the strip path for ``module`` (its sensor above
    :data:`STRIP_ABOVE_PX` pixels and :func:`strip_supported`)."""
    s = module.sensor
    return s.width_px * s.height_px > STRIP_ABOVE_PX and strip_supported(module) is None


@dataclass(frozen=True, eq=False)
class StripShot:
    """A strip capture: the raw frame and its 8/16-bit rendering
    (:class:`camtwin.isp.strips.StripRendering`). ``rendered`` is None — no full-size
    float image exists; measurements use ``raw``, ``rendering.image`` and, for a
    ColorChecker, the inset patch means of the linear output (``patch_linear_means``)."""

    raw: object
    rendering: object
    rendered: None = None
    #: (24, 3) inset-patch means of the linear sRGB output of a ColorChecker, else None
    patch_linear_means: np.ndarray | None = None

    @property
    def image(self) -> np.ndarray:
        return self.rendering.image


def shoot_strips(module, scene, *, exposure_s: float | None = None, rng=None,
                 ccm: np.ndarray | None = None, strip_rows: int | None = None,
                 band_group_nm=None, check_memory: bool = True, scene_kind: str = "chart",
                 timings: dict | None = None, progress=None, start_s: float = 0.0,
                 release_scene: bool = False) -> StripShot:
    """Scene → raw → 8/16-bit image of ``module``'s whole sensor in strips: the strip
    counterpart of :func:`camtwin.camera.shoot` (module docstring), for sensors of any
    size. The working set (:func:`estimate_strip_capture_bytes`) is checked against the
    memory budget first. ``scene``, ``release_scene``: as :func:`capture_strips` (a
    function building the scene is estimated as a scene without lights)."""
    from .camera import calibration_module, module_ccm
    from .isp.strips import render_strips
    from .memory import capture_hint, check_budget

    s = module.sensor
    if check_memory:
        from .scene.lights import LitScene

        n_lights = len(scene.lights) if isinstance(scene, LitScene) else 0   # (a function: 0)
        check_budget(estimate_strip_capture_bytes(module, strip_rows=strip_rows,
                                                  scene_kind=scene_kind, n_lights=n_lights,
                                                  bits=module.isp.output_bits,
                                                  release_scene=release_scene
                                                  and callable(scene)),
                     f"strip capture of {module.name} ({s.width_px} × {s.height_px} px)",
                     capture_hint(module))
    t = {} if timings is None else timings
    raw = capture_strips(module, scene, exposure_s=exposure_s, rng=rng,
                         strip_rows=strip_rows, band_group_nm=band_group_nm, timings=t,
                         progress=progress, start_s=start_s, release_scene=release_scene)
    if module.isp.ccm == "fitted" and ccm is None and s.cfa != "mono":
        t0 = time.perf_counter()
        if progress:
            progress("colour matrix", 0, None)
        ccm = module_ccm(calibration_module(module))
        t["ccm_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if progress:
        progress("isp", 0, None)
    from .regions import inset_box

    patches = raw.metadata.get("layout_px", {}).get("patches")
    boxes = [inset_box(b) for b in patches] if patches else None
    rendering = render_strips(raw, module.isp, ccm=ccm if module.isp.ccm == "fitted" else None,
                              lens=module.lens, sensor=s, mean_boxes=boxes)
    t["isp_s"] = time.perf_counter() - t0
    return StripShot(raw=raw, rendering=rendering, patch_linear_means=rendering.box_means)
