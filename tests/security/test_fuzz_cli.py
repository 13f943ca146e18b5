"""Issue 22, "Must show": a fuzz test of the CLI's file inputs, spec fields and options.

Hypothesis drives ``camtwin`` in-process (``_inputs_cli.invoke``: the console script's
``main``, file descriptors 1 and 2 captured) with

* a tiny module YAML (96×72 sensor) with one field replaced by NaN/inf/negative/huge
  numbers, wrong types, strings with Rich markup or unicode, lists nested up to 1500
  levels, or an unknown key — plus ``--seed``, ``--lux`` and ``--exposure-ms`` values;
* PNG scenes and TIFF / DNG / NPZ raw frames that are truncated, bit-flipped or partly
  overwritten (header bytes preferred), fed to ``capture``, ``process``, ``sfr`` and
  ``colour``.

Every run must keep the contract of the CLI: exit status 0 or 2, at most one line on
stderr, no traceback, on failure no output file (and no temporary file), every input file
byte-identical afterwards. The memory budget is 600 MiB (``CAMTWIN_MAX_MEMORY``), so a
mutated size is refused in milliseconds instead of being simulated. About 30 s in all.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _inputs_cli import invoke, tiny_module_dict, write_yaml

ENV = {"CAMTWIN_MAX_MEMORY": "600M"}
FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_contract(run, folder: Path, inputs: dict[Path, bytes], outputs: list[Path]) -> None:
    """The CLI's promise for any input (module docstring)."""
    assert run.exception is None, f"{type(run.exception).__name__}: {run.exception}"
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.code in (0, 2), (run.code, run.stderr)
    assert run.stderr.count("\n") <= 1, run.stderr
    if run.code == 2:
        assert run.stderr.startswith("error: ") and run.stderr.endswith("\n"), run.stderr
        assert run.stdout == "", run.stdout
        assert not [p for p in outputs if p.exists()], (run.stderr, outputs)
    else:
        assert all(p.is_file() and p.stat().st_size > 0 for p in outputs), run.stdout
    assert not list(folder.glob(".*.tmp*")), "a temporary file was left behind"
    for path, data in inputs.items():
        assert path.read_bytes() == data, f"input {path.name} was modified"


# --- module fields and options -----------------------------------------------------------------

def _leaves(data, prefix=()):
    """Key paths of every scalar field of a module dict."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,)


TINY = tiny_module_dict()
FIELDS = sorted(_leaves(TINY)) + [("sensor", "extra [/bold] field"), ("lens", "x[red]")]
_MARK = "__CAMTWIN_FUZZ_VALUE__"

ODD_NUMBERS = [math.nan, math.inf, -math.inf, 0, -0.0, -1, -1e-300, 5e-324, 1e308, -1e308,
               10**30, -(10**30), 2**63, 2**64, 0.5, 1, 2, 3, 7, 10**5, 10**9]
ODD_TEXT = ["", " ", "[/bold]", "x[red]y[/]", "[link=file:///etc/passwd]x[/link]", "ü名\u202e",
            "\x1b[31mred", "NaN", "1e999", "catalog:nope", "../../etc/passwd", "a\nb"]


def _flow(value) -> str:
    """YAML text of ``value`` (JSON is YAML, except for the non-finite floats)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    return json.dumps(value)


field_values = st.one_of(
    # a plausible change: the field's own number scaled (often still valid, so the capture
    # runs with unusual physics instead of stopping at validation)
    st.sampled_from([0.1, 0.5, 0.9, 1.1, 2.0, 4.0]).map(lambda f: ("scale", f)),
    st.sampled_from([0.1, 0.5, 0.9, 1.1, 2.0, 4.0]).map(lambda f: ("scale", f)),
    st.sampled_from(ODD_NUMBERS).map(_flow),
    st.floats(allow_nan=True, allow_infinity=True).map(_flow),
    st.integers(-10**20, 10**20).map(_flow),
    st.sampled_from(ODD_TEXT).map(_flow),
    st.text(max_size=12).map(_flow),
    st.sampled_from([True, False, None, [], {}, [1, 2], {"a": 1}]).map(_flow),
    st.integers(2, 1500).map(lambda n: "[" * n + "]" * n),
)
# options are valid two times in three, so that the module mutation is what gets tested
lux_values = st.one_of(st.just(500.0), st.floats(min_value=1e-3, max_value=1e5),
                       st.sampled_from([1e-6, 1e6, 0.0, -1.0, math.nan, math.inf, -math.inf,
                                        1e300]))
exposure_values = st.one_of(st.none(), st.floats(min_value=1e-3, max_value=1e3),
                            st.sampled_from([0.0, -1.0, 1e-9, 1e4, 1e30, math.nan, math.inf]))
seed_values = st.one_of(st.just(0), st.integers(0, 2**16),
                        st.sampled_from([-1, 2**63 - 1, 2**63, 2**80]))


