"""The numba blooming kernel (camtwin.sensor._bloom) against its whole-frame NumPy/SciPy
formulation ``collect_charge_reference`` (independent code: regions relabelled with
scipy.ndimage.label at every step), and the conservation law of the model:
Σq_out = Σn − d·Σ(n − FWC)⁺ when every region has room to spill into; and the kernel's
splitting of the frame into groups bloomed in parallel against the same algorithm run as
one window over the whole frame.
The analytic single-pixel, square and CCD-column cases are in tests/test_noise.py."""

import numpy as np
import pytest
from scipy import ndimage

from camtwin.errors import ConfigError
from camtwin.sensor import SensorSpec
from camtwin.sensor import _bloom
from camtwin.sensor._bloom import _all_over_full, _one_step, bloom, bloom_whole_frame
from camtwin.sensor.pixels import collect_charge, collect_charge_reference


def _sensor(h, w, drain):
    return SensorSpec(width_px=w, height_px=h, pixel_pitch_um=2.0, full_well_e=1000.0,
                      conversion_gain_dn_per_e=0.4, read_noise_e=2.0,
                      noise={"blooming": True, "antiblooming_drain": drain})


def _bright_blobs(rng, h, w, n, lo=1000.0, hi=30000.0):
    q = rng.uniform(0.0, 950.0, (h, w)).astype(np.float32)
    for _ in range(n):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        ry, rx = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        q[max(0, y - ry):y + ry + 1, max(0, x - rx):x + rx + 1] = rng.uniform(lo, hi)
    return q


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("drain", [0.0, 0.4])
def test_kernel_matches_the_numpy_reference(along_columns, drain):
    rng = np.random.default_rng(11)
    for trial in range(12):
        h, w = int(rng.integers(8, 70)), int(rng.integers(8, 70))
        s = _sensor(h, w, drain)
        q = _bright_blobs(rng, h, w, int(rng.integers(1, 12)))
        got = collect_charge(q, s, along_columns=along_columns)
        ref = collect_charge_reference(q, s, along_columns=along_columns)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-3 * 1000.0,
                                   err_msg=f"trial {trial} ({h}×{w})")
        assert got.max() <= 1000.0
        # the full pixels are the same set (away from rounding at the threshold)
        assert np.mean((got >= 999.999) != (ref >= 999.999)) < 1e-3


def test_charge_is_conserved_up_to_the_drain():
    rng = np.random.default_rng(5)
    for drain in (0.0, 0.25):
        s = _sensor(200, 300, drain)
        q = _bright_blobs(rng, 200, 300, 40, hi=8000.0)
        q = np.minimum(q, 8000.0)
        out = collect_charge(q, s)
        excess = np.maximum(q.astype(np.float64) - 1000.0, 0.0).sum()
        assert out.sum(dtype=np.float64) == pytest.approx(q.sum(dtype=np.float64)
                                                          - drain * excess, rel=1e-6)


def test_a_saturated_frame_loses_what_has_nowhere_to_go():
    s = _sensor(16, 16, 0.0)
    q = np.full((16, 16), 5000.0, np.float32)
    for fn in (collect_charge, collect_charge_reference):
        np.testing.assert_array_equal(fn(q, s), np.full((16, 16), 1000.0, np.float32))


def test_merging_regions_share_their_charge_like_the_reference():
    # two bright bars whose blooms meet: the union-find must merge their regions
    s = _sensor(40, 40, 0.0)
    q = np.full((40, 40), 500.0, np.float32)
    q[10, 5:35] = 6000.0
    q[16, 5:35] = 9000.0
    got, ref = collect_charge(q, s), collect_charge_reference(q, s)
    np.testing.assert_allclose(got, ref, atol=1e-2)
    full = got >= 1000.0
    lab, n = ndimage.label(full)
    assert n == 1                                       # the two blooms joined
    assert got.sum() == pytest.approx(q.sum(), rel=1e-6)


def test_input_is_not_modified_and_shape_is_checked():
    s = _sensor(8, 8, 0.0)
    q = np.full((8, 8), 100.0, np.float32)
    q[4, 4] = 3000.0
    before = q.copy()
    collect_charge(q, s)
    np.testing.assert_array_equal(q, before)
    with pytest.raises(ValueError, match="2-D"):
        collect_charge(np.zeros(8, np.float32), s)


def _whole_frame(q, fw, drain, along_columns, max_iterations=10000, tol=1e-3):
    out = q.copy()
    r = bloom_whole_frame(out, np.float32(fw), drain, along_columns, max_iterations, tol)
    return out, r


@pytest.mark.parametrize("along_columns", [False, True])
def test_grouped_kernel_equals_the_whole_frame_kernel(along_columns):
    """The frame is split into groups bloomed in parallel in their own windows, merged and
    rerun when their footprints meet: the result must be the whole-frame algorithm's.
    Dense blobs make many groups conflict; nearly full backgrounds make blooms outgrow
    their first windows; some pixels sit exactly at full well (full, nothing pending)."""
    rng = np.random.default_rng(3)
    for trial in range(6):
        h, w = int(rng.integers(60, 240)), int(rng.integers(60, 240))
        q = _bright_blobs(rng, h, w, int(rng.integers(20, 120)), hi=float(rng.choice(
            [3000.0, 30000.0, 300000.0])))
        if trial % 2:
            q = np.maximum(q, np.float32(990.0))          # little room: long blooms
        q[rng.random((h, w)) < 0.01] = 1000.0
        drain = (0.0, 0.3)[trial % 2]
        want, (steps, pend, lost) = _whole_frame(q, 1000.0, drain, along_columns)
        got = q.copy()
        g_steps, g_pend, g_lost = bloom(got, np.float32(1000.0), drain, along_columns, 10000,
                                        1e-3)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=f"trial {trial}")
        assert g_steps == steps
        assert g_lost == pytest.approx(lost, abs=1e-2)
        assert g_pend <= 1e-3


def test_grouped_kernel_honours_max_iterations():
    rng = np.random.default_rng(8)
    q = _bright_blobs(rng, 120, 150, 40, hi=300000.0)
    for it in (0, 1, 3):
        want, (steps, pend, lost) = _whole_frame(q, 1000.0, 0.0, False, max_iterations=it)
        got = q.copy()
        g = bloom(got, np.float32(1000.0), 0.0, False, it, 1e-3)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
        assert g[0] == steps == it
        assert g[1] == pytest.approx(pend, rel=1e-9)


def test_simulate_pixels_blooming_path_equals_the_split_chain():
    """simulate_pixels' blooming path (per-row over-full counts from the charge kernel, a
    reused per-thread charge buffer) gives exactly the DN of generate_charge →
    collect_charge → read_out, call after call (the buffer is reused, not carried over)."""
    from camtwin.sensor.pixels import generate_charge, read_out, simulate_pixels

    rng = np.random.default_rng(21)
    s = _sensor(90, 130, 0.2)
    photo = _bright_blobs(rng, 90, 130, 25, hi=20000.0)
    want = read_out(collect_charge(generate_charge(photo, 3.0, s, key=4), s), s, key=4)
    for _ in range(3):
        np.testing.assert_array_equal(simulate_pixels(photo, 3.0, s, key=4), want)
    other = simulate_pixels(photo * 0.5, 3.0, s, key=5)      # same buffer, other frame
    np.testing.assert_array_equal(
        other, read_out(collect_charge(generate_charge(photo * 0.5, 3.0, s, key=5), s), s,
                        key=5))
    # generate_charge(out=) writes into the caller's array, and checks it
    buf = np.empty((90, 130), np.float32)
    assert generate_charge(photo, 3.0, s, key=4, out=buf) is buf
    with pytest.raises(ConfigError, match="out must be"):
        generate_charge(photo, 3.0, s, key=4, out=np.empty((90, 130), np.float64))


@pytest.mark.parametrize("case", ["CMOS, every map", "strip (row0)", "CCD", "narrow",
                                  "16 wide", "17 wide", "a large lamp (one group)"])
def test_simulate_pixels_reads_out_again_only_what_blooming_changed(case):
    """simulate_pixels keeps the fused pass's DN wherever blooming changed no charge and
    reads out again the grouped blooms' footprints from their lists (gathering each
    pixel's row terms and maps) and the other paths' boxes (16 pixels at a time):
    exactly the DN of generate_charge → collect_charge → read_out, with every per-pixel
    map (PRNU, dark map, DSNU, RTN, row/column FPN, row noise, nonlinearity), for a
    strip of a taller frame, a CCD (blooming along columns) and frames narrower than, as
    wide as and one pixel wider than the 16-pixel run, with lamps in the corners, and
    with a large lamp that makes the frame one group (its footprint one list). A bug
    in the lists or boxes (a changed pixel in neither) leaves that pixel's unbloomed DN
    and fails the comparison."""
    from camtwin.sensor.fixed_pattern import FixedPatternRows
    from camtwin.sensor.pixels import generate_charge, read_out, simulate_pixels

    h, w = {"narrow": (70, 9), "16 wide": (70, 16), "17 wide": (70, 17)}.get(case, (90, 130))
    noise = {"blooming": True, "antiblooming_drain": 0.2, "prnu_fraction": 0.02,
             "dark_current_nonuniformity": 0.3, "dsnu_offset_e": 3.0,
             "rtn_pixel_fraction": 0.05, "rtn_amplitude_e": 4.0, "nonlinearity": 0.05}
    if case != "CCD":
        noise.update(row_fpn_e=1.5, column_fpn_e=2.0, row_noise_e=1.0)
    kw = {"shutter": {"type": "ccd"}} if case == "CCD" else {}
    s = SensorSpec(width_px=w, height_px=h, pixel_pitch_um=2.0, full_well_e=1000.0,
                   conversion_gain_dn_per_e=0.4, read_noise_e=2.0, noise=noise, **kw)
    rng = np.random.default_rng(33)
    photo = _bright_blobs(rng, h, w, 12, hi=20000.0)
    photo[rng.random((h, w)) < 0.002] = 9000.0      # single over-full pixels too
    photo[[0, 0, h - 1, h - 1], [0, w - 1, 0, w - 1]] = 12000.0     # lamps in the corners
    if case == "a large lamp (one group)":      # 600 px × 14 full wells: most of the charge
        photo[20:40, 30:60] = 15000.0
    fixed, row0 = None, 0
    if case == "strip (row0)":      # rows 40…129 of a 200-row sensor
        full = s.replace(height_px=200)
        fixed = FixedPatternRows(full.noise, 200, w)
        fixed.take(40)
        fixed, row0 = fixed.take(h), 40
    got = simulate_pixels(photo, 2.0, s, key=7, fixed=fixed, row0=row0)
    ccd = case == "CCD"
    want = read_out(collect_charge(generate_charge(photo, 2.0, s, key=7, fixed=fixed,
                                                   row0=row0), s, along_columns=ccd),
                    s, key=7, fixed=fixed, row0=row0)
    np.testing.assert_array_equal(got, want)
    # and blooming did change pixels that were not over full (else the test is empty)
    q0 = generate_charge(photo, 2.0, s, key=7, fixed=fixed, row0=row0)
    changed = collect_charge(q0, s, along_columns=ccd) != np.minimum(q0, np.float32(1000.0))
    assert changed.sum() > 20


