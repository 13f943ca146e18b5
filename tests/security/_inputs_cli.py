"""Shared helpers of the input-path security tests (``test_inputs_*.py``, ``test_fuzz_cli.py``).

:func:`invoke` runs ``camtwin.cli.main`` in-process exactly as the console script does
(usage errors included), with file descriptors 1 and 2 captured (``CliRunner(capture="fd")``)
so that what C libraries print (libpng, libtiff, LibRaw) counts too.
"""

from __future__ import annotations

import logging
import struct
import sys
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml
from click.testing import CliRunner

from camtwin.cli import main

#: A sensor small enough for a capture in well under a second once numba has compiled, and
#: large enough for the ColorChecker summary (64×48 has too few pixels per patch).
TINY_W, TINY_H = 96, 72


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def invoke(*args, env: dict | None = None) -> Run:
    """Run ``camtwin ARGS`` in-process; an exception escaping ``main`` is returned (the
    console script would print it as a traceback)."""
    runner = CliRunner(capture="fd")
    exc = None
    saved_argv = sys.argv
    # as in the console script: no handler on the root logger, so a library's log record
    # reaches stderr through logging.lastResort (pytest's capture handler would hide it)
    root = logging.getLogger()
    saved_handlers, root.handlers = root.handlers, []
    with runner.isolation(env=env) as (out, err, _):
        sys.argv = ["camtwin", *map(str, args)]
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:  # noqa: BLE001 - a traceback is what the test looks for
            code, exc = 1, e
        finally:
            sys.argv = saved_argv
            root.handlers = saved_handlers
    return Run(code, out.getvalue().decode("utf-8", "replace"),
               err.getvalue().decode("utf-8", "replace"), exc)


def assert_one_line_error(run: Run, *needles: str) -> str:
    """Exit status 2, exactly one line on stderr starting ``error:``, no traceback; every
    needle appears literally in that line."""
    assert run.exception is None, repr(run.exception)
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.code == 2, (run.code, run.stderr, run.stdout)
    assert run.stderr.endswith("\n") and run.stderr.count("\n") == 1, repr(run.stderr)
    assert run.stderr.startswith("error: "), run.stderr
    for needle in needles:
        assert needle in run.stderr, (needle, run.stderr)
    return run.stderr


def tiny_module_dict() -> dict:
    """The shipped default module with a TINY_W × TINY_H sensor (all else unchanged)."""
    text = (resources.files("camtwin") / "data" / "modules" / "default.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["sensor"]["width_px"], data["sensor"]["height_px"] = TINY_W, TINY_H
    return data


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def png_header_only(path: Path, width: int, height: int, *, grey: bool = False) -> Path:
    """A PNG whose IHDR declares ``width × height`` RGB8 (``grey``: 8-bit grey) but whose
    image data is a few bytes: decoding it would need width·height·3 (1) bytes, reading
    the header needs nothing."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * (3 * min(width, 4096) + 1))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path
