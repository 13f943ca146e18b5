"""Numba kernels for the optics hot path. Each matches a NumPy reference in
:mod:`camtwin.optics.psf`; ``tests/test_optics.py`` asserts they agree."""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(parallel=True, fastmath=False, cache=True)
def multiply_diffraction_mtf(spectrum, rho, lam_um, working_f_number):  # pragma: no cover - jit
    """In place: ``spectrum[b] *= MTF(rho; lam_um[b], N_w)`` (circular-pupil diffraction MTF).

    spectrum : complex64 (B, H, W') — rfft2 of the bands
    rho      : float32 (H, W')      — radial spatial frequency [cycles/µm]
    lam_um   : float32 (B,)         — wavelength of each band [µm]
    """
    n_b, h, w = spectrum.shape
    two_over_pi = np.float32(2.0 / math.pi)
    for i in nb.prange(h):
        for b in range(n_b):
            k = lam_um[b] * np.float32(working_f_number)
            for j in range(w):
                s = rho[i, j] * k
                if s >= 1.0:
                    spectrum[b, i, j] = 0
                else:
                    m = two_over_pi * (math.acos(s) - s * math.sqrt(1.0 - s * s))
                    spectrum[b, i, j] *= np.float32(m)