@pytest.mark.parametrize("case", ["two squares", "two squares, as one group", "one square",
                                  "CCD bar"])
def test_grouped_kernel_on_large_windows_equals_the_whole_frame_kernel(case):
    """Windows above the small-window work space (2¹⁶ cells) start with work lists for
    half their cells and double them (rerunning the group) when a bloom needs more: on a
    nearly full background two bright squares (CMOS) bloom over most of a 420×460 frame,
    meet and outgrow their first windows (one capacity rerun, checked by hand with a
    counter); one square is the frame's only group, whose result goes straight into the
    frame (no footprint); a CCD bar blooms up and down 380 columns. (The larger square
    holds most of the charge: by default the frame is bloomed as one group —
    ``_DENSE_SHARE`` —, checked too; the grouped path is forced with ``dense_share=1``.)"""
    rng = np.random.default_rng(17)
    q = rng.uniform(950.0, 995.0, (420, 460)).astype(np.float32)
    if case == "CCD bar":
        q[200:203, 40:420] = 4000.0
    else:
        q[100:130, 80:110] = 4000.0
        if case.startswith("two squares"):
            q[300:305, 350:356] = 30000.0
    if case != "one square":
        q[rng.random(q.shape) < 0.002] = 1000.0           # exactly full: join on contact
    along_columns = case == "CCD bar"
    want, (steps, pend, lost) = _whole_frame(q, 1000.0, 0.1, along_columns)
    got = q.copy()
    share = None if case == "two squares, as one group" else 1.0
    g_steps, g_pend, g_lost = bloom(got, np.float32(1000.0), 0.1, along_columns, 10000, 1e-3,
                                    dense_share=share)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
    assert g_steps == steps and lost == 0.0 and g_lost == 0.0
    assert (got >= 1000.0).mean() > 0.3                   # the blooms are large
    if case.startswith("two squares"):      # (the path each took)
        code = _bloom._path(q.copy(), np.float32(1000.0), 0.1, along_columns, 10000,
                            1e-3, _bloom._NO_COUNTS, _bloom.dense_groups(q.size),
                            _bloom._NO_BITS, True, True,
                            _bloom._DENSE_SHARE if share is None else share)[0]
        assert (code == _bloom._TO_DENSE) == (share is None)


@pytest.mark.parametrize("case", ["all over full but one pixel", "one lamp",
                                  "green channel over full, neighbours fill"])
