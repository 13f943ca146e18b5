"""Safe file output: atomic writes, outputs that never overwrite an input, one-line errors.

* :func:`atomic_path` writes to a temporary file in the target folder, then renames: a crash
  or an exception mid-write never leaves a half-written file under the final name. A failed
  write (full disk, read-only folder, quota) becomes one :class:`OutputError` naming the
  file and — when a command registered it with :func:`check_outputs` — the option the user
  typed: ``cannot write out.tif (--out): no space left on device``.
* :func:`check_outputs` refuses, before any work is done, an output that resolves to one of
  the command's input files or to another of its outputs (same resolved path, same inode:
  symbolic and hard links included).
* :func:`quiet_stderr` silences C libraries (libpng, LibRaw) that print to file
  descriptor 2 before their Python wrapper raises.
* :func:`temp_prefix` names temporary outputs (:func:`atomic_path`'s files, the demo's
  staging folder) after the host and process writing them, and :func:`sweep_stale`
  removes those a killed process left (SIGKILL, the OOM killer, a power cut: no
  ``finally`` ran) the first time this process writes into their folder.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from .errors import ConfigError, OutputError

#: Resolved output path → the option that named it (set by :func:`check_outputs`, read by
#: :func:`atomic_path` to name the option in a write error).
_OUTPUT_OPTIONS: ContextVar[dict | None] = ContextVar("camtwin_output_options", default=None)

#: numpy's ``tofile`` (used by tifffile) reports a short write as "N requested and M written"
#: without errno; that is what a full disk looks like through it.
_SHORT_WRITE = re.compile(r"(\d+) requested and (\d+) written")


def _file_key(path) -> tuple:
    """Identity of a file: (device, inode) if it exists (so symbolic and hard links to one
    file compare equal), else its absolute path with symbolic links resolved."""
    real = os.path.realpath(os.fspath(path))
    try:
        st = os.stat(real)
    except OSError:
        return ("path", real)
    return ("inode", st.st_dev, st.st_ino)


def _paths(value) -> list:
    """``None`` → [], one path → [path], an iterable of paths → its paths."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, os.PathLike)):
        return [value]
    if isinstance(value, Iterable):
        return [v for v in value if v is not None]
    return [value]


def check_outputs(inputs: Mapping[str, object], outputs: Mapping[str, object]) -> None:
    """Refuse outputs that would overwrite an input or each other; remember their options.

    Parameters
    ----------
    inputs : mapping option → path, iterable of paths or None
        The files the command reads, keyed by the option (or argument name) the user typed,
        e.g. ``{"--scene": "in.png", "--module": "default"}``; an input folder counts as
        one input. Names that are not existing files or folders (a chart or built-in
        module name) cannot be overwritten and are ignored.
    outputs : mapping option → path, iterable of paths or None
        The files (or output folders) the command will write, e.g. ``{"--out": "a.png",
        "--raw": "a.dng"}``.

    Raises
    ------
    ConfigError
        One line naming both options, if an output resolves to an existing input (same
        path after resolving symbolic links, or the same inode — a hard link) or two
        outputs of different options resolve to the same file.

    Notes
    -----
    Call it before any work, right after the options are parsed. It also records which
    option named each output, so that :func:`atomic_path` can name the option in a write
    error.
    """
    seen_in = {}
    for option, value in inputs.items():
        for p in _paths(value):
            if os.path.exists(p):
                seen_in.setdefault(_file_key(p), (option, p))
    seen_out = {}
    labels = dict(_OUTPUT_OPTIONS.get() or {})
    for option, value in outputs.items():
        for p in _paths(value):
            key = _file_key(p)
            if key in seen_in:
                in_opt, in_path = seen_in[key]
                kind = "folder" if os.path.isdir(in_path) else "file"
                raise ConfigError(f"{option} = {os.fspath(p)!r} is the same {kind} as {in_opt} "
                                  f"({os.fspath(in_path)!r}): refusing to overwrite an input; "
                                  "choose another output name")
            if key in seen_out and seen_out[key][0] != option:
                other_opt, other_path = seen_out[key]
                raise ConfigError(f"{option} = {os.fspath(p)!r} is the same file as "
                                  f"{other_opt} ({os.fspath(other_path)!r}): every output "
                                  "needs its own file name")
            seen_out.setdefault(key, (option, p))
            labels[os.path.realpath(os.fspath(p))] = option
    _OUTPUT_OPTIONS.set(labels)


@contextmanager
def output_options():
    """Scope of the options recorded by :func:`check_outputs` (the CLI wraps each command
    in it, so one in-process run never labels another's files)."""
    token = _OUTPUT_OPTIONS.set({})
    try:
        yield
    finally:
        _OUTPUT_OPTIONS.reset(token)


