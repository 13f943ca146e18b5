"""Atomic file output: write to a temporary file in the target folder, then rename.

A crash or an exception mid-write never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    The temporary file keeps the target's suffix so libraries that pick a format from the
    extension still work. On any exception the temporary file is removed. A folder that
    cannot be created or a target that cannot be replaced raises :class:`OutputError`
    naming ``path`` (never the hidden temporary name).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                   dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: cannot create a file in {target.parent} "
                          f"({exc.strerror or exc})") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())