def test_work_space_estimate_bounds_the_measured_peak(case):
    """``work_bytes`` (what the strips capture checks against the memory budget before
    blooming) is at least the kernel's measured peak-RSS growth, in a fresh process with
    the peak reset just before the call (``camtwin.memory.call_peak_growth``), and not wildly
    above it (≤ 3× + the fixed allowance). 16 MP frames, 4100 wide (cells 8192 wide: the
    most padding), so that the per-pixel term dominates the fixed allowance (measured here:
    17 B per full pixel all over full but one pixel — one region, bloomed as one group
    over the frame; a frame *all* over full takes a short path without work space —, 18 B
    for the lamp (grouped), against the 24 B bound; 39 B per pixel for a green channel at
    3× full well whose neighbours fill (one group of 8 M regions), against ≈ 43 B from
    ``DENSE_BYTES``)."""
    import json
    import subprocess
    import sys

    code = f"""
import json, numpy as np
from camtwin.memory import call_peak_growth
from camtwin.sensor._bloom import bloom, work_bytes
h, w, fw = 4000, 4100, np.float32(1000.0)
if {case!r} == "all over full but one pixel":
    q = np.full((h, w), 5 * fw, np.float32)
    q[h // 2, w // 2] = 0.5 * fw
elif {case!r} == "green channel over full, neighbours fill":   # one group, 8 M regions
    q = np.full((h, w), 0.5 * fw, np.float32)
    q[0::2, 0::2] = 3 * fw
    q[1::2, 1::2] = 3 * fw
else:
    q = np.random.default_rng(0).random((h, w), dtype=np.float32)
    q *= 900.0
    q[1600:2400, 1600:2400] = 5 * fw
m = q > fw
starts = m.copy()
starts[:, 1:] &= ~m[:, :-1]
starts[1:] &= ~m[:-1]
over = q[m]
est = work_bytes(over.size, float(over.sum(dtype=np.float64)) - over.size * float(fw),
                 float(fw), q.size, 0.0, int(starts.sum()))
del over, m, starts
bloom(np.full((8, 8), 5 * fw, np.float32), fw, 0.0, False, 10000, 1e-3)
_, grew = call_peak_growth(bloom, q, fw, 0.0, False, 10000, 1e-3)
print(json.dumps({{"grew": grew, "est": est, "full": float((q >= fw).mean()), "n": q.size}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["full"] > 0.2 and r["grew"] is not None
    from camtwin.sensor._bloom import WORK_BYTES_FIXED
    assert r["grew"] <= r["est"] <= 3 * r["grew"] + WORK_BYTES_FIXED
    print(f"{case}: {r['grew'] / (r['full'] * r['n']):.1f} B per full pixel")


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("drain", [0.0, 0.3])
def test_a_frame_all_above_full_well_takes_the_short_path_to_the_same_result(along_columns,
                                                                             drain):
    # every pixel above full well: one region (a column each for a CCD) with nowhere to
    # spill, so its pending charge is lost in step 1 — the short path (no lists, no
    # windows) against the whole-frame window kernel, with and without per-row counts
    rng = np.random.default_rng(5)
    q = rng.uniform(1000.5, 9000.0, (37, 53)).astype(np.float32)
    want = q.copy()
    steps, pend, lost = bloom_whole_frame(want, np.float32(1000.0), drain, along_columns,
                                          10000, 1e-3)
    assert (steps, pend) == (1, 0.0)
    np.testing.assert_allclose(lost, (1 - drain) * float((q.astype(np.float64) - 1000).sum()),
                               rtol=1e-12)
    counts = np.zeros(38, np.int64)
    counts[1:] = (q > 1000.0).sum(axis=1)
    assert _all_over_full(q, np.float32(1000.0), counts)          # (the short path is taken)
    assert _all_over_full(q, np.float32(1000.0), np.zeros(0, np.int64))
    edge = q.copy()
    edge[36, 52] = 1000.0                                          # exactly full: not above
    assert not _all_over_full(edge, np.float32(1000.0), np.zeros(0, np.int64))
    for known in (None, counts):
        got = q.copy()
        out = bloom(got, np.float32(1000.0), drain, along_columns, 10000, 1e-3, known,
                    boxes=True)
        np.testing.assert_array_equal(got, want)
        assert out[:2] == (1, 0.0)
        np.testing.assert_allclose(out[2], lost, rtol=1e-12)
        np.testing.assert_array_equal(out[3], [[0, 37, 0, 53]])
    # a pending total within the tolerance is left pending (no step), as in the kernel
    q = np.full((6, 7), 1000.0001, np.float32)
    want = q.copy()
    ref = bloom_whole_frame(want, np.float32(1000.0), 0.0, along_columns, 10000, 1.0)
    got = q.copy()
    assert bloom(got, np.float32(1000.0), 0.0, along_columns, 10000, 1.0)[0] == ref[0] == 0
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("drain", [0.0, 0.3])
def test_isolated_pixels_that_bloom_in_one_step_take_the_stencil_path(along_columns, drain):
    """Over-full pixels with no full neighbour whose receivers all stay below full well
    (hot pixels; a Bayer green channel just over full well, the checkerboard) are bloomed
    as one stencil step without groups: the same charges as the whole-frame kernel and the
    NumPy reference, one step, and every changed pixel inside a returned box. One receiver
    more (pushed to full well) and the frame takes the general path, still equal."""
    rng = np.random.default_rng(8)
    for pattern in ("hot pixels", "checkerboard", "corner", "receiver fills"):
        h, w = 41, 57
        q = rng.uniform(0.0, 300.0, (h, w)).astype(np.float32)
        if pattern == "hot pixels":    # (a receiver gets ≤ 4 × 125 e⁻: stays below 1000)
            q[rng.random((h, w)) < 0.05] = 1500.0
            q[(np.roll(q, 1, 0) > 1000) | (np.roll(q, 1, 1) > 1000)] = 100.0  # isolate
        elif pattern == "checkerboard":
            q[0::2, 0::2] = 1300.0
            q[1::2, 1::2] = 1300.0
        elif pattern == "corner":
            q[0, 0] = q[-1, -1] = q[0, -1] = 1500.0
        else:
            q[20, 20] = 4000.0
            q[19, 20] = 999.0          # fills from 20,20's share: general path
        s = _sensor(h, w, drain)
        over = np.flatnonzero(q > 1000.0).astype(np.int32)
        assert _one_step(q, over, np.float32(1000.0), 1 - drain, along_columns) == (
            pattern != "receiver fills"), pattern
        want = q.copy()
        steps, _, _ = bloom_whole_frame(want, np.float32(1000.0), drain, along_columns,
                                        10000, 1e-3)
        got = q.copy()
        g_steps, pend, lost, boxes = bloom(got, np.float32(1000.0), drain, along_columns,
                                           10000, 1e-3, boxes=True)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3, err_msg=pattern)
        ref = collect_charge_reference(q, s, along_columns=along_columns)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-3 * 1000.0, err_msg=pattern)
        assert g_steps == steps and (pattern == "receiver fills") == (steps > 1)
        assert pend == 0.0 and lost == 0.0
        assert _changed_outside_boxes(got, q, boxes)[1] == 0, pattern


@pytest.mark.parametrize("along_columns", [False, True])
def test_a_frame_of_many_components_bloomed_as_one_group_equals_the_whole_frame_kernel(
        along_columns):
    """Above ``dense_at`` components the frame is one group (no per-group bookkeeping,
    which cost +2.2 GB on 12 MP for a Bayer green channel over full well whose neighbours
    then fill): the same charges and steps as the whole-frame window kernel and the
    grouped path, on checkerboards (every component one pixel, merging as the receivers
    fill) and random blobs with exactly-full pixels."""
    rng = np.random.default_rng(13)
    for trial in range(16):
        h, w = int(rng.integers(3, 45)), int(rng.integers(3, 45))
        drain = (0.0, 0.3)[trial % 2]
        q = rng.uniform(0.0, 900.0, (h, w)).astype(np.float32)
        if trial % 3 == 0:
            q[0::2, 0::2] = 3000.0
            q[1::2, 1::2] = 3000.0
        else:
            m = rng.random((h, w)) < 0.3
            q[m] = rng.uniform(1000.5, 6000.0, int(m.sum()))
        q[rng.random((h, w)) < 0.02] = 1000.0
        want = q.copy()
        steps = bloom_whole_frame(want, np.float32(1000.0), drain, along_columns, 10000, 1e-3)[0]
        grouped = q.copy()
        bloom(grouped, np.float32(1000.0), drain, along_columns, 10000, 1e-3)
        got = q.copy()
        out = bloom(got, np.float32(1000.0), drain, along_columns, 10000, 1e-3, boxes=True,
                    dense_at=0)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=f"trial {trial}")
        np.testing.assert_allclose(got, grouped, rtol=0, atol=1e-2, err_msg=f"trial {trial}")
        assert out[0] == steps
        np.testing.assert_array_equal(out[3], [[0, h, 0, w]])   # (the one-group path)


@pytest.mark.parametrize("level, rb", [(1.2, 300.0), (3.0, 700.0), (5.0, 1200.0), (1.5, 0.0)])
def test_simulate_pixels_equals_the_split_chain_on_the_short_paths(level, rb):
    """A Bayer green channel over full well — one stencil step (1.2×, R/B at 300 e⁻), one
    group over the frame (3×, R/B fill), every pixel over full (5×, R/B at 1200 e⁻) — and
    sparse hot pixels (1.5×, 1 % of a 300 e⁻ frame: the stencil's 3 × 3 boxes), read out
    from the boxes those paths return: exactly the DN of generate_charge → collect_charge
    → read_out."""
    from camtwin.sensor.pixels import generate_charge, read_out, simulate_pixels

    s = _sensor(47, 61, 0.2)
    if rb:
        photo = np.full((47, 61), rb, np.float32)
        photo[0::2, 0::2] = level * 1000.0
        photo[1::2, 1::2] = level * 1000.0
    else:
        photo = np.full((47, 61), 300.0, np.float32)
        photo[5:45:9, 3:60:11] = level * 1000.0         # 30 pixels, far apart
    want = read_out(collect_charge(generate_charge(photo, 3.0, s, key=4), s), s, key=4)
    np.testing.assert_array_equal(simulate_pixels(photo, 3.0, s, key=4), want)


@pytest.mark.parametrize("along_columns", [False, True])
def test_components_by_runs_partition_the_over_full_pixels_like_scipy_label(along_columns):
    """The run-based labelling (``_components``: a row's adjacent over-full pixels are a
    run, a run joins the runs above that share a column) gives the same partition as
    ``scipy.ndimage.label`` with the 4-neighbour cross (columns only for a CCD: a vertical
    structuring element), on random masks of 2–60 % density, including runs that wrap
    from one row's end to the next row's start in the flat index (not adjacent)."""
    from camtwin.sensor._bloom import _components

    rng = np.random.default_rng(11)
    st = (np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], bool) if along_columns
          else ndimage.generate_binary_structure(2, 1))
    for density in (0.02, 0.2, 0.45, 0.6):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        m = rng.random((h, w)) < density
        m[0, -1] = m[1, 0] = True               # flat neighbours across a row end
        idx = np.flatnonzero(m).astype(np.int32)
        rstart, rcomp = _components(idx, w, along_columns)
        assert rstart[0] == 0 and rstart[-1] == idx.size and np.all(np.diff(rstart) > 0)
        comp = np.repeat(rcomp, np.diff(rstart))                # each pixel's root run
        lab, _ = ndimage.label(m, structure=st)
        ref = lab.ravel()[idx]
        # the same partition: a bijection between the two labellings
        pairs = set(zip(comp.tolist(), ref.tolist()))
        assert len(pairs) == len(set(comp.tolist())) == len(set(ref.tolist()))
        # a root is the smallest run index of its component (the set-up relies on it)
        assert np.all(rcomp <= np.arange(rcomp.size)) and np.all(rcomp[rcomp] == rcomp)
        # runs: same row, adjacent columns (single pixels for a CCD)
        for r in range(rcomp.size):
            run = idx[rstart[r]:rstart[r + 1]]
            assert len(set((run // w).tolist())) == 1 and np.all(np.diff(run) == 1)
            assert not along_columns or run.size == 1
            if r > 0 and not along_columns:    # maximal: not the previous run's next pixel
                prev = idx[rstart[r] - 1]
                assert not (run[0] == prev + 1 and run[0] // w == prev // w)


def test_over_full_bits_and_the_pixels_found_by_them_match_numpy():
    """The fused pass's mask of pixels above full well (``over_full_bits``: bit u of word b
    ↔ column 64·b + u, the last word zero-padded) equals NumPy's ``packbits`` of ``q > FWC``
    (little bit order, eight bytes read as one little-endian uint64), on widths around the
    word size (1, 63, 64, 65, 129 …) with an over-full pixel in the last column; and the
    list ``_over_full`` reads off those bits (indices and charges) equals both the list it
    finds by scanning the frame and ``np.flatnonzero`` — including a row whose pixels are
    all over full and rows with none."""
    from camtwin.sensor._bloom import _over_full
    from camtwin.sensor._kernels import over_full_bits

    rng = np.random.default_rng(5)
    fw = np.float32(1000.0)
    for h, w in ((1, 1), (3, 63), (5, 64), (7, 65), (20, 200), (4, 129), (9, 4001)):
        q = rng.uniform(0.0, 1100.0, (h, w)).astype(np.float32)
        q[0, -1] = 2000.0
        q[h // 2] = 1500.0 if h > 2 else q[h // 2]
        if h > 3:
            q[1] = 10.0
        m = q > fw
        words = -(-w // 64)
        ref = np.packbits(np.pad(m, ((0, 0), (0, 64 * words - w))), axis=1,
                          bitorder="little").view("<u8")
        bits = np.full((h, words), 0xFFFF, np.uint64)       # (every word is written)
        for i in range(h):
            over_full_bits(q[i], fw, bits[i])
        np.testing.assert_array_equal(bits, ref)
        counts = np.zeros(h + 1, np.int64)
        counts[1:] = m.sum(axis=1)
        want = np.flatnonzero(m)
        by_bits = _over_full(q, fw, counts, bits)
        by_scan = _over_full(q, fw, counts, np.zeros((0, 1), np.uint64))
        for idx, val in (by_bits, by_scan):
            np.testing.assert_array_equal(idx, want)
            if val.size:                    # (kept when ≤ 1/20 of the frame is over full)
                np.testing.assert_array_equal(val, q.ravel()[want])
        np.testing.assert_array_equal(by_bits[1], by_scan[1])


def test_footprint_sort_orders_pixels_and_their_charges_like_argsort():
    """``_sort_footprint`` (a three-pass radix sort of the distinct pixel indices
    0 ≤ p < 2³¹, carrying each pixel's charge) sorts a segment in place exactly as
    ``np.argsort`` orders it, leaves the rest of the buffers alone, and handles indices
    that differ only in the top digit (bits 22–30) and segments of 0 and 1 entries."""
    from camtwin.sensor._bloom import _sort_footprint

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 5000, 70_000):
        keys = rng.choice(2 ** 31 - 1, size=n, replace=False).astype(np.int32)
        if n > 4:
            keys[:3] = [2 ** 30 + 7, 7, 2 ** 22 + 7]        # same low digits
        pix = np.concatenate([[-1, -2], keys, [-3]]).astype(np.int32)
        val = rng.random(pix.size).astype(np.float32)
        want = np.argsort(keys, kind="stable")
        want_pix, want_val = keys[want], val[2:2 + n][want]
        _sort_footprint(pix, val, 2, n)
        np.testing.assert_array_equal(pix[2:2 + n], want_pix)
        np.testing.assert_array_equal(val[2:2 + n], want_val)
        assert pix[:2].tolist() == [-1, -2] and pix[-1] == -3


def test_a_bit_mask_of_the_wrong_shape_is_refused():
    """``bloom(..., counts, bits=...)`` reads the frame at the mask's set bits without
    bounds checks: a mask that does not have one uint64 word per 64 columns of every row
    is refused before the kernel runs, and the frame is left as it was."""
    q = np.full((4, 70), 100.0, np.float32)
    q[1, 65] = 5000.0
    counts = np.array([0, 0, 1, 0, 0], np.int64)
    before = q.copy()
    for bad in (np.zeros((4, 1), np.uint64), np.zeros((4, 2), np.int64),
                np.zeros((3, 2), np.uint64)):
        with pytest.raises(ValueError, match="bits must be a uint64 array of shape"):
            bloom(q, np.float32(1000.0), 0.0, False, 10000, 1e-3, counts, bits=bad)
        np.testing.assert_array_equal(q, before)
    good = np.zeros((4, 2), np.uint64)
    good[1, 1] = np.uint64(1) << np.uint64(1)
    bloom(q, np.float32(1000.0), 0.0, False, 10000, 1e-3, counts, bits=good)
    assert q.max() <= 1000.0 and q[1, 65] == 1000.0


def _speckle(rng, h, w, level=0.95, sigma=31.6):
    """A frame exposed near full well (1000 e⁻) in its top two thirds, its shot noise
    (√1000 e⁻; at 0.95× full well it puts 6 % of those pixels over) making speckle of
    small components with little pending charge, most of whose receivers stay below full
    well; plus a few pixels far over (their receivers fill) and a few exactly full."""
    q = rng.uniform(0.0, 950.0, (h, w)).astype(np.float32)
    q[:2 * h // 3] = rng.normal(level * 1000.0, sigma, (2 * h // 3, w)).clip(0)
    q[rng.random((h, w)) < 2e-4] = 5000.0
    q[rng.random((h, w)) < 1e-3] = 1000.0
    return q


def _changed_outside_boxes(got, q, boxes, fw=1000.0):
    """(number of pixels blooming changed — not only limited to full well —, number of
    those outside every returned box)."""
    inside = np.zeros(q.shape, bool)
    for r0, r1, c0, c1 in boxes:
        inside[r0:r1, c0:c1] = True
    changed = got != np.minimum(q, np.float32(fw))
    return int(changed.sum()), int((changed & ~inside).sum())


def _first_step_taken(q, drain, along_columns, tol=1e-3):
    """(pixels bloomed by the one-step stencil of components, components left to the
    grouped path) on a copy of q."""
    fw = np.float32(1000.0)
    idx, _ = _bloom._over_full(q, fw, _bloom._NO_COUNTS, _bloom._NO_BITS)
    rstart, rcomp = _bloom._components(idx, q.shape[1], along_columns)
    n_comp = _bloom._compact_ids(rcomp)
    assert n_comp >= _bloom._FIRST_STEP_MIN_GROUPS        # (else the path is not tried)
    assert idx.size <= _bloom._FIRST_STEP_MAX_SIZE * n_comp
    comp = np.repeat(rcomp, np.diff(rstart)).astype(np.int32)
    bad, n_done, _, _ = _bloom._first_step_alone(q.copy(), idx, comp, n_comp, fw,
                                                 1.0 - drain, along_columns, tol)
    return n_done, int(bad.sum())


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("drain", [0.0, 0.5])
def test_speckle_over_full_well_blooms_by_a_stencil_step_like_the_whole_frame(along_columns,
                                                                          drain):
    """Components whose receivers all stay below full well in the first step (speckle just
    over full well) bloom in one stencil step; the others go on in groups on the frame
    that step left, where the stencil's pixels are exactly full (they join a bloom that
    reaches them, as in the whole-frame steps). The result must be the whole-frame
    algorithm's — with every step count, and every changed pixel inside a returned box
    (the pixels read out again)."""
    rng = np.random.default_rng(41 + along_columns)
    h, w = 200, 320
    for trial in range(3):
        q = _speckle(rng, h, w, level=(0.95, 0.955, 0.96)[trial])
        n_done, n_left = _first_step_taken(q, drain, along_columns)
        assert n_done > 500 and n_left > 0         # both paths, on most of the speckle
        for it in (1, 2, 10000):
            want, (steps, pend, lost) = _whole_frame(q, 1000.0, drain, along_columns, it)
            got = q.copy()
            g_steps, g_pend, g_lost, boxes = bloom(got, np.float32(1000.0), drain,
                                                   along_columns, it, 1e-3, boxes=True)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-2,
                                       err_msg=f"trial {trial}, {it} steps")
            assert g_steps == steps
            assert g_lost == pytest.approx(lost, abs=1e-2)
            assert g_pend == pytest.approx(pend, abs=1e-2) if it < 10000 else g_pend <= 1e-3
            n_changed, n_outside = _changed_outside_boxes(got, q, boxes)
            assert n_changed > 1000 and n_outside == 0


def test_no_stencil_step_when_the_pending_charge_is_within_the_tolerance():
    """The steps run while the total pending charge exceeds the tolerance: below it no
    step is made (the over-full pixels are only clipped, their charge left pending) —
    the stencil step of speckle too."""
    rng = np.random.default_rng(44)
    q = _speckle(rng, 200, 320)
    q[q > 1500.0] = 999.0                   # (no pixel far over)
    pending = float(np.maximum(q.astype(np.float64) - 1000.0, 0.0).sum())
    assert _first_step_taken(q, 0.0, False)[0] > 0
    for tol, steps in ((pending * 1.01, 0), (pending * 0.99, 1)):
        want, r = _whole_frame(q, 1000.0, 0.0, False, 10000, tol)
        got = q.copy()
        g = bloom(got, np.float32(1000.0), 0.0, False, 10000, tol)
        assert g[0] == r[0] == steps
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
        assert g[1] == pytest.approx(r[1], abs=1e-6)


def test_simulate_pixels_on_speckle_over_full_well_equals_the_split_chain():
    """The stencil step's boxes (here one band of rows) hold every pixel it changed: the
    DN of simulate_pixels are exactly those of generate_charge → collect_charge →
    read_out on a frame exposed to full well (its shot noise makes the speckle)."""
    from camtwin.sensor.pixels import generate_charge, read_out, simulate_pixels

    h, w = 200, 320
    s = _sensor(h, w, 0.5)
    photo = np.full((h, w), 600.0, np.float32)
    photo[:140] = 950.0
    photo[170, 30] = 9000.0
    q0 = generate_charge(photo, 2.0, s, key=3)
    assert _first_step_taken(q0, 0.5, False)[0] > 500
    want = read_out(collect_charge(q0, s), s, key=3)
    np.testing.assert_array_equal(simulate_pixels(photo, 2.0, s, key=3), want)


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("path", ["one group", "groups"])
def test_a_frame_exposed_at_full_well_equals_the_whole_frame(along_columns, path):
    """A frame exposed right at full well (shot noise puts half of its pixels over, their
    neighbours just under): nearly every frontier pixel fills in the first steps, so the
    frontier shrinks and its live slots are moved down (``_COMPACT_FREE``) — in the
    one-group path (the whole top of the frame) and in a group (a patch). Values, steps,
    lost charge and boxes as the whole-frame algorithm, with 1, 2, 3 and all steps."""
    rng = np.random.default_rng(47 + along_columns)
    if path == "one group":
        h, w = 200, 320
        q = _speckle(rng, h, w, level=1.0)
    else:       # (two lone pixels far off: the rows holding over-full pixels are many)
        h, w = 600, 600
        q = rng.uniform(0.0, 900.0, (h, w)).astype(np.float32)
        q[200:360, 150:310] = rng.normal(1000.0, 31.6, (160, 160))
        q[2, 5] = q[597, 590] = 1200.0
    over = int((q > 1000.0).sum())
    assert over > 4 * _bloom._COMPACT_FREE              # (the frontier outgrows it)
    code = _bloom._path(q.copy(), np.float32(1000.0), 0.2, along_columns, 10000, 1e-3,
                        _bloom._NO_COUNTS, _bloom.dense_groups(q.size),
                        _bloom._NO_BITS, False, True,
                        _bloom._DENSE_SHARE)[0]  # (after any stencil step)
    assert (code == _bloom._TO_DENSE) == (path == "one group")
    for it in (1, 2, 3, 10000):
        want, (steps, pend, lost) = _whole_frame(q, 1000.0, 0.2, along_columns, it)
        got = q.copy()
        g_steps, g_pend, g_lost, boxes = bloom(got, np.float32(1000.0), 0.2, along_columns,
                                               it, 1e-3, boxes=True)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=f"{it} steps")
        assert g_steps == steps and (it < 10000) == (steps == it)
        assert g_lost == pytest.approx(lost, abs=1e-2)
        # (the oracle keeps its charges in float32 between steps: ~1e-4 e⁻ per pixel)
        assert g_pend == pytest.approx(pend, rel=1e-5) if it < 10000 else g_pend <= 1e-3
        assert _changed_outside_boxes(got, q, boxes)[1] == 0


@pytest.mark.parametrize("along_columns", [False, True])
@pytest.mark.parametrize("drain", [0.0, 0.3])
def test_the_one_group_path_reruns_when_a_bloom_leaves_its_band_of_rows(along_columns, drain):
    """The one-group path looks only at the rows holding the over-full pixels and a margin
    from their pending charge; a bloom reaching the margin's edge (here along a line of
    pixels exactly at full well, which join without a step) makes it rerun with a wider
    one. The result must be the whole-frame algorithm's, with the strip of speckle at
    full well taking that path by itself (many components, dense in their rows)."""
    rng = np.random.default_rng(53 + along_columns)
    h, w = 600, 800
    q = rng.uniform(0.0, 900.0, (h, w)).astype(np.float32)
    # (a CCD's components are runs along columns: higher, they are not speckle — the
    # stencil step's — but still ≥ 1024 of them)
    q[:30] = rng.normal(1016.0 if along_columns else 1000.0, 31.6, (30, w))
    assert (q > 1000.0).sum() * _bloom._DENSE_OVER < h * w      # (not by the frame's share)
    line = q.copy()
    line[30:260, 100] = 1000.0                  # exactly full: 230 rows of it
    for frame, dense_at in ((q, None), (line, None), (line, 0)):
        code = _bloom._path(frame.copy(), np.float32(1000.0), drain, along_columns,
                            10000, 1e-3, _bloom._NO_COUNTS,
                            _bloom.dense_groups(frame.size) if dense_at is None
                            else dense_at, _bloom._NO_BITS, True, True,
                            _bloom._DENSE_SHARE)[0]
        assert code == _bloom._TO_DENSE
        want, (steps, pend, lost) = _whole_frame(frame, 1000.0, drain, along_columns)
        got = frame.copy()
        g_steps, g_pend, g_lost = bloom(got, np.float32(1000.0), drain, along_columns, 10000,
                                        1e-3, dense_at=dense_at)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
        assert g_steps == steps and g_pend <= 1e-3
        assert g_lost == pytest.approx(lost, abs=1e-2)
    assert (got[30:260, 100] == 1000.0).all()         # (the line joined the bloom)


@pytest.mark.parametrize("n_new", [0, 1, 5, 40, 300])
def test_box_pairs_are_the_overlapping_pairs_with_a_new_box(n_new):
    """Candidate pairs of footprints (and of windows, premerge boxes): every pair of
    overlapping half-open boxes of which at least one is new, each once (binned into
    cells, reported in the cell of their intersection's corner), against a brute-force
    NumPy count."""
    rng = np.random.default_rng(n_new)
    h, w, n = 300, 400, 300
    r0, c0 = rng.integers(0, h - 1, n), rng.integers(0, w - 1, n)
    box = np.stack([r0, np.minimum(r0 + rng.integers(1, 30, n), h),
                    c0, np.minimum(c0 + rng.integers(1, 30, n), w)], axis=1).astype(np.int64)
    is_new = np.zeros(n, bool)
    is_new[rng.permutation(n)[:n_new]] = True
    got = _bloom._box_pairs(box, is_new, h, w)
    got = {tuple(sorted(p)) for p in got.tolist()}
    a, b = np.triu_indices(n, 1)
    meet = ((box[a, 0] < box[b, 1]) & (box[b, 0] < box[a, 1]) & (box[a, 2] < box[b, 3])
            & (box[b, 2] < box[a, 3]) & (is_new[a] | is_new[b]))
    want = set(zip(a[meet].tolist(), b[meet].tolist()))
    assert got == want
    assert len(_bloom._box_pairs(box, is_new, h, w)) == len(want)      # (each once)
    if n_new >= 5:
        assert len(want) > 0


def _frames_of_every_path(rng):
    """(label, frame) for each path of bloom: groups, the one group of many components,
    speckle (stencil step, then groups), isolated pixels (one step), one lamp alone
    (written straight into the frame), every pixel over full well."""
    blobs = _bright_blobs(rng, 150, 170, 60, hi=30000.0)
    bayer = np.full((120, 140), 500.0, np.float32)
    bayer[0::2, 0::2] = 3000.0
    bayer[1::2, 1::2] = 3000.0
    iso = rng.uniform(0.0, 500.0, (90, 110)).astype(np.float32)
    iso[rng.random((90, 110)) < 0.01] = 1800.0
    lamp = rng.uniform(0.0, 900.0, (80, 90)).astype(np.float32)
    lamp[30:36, 40:47] = 40000.0
    among = _bright_blobs(rng, 150, 170, 30, hi=8000.0)
    among[60:80, 70:95] = 12000.0       # 500 px × 11 full wells: most of the frame's charge
    return [("groups", blobs), ("one group (dense)", bayer),
            ("speckle", _speckle(rng, 200, 320)), ("one step", iso), ("one lamp", lamp),
            ("all over", np.full((40, 50), 5000.0, np.float32)),
            ("one group (a large bloom among small ones)", among)]


@pytest.mark.parametrize("along_columns", [False, True])
def test_one_large_bloom_among_small_ones_makes_the_frame_one_group(along_columns):
    """A group holding more than ``_DENSE_SHARE`` of the pending charge and more than
    ``_DENSE_SHARE_MIN`` full wells sends the frame to the one-group path (a photo's
    highlight among small ones: the grouped path reran it round after round) — one
    component (decided before the premerge) or several the premerge joins (a lamp in
    stripes, no stripe holding 10 % of the charge nor 1024 full wells); a smaller lamp, or
    the grouped path forced with ``dense_share=1``, does not. Every way, the result is
    the whole-frame algorithm's."""
    rng = np.random.default_rng(91 + along_columns)
    small = _bright_blobs(rng, 150, 170, 30, hi=8000.0)
    # (a CCD's components are runs along a column: its lamp is a column of 100 pixels)
    lamp = np.s_[20:120, 80] if along_columns else np.s_[60:80, 70:95]
    for label, level, path in (("large lamp", 15000.0, "one group"),
                               ("lamp in stripes", 30000.0, "one group"),
                               ("lamp of < 1024 full wells", 1500.0, "groups")):
        q = small.copy()
        q[lamp] = level             # 14, 29 or 0.5 full wells in each of 100 or 500 pixels
        if label == "lamp in stripes":  # (every other row below full well)
            rows = np.arange(q.shape[0])[lamp[0]]
            q[rows[1::2], lamp[1]] = 900.0
            over = q > 1000.0
            lab, n = ndimage.label(over, [[0, 1, 0], [0, 1, 0], [0, 1, 0]] if along_columns
                                   else None)
            comp = ndimage.sum(np.where(over, q - 1000.0, 0.0), lab, np.arange(1, n + 1))
            assert comp.max() < 0.1 * comp.sum() and 0.8 * comp.max() < 1024 * 1000.0
        pend = 0.8 * float(np.clip(q[lamp] - 1000.0, 0, None).sum()) / 1000.0  # (drain 0.2)
        assert (pend > _bloom._DENSE_SHARE_MIN) == (path == "one group"), pend
        want, (steps, p_want, l_want) = _whole_frame(q, 1000.0, 0.2, along_columns)
        for share in (None, 1.0):
            code = _bloom._path(q.copy(), np.float32(1000.0), 0.2, along_columns,
                                10000, 1e-3, _bloom._NO_COUNTS,
                                _bloom.dense_groups(q.size), _bloom._NO_BITS, True,
                                True, _bloom._DENSE_SHARE if share is None else share)[0]
            assert (code == _bloom._TO_DENSE) == (share is None and path == "one group"), label
            got = q.copy()
            g_steps, g_pend, g_lost = bloom(got, np.float32(1000.0), 0.2, along_columns,
                                            10000, 1e-3, dense_share=share)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=label)
            assert g_steps == steps and g_lost == pytest.approx(l_want, abs=1e-2)


