"""Every command's ``--help`` shows every unit (issue 18, "CLI conventions").

Rich reads ``[nm]``, ``[lx]``, ``[px]`` in help texts as markup tags and drops them, so
17 options in 8 commands lost their unit ("Wavelength of the light ."). The test walks the
whole command tree (every command and sub-command), renders its help as a user sees it and
checks that every bracketed text of the help source — option help and command docstring —
is in the output, and that an option whose name carries a unit (``--wavelength-nm``) shows
that unit.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from camtwin.cli import app

#: Option-name suffix → the unit its help must show in brackets.
UNIT_SUFFIXES = {"_nm": ("nm",), "_mm": ("mm",), "_um": ("µm",), "_ms": ("ms",), "_s": ("s",),
                 "_m": ("m",), "_px": ("px",), "_deg": ("°", "deg"), "_lux": ("lx",),
                 "_db": ("dB",), "_mb": ("MB", "MiB"), "_kb": ("kB", "KiB"),
                 "_megapixels": ("MP",)}

BRACKETED = re.compile(r"(?<!\\)\[([^\[\]]+)\]")


def _tree():
    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        out.append((tuple(path), cmd))
        for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
            walk(sub, [*path, name])

    walk(root, [])
    return out


COMMANDS = _tree()


def _flat(text: str) -> str:
    """Help output without the panel borders, whitespace collapsed (wrapped lines joined)."""
    text = re.sub(r"[│╭╮╰╯─]", " ", text)
    return " ".join(text.split())


def _unescape(text: str) -> str:
    return text.replace("\\[", "[")


def _render(path) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="camtwin",
                                env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_tree_is_walked():
    paths = {p for p, _ in COMMANDS}
    assert {(), ("capture",), ("emva1288",), ("catalog", "list"), ("sweep",)} <= paths
    assert len(paths) > 20


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=[" ".join(p) or "camtwin"
                                                      for p, _ in COMMANDS])
def test_help_keeps_every_bracketed_text(path, cmd):
    shown = _flat(_render(path))
    sources = [(p.name, _unescape(getattr(p, "help", None) or "")) for p in cmd.params]
    sources.append(("docstring", _unescape(cmd.help or "")))
    for where, text in sources:
        for token in BRACKETED.findall(text):
            want = _flat(f"[{token}]")
            assert want in shown, f"{' '.join(path)} {where}: {want!r} missing from --help"


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=[" ".join(p) or "camtwin"
                                                      for p, _ in COMMANDS])
def test_option_named_with_a_unit_shows_it(path, cmd):
    for p in cmd.params:
        if p.param_type_name != "option":
            continue
        for suffix, units in UNIT_SUFFIXES.items():
            if p.name.endswith(suffix):
                tokens = BRACKETED.findall(_unescape(p.help or ""))
                assert any(u in t for t in tokens for u in units), \
                    f"{' '.join(path)} --{p.name.replace('_', '-')}: no [{units[0]}] in its help"
                break


def test_markup_would_have_eaten_the_unit():
    """The failure the escaping fixes: Rich drops an unknown tag such as [nm]."""
    from rich.text import Text

    assert Text.from_markup("Wavelength of the light [nm].").plain == \
        "Wavelength of the light ."
    shown = _flat(_render(("emva1288",)))
    assert "Wavelength of the light [nm]" in shown