def _module_text(path, value):
    """The tiny module's YAML with the field at ``path`` set to ``value`` (YAML text, or
    ``("scale", f)``: the original number times f; other fields are left alone)."""
    data = json.loads(json.dumps(TINY))
    node = data
    for key in path[:-1]:
        node = node[key]
    if isinstance(value, tuple):
        old = node.get(path[-1])
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            return yaml.safe_dump(data, sort_keys=False)
        new = old * value[1]
        value = _flow(int(round(new)) if isinstance(old, int) else new)
    node[path[-1]] = _MARK
    return yaml.safe_dump(data, sort_keys=False).replace(_MARK, value)


@FUZZ
@given(field=st.sampled_from(FIELDS), value=field_values, lux=lux_values,
       exposure_ms=exposure_values, seed=seed_values,
       raw_ext=st.sampled_from([".npz", ".tif", ".dng"]))
def test_fuzz_module_fields_and_options(field, value, lux, exposure_ms, seed, raw_ext):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mod = folder / "mod[1].yaml"
        mod.write_text(_module_text(field, value), encoding="utf-8")
        out, raw = folder / "out.png", folder / f"raw{raw_ext}"
        args = ["capture", "--module", mod, "--scene", "uniform", "--out", out, "--raw", raw,
                "--lux", repr(lux), "--seed", seed]
        if exposure_ms is not None:
            args += ["--exposure-ms", repr(exposure_ms)]
        before = {mod: mod.read_bytes()}
        check_contract(invoke(*args, env=ENV), folder, before, [out, raw])


# --- corrupted files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """A rendered PNG and the raw frame as TIFF, DNG and NPZ, from the tiny module."""
    d = tmp_path_factory.mktemp("fuzz_files")
    write_yaml(d / "tiny.yaml", TINY)
    files = {}
    for ext in (".tif", ".dng", ".npz"):
        run = invoke("capture", "--module", d / "tiny.yaml", "--scene", "slanted_edge",
                     "--out", d / f"shot{ext}.png", "--raw", d / f"shot{ext}", "--quiet")
        assert run.code == 0, run.stderr
        files[ext] = (d / f"shot{ext}").read_bytes()
    files[".png"] = (d / "shot.tif.png").read_bytes()
    files["tiny.yaml"] = (d / "tiny.yaml").read_bytes()
    return files


@st.composite
def corruptions(draw, size: int):
    """A list of edits of a file of ``size`` bytes: truncation, bit flips, overwrites
    (positions within the first 1 KiB — the headers — half of the time)."""
    pos = st.one_of(st.integers(0, min(size, 1024) - 1), st.integers(0, size - 1))
    edits = draw(st.lists(st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(0, 7)),
        st.tuples(st.just("set"), pos, st.binary(min_size=1, max_size=8)),
    ), max_size=6))
    cut = draw(st.one_of(st.none(), st.integers(0, size - 1)))
    return edits, cut


def corrupt(data: bytes, edits, cut) -> bytes:
    buf = bytearray(data)
    for kind, p, arg in edits:
        if kind == "flip":
            buf[p] ^= 1 << arg
        else:
            buf[p:p + len(arg)] = arg
    return bytes(buf if cut is None else buf[:cut])


COMMANDS = {
    ".png": [("capture", ["capture", "--module", "{tiny}", "--scene", "{file}", "--out",
                          "{out}.png", "--quiet"]),
             ("sfr", ["sfr", "{file}", "--plot", "{out}.png"]),
             ("colour", ["colour", "{file}"])],
    ".tif": [("process", ["process", "{file}", "--out", "{out}.png"])],
    ".dng": [("process", ["process", "{file}", "--out", "{out}.png"]),
             ("sfr", ["sfr", "{file}"])],
    ".npz": [("process", ["process", "{file}", "--out", "{out}.png"]),
             ("sfr", ["sfr", "{file}", "--plot", "{out}.png"])],
}


@pytest.mark.parametrize("ext", sorted(COMMANDS))
def test_fuzz_corrupted_files(originals, ext):
    data = originals[ext]

    @settings(FUZZ, max_examples=12)
    @given(damage=corruptions(len(data)), which=st.integers(0, len(COMMANDS[ext]) - 1))
    def run_one(damage, which):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            f = folder / f"input{ext}"
            f.write_bytes(corrupt(data, *damage))
            tiny = folder / "tiny.yaml"
            tiny.write_bytes(originals["tiny.yaml"])
            _, template = COMMANDS[ext][which]
            out = folder / "result"
            args = [a.format(file=f, tiny=tiny, out=out) for a in template]
            outputs = [Path(a) for a in args if a.startswith(str(out))]
            before = {f: f.read_bytes(), tiny: tiny.read_bytes()}
            check_contract(invoke(*args, env=ENV), folder, before, outputs)

    run_one()


def test_fuzz_helpers_really_corrupt():
    # the strategies above must produce damaged files, or the fuzz test proves nothing
    data = bytes(range(256)) * 8
    assert corrupt(data, [("flip", 3, 0)], None)[3] == data[3] ^ 1
    assert corrupt(data, [("set", 10, b"\xff\xff")], 100) == data[:10] + b"\xff\xff" + data[12:100]
    assert "[" * 1500 in _module_text(("sensor", "width_px"), "[" * 1500 + "]" * 1500)
