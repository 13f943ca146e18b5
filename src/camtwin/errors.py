"""Exception hierarchy.

Every error camtwin raises on purpose derives from :class:`CamtwinError` *and* from the
matching built-in, so callers can catch either (the astropy convention)::

    try:
        load_module("bad.yaml")
    except ValueError:          # or CamtwinError
        ...
"""

from __future__ import annotations


class CamtwinError(Exception):
    """Base class of all camtwin errors."""


class ConfigError(CamtwinError, ValueError):
    """A spec, YAML file or argument is invalid. The message names field, value and range."""


class OutputError(CamtwinError, OSError):
    """An output file could not be written; the message names the user's path."""


class UnknownNameError(ConfigError, KeyError):
    """A name (scene, illuminant, module, method) is not one of the known choices."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


def unknown_name(kind: str, name: str, valid) -> UnknownNameError:
    """Build the error for an unknown *name* of *kind*, listing the valid choices."""
    choices = ", ".join(sorted(str(v) for v in valid))
    return UnknownNameError(f"unknown {kind} {name!r}; valid choices: {choices}")
