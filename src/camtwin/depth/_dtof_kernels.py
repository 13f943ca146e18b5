"""Numba kernels of the SPAD dToF model in :mod:`camtwin.depth.dtof`.

Each kernel matches a pure-NumPy reference in :mod:`camtwin.depth.dtof`
(``expected_counts_per_cycle`` + ``simulate_first_photon_reference`` /
``simulate_multi_event_reference`` / ``process_histograms_reference``);
``tests/depth/test_dtof.py`` asserts that they agree (statistically for the random draws,
to rounding for the deterministic histogram processing).

Random numbers come from a :class:`numpy.random.Generator` passed into the kernel (numba
implements ``Generator.binomial`` — NumPy's BTPE/inversion algorithms — and
``standard_exponential`` on the same bit generator). The host splits the zone rows into a
fixed number of blocks, each with its own child generator (``rng.spawn``), so the result
depends on ``rng`` only, never on the number of threads. All kernels release the GIL and
run on a plain thread pool (no numba ``parallel``: safe to call from several threads).

Pulse-shape codes: 0 = Gaussian (σ = FWHM/2.3548 ⊕ jitter σ), 1 = rectangular of full width
``width_s`` convolved with a Gaussian jitter of σ ``sigma_s`` (σ may be 0).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: 1/x for the inversion loop (a multiply instead of a divide on the dependency chain)
_RECIP = 1.0 / np.arange(1, 129, dtype=np.float64)


@nb.njit(cache=True, inline="always")
def _phi_cdf(x):  # pragma: no cover - jit
    return 0.5 * math.erfc(-x * _INV_SQRT2)


@nb.njit(cache=True, inline="always")
def _g_int(x, sigma):  # pragma: no cover - jit
    """G(x) = ∫_{-∞}^{x} Φ(u/σ) du = x·Φ(x/σ) + σ·φ(x/σ);  σ = 0: max(x, 0)."""
    if sigma <= 0.0:
        return x if x > 0.0 else 0.0
    z = x / sigma
    return x * _phi_cdf(z) + sigma * _INV_SQRT2PI * math.exp(-0.5 * z * z)


@nb.njit(cache=True)
def pulse_cdf(t, shape, sigma_s, width_s):  # pragma: no cover - jit
    """Fraction of the pulse energy arriving before time ``t`` (s) relative to its centre."""
    if shape == 0:
        return _phi_cdf(t / sigma_s)
    h = 0.5 * width_s
    return (_g_int(t + h, sigma_s) - _g_int(t - h, sigma_s)) / width_s


@nb.njit(cache=True)
def _add_pulse(lam, sig, tau, bin_s, shape, sigma_s, width_s, reach_s):  # pragma: no cover
    n = lam.size
    lo = int(math.floor((tau - reach_s) / bin_s))
    hi = int(math.floor((tau + reach_s) / bin_s)) + 1
    if lo < 0:
        lo = 0
    if hi > n:
        hi = n
    if lo >= hi:
        return
    prev = pulse_cdf(lo * bin_s - tau, shape, sigma_s, width_s)
    for i in range(lo, hi):
        cur = pulse_cdf((i + 1) * bin_s - tau, shape, sigma_s, width_s)
        lam[i] += sig * (cur - prev)
        prev = cur


@nb.njit(cache=True)
def fill_lambda(lam, bg, sig, tau, y, x, xtalk, bin_s, shape, sigma_s, width_s,
                reach_s):  # pragma: no cover - jit
    """Expected detections per bin and cycle of SPAD (y, x), with additive crosstalk from its
    4 nearest neighbours: λ' = λ_self + x·Σ_nbr λ_nbr (background and pulses)."""
    H, W = bg.shape
    b = bg[y, x]
    if xtalk > 0.0:
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < H and 0 <= xx < W:
                b += xtalk * bg[yy, xx]
    for i in range(lam.size):
        lam[i] = b
    if sig[y, x] > 0.0:
        _add_pulse(lam, sig[y, x], tau[y, x], bin_s, shape, sigma_s, width_s, reach_s)
    if xtalk > 0.0:
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < H and 0 <= xx < W and sig[yy, xx] > 0.0:
                _add_pulse(lam, xtalk * sig[yy, xx], tau[yy, xx], bin_s, shape, sigma_s,
                           width_s, reach_s)


