"""``camtwin process``: run a camtwin ISP pipeline on a raw file (DNG or camera raw)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer


#: Peak working set of :func:`process_file` per raw pixel beyond the interpreter's own
#: (``camtwin.memory.FIXED_BYTES``): the pipeline's float32 planes on the whole frame
#: (GNU ``time -v`` of ``camtwin process`` on raws camtwin wrote — ``phone-imx586-main``
#: cropped to 12 MP and whole at 48 MP, ``phone-isocell-hp2-main`` at 200 MP — with the
#: ``fast`` and ``hq`` pipelines: 0.72 / 2.30 / 8.95 GiB, 47 B per pixel between them);
#: with ``--save-stages`` (every stage's output kept): 1.01 GiB at 12 MP, 64 B per pixel.
PROCESS_BYTES_PER_PX = 50
PROCESS_STAGES_BYTES_PER_PX = 80

#: Raws above this many pixels are rendered in row strips (:func:`_process_strips`) when
#: their pipeline is one an :class:`camtwin.isp.IspSpec` can say and no ``--save-stages``
#: is asked for — the size above which ``camtwin capture`` renders in strips
#: (:data:`camtwin.strips.STRIP_ABOVE_PX`): a fixed size, so the same command gives the
#: same image on every machine.
PROCESS_STRIPS_ABOVE_PX = 16_000_000


def process_file(raw_path: Path, pipeline: str, out: Path, *, bits: Optional[int] = None,
                 save_stages: Optional[Path] = None, ccm_path: Optional[Path] = None) -> dict:
    """Load ``raw_path``, run ``pipeline`` (built-in name or YAML), write ``out``.

    The pipeline's working set (:data:`PROCESS_BYTES_PER_PX` per pixel, or
    :data:`PROCESS_STAGES_BYTES_PER_PX` with ``save_stages``) is checked against the
    memory budget once the raw frame is loaded, before the pipeline runs
    (:class:`camtwin.memory.MemoryBudgetError`: one line). A raw above
    :data:`PROCESS_STRIPS_ABOVE_PX` pixels is rendered in row strips when the pipeline
    allows (:func:`_process_strips`)."""
    import numpy as np

    from .._io import check_outputs, quiet_stderr
    from ..errors import ConfigError
    from ..isp import IMAGE_EXTENSIONS, load_pipeline, run_pipeline, save_intermediates, \
        write_rgb
    from ..raw import load_raw

    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ConfigError(f"--out = {str(out)!r}: extension must be one of "
                          f"{', '.join(IMAGE_EXTENSIONS)}")
    if bits is not None and bits not in (8, 16):
        raise ConfigError(f"--bits = {bits}: must be 8 or 16")
    check_outputs({"RAW": raw_path, "--pipeline": pipeline, "--ccm": ccm_path},
                  {"--out": out, "--save-stages": save_stages})
    pipe = load_pipeline(pipeline)
    if not raw_path.is_file():
        raise ConfigError(f"raw file {raw_path} does not exist")
    ccm = None
    if ccm_path is not None:
        try:
            ccm = np.loadtxt(ccm_path, dtype=np.float64, ndmin=2)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--ccm {ccm_path}: cannot read a 3×3 matrix ({exc})") from None
    with quiet_stderr():
        raw = load_raw(raw_path)
    from ..memory import FIXED_BYTES, check_budget

    h, w = raw.shape[:2]
    if save_stages is None and h * w > PROCESS_STRIPS_ABOVE_PX:
        from ..isp.strips import pipeline_as_spec

        notes: list[str] = []
        spec = pipeline_as_spec(pipe, raw, ccm, notes)
        if spec is not None:
            return _process_strips(raw, raw_path, pipe, spec, out, bits, ccm, notes)
    per_px = PROCESS_STAGES_BYTES_PER_PX if save_stages is not None else PROCESS_BYTES_PER_PX
    check_budget(h * w * per_px + FIXED_BYTES, f"processing {raw_path} ({w} × {h} px)",
                 "raise --max-memory"
                 + (", leave out --save-stages" if save_stages is not None else "")
                 + " or process a smaller raw (camtwin capture --crop/--window … --raw); "
                 "the pipeline runs on the whole frame")
    t0 = time.perf_counter()
    res = run_pipeline(raw, pipe, ccm=ccm, keep=save_stages is not None)
    seconds = time.perf_counter() - t0
    if (bits is not None and bits != res.bits) or res.image is None:
        # another depth than the pipeline's output stage: rerun without the fused path
        res = run_pipeline(raw, pipe, ccm=ccm, keep=True) if res.display is None else res
        from ..isp.pipeline import _quantise

        image = _quantise(res.display, bits or res.bits)
    else:
        image = res.image
    written = [write_rgb(out, image)]
    if save_stages is not None:
        try:
            written += save_intermediates(save_stages, res)
        except BaseException:
            for p in written:
                Path(p).unlink(missing_ok=True)
            raise
    return {"raw": str(raw_path), "out": str(out), "pipeline": pipe.name,
            "stages": list(pipe.names), "cfa": raw.cfa,
            "size": [int(raw.shape[1]), int(raw.shape[0])], "bits": int(image.dtype.itemsize * 8),
            "wb_gains": [round(float(g), 6) for g in res.wb_gains],
            "ccm": np.round(res.ccm, 6).tolist(), "exposure_gain": round(res.exposure_gain, 6),
            "notes": list(res.notes), "isp_seconds": round(seconds, 4),
            "files": [str(p) for p in written]}


def _process_strips(raw, raw_path: Path, pipe, spec, out: Path, bits, ccm,
                    notes: list[str]) -> dict:
    """:func:`process_file` of a large raw in row strips
    (:func:`camtwin.isp.strips.render_strips` with ``spec``, the pipeline as an IspSpec):
    the raw frame, the output image and one strip's working set instead of ~50 B per pixel
    of whole-frame float planes — the 200 MP raw of ``phone-isocell-hp2-main`` took 8.95
    GiB (RESULTS.md "Capture at real size", run 8). The image is the whole-frame
    pipeline's up to one code value at rare last-bit differences (``render_strips``);
    ``notes``: what the pipeline's conversion to ``spec`` noted, put first."""
    import numpy as np

    from ..isp import write_rgb
    from ..isp.strips import default_strip_rows, render_strips, strip_working_bytes
    from ..memory import FIXED_BYTES, check_budget

    h, w = raw.shape[:2]
    out_bits = bits or spec.output_bits
    rows = default_strip_rows(w, spec, cfa=raw.cfa)
    need = (raw.nbytes + h * w * 3 * (out_bits // 8)
            + strip_working_bytes(w, rows, spec, cfa=raw.cfa, height_px=h) + FIXED_BYTES)
    check_budget(need, f"processing {raw_path} ({w} × {h} px, in strips)",
                 "raise --max-memory or process a smaller raw "
                 "(camtwin capture --crop/--window … --raw)")
    t0 = time.perf_counter()
    r = render_strips(raw, spec, ccm=ccm, bits=out_bits, strip_rows=rows)
    seconds = time.perf_counter() - t0
    written = [write_rgb(out, r.image)]
    return {"raw": str(raw_path), "out": str(out), "pipeline": pipe.name,
            "stages": list(pipe.names), "cfa": raw.cfa,
            "size": [int(w), int(h)], "bits": int(r.image.dtype.itemsize * 8),
            "wb_gains": [round(float(g), 6) for g in r.wb_gains],
            "ccm": np.round(r.ccm, 6).tolist(), "exposure_gain": round(r.exposure_gain, 6),
            "notes": [*notes, *r.notes], "isp_seconds": round(seconds, 4),
            "strip_rows": int(r.strip_rows), "files": [str(p) for p in written]}


def register(app, guard, fail, console) -> None:
    """Add the ``process`` command to the typer ``app``."""

    @app.command("process")
    def process_cmd(
        raw: Path = typer.Argument(..., help="Raw file: DNG or a camera raw LibRaw reads "
                                             "(CR2, NEF, ARW, ...), or a camtwin .tif/.npz."),
        pipeline: str = typer.Option("hq", help="Pipeline YAML file, or a built-in name "
                                                "(fast, hq)."),
        out: Path = typer.Option(..., help="Output image (.png, .tif, .tiff)."),
        bits: Optional[int] = typer.Option(None, help="8 or 16; default: the pipeline's "
                                                      "output stage (8)."),
        save_stages: Optional[Path] = typer.Option(None, help="Folder for every stage's "
                                                              "output (float32 TIFF)."),
        ccm: Optional[Path] = typer.Option(None, help="Text file with a 3×3 matrix for "
                                                      "'ccm: {matrix: fitted}'."),
        json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
        max_memory: Optional[str] = typer.Option(None, help="Memory budget (e.g. 4G); "
                                                 "default $CAMTWIN_MAX_MEMORY or 70 % of "
                                                 "free RAM."),
    ):
        """Render a raw file with a camtwin ISP pipeline (black level, defects, shading, WB,
        demosaic, denoise, CCM, exposure, tone, sharpen) and write PNG/TIFF."""
        from rich.markup import escape

        from ..memory import using_budget

        def run():
            with using_budget(max_memory):
                return process_file(raw, pipeline, out, bits=bits, save_stages=save_stages,
                                    ccm_path=ccm)

        summary = guard(run)
        if json_out:
            print(json.dumps(summary, indent=2))
        else:
            console.print(f"wrote [bold]{escape(str(out))}[/] "
                          f"({summary['size'][0]}x{summary['size'][1]}, "
                          f"{summary['cfa']}, {summary['bits']}-bit) with pipeline "
                          f"{escape(repr(summary['pipeline']))} in {summary['isp_seconds']:.2f} s",
                          highlight=False)
            for note in summary["notes"]:
                console.print(f"  note: {note}", highlight=False, markup=False)