def _components_for_premerge(q, fw, keep, along_columns):
    """(n, bbox, excess, margin) of the components of q as ``_bloom_groups`` gives them to
    the premerge (boxes half-open; pending charge (1 − d)·(q − FWC) summed per
    component), or None when the frame takes another path before the grouped one."""
    h, w = q.shape
    out = _bloom._bloom_frame(q.copy(), np.float32(fw), 1.0 - keep, along_columns, 10000,
                              1e-3, _bloom._NO_COUNTS, _bloom.dense_groups(q.size),
                              _bloom._NO_BITS, False, False, 1.0)
    if out[0] != _bloom._TO_GROUPS:
        return None
    idx, rstart, n, rcomp, val = out[4], out[5], out[6], out[8], out[9]
    comp = np.repeat(rcomp, np.diff(rstart))
    rows, cols = idx // w, idx % w
    bbox = np.empty((n, 4), np.int64)
    bbox[:, 0], bbox[:, 1], bbox[:, 2], bbox[:, 3] = h, 0, w, 0
    np.minimum.at(bbox[:, 0], comp, rows)
    np.maximum.at(bbox[:, 1], comp, rows + 1)
    np.minimum.at(bbox[:, 2], comp, cols)
    np.maximum.at(bbox[:, 3], comp, cols + 1)
    excess = np.zeros(n)
    np.add.at(excess, comp, (val.astype(np.float64) - fw) * keep)
    margin = _bloom._margins(q.reshape(-1), bbox, excess, h, w, float(fw), along_columns,
                             _bloom._ROOM_FACTOR)
    return n, bbox, excess, margin


