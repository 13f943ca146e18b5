"""``camtwin process``: run a camtwin ISP pipeline on a raw file (DNG or camera raw)."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer


@contextmanager
def _quiet_stderr():
    """Silence writes to file descriptor 2 (LibRaw prints data errors such as "Unexpected
    end of file" straight to stderr, before rawpy raises); the exception still reaches the
    caller, which reports it as one line."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def check_complete(path: Path) -> None:
    """Refuse a TIFF-based raw (DNG, most camera raws) whose image data is cut off.

    Every strip/tile of the first image must lie inside the file; LibRaw would otherwise
    fill the missing part with zeros for some files. Non-TIFF files are left to LibRaw.
    """
    import tifffile

    from ..errors import ConfigError

    size = path.stat().st_size
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts)]
    except Exception:  # not TIFF-based (CRW, RAF, ...): LibRaw decides
        return
    if ends and max(ends) > size:
        raise ConfigError(f"raw file {path} is truncated: image data runs to byte "
                          f"{max(ends)} but the file has {size} bytes")


def process_file(raw_path: Path, pipeline: str, out: Path, *, bits: Optional[int] = None,
                 save_stages: Optional[Path] = None, ccm_path: Optional[Path] = None) -> dict:
    """Load ``raw_path``, run ``pipeline`` (built-in name or YAML), write ``out``."""
    import numpy as np

    from ..errors import ConfigError
    from ..isp import IMAGE_EXTENSIONS, load_pipeline, run_pipeline, save_intermediates, \
        write_rgb
    from ..raw import load_raw

    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ConfigError(f"--out = {str(out)!r}: extension must be one of "
                          f"{', '.join(IMAGE_EXTENSIONS)}")
    if bits is not None and bits not in (8, 16):
        raise ConfigError(f"--bits = {bits}: must be 8 or 16")
    pipe = load_pipeline(pipeline)
    if not raw_path.is_file():
        raise ConfigError(f"raw file {raw_path} does not exist")
    ccm = None
    if ccm_path is not None:
        try:
            ccm = np.loadtxt(ccm_path, dtype=np.float64, ndmin=2)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--ccm {ccm_path}: cannot read a 3×3 matrix ({exc})") from None
    check_complete(raw_path)
    with _quiet_stderr():
        raw = load_raw(raw_path)
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
    ):
        """Render a raw file with a camtwin ISP pipeline (black level, defects, shading, WB,
        demosaic, denoise, CCM, exposure, tone, sharpen) and write PNG/TIFF."""
        summary = guard(process_file, raw, pipeline, out, bits=bits, save_stages=save_stages,
                        ccm_path=ccm)
        if json_out:
            print(json.dumps(summary, indent=2))
        else:
            console.print(f"wrote [bold]{out}[/] ({summary['size'][0]}x{summary['size'][1]}, "
                          f"{summary['cfa']}, {summary['bits']}-bit) with pipeline "
                          f"{summary['pipeline']!r} in {summary['isp_seconds']:.2f} s",
                          highlight=False)
            for note in summary["notes"]:
                console.print(f"  note: {note}", highlight=False)
