"""Zernike circle polynomials in Noll's ordering and normalisation.

Noll (1976): index j ≥ 1 ↔ radial order n, azimuthal frequency m (|m| ≤ n, n − |m| even);
within one n, j increases with |m|; even j carry cos(mθ), odd j sin(mθ) (m ≠ 0).

    Z_j(ρ, θ) = √(n + 1) · R_n^|m|(ρ)                   m = 0
              = √(2(n + 1)) · R_n^|m|(ρ) · cos(|m|θ)      m ≠ 0, j even
              = √(2(n + 1)) · R_n^|m|(ρ) · sin(|m|θ)      m ≠ 0, j odd
    R_n^m(ρ) = Σ_{k=0}^{(n−m)/2} (−1)^k (n − k)! / (k! ((n+m)/2 − k)! ((n−m)/2 − k)!) ρ^{n−2k}

normalised so that the RMS of Z_j over the unit disc is 1: a coefficient c_j is the RMS
wavefront error that term contributes. Familiar terms: 1 piston, 2/3 tilt, 4 defocus
√3(2ρ²−1), 5/6 astigmatism, 7/8 coma, 9/10 trefoil, 11 primary spherical √5(6ρ⁴−6ρ²+1).

Reference: R. J. Noll, "Zernike polynomials and atmospheric turbulence", JOSA 66(3),
207–211 (1976), Table I.
"""

from __future__ import annotations

from math import factorial

import numpy as np

from ..errors import ConfigError

#: Highest Noll index supported (radial order 10).
MAX_NOLL = 66


def noll_to_nm(j: int) -> tuple[int, int]:
    """(n, m) of Noll index ``j`` (m signed: > 0 cosine, < 0 sine)."""
    j = int(j)
    if not 1 <= j <= MAX_NOLL:
        raise ConfigError(f"Zernike Noll index {j}: valid range is 1..{MAX_NOLL}")
    n = 0
    while (n + 1) * (n + 2) // 2 < j:
        n += 1
    k = j - n * (n + 1) // 2  # 1-based position within order n
    # |m| values in order n, each (except 0) appearing twice, ascending
    ms = [m for m in range(n % 2, n + 1, 2) for _ in ((0,) if m == 0 else (0, 1))]
    m = ms[k - 1]
    if m != 0 and j % 2 == 1:
        m = -m
    return n, m


def radial(n: int, m: int, rho) -> np.ndarray:
    """Zernike radial polynomial R_n^|m|(ρ)."""
    m = abs(m)
    rho = np.asarray(rho, dtype=np.float64)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = ((-1) ** k * factorial(n - k)
             / (factorial(k) * factorial((n + m) // 2 - k) * factorial((n - m) // 2 - k)))
        out = out + c * rho ** (n - 2 * k)
    return out


def zernike(j: int, rho, theta) -> np.ndarray:
    """Noll-normalised Zernike polynomial Z_j at polar pupil coordinates (ρ ≤ 1, θ [rad])."""
    n, m = noll_to_nm(j)
    r = radial(n, m, rho)
    if m == 0:
        return np.sqrt(n + 1.0) * r
    ang = np.cos(m * np.asarray(theta)) if m > 0 else np.sin(-m * np.asarray(theta))
    return np.sqrt(2.0 * (n + 1.0)) * r * ang


def wavefront(coefficients: dict, rho, theta) -> np.ndarray:
    """Σ_j c_j Z_j(ρ, θ) — the wavefront in the unit of the coefficients."""
    out = np.zeros(np.broadcast(np.asarray(rho), np.asarray(theta)).shape)
    for j, c in coefficients.items():
        if c:
            out = out + float(c) * zernike(int(j), rho, theta)
    return out


def field_power(j: int) -> int:
    """Power p of the normalised field height h with which term j grows off axis (Seidel):
    coma-like terms (|m| = 1) ∝ h, every other term (defocus = field curvature,
    astigmatism, spherical, trefoil, …) taken ∝ h²."""
    return 1 if abs(noll_to_nm(j)[1]) == 1 else 2