@pytest.mark.parametrize("along_columns", [False, True])
def test_a_dominant_group_is_known_before_the_premerge_when_one_component_shows_it(
        along_columns):
    """``_premerged_dominant`` (the grouped path skips its premerge — 13.6 ms of
    ``immunohistochemistry``'s 12 MP frame — when a component and those the premerge
    joins to it directly already hold a dominant share) never says yes where the premerge
    (every pair of grown boxes, merged transitively) leaves no dominant group: checked on
    lamps in stripes (a CCD: a column broken into pieces), whose stripes join each other
    (directly when close, in a chain when farther apart), among small blobs; and it says
    yes on some of them, and (a CMOS array) no on others the premerge joins only through a
    chain."""
    rng = np.random.default_rng(5 + along_columns)
    fw, keep = 1000.0, 0.8
    said = {"yes": 0, "chain only": 0, "not dominant": 0}
    for trial in range(40):
        q = _bright_blobs(rng, 240, 240, 40, hi=6000.0)
        gap = int(rng.integers(2, 12))          # rows between stripes (columns for a CCD)
        level = float(rng.uniform(1500.0, 40000.0 if along_columns else 9000.0))
        n_str = int(rng.integers(3, 18))
        for k in range(n_str):
            if along_columns:       # (a CCD's blooms stay in their column: one broken)
                q[10 + k * gap:13 + k * gap, 120] = level
            else:
                q[20 + k * gap, 30:150] = level
        got = _components_for_premerge(q, fw, keep, along_columns)
        if got is None:
            continue
        n, bbox, excess, margin = got
        total = float(excess.sum())
        quick = _bloom._premerged_dominant(n, bbox.copy(), margin.copy(), excess.copy(),
                                           total, _bloom._DENSE_SHARE, fw, *q.shape,
                                           along_columns)
        ex = excess.copy()
        roots = _bloom._premerge(np.arange(n), n, bbox.copy(), margin.copy(), *q.shape,
                                 along_columns, np.arange(n), np.arange(n), np.arange(n),
                                 np.full(n, -1, np.int64), ex)
        largest = ex[roots].max()
        dominant = largest > _bloom._DENSE_SHARE * total and largest > (
            _bloom._DENSE_SHARE_MIN * fw)
        assert dominant or not quick, trial
        said["yes" if quick else "chain only" if dominant else "not dominant"] += 1
    assert said["yes"] and said["not dominant"] and (said["chain only"] or along_columns), said


