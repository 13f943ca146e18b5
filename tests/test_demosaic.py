"""Demosaic methods: quality on an independent image set, agreement with independent
implementations, all four Bayer phases, borders and bad input.

Quality protocol (the one behind the reference figures in ``benchmarks/RESULTS.md``):
scikit-image's bundled colour photographs astronaut, coffee, chelsea and rocket, scaled to
[0, 1] (float64), mosaicked to RGGB with colour-demosaicing's ``mosaicing_CFA_Bayer``,
demosaicked, and scored by CPSNR = 10·log10(1 / MSE over the three channels) with a 10-px
border excluded and no clipping; the figure is the mean of the four per-image CPSNRs.
colour-demosaicing (colour-science, float64 SciPy implementations) is run in the same test
as the reference.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from camtwin.errors import ConfigError, UnknownNameError
from camtwin.isp import DEMOSAIC_METHODS, demosaic
from camtwin.isp._reference import demosaic_ri_reference, directional_green

with warnings.catch_warnings():
    # colour-demosaicing 0.2.x imports scipy.ndimage.filters, deprecated in SciPy >= 1.8.
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            message=".*scipy.ndimage.filters.*")
    from colour_demosaicing import (demosaicing_CFA_Bayer_bilinear,
                                    demosaicing_CFA_Bayer_Malvar2004,
                                    demosaicing_CFA_Bayer_Menon2007, mosaicing_CFA_Bayer)

BAYER = ("RGGB", "GRBG", "GBRG", "BGGR")
IMAGES = ("astronaut", "coffee", "chelsea", "rocket")
BORDER_PX = 10
# float32 kernels vs float64 references on [0, 1] data: a few float32 roundings per output
# (Malvar: one 5×5 sum); the HQ method has variance/ratio steps that amplify rounding in
# flat windows, hence its looser bound (still ~1/20 of an 8-bit step).
ATOL_MALVAR = 1e-6
ATOL_HQ = 2e-4


def cpsnr(estimate: np.ndarray, truth: np.ndarray, border: int = BORDER_PX) -> float:
    b = border
    err = np.asarray(estimate, np.float64)[b:-b, b:-b] - truth[b:-b, b:-b]
    return float(10.0 * np.log10(1.0 / np.mean(err * err)))


@pytest.fixture(scope="module")
def photos():
    data = pytest.importorskip("skimage.data")
    return {name: getattr(data, name)().astype(np.float64) / 255.0 for name in IMAGES}


@pytest.fixture(scope="module")
def scores(photos):
    """Mean CPSNR [dB] per method: camtwin's and colour-demosaicing's, same mosaics."""
    ours = {m: [] for m in DEMOSAIC_METHODS}
    ref = {"bilinear": [], "malvar2004": [], "menon2007": []}
    for img in photos.values():
        mosaic = mosaicing_CFA_Bayer(img, "RGGB")
        for m in ours:
            ours[m].append(cpsnr(demosaic(mosaic.astype(np.float32), "RGGB", m), img))
        ref["bilinear"].append(cpsnr(demosaicing_CFA_Bayer_bilinear(mosaic, "RGGB"), img))
        ref["malvar2004"].append(cpsnr(demosaicing_CFA_Bayer_Malvar2004(mosaic, "RGGB"), img))
        ref["menon2007"].append(cpsnr(demosaicing_CFA_Bayer_Menon2007(mosaic, "RGGB"), img))
    out = {f"camtwin {m}": float(np.mean(v)) for m, v in ours.items()}
    out.update({f"colour-demosaicing {m}": float(np.mean(v)) for m, v in ref.items()})
    print("\nmean CPSNR [dB]: " + ", ".join(f"{k} {v:.2f}" for k, v in out.items()))
    return out


def test_bilinear_cpsnr_matches_colour_demosaicing(scores):
    assert abs(scores["camtwin bilinear"] - scores["colour-demosaicing bilinear"]) < 0.05


def test_malvar_cpsnr_matches_colour_demosaicing(scores):
    assert abs(scores["camtwin malvar2004"] - scores["colour-demosaicing malvar2004"]) < 0.1
    # and it is the better method of the two (the test can fail if the kernel is wrong)
    assert scores["camtwin malvar2004"] > scores["camtwin bilinear"] + 2.0


def test_high_quality_method_beats_menon_and_aahd_level(scores):
    # 36.00 dB: LibRaw AAHD with the same protocol (benchmarks/RESULTS.md); Menon 2007 from
    # colour-demosaicing is measured here.
    assert scores["camtwin directional_ri"] >= 36.0
    assert scores["camtwin directional_ri"] > scores["colour-demosaicing menon2007"] + 0.3


@pytest.mark.parametrize("cfa", BAYER)
def test_malvar_kernel_matches_colour_demosaicing(photos, cfa):
    img = photos["chelsea"]
    mosaic = mosaicing_CFA_Bayer(img, cfa)
    ours = demosaic(mosaic.astype(np.float32), cfa, "malvar2004")
    ref = demosaicing_CFA_Bayer_Malvar2004(mosaic, cfa)
    b = 2  # the 5×5 filters reach 2 px; borders are extended differently
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours[b:-b, b:-b], ref[b:-b, b:-b], rtol=0, atol=ATOL_MALVAR)


@pytest.mark.parametrize("cfa", BAYER)
def test_high_quality_kernels_match_float64_reference(photos, cfa):
    img = photos["astronaut"][:160, :200]
    mosaic = mosaicing_CFA_Bayer(img, cfa)
    ours = demosaic(mosaic.astype(np.float32), cfa, "directional_ri")
    ref = demosaic_ri_reference(mosaic, cfa)
    b = 8
    np.testing.assert_allclose(ours[b:-b, b:-b], ref[b:-b, b:-b], rtol=0, atol=ATOL_HQ)
    # every phase reaches the same quality (no phase is silently mishandled)
    assert cpsnr(ours, img) > 33.0


@pytest.mark.parametrize("radius", [1, 3])
@pytest.mark.parametrize("shape", [(41, 57), (9, 12)])
def test_high_quality_other_radii_sizes_and_thread_counts(photos, radius, shape):
    """The streamed kernels (ring buffers, one run of rows per thread) must equal the
    float64 reference for every guided-filter radius and odd sizes, and give bit-identical
    output whatever the number of threads (each run recomputes its neighbours' rows)."""
    import numba

    img = photos["coffee"][: shape[0], : shape[1]]
    mosaic = mosaicing_CFA_Bayer(img, "GBRG")
    ours = demosaic(mosaic.astype(np.float32), "GBRG", "directional_ri", radius=radius)
    ref = demosaic_ri_reference(mosaic, "GBRG", radius=radius)
    b = 2 * radius + 4
    if min(shape) > 2 * b:
        np.testing.assert_allclose(ours[b:-b, b:-b], ref[b:-b, b:-b], rtol=0, atol=ATOL_HQ)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = demosaic(mosaic.astype(np.float32), "GBRG", "directional_ri", radius=radius)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(single, ours)


def test_directional_green_follows_the_edge():
    # A vertical edge: the horizontal estimate mixes the two sides, the vertical one does
    # not, so the fused green at the edge must be close to the vertical estimate.
    img = np.zeros((24, 24, 3))
    img[:, 12:] = 1.0
    mosaic = mosaicing_CFA_Bayer(img, "RGGB")
    g = directional_green(mosaic, "RGGB")
    np.testing.assert_allclose(g[6:-6, 6:-6], img[6:-6, 6:-6, 1], atol=0.02)


@pytest.mark.parametrize("method", sorted(DEMOSAIC_METHODS))
@pytest.mark.parametrize("cfa", BAYER)
@pytest.mark.parametrize("shape", [(16, 20), (15, 17)])
def test_flat_field_stays_flat_and_samples_are_kept(method, cfa, shape):
    flat = demosaic(np.full(shape, 0.37, np.float32), cfa, method)
    np.testing.assert_allclose(flat, 0.37, rtol=0, atol=2e-6)
    m = np.random.default_rng(3).uniform(0.1, 0.9, shape).astype(np.float32)
    rgb = demosaic(m, cfa, method)
    for r in (0, 1):
        for c in (0, 1):
            ch = "RGB".index(cfa[2 * r + c])
            np.testing.assert_array_equal(rgb[r::2, c::2, ch], m[r::2, c::2])


@pytest.mark.parametrize("method", ["malvar2004", "directional_ri"])
def test_deterministic(method):
    m = np.random.default_rng(5).uniform(0, 1, (64, 80)).astype(np.float32)
    assert np.array_equal(demosaic(m, "GBRG", method), demosaic(m, "GBRG", method))


@pytest.mark.parametrize("method", ["malvar2004", "directional_ri"])
def test_rccb_is_demosaiced_like_its_bayer_geometry(method):
    # R C / C B has RGGB's geometry with the clear channel in green's place.
    m = np.random.default_rng(6).uniform(0, 1, (32, 40)).astype(np.float32)
    np.testing.assert_array_equal(demosaic(m, "RCCB", method), demosaic(m, "RGGB", method))


@pytest.mark.parametrize("method", ["malvar2004", "directional_ri"])
@pytest.mark.parametrize("cfa", ["QUADBAYER", "RGBIR", "mono"])
def test_other_layouts_fall_back_to_generic_demosaic(method, cfa):
    m = np.full((16, 16), 0.25, np.float32)
    rgb = demosaic(m, cfa, method)
    assert rgb.shape == (16, 16, 3)
    np.testing.assert_allclose(rgb, 0.25, atol=1e-6)


def test_bad_input_is_rejected():
    with pytest.raises(UnknownNameError, match="directional_ri"):
        demosaic(np.zeros((8, 8), np.float32), "RGGB", "menon")
    with pytest.raises(ConfigError, match="5×5"):
        demosaic(np.zeros((4, 4), np.float32), "RGGB", "directional_ri")
    with pytest.raises(ConfigError, match="2-D"):
        demosaic(np.zeros((8, 8, 3), np.float32), "RGGB", "malvar2004")
    with pytest.raises(ConfigError, match="radius"):
        demosaic(np.zeros((8, 8), np.float32), "RGGB", "directional_ri", radius=0)
    with pytest.raises(ConfigError, match="eps"):
        demosaic(np.zeros((8, 8), np.float32), "RGGB", "directional_ri", eps=float("nan"))
