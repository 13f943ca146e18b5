"""``camtwin catalog list|show`` — browse the real-sensor catalog (every figure with source)."""

from __future__ import annotations

import json
from typing import Optional

import typer


def _sensor_row(s) -> dict:
    from ..catalog import resolution_class, sensor_applications

    w, h = s.value("width_px"), s.value("height_px")
    return {"name": s.name, "vendor": s.vendor, "part": s.part, "width_px": w, "height_px": h,
            "megapixels": round(s.megapixels, 3), "resolution_class": resolution_class(w, h),
            "pixel_pitch_um": s.value("pixel_pitch_um"), "shutter": s.value("shutter"),
            "illumination": s.value("illumination"), "qe_peak": s.value("qe_peak"),
            "applications": list(sensor_applications(s))}


def _lens_row(lens) -> dict:
    from ..catalog import lens_excludes

    return {"name": lens.name, "maker": lens.maker, "part": lens.part,
            "focal_length_mm": lens.value("focal_length_mm"),
            "f_number": lens.value("f_number"), "dfov_deg": lens.value("dfov_deg"),
            "ir_cut": lens.value("ir_cut"), "excludes": list(lens_excludes(lens))}


def _module_row(m, cat) -> dict:
    from ..catalog import module_applications, resolution_class

    s, lens = cat.sensors[m.sensor], cat.lenses[m.lens]
    return {"name": m.name, "sensor": m.sensor, "lens": m.lens, "isp": m.isp,
            "resolution_class": resolution_class(s.value("width_px"), s.value("height_px")),
            "applications": list(module_applications(s, lens, m)),
            "description": m.description}


def _rows(kind: str, cat) -> list[dict]:
    if kind == "sensors":
        return [_sensor_row(s) for s in cat.sensors.values()]
    if kind == "lenses":
        return [_lens_row(x) for x in cat.lenses.values()]
    return [_module_row(m, cat) for m in cat.modules.values()]


