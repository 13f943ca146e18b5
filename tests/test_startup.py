"""Start-up costs of the CLI (issue 17): what `import camtwin` and a capture import, and how
many catalog files resolving one part name reads. No timings (benchmarks/bench_startup.py
measures those); these are the structural causes of a slow start."""

import json
import subprocess
import sys
from importlib import resources

import pytest
import yaml

from camtwin import parts
from camtwin.catalog import loader

#: Packages a capture must not import (each costs 0.1–1.4 s; colour-science imports
#: matplotlib and pandas). colour-science is still the reference in the tests.
HEAVY = ("colour", "matplotlib", "pandas", "dask", "fastapi", "duckdb", "cryptography")


HEAVY = ("colour", "matplotlib", "pandas", "dask", "fastapi", "duckdb", "cryptography")


def test_import_and_capture_import_nothing_heavy(tmp_path):
    data = yaml.safe_load((resources.files("camtwin") / "data" / "modules" / "default.yaml")
                          .read_text("utf-8"))
    data["sensor"].update(width_px=160, height_px=120)
    module = tmp_path / "small.yaml"
    module.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code = f"""
import json, sys
import camtwin
after_import = [m for m in {HEAVY!r} if m in sys.modules]
from camtwin.cli import main
sys.argv = ["camtwin", "capture", "--module", {str(module)!r}, "--scene", "colorchecker",
            "--lux", "300", "--out", {str(tmp_path / 'cc.png')!r}]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps({{"import": after_import,
                  "capture": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"import": [], "capture": []}
    assert (tmp_path / "cc.png").stat().st_size > 0


def test_import_camtwin_and_help_import_no_simulation_stack():
    # `import camtwin` names shoot/load_module/... lazily; `camtwin --help` lists commands only
    code = """
import sys
import camtwin
from camtwin.cli import app
print(sorted(m for m in ("numba", "scipy", "cv2", "camtwin.camera", "camtwin.module",
                         "colour", "matplotlib") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]"]


def test_lazy_public_names_resolve():
    import camtwin

    assert camtwin.shoot is camtwin.camera.shoot
    assert isinstance(camtwin.load_module("default"), camtwin.ModuleSpec)
    assert {"shoot", "Shot", "render", "module_scene", "ModuleSpec", "load_module",
            "load_sensor", "load_lens"} <= set(dir(camtwin)) & set(camtwin.__all__)


@pytest.fixture
def yaml_reads(monkeypatch):
    """Paths the catalog loader reads (caches cleared before and after)."""
    seen = []
    real = loader.read_yaml
    monkeypatch.setattr(loader, "read_yaml", lambda p: (seen.append(str(p)), real(p))[1])
    loader.clear_cache()
    yield seen
    loader.clear_cache()


def test_builtin_name_reads_no_catalog_file(yaml_reads):
    assert parts.locate("module", "default").source == "builtin"
    parts.resolve_module("default")
    assert yaml_reads == []


def test_catalog_name_reads_only_its_own_files(yaml_reads):
    name = loader.catalog_names("modules")[0]
    entry = loader.get_module(name)
    yaml_reads.clear()
    loader.clear_cache()
    parts.resolve_module("catalog:" + name)
    expected = {f"modules/{name}.yaml", f"sensors/{entry.sensor}.yaml",
                f"lenses/{entry.lens}.yaml", "isp_presets.yaml"}
    assert {"/".join(p.split("/")[-2:]) if "isp_presets" not in p else "isp_presets.yaml"
            for p in yaml_reads} == expected
    assert len(loader.catalog_names("modules")) > 1  # so a full load would have read more


def test_catalog_names_are_the_loaded_names():
    cat = loader.load_catalog()
    for kind in loader.KINDS:
        assert loader.catalog_names(kind) == sorted(cat.entries(kind))


def test_unknown_catalog_name_lists_the_valid_ones():
    from camtwin.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match=loader.catalog_names("sensors")[0]):
        loader.get_sensor("no-such-sensor")
