"""Hand shake in the streamed capture: ``shoot(..., shake=, ois=)`` and ``--shake``.

Laws checked (noise-free ground truth ``raw.mean_electrons``):

* the image of an edge moved by an occupancy kernel k: its line-spread function is the
  static one convolved with k, so centroids add (edge shift = mean displacement over the
  exposure) and variances add (σ²_shaken = σ²_static + σ²_motion) — up to the bilinear
  interpolation of the warp, which adds u(1−u) ≤ 1/4 px² for a sub-pixel shift u;
* a range R bounds a standard deviation: σ_motion ≤ R/2, R the peak-to-peak extent of
  :func:`camtwin.motion.blur.blur_extent_px`; for hand shake σ/R is near that of uniform
  motion (1/√12 ≈ 0.29) and below that of a sinusoid over whole periods (1/(2√2) ≈ 0.35);
* a rolling shutter sees the motion at row r at its own time: each row's edge position
  follows the row's motion centroid (:func:`camtwin.motion.blur.row_motion`); a global
  shutter has one position for all rows.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from camtwin.camera import scene_extent, shoot
from camtwin.crop import crop_module
from camtwin.errors import ConfigError
from camtwin.memory import MemoryBudgetError, estimate_capture_bytes, using_budget
from camtwin.module import ModuleSpec, load_module
from camtwin.motion import Trajectory, shake_trajectory
from camtwin.motion.blur import blur_extent_px, capture_shaken, row_motion
from camtwin.motion.capture import shake_extra_bytes
from camtwin.scene.charts import from_rgb
from camtwin.sensor.timing import row_start_times

WARMUP_S = 2.0   # camtwin.motion.capture.WARMUP_S: a trajectory longer than it starts there


def mono_module(shutter="global", line_time_s=3e-5, w=96, h=96) -> ModuleSpec:
    """The default module cropped, monochrome (one ESF per pixel, no CFA parity)."""
    d = crop_module(load_module(), w, h).model_dump()
    d["sensor"]["shutter"].update(type=shutter, line_time_s=line_time_s, pls=0.0)
    d["sensor"]["cfa"] = "mono"
    return ModuleSpec.model_validate(d)


def edge_scene(mod, *, quadrant=True, checker_px=0):
    """Grey 40 with a 200 region: the lower-right quadrant (a vertical edge in the lower
    half, a horizontal edge in the right half), the right half-plane, or (``checker_px``)
    a checkerboard of squares of that many samples."""
    (rows, cols), width_m = scene_extent(mod)
    img = np.full((rows, cols), 40, np.uint8)
    if checker_px:
        r, c = np.mgrid[:rows, :cols] // checker_px
        img[(r + c) % 2 == 1] = 200
    else:
        img[rows // 2 if quadrant else 0:, cols // 2:] = 200
    return from_rgb(img, width_m=width_m, distance_m=mod.lens.object_distance_m, name="edge")


def lsf_moments(esf, half=30):
    """Centroid and variance [px²] of the LSF of one edge profile, over ±``half`` px about
    its centroid (the same cut for a shifted edge, so the optics' tails cancel)."""
    lo, hi = esf[:4].mean(), esf[-4:].mean()
    lsf = np.diff((esf - lo) / (hi - lo))
    x = np.arange(lsf.size) + 0.5
    m = (lsf * x).sum() / lsf.sum()
    for _ in range(2):
        keep = np.abs(x - m) <= half
        m = (lsf[keep] * x[keep]).sum() / lsf[keep].sum()
    keep = np.abs(x - m) <= half
    return m, ((x[keep] - m) ** 2 * lsf[keep]).sum() / lsf[keep].sum()


def edge_moments(raw):
    """(centroid, variance) of the vertical edge (along columns) and of the horizontal one
    (along rows) of the quadrant scene on a 96 × 96 sensor."""
    me = raw.mean_electrons.astype(np.float64)
    return (lsf_moments(me[68:92, 2:94].mean(axis=0)),
            lsf_moments(me[2:94, 68:92].mean(axis=1)))


def motion_samples(traj, mod, exposure_s, n=4000):
    """Image displacement (Δrow, Δcol) [px] of the trajectory during the exposure (global
    shutter, starting ``WARMUP_S`` into it), relative to its start."""
    f, p = mod.lens.focal_length_mm, mod.sensor.pixel_pitch_um
    d = traj.image_px(f, p)
    t = WARMUP_S + (np.arange(n) + 0.5) * exposure_s / n
    d0 = [np.interp(WARMUP_S, traj.t_s, d[:, j]) for j in range(2)]
    return np.column_stack([np.interp(t, traj.t_s, d[:, j]) - d0[j] for j in range(2)])


@pytest.fixture(scope="module")
def quadrant():
    mod = mono_module()
    sc = edge_scene(mod)
    still = shoot(mod, sc, exposure_s=0.1, rng=1)
    return mod, sc, still


def test_tripod_shake_is_the_still_capture():
    """Tripod shake (0.01 °/s) moves a 1/30 s image by < 0.05 px: the same frame to 1 %, and
    the same noise draw (the shake has its own spawned generator)."""
    mod = crop_module(load_module(), 64, 64)
    sc = edge_scene(mod)
    still = shoot(mod, sc, exposure_s=1 / 30, rng=7, ccm=np.eye(3))
    tri = shoot(mod, sc, exposure_s=1 / 30, rng=7, ccm=np.eye(3), shake="tripod")
    a, b = still.raw.mean_electrons, tri.raw.mean_electrons
    assert np.max(np.abs(a - b)) < 0.01 * a.max()
    assert tri.raw.metadata["frame_key"] == still.raw.metadata["frame_key"]
    md = tri.raw.metadata["shake"]
    assert md["shake"] == "tripod" and md["ois"] == "none"
    assert max(md["blur_px"]) < 0.05
    assert "shake" not in still.raw.metadata


@pytest.mark.parametrize("seed", [0, 2, 4, 5])
def test_handheld_edge_blur_and_shift_follow_the_trajectory(quadrant, seed):
    """1/10 s hand-held, global shutter: the edge moves by the mean displacement and widens
    by the motion's variance (module docstring); the recorded blur_px is blur_extent_px of
    the same trajectory and bounds the measured spread (σ ≤ R/2)."""
    mod, sc, still = quadrant
    exposure = 0.1
    traj = shake_trajectory("handheld", WARMUP_S + exposure + 0.05, seed)
    shot = shoot(mod, sc, exposure_s=exposure, rng=1, shake=traj, ois=None)
    d = motion_samples(traj, mod, exposure)
    pp = blur_extent_px(traj.image_px(mod.lens.focal_length_mm, mod.sensor.pixel_pitch_um),
                        traj.t_s, exposure, t0_s=WARMUP_S)
    assert shot.raw.metadata["shake"]["blur_px"] == pytest.approx(pp, rel=1e-9)
    assert max(pp) > 3.0                      # a real blur, not a still frame
    m0, m1 = edge_moments(still.raw), edge_moments(shot.raw)
    for axis, (s0, s1) in zip((1, 0), zip(m0, m1)):   # vertical edge → columns
        assert s1[0] - s0[0] == pytest.approx(d[:, axis].mean(), abs=0.15)
        extra = s1[1] - s0[1] - d[:, axis].var()      # interpolation: 0 … 1/4 px²
        assert -0.15 < extra < 0.3, (axis, extra)
        assert np.sqrt(s1[1] - s0[1]) <= pp[axis] / 2 + 0.15


def test_handheld_blur_to_extent_ratio_is_that_of_hand_motion(quadrant):
    """Over 6 draws the measured RMS blur / analytic peak-to-peak extent averages between a
    sinusoid's 0.35 and well below it (uniform motion: 0.29) — the measured blur and the
    trajectory's extent agree statistically."""
    mod, sc, still = quadrant
    exposure = 0.1
    m0 = edge_moments(still.raw)
    ratios = []
    for seed in range(6):
        traj = shake_trajectory("handheld", WARMUP_S + exposure + 0.05, 100 + seed)
        shot = shoot(mod, sc, exposure_s=exposure, rng=1, shake=traj, ois=None)
        pp = shot.raw.metadata["shake"]["blur_px"]
        m1 = edge_moments(shot.raw)
        for axis, (s0, s1) in zip((1, 0), zip(m0, m1)):
            if pp[axis] > 2.0:
                ratios.append(np.sqrt(max(s1[1] - s0[1], 0.0)) / pp[axis])
    assert len(ratios) >= 6
    assert 0.2 < np.mean(ratios) < 0.36, ratios


def test_phone_ois_reduces_the_blur(quadrant):
    """The same hand shake with the phone OIS (60 Hz loop, 0.1 Hz high-pass): blur and
    edge spread fall several-fold; ois="module" of a module without stabiliser is no OIS."""
    mod, sc, still = quadrant
    exposure = 0.1
    traj = shake_trajectory("handheld", WARMUP_S + exposure + 0.05, 0)
    off = shoot(mod, sc, exposure_s=exposure, rng=1, shake=traj)        # ois="module"
    on = shoot(mod, sc, exposure_s=exposure, rng=1, shake=traj, ois="phone")
    assert off.raw.metadata["shake"]["ois"] == "none"
    assert on.raw.metadata["shake"]["ois"] == "phone"
    b_off, b_on = (np.hypot(*s.raw.metadata["shake"]["blur_px"]) for s in (off, on))
    assert b_on < 0.25 * b_off
    m0, m_off, m_on = (edge_moments(s.raw) for s in (still, off, on))
    for k in range(2):
        spread_off = m_off[k][1] - m0[k][1]
        spread_on = m_on[k][1] - m0[k][1]
        assert spread_on < 0.2 * spread_off, (k, spread_on, spread_off)


def test_rolling_shutter_wobble_only_on_rolling_shutters():
    """A 40 Hz, 2 px yaw vibration over a 19 ms readout: a rolling shutter's rows see it at
    different phases (edge position = row motion centroid within 0.1 px), a global
    shutter's rows all see the same (≤ 0.02 px)."""
    exposure, line = 1e-3, 2e-4
    fs = 20000.0
    t = np.arange(int(0.05 * fs)) / fs
    rows = {}
    for shutter in ("rolling", "global"):
        mod = mono_module(shutter, line_time_s=line, w=64, h=96)
        k = mod.lens.focal_length_mm * 1e3 / mod.sensor.pixel_pitch_um
        ang = np.zeros((t.size, 3))
        ang[:, 1] = 2.0 / k * np.sin(2 * np.pi * 40.0 * t)
        traj = Trajectory(t, ang)
        shot = shoot(mod, edge_scene(mod, quadrant=False), exposure_s=exposure, rng=3,
                     shake=traj, ois=None)
        me = shot.raw.mean_electrons.astype(np.float64)
        lo, hi = me[:, :4].mean(axis=1, keepdims=True), me[:, -4:].mean(axis=1, keepdims=True)
        rows[shutter] = (np.sum(1.0 - (me - lo) / (hi - lo), axis=1),
                         shot.raw.metadata["shake"], mod, traj)
    pos, md, mod, traj = rows["rolling"]
    cen, _ = row_motion(traj.image_px(mod.lens.focal_length_mm, mod.sensor.pixel_pitch_um),
                        t, row_start_times(mod.sensor), exposure, n_samples=256)
    pred = cen[:, 1] - cen[0, 1]
    assert np.ptp(pred) > 1.5 and md["wobble_px"][1] == pytest.approx(np.ptp(pred), rel=0.05)
    assert np.max(np.abs((pos - pos[0]) - pred)) < 0.1
    pos_g, md_g, *_ = rows["global"]
    assert np.ptp(pos_g) < 0.02 and md_g["wobble_px"] == [0.0, 0.0]


def test_same_seed_same_frame():
    mod = crop_module(load_module(), 48, 48)
    sc = edge_scene(mod)
    a, b, c = (shoot(mod, sc, exposure_s=0.05, rng=s, ccm=np.eye(3), shake="handheld")
               for s in (11, 11, 12))
    assert np.array_equal(a.raw.dn, b.raw.dn)
    assert a.raw.metadata["shake"] == b.raw.metadata["shake"]
    assert not np.array_equal(a.raw.dn, c.raw.dn)
    assert a.raw.metadata["shake"]["blur_px"] != c.raw.metadata["shake"]["blur_px"]


def test_capture_shaken_and_shoot_are_one_implementation():
    """capture_shaken on the *spectral* optical image (every band warped) and shoot(shake=)
    on the streamed channel image (3 planes warped) give the same electrons: the warp is
    linear and commutes with the spectral sum (full band sampling; float32 round-off)."""
    from camtwin.camera import module_scene
    from camtwin.optics import form_image

    mod = crop_module(load_module(), 48, 40)
    sc = module_scene(mod, "slanted_edge", illuminance_lux=500.0)
    exposure = 0.04
    traj = shake_trajectory("walking", WARMUP_S + exposure + 0.05, 3)
    shot = shoot(mod, sc, exposure_s=exposure, rng=5, shake=traj, ois=None, ccm=np.eye(3),
                 band_group_nm=None)
    raw = capture_shaken(mod, form_image(sc, mod.lens), exposure, 5, trajectory=traj,
                         n_time_samples=None)
    a, b = shot.raw.mean_electrons, raw.mean_electrons
    assert shot.raw.metadata["shake"]["blur_px"] == raw.metadata["shake"]["blur_px"]
    assert max(shot.raw.metadata["shake"]["blur_px"]) > 2.0
    assert np.max(np.abs(a - b)) < 1e-3 * a.max()


def test_memory_budget_counts_the_shake_planes():
    mod = crop_module(load_module(), 64, 64)
    sc = edge_scene(mod)
    kind = "index" if sc.reflectance is not None and sc.reflectance.index is not None else "rgb"
    need = estimate_capture_bytes(mod, scene_kind=kind)
    extra = shake_extra_bytes(mod)
    assert extra >= 64 * 64 * (3 * 4 + 4)   # a warped copy of the planes and a rate mosaic
    with using_budget(need + extra // 2):
        shoot(mod, sc, exposure_s=0.01, rng=1, ccm=np.eye(3))
        with pytest.raises(MemoryBudgetError, match="shaken capture"):
            shoot(mod, sc, exposure_s=0.01, rng=1, ccm=np.eye(3), shake="handheld")


@pytest.mark.parametrize("kwargs, match", [
    (dict(shake="jog"), r"shake = 'jog': valid choices are tripod, handheld"),
    (dict(shake="handheld", ois="gimbal"), r"ois = 'gimbal': valid choices are module, none"),
    (dict(ois="phone"), r"ois = 'phone' needs a shake"),
])
def test_bad_shake_options_are_one_line(kwargs, match):
    mod = crop_module(load_module(), 32, 32)
    with pytest.raises(ConfigError, match=match) as exc:
        shoot(mod, edge_scene(mod), exposure_s=0.01, rng=1, ccm=np.eye(3), **kwargs)
    assert "\n" not in str(exc.value)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-W", "error", "-m", "camtwin.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_cli_capture_shake_json(tmp_path):
    r = _cli("capture", "--scene", "slanted_edge", "--crop", "96,64", "--out", "o.png",
             "--exposure-ms", "50", "--shake", "handheld", "--ois", "phone", "--json",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    sh = json.loads(r.stdout)["shake"]
    assert sh["shake"] == "handheld" and sh["ois"] == "phone"
    assert len(sh["blur_px"]) == 2 and sh["time_samples"] >= 8
    assert (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("args, words", [
    (("capture", "--scene", "uniform", "--crop", "64,64", "--out", "o.png", "--shake", "jog"),
     ("--shake", "'jog'", "handheld, walking")),
    (("capture", "--scene", "uniform", "--crop", "64,64", "--out", "o.png", "--ois", "phone"),
     ("--ois", "'phone'", "--shake")),
    (("capture", "--scene", "uniform", "--crop", "64,64", "--out", "o.png", "--shake",
      "handheld", "--ois", "gimbal"), ("--ois", "'gimbal'", "module, none, phone")),
    (("burst", "--out", "b.png", "--crop", "64", "--shake", "jog"),
     ("--shake", "'jog'", "tripod, handheld")),
])
def test_cli_bad_shake_exits_2_one_line(tmp_path, args, words):
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert all(w in r.stderr for w in words), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_burst_shake_json(tmp_path):
    r = _cli("burst", "--out", "b.png", "--crop", "64", "--frames", "2", "--shake", "handheld",
             "--exposure-ms", "20", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["shake"]["shake"] == "handheld" and "shift_px" not in out
    assert out["shake"]["pose_range_px"][0] > 0


def test_window_sees_the_motion_of_its_rows_in_the_full_frame():
    """A sensor window shot with ``start_s`` = y·t_l (its first row's start on the frame's
    clock) equals the same pixels of the full shaken frame: roll about the true optical
    axis (not the window centre) and each row's own time."""
    from camtwin.crop import window_module

    full = crop_module(load_module(), 128, 96)
    line = full.sensor.shutter.line_time_s
    sc = edge_scene(full, checker_px=12)
    exposure = 0.01
    fs = 20000.0
    t = np.arange(int(0.05 * fs)) / fs
    ang = np.zeros((t.size, 3))
    ang[:, 1] = 2e-4 * np.sin(2 * np.pi * 30.0 * t)        # yaw: ≈ 1 px at f/p = 1400 px
    ang[:, 2] = 2.0 * t                                     # roll ramp: 20 mrad per 10 ms
    traj = Trajectory(t, ang)
    x, y, w, h = 72, 56, 40, 32
    _, win = window_module(full, x, y, w, h)
    ref = shoot(full, sc, exposure_s=exposure, rng=2, ccm=np.eye(3), shake=traj, ois=None)
    sub = shoot(full, sc, exposure_s=exposure, rng=2, ccm=np.eye(3), shake=traj, ois=None,
                window=win, start_s=y * line)
    want = ref.raw.mean_electrons[y:y + h, x:x + w]
    got = sub.raw.mean_electrons
    inner = (slice(4, -4), slice(4, -4))
    assert np.max(np.abs(got[inner] - want[inner])) < 5e-3 * want.max()
    # a roll about the window centre instead of the axis (37 px away) would be off by
    # ≈ 2 rad/s · 13 ms · 37 px ≈ 1 px at the end of the capture
    assert sub.raw.metadata["shake"]["roll_deg"] > 1.0


def test_module_stabiliser_is_the_default_ois():
    """``ois="module"`` takes ``module.stabiliser.ois``: the same shake as ``ois="phone"``
    (same seed: same trajectory and gyro noise); ``ois=None`` switches it off."""
    d = crop_module(load_module(), 48, 48).model_dump()
    d["stabiliser"] = {"ois": "phone"}
    mod = ModuleSpec.model_validate(d)
    sc = edge_scene(mod)
    own, phone, off = (shoot(mod, sc, exposure_s=0.05, rng=4, ccm=np.eye(3), shake="handheld",
                             ois=o) for o in ("module", "phone", None))
    assert own.raw.metadata["shake"] == phone.raw.metadata["shake"]
    assert np.array_equal(own.raw.dn, phone.raw.dn)
    assert off.raw.metadata["shake"]["ois"] == "none"
    assert np.hypot(*off.raw.metadata["shake"]["blur_px"]) > 2 * np.hypot(
        *own.raw.metadata["shake"]["blur_px"])
