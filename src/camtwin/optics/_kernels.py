"""Numba kernels for the optics hot path. Each matches a NumPy reference in
:mod:`camtwin.optics.psf` / :mod:`camtwin.optics.pupil`; ``tests/test_optics.py`` and
``tests/test_optics_lens.py`` assert they agree."""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .._jit import NO_ALIAS, on_rows


@nb.njit(fastmath=False, cache=True, nogil=True)
def _diffraction_mtf_rows(spectrum, rho, lam_um, working_f_number, i0,
                          i1):  # pragma: no cover - jit
    """In place: ``spectrum[b] *= MTF(rho; lam_um[b], N_w)`` (circular-pupil diffraction MTF).

    spectrum : complex64 (B, H, W') — rfft2 of the bands
    rho      : float32 (H, W')      — radial spatial frequency [cycles/µm]
    lam_um   : float32 (B,)         — wavelength of each band [µm]
    """
    n_b, h, w = spectrum.shape
    two_over_pi = np.float32(2.0 / math.pi)
    for i in range(i0, i1):
        for b in range(n_b):
            k = lam_um[b] * np.float32(working_f_number)
            for j in range(w):
                s = rho[i, j] * k
                if s >= 1.0:
                    spectrum[b, i, j] = 0
                else:
                    m = two_over_pi * (math.acos(s) - s * math.sqrt(1.0 - s * s))
                    spectrum[b, i, j] *= np.float32(m)


#: (rows on numba's threads: :func:`camtwin._jit.on_rows`)
multiply_diffraction_mtf = on_rows(_diffraction_mtf_rows,
                                   lambda spectrum, rho, lam_um, n_w: spectrum.shape[1],
                                   "multiply_diffraction_mtf")


@nb.njit(fastmath=False, cache=True, nogil=True, pipeline_class=NO_ALIAS)
def _otf_bilinear_rows(spectrum, fy, fx, otf_re, otf_im, inv_dnu, i0,
                       i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1: in place, ``spectrum[b, i, j] *= OTF_b(fy[i], fx[j])``, bilinear on
    a centred grid (:data:`multiply_otf_bilinear`: blocks of rows on numba's threads).

    spectrum : complex64 (B, H, W') — rfft2 of the bands
    fy, fx   : float32 (H,), (W',) — frequencies [cycles/µm]
    otf_re/im: float32 (B, N, N)   — centred OTF grids (index N//2 = zero frequency)
    inv_dnu  : float32 (B,)         — 1 / grid spacing [µm]
    Matches :func:`camtwin.optics.pupil.sample_otf` (0 outside the grid).
    """
    n_b, w = spectrum.shape[0], spectrum.shape[2]
    n = otf_re.shape[1]
    c = n // 2
    for i in range(i0, i1):
        for b in range(n_b):
            gy = fy[i] * inv_dnu[b] + c
            i0 = int(math.floor(gy))
            ty = gy - i0
            for j in range(w):
                gx = fx[j] * inv_dnu[b] + c
                j0 = int(math.floor(gx))
                if i0 < 0 or j0 < 0 or i0 + 1 >= n or j0 + 1 >= n:
                    spectrum[b, i, j] = 0
                    continue
                tx = gx - j0
                w00 = (1 - ty) * (1 - tx)
                w01 = (1 - ty) * tx
                w10 = ty * (1 - tx)
                w11 = ty * tx
                re = (w00 * otf_re[b, i0, j0] + w01 * otf_re[b, i0, j0 + 1]
                      + w10 * otf_re[b, i0 + 1, j0] + w11 * otf_re[b, i0 + 1, j0 + 1])
                im = (w00 * otf_im[b, i0, j0] + w01 * otf_im[b, i0, j0 + 1]
                      + w10 * otf_im[b, i0 + 1, j0] + w11 * otf_im[b, i0 + 1, j0 + 1])
                spectrum[b, i, j] *= complex(re, im)


#: (rows on numba's threads: :func:`camtwin._jit.on_rows`)
multiply_otf_bilinear = on_rows(_otf_bilinear_rows, lambda spectrum, *args: spectrum.shape[1],
                                "multiply_otf_bilinear")