def test_the_quick_dominance_check_joins_only_what_the_premerge_joins():
    """Two lamps of 520 full wells each (7.4 % of the frame's pending charge apiece, 14.8 %
    together) among 100 small ones of 60: diagonal neighbours whose grown boxes overlap
    are one group only when the row plus column gap is within their reaches (15 px
    each) — 14 px apart both ways they are, and dominant; 20 px apart they are not, and
    neither the premerge nor ``_premerged_dominant`` makes a dominant group."""
    fw, keep = 1000.0, 0.8
    for g, joined in ((14, True), (20, False)):
        q = np.full((260, 260), 500.0, np.float32)
        q[40:44, 40:44] = 41625.0                      # 0.8 · 16 · 40.625 = 520 full wells
        q[44 + g:48 + g, 44 + g:48 + g] = 41625.0
        for y in range(110, 260, 15):
            for x in range(110, 260, 15):
                q[y:y + 2, x:x + 2] = 19750.0          # 0.8 · 4 · 18.75 = 60 full wells
        n, bbox, excess, margin = _components_for_premerge(q, fw, keep, False)
        assert n == 102 and excess.max() / excess.sum() == pytest.approx(0.0739, abs=1e-3)
        assert margin[np.argmax(excess)] - 2 == 15     # (the lamps' reach)
        quick = _bloom._premerged_dominant(n, bbox.copy(), margin.copy(), excess.copy(),
                                           float(excess.sum()), _bloom._DENSE_SHARE, fw,
                                           *q.shape, False)
        ex = excess.copy()
        roots = _bloom._premerge(np.arange(n), n, bbox.copy(), margin.copy(), *q.shape,
                                 False, np.arange(n), np.arange(n), np.arange(n),
                                 np.full(n, -1, np.int64), ex)
        assert (ex[roots].max() > 0.1 * excess.sum()) == joined
        assert quick == joined, g


@pytest.mark.parametrize("along_columns", [False, True])
def test_footprints_handed_back_complete_the_frame(along_columns):
    """bloom(boxes=True, footprints=True) leaves the grouped blooms' pixels unwritten and
    hands their final charges back as lists: the lists are disjoint, and writing them into
    the frame gives bloom()'s frame exactly, with the same steps, pending and lost charge;
    every other changed pixel lies in a returned box."""
    rng = np.random.default_rng(77 + along_columns)
    n_listed = 0
    for label, q in _frames_of_every_path(rng):
        share = 1.0 if label == "groups" else None      # (grouped, whatever its largest)
        want = q.copy()
        r_want = bloom(want, np.float32(1000.0), 0.2, along_columns, 10000, 1e-3, boxes=True,
                       dense_share=share)
        got = q.copy()
        steps, pend, lost, boxes, (seg, pix0, val0, pix1, val1) = bloom(
            got, np.float32(1000.0), 0.2, along_columns, 10000, 1e-3, boxes=True,
            footprints=True, dense_share=share)
        assert (steps, pend, lost) == tuple(r_want[:3]), label
        assert seg.dtype == np.int64 and seg.shape[1] == 3
        listed = []
        flat = got.reshape(-1)
        for buf, o, n in seg:
            pix, val = (pix0, val0) if buf == 0 else (pix1, val1)
            listed.append(pix[o:o + n])
            flat[pix[o:o + n]] = val[o:o + n]
        listed = np.concatenate(listed) if listed else np.zeros(0, np.int32)
        assert np.unique(listed).size == listed.size, label       # disjoint
        n_listed += listed.size
        np.testing.assert_array_equal(got, want, err_msg=label)
        # the other paths' changes lie in their boxes (listed pixels are read out anyway)
        inside = np.zeros(q.shape, bool)
        inside.reshape(-1)[listed] = True
        for r0, r1, c0, c1 in boxes:
            inside[r0:r1, c0:c1] = True
        changed = want != np.minimum(q, np.float32(1000.0))
        assert not (changed & ~inside).any(), label
    assert n_listed > 1000          # (the grouped path did hand lists back)


def _grown_rows_cols(box, d, h, w, along_columns):
    r0, r1, c0, c1 = box
    a0, a1 = max(r0 - d, 0), min(r1 + d, h)
    b0, b1 = (c0, c1) if along_columns else (max(c0 - d, 0), min(c1 + d, w))
    return a0, a1, b0, b1


@pytest.mark.parametrize("along_columns", [False, True])
def test_window_margin_leaves_the_room_the_frame_has_for_the_bloom(along_columns):
    """``_first_margin`` (the windows of the grouped path and the reach of the premerge):
    around a 4×4 block 19 full wells over (P = 304 full wells pending) on a dark uniform
    background (0.1 FWC: more room than half full) the margin is the half-full rule's —
    d + 2, d the least distance at which the box grown by d holds 2P/FWC more pixels —;
    on a nearly full one (0.95 FWC: room 0.05 FWC a pixel) it is the least d at which
    the grown box's new pixels have room Σ(FWC − q) ≥ f·P, f the room factor (1 for the
    cuts of the one-group path, 2 for the grouped path's windows; rows only for a CCD,
    where that runs into the frame's edge: then the window spans every row). Both
    computed here pixel by pixel. And the blooms on the nearly full background, with smaller groups
    around, equal the whole-frame algorithm's (the margins only shape the work)."""
    fw, h, w = 1000.0, 200, 300
    box = (90, 94, 140, 144)
    pend = 16 * 19 * fw
    margins = {}
    for level, factor in ((0.1, 1.0), (0.1, 2.0), (0.95, 1.0), (0.95, 2.0)):
        q = np.full((h, w), level * fw, np.float32)
        q[box[0]:box[1], box[2]:box[3]] = 20 * fw
        got = _bloom._first_margin(q.reshape(-1), *box, h, w, pend, fw, along_columns,
                                   factor)
        area0 = 16
        d = 1
        while True:     # the half-full rule, or the room (uniform: its samples are exact)
            a0, a1, b0, b1 = _grown_rows_cols(box, d, h, w, along_columns)
            new = (a1 - a0) * (b1 - b0) - area0
            room = float((fw - q[a0:a1, b0:b1].astype(np.float64)).clip(0).sum())
            frame = a0 == 0 and a1 == h and (along_columns or (b0 == 0 and b1 == w))
            # (the room is sampled only where it is less than half a full well)
            f = factor if level > 0.5 else 1.0
            if (new >= 2 * pend / fw and room >= f * pend) or frame:
                break
            d += 1
        assert got == d + 2, (level, factor, got, d)
        margins[level, factor] = got
    assert margins[0.95, 1.0] > margins[0.1, 1.0] == margins[0.1, 2.0]
    assert along_columns or margins[0.95, 2.0] > margins[0.95, 1.0]
    # the blooms: the block and 30 small groups on the nearly full background
    rng = np.random.default_rng(5)
    q = rng.uniform(930.0, 990.0, (h, w)).astype(np.float32)
    for _ in range(30):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        q[y:y + 2, x:x + 2] = 3000.0
    q[box[0]:box[1], box[2]:box[3]] = 20 * fw
    want, (steps, p_want, l_want) = _whole_frame(q, fw, 0.0, along_columns)
    got = q.copy()
    g_steps, g_pend, g_lost = bloom(got, np.float32(fw), 0.0, along_columns, 10000, 1e-3,
                                    dense_share=1.0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
    assert g_steps == steps


def _two_clusters(rng, h, w, x0s, n, hi):
    """Blobs (over full well up to ``hi`` e⁻) in vertical strips 40 columns wide starting
    at ``x0s`` on a background below full well."""
    q = rng.uniform(0.0, 900.0, (h, w)).astype(np.float32)
    for x0 in x0s:
        q[:, x0:x0 + 40] = _bright_blobs(rng, h, 40, n, hi=hi)
    return q


def _cut_at(axis, at):
    """A stand-in for ``_bloom._split``: the components by their first pixel's side of
    row (axis 0) or column ``at``."""
    def split(q, idx, rstart, rcomp, n_reg, fw32, keep, _):
        comp = np.repeat(rcomp, np.diff(rstart))
        first = np.full(n_reg, -1, np.int64)
        for p, k in zip(idx.tolist(), comp.tolist()):
            if first[k] < 0:
                first[k] = p
        rc = first // q.shape[1] if axis == 0 else first % q.shape[1]
        side = (rc >= at).astype(np.uint8)
        pend = np.bincount(comp, (q.ravel()[idx] - np.float64(fw32)) * keep, n_reg)
        return side, 0.5, float(pend[side == 0].sum()), float(pend.sum())
    return split


@pytest.mark.parametrize("along_columns", [False, True])
def test_the_one_group_path_on_two_threads_equals_the_whole_frame_kernel(along_columns,
                                                                          monkeypatch):
    """The one-group path split at a cut no component crosses, its two sides bloomed at
    once on two threads (each with the other's over-full pixels as walls), gives the
    whole-frame window kernel's charges — written into the frame, and as two footprints
    — when the sides' footprints stay apart; when they meet (a cut forced between two
    blooms that reach each other) it blooms the frame as one group instead, and the
    charges are the same again."""
    rng = np.random.default_rng(29)
    fw = np.float32(1000.0)
    calls = []
    real = _bloom._dense_two_sides

    def spy(*a, **k):
        calls.append(real(*a, **k))
        return calls[-1]

    monkeypatch.setattr(_bloom, "_dense_two_sides", spy)
    monkeypatch.setattr(_bloom, "_SPLIT_MIN_OVER", 0)      # (16 384 over-full pixels)
    for trial in range(6):
        drain = (0.0, 0.3)[trial % 2]
        q = _two_clusters(rng, 60, 170, (10, 120), 30, 8000.0)
        want = q.copy()
        steps = bloom_whole_frame(want, fw, drain, along_columns, 10000, 1e-3)[0]
        got = q.copy()
        out = bloom(got, fw, drain, along_columns, 10000, 1e-3, boxes=True, dense_at=0)
        assert calls[-1] is not None, f"trial {trial}: no cut taken"
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=f"trial {trial}")
        assert 1 <= out[0] <= steps
        lists = q.copy()
        out = bloom(lists, fw, drain, along_columns, 10000, 1e-3, boxes=True,
                    footprints=True, dense_at=0)
        seg, pix0, val0, pix1, val1 = out[4]
        assert seg.shape[0] == 2 and calls[-1] is not None
        assert not np.intersect1d(pix0, pix1).size
        lists.ravel()[pix0] = val0
        lists.ravel()[pix1] = val1
        np.testing.assert_allclose(lists, want, rtol=0, atol=1e-2, err_msg=f"trial {trial}")
    # two blooms that reach each other across a cut forced between them: one group —
    # the stronger reaching the other's over-full pixels, the weaker only its frontier
    # (checked against this kernel's own lists: 60 000 e⁻ lists the other's pixels, 4000
    # and 2500 e⁻ do not). A CCD's blooms move along the columns: a row cut between two
    # blobs of the same columns.
    for big in (60000.0, 2500.0 if along_columns else 4000.0):
        q = rng.uniform(0.0, 900.0, (40, 170)).astype(np.float32)
        if along_columns:
            monkeypatch.setattr(_bloom, "_split", _cut_at(0, 19))
            q[10:14, 78:83] = big
            q[24:28, 78:83] = 3000.0
        else:
            monkeypatch.setattr(_bloom, "_split", _cut_at(1, 85))
            q[18:22, 78:83] = big
            q[18:22, 88:92] = 3000.0
        want = q.copy()
        bloom_whole_frame(want, fw, 0.0, along_columns, 10000, 1e-3)
        got = q.copy()
        bloom(got, fw, 0.0, along_columns, 10000, 1e-3, dense_at=0)
        assert calls[-1] is None, big
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)


