"""SFR figure: the e-SFR curve with MTF50, Nyquist/2 and Nyquist marked."""

from __future__ import annotations

from pathlib import Path

from .figures import _figure, _save


def plot_sfr(results, path, *, labels=None, title: str = "e-SFR (ISO 12233)") -> Path:
    """Plot one or more :class:`camtwin.measure.sfr.SfrResult` curves to a PNG (atomic).

    Frequencies in cycles per sensor pixel up to 1 (2× Nyquist; a raw colour is measured
    at its own sensor sites, never per colour-plane sample); dotted lines at Nyquist/2 and
    Nyquist, a marker at each curve's MTF50 (the legend says "n/a" where the SFR never
    falls to 0.5).
    """
    if not isinstance(results, (list, tuple)):
        results = [results]
    labels = labels or [f"edge {r.edge_angle_deg:.1f}°" for r in results]
    fig = _figure((6.0, 3.8))
    ax = fig.add_subplot()
    for r, lab in zip(results, labels):
        m50 = "n/a" if r.mtf50_cy_px != r.mtf50_cy_px else f"{r.mtf50_cy_px:.3f} cy/px"
        line, = ax.plot(r.frequencies_cy_px, r.sfr, lw=1.8, label=f"{lab}: MTF50 {m50}")
        if r.mtf50_cy_px == r.mtf50_cy_px:  # not NaN
            ax.plot([r.mtf50_cy_px], [0.5], "o", color=line.get_color(), ms=5)
    for f, name in ((0.25, "Nyquist/2"), (0.5, "Nyquist")):
        ax.axvline(f, color="grey", ls=":", lw=1)
        ax.text(f, 1.02, name, fontsize=7, color="grey", ha="center")
    ax.axhline(0.5, color="grey", lw=0.6, alpha=0.5)
    ax.set(xlabel="spatial frequency [cycles per sensor pixel]", ylabel="SFR", title=title,
           xlim=(0, 1.0), ylim=(0, 1.1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
