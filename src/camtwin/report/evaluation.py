"""HTML report of one or more module evaluations for an application (``camtwin evaluate
--report`` / ``camtwin compare``): verdict table side by side, SNR-vs-lux, MTF and QE
curves, and sample frames at 1 lx and 1000 lx — one self-contained file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._io import write_json_atomic
from .figures import new_figure as _figure
from .html import escape, figure_img, image_img, table, write_page

#: Light levels of the sample frames in the report [lx].
SAMPLE_LUX = (1.0, 1000.0)


def module_extras(module, *, rng=0) -> dict:
    """SNR curve (D65, 18 % grey, 1/30 s), centre SFR and sample ColorChecker frames."""
    from ..camera import expose, module_scene, render
    from ..evaluate.imaging import slanted_edge_mtf
    from ..evaluate.metrics import COLOUR_CROP_PX, crop_module, snr_curve
    from ..optics import form_image
    from ..sensor import auto_exposure_s

    gen = np.random.default_rng(rng)
    curve = snr_curve(module, rng=gen)
    sfr = slanted_edge_mtf(module, field=0.0, rng=gen).details["sfr"]
    crop = crop_module(module, COLOUR_CROP_PX, COLOUR_CROP_PX * 3 // 4)
    frames = []
    oi1 = form_image(module_scene(crop, "colorchecker", illuminance_lux=SAMPLE_LUX[0]),
                     crop.lens)
    for lux in SAMPLE_LUX:
        oi = oi1.scaled_to_illuminance(lux)
        t = min(auto_exposure_s(oi, crop.sensor), 1 / 30)
        frames.append((lux, t, render(crop, expose(crop, oi, exposure_s=t, rng=gen)).srgb))
    return {"curve": curve, "sfr": sfr, "frames": frames}


def _snr_figure(evals, extras):
    fig = _figure((6.0, 3.8))
    ax = fig.add_subplot()
    for ev, ex in zip(evals, extras):
        c = ex["curve"]
        ok = c.snr > 0
        ax.loglog(c.level[ok], c.snr[ok], marker=".", label=ev.module.name)
    ax.axhline(10, color="k", lw=0.8, ls="--")
    ax.text(ax.get_xlim()[0] * 1.5, 11, "SNR 10 (ISO 12232 acceptable)", fontsize=7)
    for ev in evals[:1]:
        for v in ev.verdicts:
            if v.requirement.metric == "lux_at_snr10" and v.requirement.max is not None:
                ax.axvline(v.requirement.max, color="tab:red", lw=0.8, ls=":",
                           label=f"required ≤ {v.requirement.max:g} lx")
    ax.set(xlabel="scene illuminance [lx] (D65, 18 % grey, 1/30 s)", ylabel="SNR",
           title="SNR vs light level (raw green, total noise)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def _mtf_figure(evals, extras):
    fig = _figure((6.0, 3.8))
    ax = fig.add_subplot()
    for ev, ex in zip(evals, extras):
        s = ex["sfr"]
        ax.plot(s.frequencies_cy_px, s.sfr, label=f"{ev.module.name} (MTF50 "
                                                  f"{s.mtf50_cy_px:.3f} cy/px)")
    ax.axhline(0.5, color="k", lw=0.6, ls="--")
    ax.axvline(0.5, color="grey", lw=0.6, ls=":")
    ax.set(xlabel="spatial frequency [cycles/pixel]", ylabel="SFR", xlim=(0, 1),
           ylim=(0, 1.1), title="ISO 12233 e-SFR, centre (raw, before ISP)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _qe_figure(evals):
    from ..sensor.response import channel_qe
    from ..spectra import DEFAULT_WAVELENGTHS_NM as wl

    fig = _figure((6.0, 3.8))
    ax = fig.add_subplot()
    styles = ["-", "--", ":", "-."]
    colours = {"R": "tab:red", "G": "tab:green", "B": "tab:blue", "IR": "tab:purple",
               "C": "tab:gray", "M": "k"}
    for i, ev in enumerate(evals):
        s = ev.module.sensor
        qe = channel_qe(s, wl) * ev.module.lens.spectral_transmission(wl)[:, None]
        for c, name in enumerate(s.channels):
            ax.plot(wl, qe[:, c], color=colours.get(name, "k"), ls=styles[i % 4], lw=1.4,
                    label=f"{ev.module.name} {name}" if c == 0 or len(evals) == 1 else None)
    ax.set(xlabel="wavelength [nm]", ylabel="QE × lens transmission", xlim=(wl[0], wl[-1]),
           ylim=(0, 1), title="Spectral response (line style = module)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def _fmt(v: float) -> str:
    if v != v:
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _cond_text(cond: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in cond.items())


def write_evaluation_report(evaluations, out_dir, *, rng=0, progress=None) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/evaluation.json`` for one or more
    evaluations of the same application; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    evals = list(evaluations)
    app = evals[0].application
    extras = []
    for i, ev in enumerate(evals):
        extras.append(module_extras(ev.module, rng=rng))
        if progress is not None:
            progress(i + 1, len(evals))

    names = [ev.module.name for ev in evals]
    header = ["requirement", "conditions", "limit"] + names
    rows, classes = [], []
    for k, v0 in enumerate(evals[0].verdicts):
        r = v0.requirement
        cells = [r.metric, _cond_text(r.conditions), r.limit_text]
        for ev in evals:
            v = ev.verdicts[k]
            if v.status == "n/a":
                cells.append(("html", f'<span class="fail">n/a — '
                                      f'{escape(str(v.result.reason))}</span>'))
                continue
            mark = "PASS" if v.passed else "FAIL"
            state = getattr(v, "state", None)   # day/night modules (camtwin.daynight)
            note = getattr(v, "note", None)
            extra = (f' · {escape(state)} state' if state else "") + (
                f'<br><span class="muted">{escape(note)}</span>' if note else "")
            cells.append(("html", f'<span class="{"pass" if v.passed else "fail"}">'
                                  f'{escape(_fmt(v.value))} {escape(r.unit)} — {mark}'
                                  f'<br><span class="muted">margin {escape(_fmt(v.margin))} '
                                  f'{escape(r.unit)}{extra}</span></span>'))
        rows.append(cells)
        classes.append(None)
    verdict_rows = [[ev.module.name, "PASS" if ev.passed else f"FAIL ({ev.n_failed})",
                     f"{ev.seconds:.1f} s"] for ev in evals]

    body = [f"<p>{escape(app.title)} — {escape(app.description)}</p>",
            table(["module", "verdict", "evaluation time"], verdict_rows,
                  row_classes=["pass" if ev.passed else "fail" for ev in evals]),
            "<h2>Requirements</h2>", table(header, rows, row_classes=classes)]
    if len(evals) > 1:
        body.append(_differences(evals))
    body += ["<h2>Curves</h2>", '<div class="row">',
             figure_img(_snr_figure(evals, extras), "SNR vs lux"),
             figure_img(_mtf_figure(evals, extras), "MTF"),
             figure_img(_qe_figure(evals), "QE"), "</div>",
             "<h2>Sample frames (ColorChecker, centre crop, auto exposure ≤ 1/30 s)</h2>"]
    for ev, ex in zip(evals, extras):
        body.append(f"<h3>{escape(ev.module.name)}</h3><div class=\"row\">")
        for lux, t, img in ex["frames"]:
            body.append(f"<figure>{image_img(img, f'{lux} lx', width=320)}<figcaption>"
                        f"{lux:g} lx, {t * 1e3:.1f} ms</figcaption></figure>")
        body.append("</div>")
    body.append("<h2>Where the requirements come from</h2>")
    body.append(table(["metric", "limit", "basis", "source", "note"],
                      [[v.requirement.metric, v.requirement.limit_text, v.requirement.basis,
                        v.requirement.source, v.requirement.note] for v in evals[0].verdicts]))
    title = (f"camtwin evaluate — {names[0]} for {app.name}" if len(evals) == 1
             else f"camtwin compare — {', '.join(names)} for {app.name}")
    write_json_atomic(out / "evaluation.json", [ev.as_dict() for ev in evals])
    return write_page(out / "report.html", title, "\n".join(body))


def _differences(evals) -> str:
    """How much better/worse each module is than the first, per requirement."""
    base = evals[0]
    rows = []
    for k, v0 in enumerate(base.verdicts):
        r = v0.requirement
        cells = [r.metric, _cond_text(r.conditions)]
        for ev in evals[1:]:
            v = ev.verdicts[k]
            if v0.value and math.isfinite(v0.value) and math.isfinite(v.value):
                ratio = v.value / v0.value
                cells.append(f"{_fmt(v.value - v0.value)} {r.unit} (×{ratio:.3g})")
            else:
                cells.append(f"{_fmt(v.value)} vs {_fmt(v0.value)}")
        rows.append(cells)
    header = ["requirement", "conditions"] + [f"{ev.module.name} − {base.module.name}"
                                              for ev in evals[1:]]
    return "<h2>Differences</h2>" + table(header, rows)