_COLUMNS = {
    "sensors": ("name", "vendor", "part", "megapixels", "resolution_class", "pixel_pitch_um",
                "shutter", "illumination", "qe_peak", "applications"),
    "lenses": ("name", "maker", "focal_length_mm", "f_number", "dfov_deg", "ir_cut",
               "excludes"),
    "modules": ("name", "sensor", "lens", "isp", "resolution_class", "applications"),
}


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, list):
        return ", ".join(v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def list_entries(kind: str, application: str | None) -> list[dict]:
    """Rows of ``kind`` (filtered by an application tag) as plain dicts."""
    from ..catalog import APPLICATIONS, KINDS, load_catalog
    from ..errors import unknown_name

    if kind not in KINDS:
        raise unknown_name("--kind", kind, KINDS)
    if application is not None and application not in APPLICATIONS:
        raise unknown_name("--application", application, APPLICATIONS)
    rows = _rows(kind, load_catalog())
    if application is not None:
        if kind == "lenses":
            rows = [r for r in rows if application not in r["excludes"]]
        else:
            rows = [r for r in rows if application in r["applications"]]
    return rows


def show_entry(name: str) -> dict:
    """Every figure of entry ``name`` with its source, plus the derived quantities."""
    from ..catalog import find_entry, load_catalog, modelled_qe, to_sensor_spec

    from ..parts import PREFIXES

    prefix = PREFIXES["catalog"]
    kind, entry = find_entry(name[len(prefix):] if name.startswith(prefix) else name)
    cat = load_catalog()
    out = {"kind": kind[:-1] if kind != "lenses" else "lens", "name": entry.name,
           "description": entry.description}
    if kind == "modules":
        out.update(_module_row(entry, cat))
        out["sensor_figures"] = {k: f.model_dump() for k, f in
                                 cat.sensors[entry.sensor].figures().items()}
        out["lens_figures"] = {k: f.model_dump() for k, f in
                               cat.lenses[entry.lens].figures().items()}
        dn = getattr(entry, "day_night", None)   # IR-cut switcher, NIR LEDs (camtwin.daynight)
        if dn is not None:
            out["day_night_figures"] = {k: getattr(dn, k).model_dump()
                                        for k in type(dn).model_fields
                                        if getattr(dn, k) is not None}
        st = getattr(entry, "stabiliser", None)  # OIS (camtwin.motion.stabilise)
        if st is not None:
            out["stabiliser_figures"] = {k: getattr(st, k).model_dump()
                                         for k in type(st).model_fields
                                         if getattr(st, k) is not None}
        return out
    out["figures"] = {k: f.model_dump() for k, f in entry.figures().items()}
    if kind == "sensors":
        row = _sensor_row(entry)
        spec = to_sensor_spec(entry)
        q = modelled_qe(spec.pixel, spec.illumination, spec.pixel_pitch_um)
        out["derived"] = {
            "resolution_class": row["resolution_class"], "applications": row["applications"],
            "conversion_gain_dn_per_e": round(spec.conversion_gain_dn_per_e, 5),
            "row_time_s": spec.shutter.line_time_s,
            "modelled_peak_qe": round(float(q.max()), 4),
            "pixel_model": spec.pixel.model_dump(exclude_none=True)}
    else:
        out["derived"] = {"excludes": _lens_row(entry)["excludes"]}
    return out


def register(app, guard, fail, console) -> None:
    """Add the ``catalog`` sub-app (list, show) to ``app``."""
    from rich.table import Table

    from . import name_table

    sub = typer.Typer(no_args_is_help=True, help="Real sensors, lenses and modules with "
                                                 "sourced figures.")
    app.add_typer(sub, name="catalog")

    @sub.command("list")
    def list_cmd(
        kind: str = typer.Option("sensors", help="sensors, lenses or modules."),
        application: Optional[str] = typer.Option(
            None, help="Only entries with this derived application tag (e.g. 'industrial')."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ):
        """List catalog entries with their derived resolution class and applications."""
        rows = guard(list_entries, kind, application)
        if json_out:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        table = name_table(f"camtwin catalog — {kind} ({len(rows)})", "name",
                           [r["name"] for r in rows], _COLUMNS[kind][1:])
        for r in rows:
            table.add_row(*(_fmt(r[c]) for c in _COLUMNS[kind]))
        console.print(table)

    @sub.command("show")
    def show_cmd(name: str = typer.Argument(..., help="Catalog sensor, lens or module name "
                                                   "(NAME or catalog:NAME)."),
                 json_out: bool = typer.Option(False, "--json", help="Print JSON.")):
        """Show every figure of one entry with its source and confidence."""
        info = guard(show_entry, name)
        if json_out:
            print(json.dumps(info, indent=2, ensure_ascii=False))
            return
        console.print(f"[bold]{info['name']}[/] ({info['kind']}): {info['description']}")
        groups = ([("sensor " + info["sensor"], info["sensor_figures"]),
                   ("lens " + info["lens"], info["lens_figures"])]
                  if info["kind"] == "module" else [("figures", info["figures"])])
        if info.get("day_night_figures"):
            groups.append(("day/night (IR-cut switcher, NIR illuminator)",
                           info["day_night_figures"]))
        if info.get("stabiliser_figures"):
            groups.append(("stabiliser (OIS)", info["stabiliser_figures"]))
        for title, figs in groups:
            table = Table(title=title)
            for col in ("field", "value", "confidence", "source", "note"):
                table.add_column(col, overflow="fold")
            for k, f in figs.items():
                table.add_row(k, _fmt(f["value"]), f["confidence"], f["source"], f["note"])
            console.print(table)
        derived = info.get("derived") or {k: info[k] for k in ("resolution_class",
                                                                "applications")}
        for k, v in derived.items():
            console.print(f"  {k}: {_fmt(v) if not isinstance(v, dict) else v}",
                          highlight=False)
