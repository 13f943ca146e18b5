"""``camtwin emva1288``: EMVA 1288 (Release 4.0 Linear) datasheet of a simulated sensor or of
real frames — ``results.json`` and a self-contained ``report.html`` in ``--out``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from . import seed_option


def _load_sensor(ref: str, note=None):
    """The SensorSpec ``--sensor`` names: every form of :func:`camtwin.parts.resolve_sensor`
    (built-in module, ``catalog:NAME``, ``emva:NAME`` published EMVA 1288 summary, bare name,
    module / sensor / catalog-entry / EMVA-summary YAML). ``note`` receives the canonical
    name when an old name was used."""
    from ..errors import UnknownNameError
    from ..parts import locate, resolve_sensor

    try:
        loc = locate("sensor", ref)
    except UnknownNameError as exc:
        raise UnknownNameError(f"--sensor = {ref!r}: {exc}") from None
    if loc.note and note is not None:
        note(loc.note)
    return resolve_sensor(ref)


def sensor_assumptions(ref: str) -> dict[str, str]:
    """EMVA 1288 result keys whose value for the twin ``ref`` comes from an assumption, not
    a datasheet figure → why: for a published EMVA summary (``emva:NAME`` or its YAML)
    :func:`~camtwin.measure.emva1288.datasheet.twin_assumptions`, for a catalog sensor
    :func:`~camtwin.catalog.convert.emva_assumptions`; other sensors (built-in modules, sensor
    YAMLs) state every value themselves, so nothing is marked."""
    from .._spec import read_yaml
    from ..catalog.convert import emva_assumptions
    from ..measure.emva1288.datasheet import EmvaSummary, load_summary, twin_assumptions
    from ..parts import locate

    loc = locate("sensor", ref)
    if loc.source == "emva":
        return twin_assumptions(load_summary(loc.key))
    if loc.source == "catalog":
        return emva_assumptions(loc.key)
    if loc.source == "yaml":
        data = read_yaml(loc.key)
        if isinstance(data, dict) and "saturation_capacity_e" in data:
            return twin_assumptions(EmvaSummary.from_dict(data, source=loc.key))
        if isinstance(data, dict) and "vendor" in data and "part" in data:
            from ..catalog.schema import SensorEntry

            return emva_assumptions(SensorEntry.from_dict(data, source=loc.key))
    return {}


def register(app, guard, fail, console):
    """Add the ``emva1288`` command to ``app``."""

    @app.command("emva1288")
    def emva1288_cmd(
        out: Path = typer.Option(..., help="Output folder (results.json, report.html)."),
        sensor: Optional[str] = typer.Option(
            None, help="Sensor: built-in module name, catalog:NAME, emva:NAME (published EMVA "
                       "1288 summary), bare name, or a module/sensor YAML (see 'camtwin "
                       "catalog list'; EMVA summaries: emva:onsemi-python1300, ...)."),
        frames: Optional[Path] = typer.Option(None, help="Folder of real images."),
        descriptor: Optional[Path] = typer.Option(None, help="YAML descriptor of --frames."),
        wavelength_nm: float = typer.Option(525.0, help="Wavelength of the light [nm]."),
        steps: int = typer.Option(50, help="Photon-transfer steps (>= 50)."),
        stack: int = typer.Option(16, help="Frames of each nonuniformity stack (>= 16)."),
        width: Optional[int] = typer.Option(None, help="Simulate a smaller array: width [px]."),
        height: Optional[int] = typer.Option(None, help="... and height [px]."),
        seed: int = seed_option("Seed of the temporal noise."),
    ):
        """EMVA 1288 R4.0 Linear characterisation: simulate the measurement on a sensor
        (--sensor) or analyse real frames (--frames DIR --descriptor FILE.yaml); write
        OUT/results.json and OUT/report.html."""
        guard(_run, out, sensor, frames, descriptor, wavelength_nm, steps, stack, width,
              height, seed, console)


def _run(out, sensor, frames, descriptor, wavelength_nm, steps, stack, width, height, seed,
         console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeElapsedColumn

    from .._io import check_outputs
    from ..errors import ConfigError
    from ..measure.emva1288 import (FramesDescriptor, MeasurementSpec, analyse, count_frames,
                                    load_frames, simulate_measurement, write_report)
    from ..measure.emva1288.files import count_images

    if (sensor is None) == (frames is None):
        raise ConfigError("give either --sensor NAME|FILE.yaml or --frames DIR with "
                          "--descriptor FILE.yaml")
    if frames is not None and descriptor is None:
        raise ConfigError("--frames needs --descriptor FILE.yaml")
    if sensor is not None and descriptor is not None:
        raise ConfigError("--descriptor goes with --frames, not with --sensor")
    if steps < 50:
        raise ConfigError(f"--steps = {steps}: must be >= 50 (EMVA 1288 R4.0 §6.5)")
    if stack < 16:
        raise ConfigError(f"--stack = {stack}: must be >= 16 (EMVA 1288 R4.0 §8.1)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out = {str(out)!r}: exists and is not a folder")
    check_outputs({"--sensor": sensor, "--frames": frames, "--descriptor": descriptor},
                  {"--out": [out, out / "results.json", out / "report.html"]})
    t0 = time.perf_counter()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    from rich.console import Console

    err = Console(stderr=True)
    if sensor is not None:  # resolved before any progress output: errors stay one line
        s = _load_sensor(sensor, note=lambda m: err.print(f"note: {m}", highlight=False))
        assumed = sensor_assumptions(sensor)
        if width or height:
            s = s.replace(width_px=width or s.width_px, height_px=height or s.height_px)
    with Progress(*columns, console=err, transient=False) as progress:
        if sensor is not None:
            spec = MeasurementSpec(wavelength_nm=wavelength_nm, n_steps=steps,
                                   spatial_frames=stack)
            task = progress.add_task(f"simulating {s.name}", total=count_frames(spec))
            ds = simulate_measurement(
                s, spec, seed=seed,
                progress=lambda msg, n: progress.update(task, completed=n, description=msg))
            title = f"EMVA 1288 — simulated {s.name}"
        else:
            desc = FramesDescriptor.from_yaml(descriptor)
            task = progress.add_task("reading frames", total=count_images(desc))
            ds = load_frames(frames, desc,
                             progress=lambda msg, n: progress.update(task, completed=n,
                                                                     description=msg))
            title = f"EMVA 1288 — {desc.camera.name}"
        a = progress.add_task("analysing", total=2)
        res = analyse(ds)
        progress.update(a, advance=1, description="writing report")
        extra = None if sensor is None else {"sensor": sensor, "assumed": assumed}
        j, h = write_report(res, out, title=title, extra=extra)
        progress.update(a, advance=1, description="done")
    s = res.summary
    console.print(
        f"wrote [bold]{j}[/] and [bold]{h}[/] ({time.perf_counter() - t0:.1f} s): "
        f"η = {100 * s['quantum_efficiency']:.1f} % @ {s['wavelength_nm']:.0f} nm, "
        f"K = {s['system_gain_dn_per_e']:.4g} DN/e⁻, σ_d = {s['temporal_dark_noise_e']:.3g} e⁻, "
        f"μ_e.sat = {s['saturation_capacity_e']:.5g} e⁻, SNR_max = {s['snr_max_db']:.1f} dB, "
        f"DR = {s['dynamic_range_db']:.1f} dB", highlight=False)
    if sensor is not None and assumed:
        from ..measure.emva1288.report import assumed_labels

        console.print(f"assumed, not from a datasheet (marked in the report and results.json "
                      f"'assumed'): {', '.join(assumed_labels(assumed))}", highlight=False)