def _label(target: Path) -> str:
    """``"out.tif (--out)"`` if ``target`` (or a folder holding it) was registered."""
    labels = _OUTPUT_OPTIONS.get() or {}
    real = Path(os.path.realpath(target))
    for p in (real, *real.parents):
        if str(p) in labels:
            return f"{target} ({labels[str(p)]})"
    return str(target)


def write_error(target, exc: OSError) -> OutputError:
    """The one-line :class:`OutputError` for a failed write of ``target``."""
    m = _SHORT_WRITE.search(str(exc))
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or m:
        reason = "no space left on device"
        if exc.errno == errno.EDQUOT:
            reason = "disk quota exceeded"
        if m:
            reason += f" ({m.group(1)} bytes requested, {m.group(2)} written)"
    else:
        reason = exc.strerror or " ".join(str(exc).split())
    return OutputError(f"cannot write {_label(Path(target))}: {reason}")


@contextmanager
def quiet_stderr():
    """Silence writes to file descriptor 2 within the block (libpng and LibRaw print data
    errors such as "Invalid IHDR data" straight to stderr before the Python call fails);
    the exception still reaches the caller, which reports it as one line."""
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Longest part of a target's name kept in its temporary name (names stay within the file
#: system's 255 bytes whatever the target's length).
_TEMP_BASE_MAX = 96


def _owner() -> str:
    """``<host>-<pid namespace>``: whose process ids a temporary name's are — this host's
    name (letters, digits, hyphens) and, on Linux, the inode of this process's PID
    namespace (containers on one host, even under one host name, are told apart)."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"
    try:
        ns = format(os.stat("/proc/self/ns/pid").st_ino, "x")
    except OSError:
        ns = "0"
    return f"{host}-{ns}"


def temp_prefix(name: str) -> str:
    """``.<name>.<host>-<namespace>-<pid>.``: the prefix of a temporary file or folder (for
    :func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp`, which add a random part and the
    suffix) written for ``name`` by this process — hidden, and recognisable by
    :func:`sweep_stale` as this process's."""
    return f".{name[:_TEMP_BASE_MAX]}.{_owner()}-{os.getpid()}."


#: A temporary name made from :func:`temp_prefix`: owner (:func:`_owner`), process id,
#: mkstemp's random part (8 characters) and the suffix (``.tmp…`` of a file, ``.partial``
#: of a staging folder).
_TEMP_NAME = re.compile(r"^\..*\.(?P<owner>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[A-Za-z0-9_]{8}"
                        r"(?:\.tmp[^/]*|\.partial)$")

_SWEPT: set = set()
_SWEPT_LOCK = threading.Lock()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (of any user); POSIX only."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:             # (EPERM: another user's process)
        return True
    return True


def sweep_stale(folder: str | os.PathLike) -> list[Path]:
    """Remove from ``folder`` the temporary files and staging folders (named by
    :func:`temp_prefix`) of processes that no longer run — what a killed camtwin process
    left behind — once per process and folder (later calls return at once). Best effort:
    nothing here ever fails a write. Returns what was removed.

    Only names of this host and PID namespace are looked at (a folder shared over the
    network or with a container may hold another machine's files in progress, whose
    process ids mean nothing here), never this process's own, and a process id in use
    again keeps its files (left, not lost). On Windows, where no signal probes a process,
    nothing is removed."""
    if os.name != "posix":
        return []
    key = os.path.abspath(os.fspath(folder))
    with _SWEPT_LOCK:
        if key in _SWEPT:
            return []
        _SWEPT.add(key)
    owner, me = _owner(), os.getpid()
    removed = []
    try:
        entries = list(os.scandir(key))
    except OSError:
        return []
    for e in entries:
        m = _TEMP_NAME.match(e.name)
        if m is None or m["owner"] != owner:
            continue
        pid = int(m["pid"])
        if pid == me or _alive(pid):
            continue
        try:
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
        except OSError:
            continue
        removed.append(Path(e.path))
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike, *, sweep: bool = True):
    """Yield a temporary path next to ``path``; on success rename it over ``path``.

    ``sweep``: first remove what killed processes left in the folder (:func:`sweep_stale`);
    off for a folder whose owner disposes of its own leftovers (the privacy vault scrubs
    them: its temporary files may hold key material).

    The temporary file keeps the target's suffix so libraries that pick a format from the
    extension still work. On any exception the temporary file is removed. A folder that
    cannot be created, a write that fails (full disk, quota, I/O error) or a target that
    cannot be replaced raises :class:`OutputError` naming ``path`` (never the hidden
    temporary name) and the option registered for it by :func:`check_outputs`.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if sweep:
            sweep_stale(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target.stem),
                                   suffix=f".tmp{target.suffix}", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {_label(target)}: cannot create a file in "
                          f"{target.parent} ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        try:
            yield Path(tmp)
        except OutputError:
            raise
        except OSError as exc:  # the writer failed on the temporary file: name the target
            raise write_error(target, exc) from None
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise write_error(target, exc) from None
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