def test_an_error_on_the_second_thread_reaches_the_caller_and_writes_nothing(monkeypatch):
    """The side bloomed on the worker thread raising (here: out of memory) raises in the
    caller, after both threads are done, and leaves the frame as it was."""
    import threading

    real = _bloom._run_dense

    def run(*a):
        if threading.current_thread().name == "camtwin-bloom":
            raise MemoryError("no room for the second side")
        return real(*a)

    monkeypatch.setattr(_bloom, "_run_dense", run)
    monkeypatch.setattr(_bloom, "_SPLIT_MIN_OVER", 0)
    q = _two_clusters(np.random.default_rng(31), 60, 170, (10, 120), 30, 8000.0)
    got = q.copy()
    with pytest.raises(MemoryError, match="second side"):
        bloom(got, np.float32(1000.0), 0.0, False, 10000, 1e-3, dense_at=0)
    np.testing.assert_array_equal(got, q)


def _list_box(pix, w):
    """Bounding box (r0, r1, c0, c1), half-open, of flat pixel indices (zeros: none)."""
    if pix.size == 0:
        return np.zeros(4, np.int64)
    r, c = np.divmod(pix.astype(np.int64), w)
    return np.array([r.min(), r.max() + 1, c.min(), c.max() + 1], np.int64)


def test_two_footprints_meet_when_they_share_a_pixel():
    def meet(a, b, w):
        return _bloom._lists_meet(a, b, w, _list_box(a, w), _list_box(b, w))

    a = np.array([0, 7, 55, 99], np.int32)
    assert meet(a, np.array([98, 55], np.int32), 10)
    assert not meet(a, np.array([1, 8, 54, 56, 98], np.int32), 10)
    assert not meet(a, np.array([], np.int32), 10)


@pytest.mark.parametrize("along_columns", [False, True])
def test_the_one_group_path_hands_back_the_box_of_its_footprint(monkeypatch, along_columns):
    """``_run_dense`` gives the bounding box of the footprint it hands back (from its
    cells' rows and columns, no division per pixel; the two sides' overlap test starts
    from it): the box of the list's pixels (NumPy), on one group and on each of
    two sides of a cut."""
    seen = []
    real = _bloom._run_dense

    def run(*a):
        out = real(*a)
        seen.append((out[3].copy(), out[6].copy(), a[0].shape[1]))
        return out

    monkeypatch.setattr(_bloom, "_run_dense", run)
    monkeypatch.setattr(_bloom, "_SPLIT_MIN_OVER", 0)
    rng = np.random.default_rng(12)
    one = _bright_blobs(rng, 90, 120, 25, hi=20000.0)
    two = _two_clusters(rng, 60, 170, (10, 120), 30, 8000.0)
    for q in (one, two):
        bloom(q.copy(), np.float32(1000.0), 0.0, along_columns, 10000, 1e-3, dense_at=0,
              boxes=True, footprints=True)
    assert len(seen) >= 3
    for pix, box, w in seen:
        assert pix.size > 0
        np.testing.assert_array_equal(box, _list_box(pix, w))


def test_footprint_lists_read_out_the_same_from_either_buffer(monkeypatch):
    """``readout_lists`` reads each buffer's segments in a loop of its own (one loop for
    both vectorised only the first buffer's): the footprints of a blooming frame, cut into
    pieces of 7 pixels alternating between the two buffers (and a piece of none), give
    the DN the kernel's own lists give."""
    from camtwin.sensor import _kernels as K
    from camtwin.sensor.pixels import simulate_pixels

    rng = np.random.default_rng(23)
    s = _sensor(90, 130, 0.2)
    photo = _bright_blobs(rng, 90, 130, 25, hi=20000.0)
    want = simulate_pixels(photo, 3.0, s, key=4)
    real = K.readout_lists
    seen = []

    def moved(seg, pix0, val0, pix1, val1, *rest):
        pix = np.concatenate([(pix0, pix1)[b][o:o + n] for b, o, n in seg])
        val = np.concatenate([(val0, val1)[b][o:o + n] for b, o, n in seg])
        bufs = ([], []), ([], [])
        rows, used = [(1, 0, 0)], [0, 0]
        for i, o in enumerate(range(0, pix.size, 7)):
            b = (i + 1) % 2
            bufs[b][0].append(pix[o:o + 7])
            bufs[b][1].append(val[o:o + 7])
            rows.append((b, used[b], pix[o:o + 7].size))
            used[b] += pix[o:o + 7].size
        seen.append((pix.size, used))
        cat = [np.concatenate(x) if x else np.empty(0, y) for bp, bv in bufs
               for x, y in ((bp, np.int32), (bv, np.float32))]
        return real(np.array(rows, np.int64), *cat, *rest)

    monkeypatch.setattr(K, "readout_lists", moved)
    got = simulate_pixels(photo, 3.0, s, key=4)
    assert seen and seen[0][0] > 100 and min(seen[0][1]) > 50
    np.testing.assert_array_equal(got, want)


def _lamps_in_a_field_at_full_well(rng, h=240, w=320):
    """Shot-noise speckle at 0.98× full well (1000 e⁻) with twelve 5×5 lamps at 20 000 e⁻
    in its upper two thirds: the one-group path, its regions going to sleep."""
    q = _speckle(rng, h, w, level=0.98)
    for _ in range(12):
        y, x = int(rng.integers(8, 2 * h // 3 - 8)), int(rng.integers(8, w - 8))
        q[y - 2:y + 3, x - 2:x + 3] = 20000.0
    return q


@pytest.mark.parametrize("along_columns", [False, True])
def test_sleeping_regions_of_the_one_group_path_bloom_like_the_whole_frame_kernel(
        along_columns):
    """The one-group path stops visiting the frontier slots of regions left with nothing
    to hand out (``_grow``'s ``sleepy`` mode: most of a frame exposed at full well is done
    after a step or two). Lamps far over full well in that field bloom for many steps and
    reach sleeping regions — merging with them (their slots wake with the merged region),
    touching their slots (woken alone, now between two regions), filling pixels shared
    with them — and the run stops with regions asleep (after 1, 2, 5 steps): the result
    must be the whole-frame kernel's, written into the frame and as lists. (Fails with the
    sleepers of a merged region left asleep, or a sleeping slot touched by another region
    left asleep: checked.)"""
    q = _lamps_in_a_field_at_full_well(np.random.default_rng(71 + along_columns))
    over = int((q > 1000.0).sum())
    assert over > 4 * _bloom._SLEEP_MIN              # (enough slots to put to sleep)
    for drain in (0.0, 0.3):
        for it in (1, 2, 5, 10000):
            want, (steps, pend, lost) = _whole_frame(q, 1000.0, drain, along_columns, it)
            got = q.copy()
            out = bloom(got, np.float32(1000.0), drain, along_columns, it, 1e-3,
                        boxes=True, dense_at=0)
            label = f"drain {drain}, {it} steps"
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-2, err_msg=label)
            assert out[0] == steps, label
            assert out[2] == pytest.approx(lost, abs=1e-2), label
            lists = q.copy()
            *_, (seg, pix0, val0, pix1, val1) = bloom(
                lists, np.float32(1000.0), drain, along_columns, it, 1e-3, boxes=True,
                footprints=True, dense_at=0)
            flat = lists.reshape(-1)          # (other paths' pixels: written)
            for b, o, n in seg:
                pix, val = (pix0, val0) if b == 0 else (pix1, val1)
                flat[pix[o:o + n]] = val[o:o + n]
            np.testing.assert_allclose(lists, want, rtol=0, atol=1e-2, err_msg=label)


def test_each_path_compiles_only_what_it_runs(monkeypatch):
    """First use compiles only the path a frame takes (a user's first over-exposed capture
    waited ~1 min for numba: ``benchmarks/bench_blooming.py --first-use``). (1) A frame
    that takes the one-group path — a strip of sky at full well, a lamp holding most of
    the charge among small highlights (as most photos go) — never enters the grouped
    path's kernel (:func:`_bloom._bloom_groups`, which would compile ``_run_groups``,
    ``_run_one``, the premerge and the pairing); a frame of groups does. (2) The grouped
    path's frontier steps are compiled without the one-group path's sleeping passes, and
    the sleeping steps with them, and without the one-group path's check of its work
    space (``_out_of_room``), which that path's two modes hold: the modes' flags are
    closure constants numba prunes (literal arguments were not pruned, inlined or not) —
    read from the compiled code's symbols."""
    rng = np.random.default_rng(2)
    fw = np.float32(1000.0)
    sky = rng.uniform(200.0, 900.0, (512, 512)).astype(np.float32)
    sky[:80] = rng.normal(1000.0, 31.6, (80, 512))          # one group: > 5 % over full
    lamps = rng.uniform(200.0, 900.0, (96, 128)).astype(np.float32)
    lamps[10:15, 10:15] = lamps[60:65, 90:95] = 6000.0      # two groups, far apart
    lamp = rng.uniform(200.0, 900.0, (256, 256)).astype(np.float32)
    lamp[100:120, 100:120] = 5000.0                         # 1600 full wells pending …
    lamp[rng.integers(0, 256, 40), rng.integers(0, 256, 40)] = 1500.0   # … among specks
    want_sky, r_sky = _whole_frame(sky, 1000.0, 0.0, False)
    want_lamp, r_lamp = _whole_frame(lamp, 1000.0, 0.0, False)
    want_lamps, r_lamps = _whole_frame(lamps, 1000.0, 0.0, False)

    def grouped(*a):
        raise AssertionError("the grouped path ran")

    with monkeypatch.context() as m:
        m.setattr(_bloom, "_bloom_groups", grouped)
        for frame, want, r in ((sky, want_sky, r_sky), (lamp, want_lamp, r_lamp)):
            got = frame.copy()
            assert bloom(got, fw, 0.0, False, 10000, 1e-3)[0] == r[0]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-2)
        with pytest.raises(AssertionError, match="grouped path ran"):
            bloom(lamps.copy(), fw, 0.0, False, 10000, 1e-3)
    got = lamps.copy()
    assert bloom(got, fw, 0.0, False, 10000, 1e-3)[0] == r_lamps[0]
    np.testing.assert_allclose(got, want_lamps, rtol=0, atol=1e-2)

    import numba as nb
    i32, f64 = np.zeros(4, np.int32), np.zeros(4, np.float64)
    state = tuple(np.int64(0) for _ in range(7)) + (0.0, 0.0, np.int64(1))
    args = (state, np.zeros(4, np.float32), 1, 1, 1, 0, i32, np.float32(1.0), 4, 1, 0.0,
            i32, i32, i32, i32, i32, i32, i32, i32, f64, f64, f64, i32, i32, i32, i32, i32,
            np.bool_(False), np.full(4, -1, np.int64))
    sig = tuple(nb.typeof(a) for a in args)
    for kernel, sleeps, limited in ((_bloom._grow_regions, False, False),
                                    (_bloom._grow_sleepy, True, True),
                                    (_bloom._grow_single, False, False),
                                    (_bloom._grow_last, False, True)):
        probe = nb.njit(_nrt=False)(kernel.py_func)     # (uncached: compiled here)
        probe.compile(sig)
        llvm = probe.inspect_llvm(sig)
        for name in ("_sleep_pass", "_wake_charged", "_wake_one"):
            assert (name in llvm) == sleeps, (kernel.py_func.__name__, name)
        # (the one-group path's modes check their work space; the grouped path's not)
        assert ("_out_of_room" in llvm) == limited, kernel.py_func.__name__


