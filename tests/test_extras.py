"""Optional extras (web, sweep, privacy): a lean core, one-line errors naming the extra.

The core install must import and run ``capture`` without any extra; a command that needs
one says which, with the pip command, in one line (exit status 2). Missing packages are
simulated in a subprocess by a meta-path finder that refuses to import them — the same
ModuleNotFoundError an uninstalled package raises.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from camtwin.extras import EXTRAS, MissingExtraError, missing, require

HEAVY = sorted({m for mods in EXTRAS.values() for m in mods})


def _run(code: str, *, block=(), cwd=None, timeout=300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which the modules ``block`` do not exist."""
    prelude = textwrap.dedent(f"""
        import sys
        BLOCK = {sorted(block)!r}

        class _Uninstalled:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCK:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, _Uninstalled())
    """)
    return subprocess.run([sys.executable, "-W", "error", "-c", prelude + code], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _cli(args, *, block, cwd):
    return _run(f"import sys; sys.argv = ['camtwin', *{list(map(str, args))!r}]\n"
                "from camtwin.cli import main; main()", block=block, cwd=cwd)


def test_importing_camtwin_pulls_no_extra():
    """`import camtwin` and the CLI module import none of the extras' packages."""
    result = _run("import sys, json, camtwin, camtwin.cli, camtwin.parts\n"
                  f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_capture_runs_without_any_extra(tmp_path):
    """The core of `camtwin demo` (a capture with its raw) works with every extra absent."""
    result = _cli(["capture", "--scene", "colorchecker", "--crop", "96,64", "--out",
                   tmp_path / "x.png", "--raw", tmp_path / "x.dng", "--json"],
                  block=HEAVY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["mean_signal_e"] > 0
    assert (tmp_path / "x.png").stat().st_size > 0 and (tmp_path / "x.dng").stat().st_size > 0


@pytest.mark.parametrize("extra, args, what", [
    ("web", ["serve"], "camtwin serve"),
    ("sweep", ["sweep", "spec.yaml", "--out", "store"], "camtwin sweep"),
    ("sweep", ["query", "store", "SELECT 1"], "camtwin query"),
    ("privacy", ["privacy", "vault", "init", "v"], "camtwin privacy"),
])
def test_missing_extra_is_one_line_naming_it(tmp_path, extra, args, what):
    result = _cli(args, block=EXTRAS[extra][:1], cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: {what}")
    assert f"needs the {extra} extra: pip install 'camtwin[{extra}]'" in result.stderr


@pytest.mark.parametrize("extra, module", [("web", "camtwin.web"), ("sweep", "camtwin.sweep"),
                                           ("privacy", "camtwin.privacy")])
def test_python_import_names_the_extra(extra, module):
    result = _run(f"import {module}", block=EXTRAS[extra][:1])
    assert result.returncode == 1
    assert f"pip install 'camtwin[{extra}]'" in result.stderr
    assert "MissingExtraError" in result.stderr


def test_require_passes_when_installed_and_rejects_unknown_extras():
    for extra in EXTRAS:
        assert missing(extra) == []
        require(extra, "test")
    with pytest.raises(Exception, match="unknown extra 'gpu'"):
        missing("gpu")
    assert issubclass(MissingExtraError, ImportError)
