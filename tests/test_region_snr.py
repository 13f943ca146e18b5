"""camtwin.measure.snr.region_snr (row-chunked sums) against a direct least-squares plane
fit of the same pixels (numpy.linalg.lstsq on the whole region, the formulation it
replaced), and against the noise it was given (a Gaussian of known σ on a tilted plane)."""

import numpy as np
import pytest

from camtwin.measure.snr import _CHUNK_ROWS, region_snr
from camtwin.raw.cfa import cfa_channel_index
from camtwin.raw.frame import RawFrame

_INDEX = {"R": 0, "G": 1, "B": 2}


def _reference(raw, box, channel, detrend):
    r0, r1, c0, c1 = box
    v = raw.dn[r0:r1, c0:c1].astype(np.float64) - raw.black_level_dn
    yy, xx = np.mgrid[r0:r1, c0:c1]
    m = np.ones(v.shape, bool) if raw.cfa == "mono" else (
        cfa_channel_index(raw.cfa, raw.shape)[r0:r1, c0:c1] == _INDEX[channel])
    v, x, y = v[m], xx[m].astype(np.float64), yy[m].astype(np.float64)
    if detrend:
        a = np.column_stack([np.ones_like(x), x, y])
        resid = v - a @ np.linalg.lstsq(a, v, rcond=None)[0]
        dof = v.size - 3
    else:
        resid, dof = v - v.mean(), v.size - 1
    return v.mean(), np.sqrt(resid @ resid / dof) / raw.conversion_gain_dn_per_e, v.size


@pytest.mark.parametrize("cfa", ["RGGB", "GBRG", "QUADBAYER", "mono"])
def test_region_snr_equals_a_direct_plane_fit_across_row_chunks(cfa):
    h, w = _CHUNK_ROWS + 151, 203     # the region spans two chunks
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:h, :w]
    sigma = 6.0
    dn = np.rint(300 + 0.4 * xx - 0.25 * yy + rng.normal(0, sigma, (h, w))).astype(np.uint16)
    raw = RawFrame(dn=dn, cfa=cfa, black_level_dn=64.0, white_level_dn=4095,
                   exposure_s=0.01, conversion_gain_dn_per_e=0.5)
    for box, channel, detrend in (((3, h - 4, 5, w - 1), "G", True),
                                  ((1, h, 0, w - 3), "R", False),
                                  ((7, 60, 11, 50), "B", True)):
        got = region_snr(raw, box, channel=channel, inset=0.0, detrend=detrend)
        mean, std, n = _reference(raw, box, channel, detrend)
        assert got["n_pixels"] == n
        assert got["mean_dn"] == pytest.approx(mean, rel=1e-12)
        assert got["std_e"] == pytest.approx(std, rel=1e-9)
        if detrend:     # the plane removed: the residual is the noise put in (± 5 σ_std)
            rel = 5 / np.sqrt(2 * (n - 3))
            assert got["std_e"] * 0.5 == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=rel)