@nb.njit(cache=True, inline="always")
def _binv(rng, n, s, r):  # pragma: no cover - jit
    """The inversion loop of BINV: the smallest x with U ≤ F(x) for one uniform U, walking
    the pmf from f(0) = ``r`` by f(x) = f(x−1)·((n+1)/x − 1)·s, s = p/(1−p)."""
    a = (n + 1) * s
    u = rng.random()
    x = 0
    while u > r:
        u -= r
        x += 1
        if x >= n:
            x = n
            break
        r *= (a * _RECIP[x - 1] if x <= 128 else a / x) - s
    return x


@nb.njit(cache=True)
def binomial(rng, n, p):  # pragma: no cover - jit
    """Exact Binomial(n, p) draw. n·min(p, 1−p) < 30: inversion from 0 with the pmf
    recurrence f(x) = f(x−1)·((n+1)/x − 1)·p/(1−p), f(0) = (1−p)^n (algorithm BINV of
    Kachitvichyanukul & Schmeiser 1988, Commun. ACM 31, 216), one uniform per draw — about
    1.5–2× faster than numba's ``Generator.binomial`` for the small means of TDC bins;
    otherwise numba's ``Generator.binomial`` (NumPy's BTPE)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    if n * pp >= 30.0:
        return rng.binomial(n, p)
    x = _binv(rng, n, pp / (1.0 - pp), math.exp(n * math.log1p(-pp)))
    return n - x if flip else x


@nb.njit(cache=True)
def binomial_hazard(rng, n, lam):  # pragma: no cover - jit
    """Binomial(n, 1 − e^{−λ}) — :func:`binomial` with (1 − p)^n = e^{−nλ} taken from λ
    directly (one ``log1p`` fewer per TDC bin)."""
    if n <= 0 or lam <= 0.0:
        return 0
    p = -math.expm1(-lam)
    if p > 0.5 or n * p >= 30.0:
        return binomial(rng, n, p)
    return _binv(rng, n, p / (1.0 - p), math.exp(-n * lam))


@nb.njit(cache=True, nogil=True)
def first_photon_block(rng, bg, sig, tau, xtalk, zone, zr0, zr1, n_cycles, bin_s, shape,
                       sigma_s, width_s, reach_s, out):  # pragma: no cover - jit
    """Zone histograms of rows [zr0, zr1) by the conditional-binomial chain

        h_i ~ Binomial(N − Σ_{j<i} h_j,  1 − e^{−λ_i})    (per SPAD, summed over the zone)

    which is exactly the multinomial of the first-photon probabilities
    p_i = (1 − e^{−λ_i})·Π_{j<i} e^{−λ_j}."""
    n = out.shape[2]
    wz = out.shape[1]
    lam = np.empty(n)
    for zr in range(zr0, zr1):
        for zc in range(wz):
            for dy in range(zone):
                for dx in range(zone):
                    y = zr * zone + dy
                    x = zc * zone + dx
                    fill_lambda(lam, bg, sig, tau, y, x, xtalk, bin_s, shape, sigma_s,
                                width_s, reach_s)
                    rem = n_cycles
                    for i in range(n):
                        if rem <= 0:
                            break
                        if lam[i] <= 0.0:
                            continue
                        k = binomial_hazard(rng, rem, lam[i])
                        out[zr, zc, i] += k
                        rem -= k


@nb.njit(cache=True)
def _fire_at(target, cum, lam, bin_s, n, b0, dead_s, hist_row):  # pragma: no cover - jit
    """Record the detection where the cumulative hazard reaches ``target`` (searching bins
    ≥ b0) and return the re-arm time (detection time + dead time)."""
    lo = b0
    hi = n
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cum[mid] <= target:
            lo = mid
        else:
            hi = mid
    k = lo
    frac = (target - cum[k]) / lam[k] if lam[k] > 0.0 else 0.0
    hist_row[k] += 1
    return (k + frac) * bin_s + dead_s


@nb.njit(cache=True)
def _events_from(rng, t, cum, lam, bin_s, n, window, total, dead_s,
                 hist_row):  # pragma: no cover - jit
    """Continue a cycle from arm time ``t``: fire at Λ(t_d) = Λ(t) + E, E ~ Exp(1), until
    the hazard left in the window is exhausted; return the last arm time."""
    while t < window:
        b = int(t / bin_s)
        if b >= n:
            break
        target = cum[b] + lam[b] * (t / bin_s - b) + rng.standard_exponential()
        if target >= total:
            break
        t = _fire_at(target, cum, lam, bin_s, n, b, dead_s, hist_row)
    return t


@nb.njit(cache=True, nogil=True)
def multi_event_block(rng, bg, sig, tau, xtalk, zone, zr0, zr1, n_cycles, bin_s, shape,
                      sigma_s, width_s, reach_s, dead_s, period_s, out):  # pragma: no cover
    """Zone histograms of rows [zr0, zr1), event by event: in each cycle the SPAD, armed
    from time t_a, fires at the first arrival of the inhomogeneous Poisson process with
    rate λ_i/Δ in bin i (piecewise constant): Λ(t_d) = Λ(t_a) + E, E ~ Exp(1); then it is
    dead for ``dead_s``; a dead time running past the laser period carries into the next
    cycle. Photons outside the histogram window [0, n·Δ) are not detected (gated SPAD).

    Empty cycles are skipped exactly: from a fresh (armed at 0) state the number of cycles
    without any detection before the next one with a detection is geometric,
    G = ⌊E/Λ⌋ (P(G ≥ g) = e^{−gΛ}, Λ = Σλ_i), and in that cycle the first detection has
    the conditional hazard Λ₁ = −ln(1 − u·(1 − e^{−Λ})); the cost is ∝ detections, not
    cycles."""
    n = out.shape[2]
    wz = out.shape[1]
    lam = np.empty(n)
    cum = np.empty(n + 1)
    window = n * bin_s
    for zr in range(zr0, zr1):
        for zc in range(wz):
            hist_row = out[zr, zc]
            for dy in range(zone):
                for dx in range(zone):
                    y = zr * zone + dy
                    x = zc * zone + dx
                    fill_lambda(lam, bg, sig, tau, y, x, xtalk, bin_s, shape, sigma_s,
                                width_s, reach_s)
                    cum[0] = 0.0
                    for i in range(n):
                        cum[i + 1] = cum[i] + lam[i]
                    total = cum[n]
                    if total <= 0.0:
                        continue
                    p_any = -math.expm1(-total)
                    c = 0
                    carry = 0.0
                    while c < n_cycles:
                        if carry > 0.0:  # dead time from the previous cycle: no skipping
                            t = _events_from(rng, carry, cum, lam, bin_s, n, window, total,
                                             dead_s, hist_row)
                        else:
                            c += int(math.floor(rng.standard_exponential() / total))
                            if c >= n_cycles:
                                break
                            target = -math.log1p(-rng.random() * p_any)
                            if target >= total:  # rounding guard
                                target = total * (1.0 - 1e-15)
                            t = _fire_at(target, cum, lam, bin_s, n, 0, dead_s, hist_row)
                            t = _events_from(rng, t, cum, lam, bin_s, n, window, total,
                                             dead_s, hist_row)
                        carry = t - period_s if t > period_s else 0.0
                        c += 1


@nb.njit(cache=True, nogil=True)
def process_block(hist, zr0, zr1, n_cycles, correct, m_full, plags, pweights, log_form, kernel,
                  half, guard, bin_s, snr_thr, t_out, peak_out, sig_out, bg_out,
                  snr_out):  # pragma: no cover - jit
    """Per zone: (1) pile-up correction (if ``correct``): armed cycles at bin i
    R_i = N − B_i with B_i = Σ_{j<i} h_j (Coates, ``m_full`` < 0) or
    B_i = Σ_{L=1..m_full} h_{i−L} + Σ_p w_p·h_{i−L_p} (dead-time window with the partial
    lags ``plags``/``pweights``); λ̂ = −ln(1 − h/R) (``log_form``: at most one detection
    per bin and cycle) or h/R; (2) matched filter argmax, (3) background = mean of the
    corrected bins outside the peak window ± guard, (4) background-subtracted centroid in
    the window of ±``half`` bins, (5) SNR = S/√(Σ_window Var ĉ_k). ``t_out`` NaN if
    invalid."""
    _hz, wz, n = hist.shape
    nk = kernel.size
    npl = plags.size
    nn = float(n_cycles)
    c = np.empty(n)
    v = np.empty(n)
    for zr in range(zr0, zr1):
        for zc in range(wz):
            h = hist[zr, zc]
            # (1) corrected counts c_k = N·λ̂_k and their variance
            run = 0.0  # detections in the fully blocking lags (all earlier bins for Coates)
            for i in range(n):
                hi_ = float(h[i])
                if correct:
                    if m_full >= 0 and i - 1 - m_full >= 0:
                        run -= float(h[i - 1 - m_full])
                    blocked = run
                    for q in range(npl):
                        j = i - plags[q]
                        if j >= 0:
                            blocked += pweights[q] * float(h[j])
                    r = nn - blocked
                    run += hi_
                    if r <= 0.0:
                        c[i] = 0.0
                        v[i] = 0.0
                    elif not log_form:
                        c[i] = nn * hi_ / r
                        v[i] = nn * nn * hi_ / (r * r)
                    elif hi_ < r:
                        c[i] = -nn * math.log1p(-hi_ / r)
                        v[i] = nn * nn * hi_ / (r * (r - hi_))
                    else:
                        c[i] = nn * math.log(2.0 * r)
                        v[i] = nn * nn * hi_ / (r * 0.5)
                else:
                    c[i] = hi_
                    v[i] = hi_
            # (2) matched filter
            best = -1e300
            p = 0
            for i in range(n):
                acc = 0.0
                for j in range(nk):
                    k = i + j - half
                    if 0 <= k < n:
                        acc += kernel[j] * c[k]
                if acc > best:
                    best = acc
                    p = i
            a = p - half if p - half > 0 else 0
            b = p + half if p + half < n - 1 else n - 1
            # (3) background
            s_bg = 0.0
            v_bg = 0.0
            m = 0
            for i in range(n):
                if i < p - half - guard or i > p + half + guard:
                    s_bg += c[i]
                    v_bg += v[i]
                    m += 1
            bgm = s_bg / m if m > 0 else 0.0
            var_bgm = v_bg / (m * m) if m > 0 else 0.0
            # (4) centroid
            s = 0.0
            num = 0.0
            vs = 0.0
            raw = 0.0
            for i in range(a, b + 1):
                d = c[i] - bgm
                s += d
                num += (i + 0.5) * bin_s * d
                vs += v[i]
                raw += h[i]
            w = b - a + 1
            vs += w * w * var_bgm
            snr = s / math.sqrt(vs) if vs > 0.0 else (math.inf if s > 0.0 else 0.0)
            peak_out[zr, zc] = raw
            sig_out[zr, zc] = s
            bg_out[zr, zc] = bgm
            snr_out[zr, zc] = snr
            if s > 0.0 and snr >= snr_thr:
                t_out[zr, zc] = num / s
            else:
                t_out[zr, zc] = math.nan