@pytest.mark.parametrize("along_columns", [False, True])
def test_the_one_group_path_keeps_its_work_space_within_the_limit_it_is_given(along_columns):
    """``bloom(max_work_bytes=…)`` (what the strips pass: the budget left): the one-group
    path counts its cells, regions and the pages its lists have touched as they grow
    (``_out_of_room``, every ``_ROOM_CHUNK`` nodes and after each step) — within the limit
    the charges are those of an unlimited call (written and as lists); below what the
    bloom needs it raises ``MemoryBudgetError`` (one line) instead. The need, found by
    bisection, lies between the cells and the cells + regions + the lists' largest
    possible extent (36 B per pixel)."""
    from camtwin.memory import MemoryBudgetError

    q = _lamps_in_a_field_at_full_well(np.random.default_rng(83 + along_columns))
    h, w = q.shape
    fw = np.float32(1000.0)
    want = q.copy()
    ref = bloom(want, fw, 0.2, along_columns, 10000, 1e-3, dense_at=0)

    def run(limit, footprints=False):
        got = q.copy()
        out = bloom(got, fw, 0.2, along_columns, 10000, 1e-3, dense_at=0,
                    boxes=footprints, footprints=footprints, max_work_bytes=limit)
        if footprints:
            flat = got.reshape(-1)
            for b, o, n in out[4][0]:
                pix, val = (out[4][1], out[4][2]) if b == 0 else (out[4][3], out[4][4])
                flat[pix[o:o + n]] = val[o:o + n]
        return got, out

    lo, hi = 0, 64 * h * w      # (no bloom of this frame needs 64 B per pixel)
    got, out = run(hi)
    np.testing.assert_array_equal(got, want)
    assert out[:3] == ref
    np.testing.assert_array_equal(run(hi, footprints=True)[0], want)
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            run(mid)
            hi = mid
        except MemoryBudgetError as e:
            assert "\n" not in str(e) and str(e).startswith("blooming ")
            lo = mid
    cells = 4 * ((h + 2) << int(np.ceil(np.log2(w + 2))))
    assert cells < hi <= cells + 36 * h * w, (hi, cells)
    np.testing.assert_array_equal(run(hi)[0], want)
    with pytest.raises(MemoryBudgetError):
        run(lo)


def test_a_refused_bloom_stops_within_its_limit_inside_a_step():
    """A frame whose first step alone touches ~200 MB of slot lists (every other row over
    full well: the 8 M pixels of the rows between are the frontier at once), given a
    limit 20 MB above its cells, regions and first nodes: refused, and the call's peak-RSS
    growth (fresh interpreter, ``camtwin.memory.call_peak_growth``) stays within the limit
    plus the path choice's lists — the lists are checked inside a step, every
    ``_ROOM_CHUNK`` nodes (checking between steps only: the whole first step)."""
    import json
    import subprocess
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("the peak is reset through /proc/self/clear_refs (Linux)")
    code = """
import json, numpy as np
from camtwin.memory import call_peak_growth, MemoryBudgetError
from camtwin.sensor._bloom import bloom
h, w, fw = 4000, 4094, np.float32(1000.0)
q = np.full((h, w), 0.99 * fw, np.float32)
q[0::2] = 1.5 * fw                  # (every other row: each row of the rest fills at once)
n = int((q > fw).sum())
cells = 4 * (h + 2) * 4096
limit = cells + 36 * (h // 2) + 4 * n + 20 * 2 ** 20     # (h / 2 regions: the rows)
bloom(np.full((8, 8), 5 * fw, np.float32), fw, 0.0, False, 10000, 1e-3)
def refused():
    try:
        bloom(q, fw, 0.0, False, 10000, 1e-3, max_work_bytes=limit, dense_at=0)
    except MemoryBudgetError:
        return True
    return False
ok, grew = call_peak_growth(refused)
print(json.dumps({"refused": ok, "grew": grew, "limit": limit, "n": n}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["refused"]
    # + the over-full pixels' list, charges and runs of the path choice (12 B each)
    assert r["grew"] <= r["limit"] + 12 * r["n"], r


def test_every_path_gives_the_one_thread_result_on_more_threads_and_smaller_blocks(
        monkeypatch):
    """The kernels run on numba's threads in blocks (``_bloom._blocks``, row blocks, the
    grouped path's chunks: ``camtwin._jit.on_row_threads``) instead of ``prange``s: every
    path (groups, the one group of many components, speckle, one step, one lamp, every
    pixel over full well, a large bloom among small ones) gives the same charges on 1, 2
    and 3 threads and with blocks of 16 items (many blocks per thread) as with one block;
    the pending charge — summed per fixed block, then over blocks — to 1e-12. Reference:
    the one-thread run with the default blocks."""
    import numba

    from camtwin import _jit

    rng = np.random.default_rng(21)
    two = rng.uniform(0.0, 900.0, (300, 600)).astype(np.float32)
    two[100:200, 50:140] = 1200.0       # two lamps a cut apart (18 000 px over full well):
    two[100:200, 450:540] = 1200.0      # the one-group path on two threads (_split)
    cases = [*_frames_of_every_path(rng), ("two sides of a cut", two)]
    got = {}
    default = numba.get_num_threads()
    try:
        for small in (False, True):
            if small:
                monkeypatch.setattr(_bloom, "_BLOCK", 16)
                monkeypatch.setattr(_bloom, "_MARGIN_BLOCK", 4)
                monkeypatch.setattr(_bloom, "_WRITE_BACK_BLOCK", 2)
                monkeypatch.setattr(_jit, "_MIN_ROWS_PER_THREAD", 4)
            for n in (1, 2, 3):
                if n > numba.config.NUMBA_NUM_THREADS:
                    continue
                numba.set_num_threads(n)
                for label, frame in cases:
                    for footprints in (False, True):
                        q = frame.copy()
                        out = bloom(q, 1000.0, 0.0, False, 10000, 1e-3, boxes=True,
                                    footprints=footprints)
                        if footprints:      # (the footprints' charges into the frame)
                            seg, p0, v0, p1, v1 = out[4]
                            for b, o, m in seg:
                                pix, val = (p0, v0) if b == 0 else (p1, v1)
                                q.reshape(-1)[pix[o:o + m]] = val[o:o + m]
                        got[small, n, label, footprints] = q, out[:3]
    finally:
        numba.set_num_threads(default)
    for (small, n, label, footprints), (q, (steps, pending, lost)) in got.items():
        q1, (steps1, pending1, lost1) = got[False, 1, label, footprints]
        np.testing.assert_array_equal(q, q1, err_msg=f"{label}, {n} threads, small {small}")
        assert steps == steps1, label
        assert pending == pytest.approx(pending1, rel=1e-12, abs=1e-9), label
        assert lost == pytest.approx(lost1, rel=1e-12, abs=1e-9), label
