"""The sweep results store: Parquet files, one per completed batch, plus a DuckDB view.

Layout of ``STORE`` (a local folder or an fsspec URL such as ``s3://bucket/sweeps/a``)::

    STORE/sweep.json              the last spec run into the store, and the run history
    STORE/points/part-<id>.parquet  one file per completed batch: one row per point
    STORE/points.duckdb           (local stores) a DuckDB database with the view ``points``
    STORE/sweep.lock              while a sweep writes: its pid, host and start time

A row holds the point's identity (``point_hash``), ``status`` (``ok`` / ``error``) and
``error`` message, its parameters, module descriptors and results. Files are written
atomically (local: temporary file + rename; object stores: a single PUT, which is atomic);
a batch file's name derives from the hashes of its points, so rewriting one is idempotent.
Readers ignore files whose names start with ``.`` (unfinished temporary files). A part file
that is not readable Parquet (zero bytes, truncated, foreign) stops every reader with one line
naming it, never a traceback and never a silent loss of its rows.

One writer at a time: :meth:`SweepStore.lock` takes ``sweep.lock`` (local stores: an
exclusive ``flock``, which the kernel releases when the holder dies; other stores: the lock
object, best effort) and refuses a second writer with one line naming the holder. A lock
left by a dead process of this host is taken over, and the caller is told.

:func:`query` runs user SQL in a sandbox: only ``SELECT`` statements (``WITH``,
``DESCRIBE``, ``SUMMARIZE``, ``SHOW`` included), on an in-memory DuckDB connection that sees
the store's rows through a registered Arrow dataset, with external access off (no file
reads or writes, ``COPY``, ``ATTACH``, ``INSTALL`` / ``LOAD``), extension autoloading and
Python replacement scans off, and the configuration locked.

The store is plain Parquet: ``duckdb.sql("SELECT * FROM 'STORE/points/*.parquet'")`` or
``pyarrow.parquet.read_table("STORE/points")`` read it without camtwin.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import socket
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._io import atomic_path, write_bytes_atomic
from ..errors import ConfigError, OutputError

POINTS_DIR = "points"
META_FILE = "sweep.json"
DUCKDB_FILE = "points.duckdb"
PART_PREFIX = "part-"
LOCK_FILE = "sweep.lock"
#: DuckDB settings of the query sandbox given at connect time (external access and the
#: configuration lock are switched on after the view ``points`` is registered).
SANDBOX_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False,
                  "allow_community_extensions": False, "python_enable_replacements": False}


class SweepStore:
    """A results store at a local path or fsspec URL."""

    def __init__(self, url: str | Path):
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.url = str(url)
        try:
            self.fs, root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"store {self.url!r}: {exc}") from None
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = str(Path(root).resolve()) if self.local else root.rstrip("/")

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def to_pandas(self, columns: list[str] | None = None):
        """The points table as a pandas DataFrame, each column's unit in
        ``df.attrs['units']`` (from the Parquet field metadata; needs pandas)."""
        from ..report.notebook import sweep_to_pandas
        return sweep_to_pandas(self, columns)

    # -- paths ------------------------------------------------------------------------
    def _join(self, *parts) -> str:
        return posixpath.join(self.root, *parts) if not self.local else str(Path(self.root,
                                                                                 *parts))

    @property
    def points_dir(self) -> str:
        return self._join(POINTS_DIR)

    def exists(self) -> bool:
        return self.fs.exists(self._join(META_FILE)) or self.fs.exists(self.points_dir)

    def part_files(self) -> list[str]:
        """Completed batch files, sorted."""
        if not self.fs.exists(self.points_dir):
            return []
        names = self.fs.ls(self.points_dir, detail=False)
        return sorted(n for n in names
                      if posixpath.basename(n).startswith(PART_PREFIX) and n.endswith(".parquet"))

    # -- writing ----------------------------------------------------------------------
    def _write(self, path: str, data: bytes) -> None:
        if self.local:
            write_bytes_atomic(path, data)
            return
        try:
            self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
            with self.fs.open(path, "wb") as f:   # one PUT on object stores: atomic
                f.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc}") from None

    def _write_table(self, path: str, table) -> None:
        """A zstd Parquet file at ``path``: through a temporary file and a rename on a local
        disk, as one object on a remote store."""
        if self.local:
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp, compression="zstd")
        else:
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            self._write(path, sink.getvalue().to_pybytes())

    def prepare(self) -> None:
        """Create the folders; remove temporary files left by an interrupted run."""
        try:
            self.fs.makedirs(self.points_dir, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the store {self.url}: {exc.strerror or exc}") \
                from None
        for n in self.fs.ls(self.points_dir, detail=False):
            if posixpath.basename(n).startswith(".") and ".tmp" in posixpath.basename(n):
                self.fs.rm(n)

    def write_batch(self, rows: list[dict], schema: pa.Schema) -> str:
        """Write one batch of point rows as a Parquet file (atomically); returns its path."""
        rows = sorted(rows, key=lambda r: r["point_index"])
        table = pa.Table.from_pylist(rows, schema=schema)
        ident = hashlib.sha256("".join(sorted(r["point_hash"] for r in rows)).encode())
        path = self._join(POINTS_DIR, f"{PART_PREFIX}{ident.hexdigest()[:20]}.parquet")
        self._write_table(path, table)
        return path

    def write_meta(self, spec: dict, run: dict | None = None) -> None:
        """Record the spec (and append ``run`` to the history) in ``sweep.json``."""
        meta = self.read_meta() or {}
        runs = list(meta.get("runs", []))
        if run is not None:
            runs.append(run)
        data = {"format": "camtwin-sweep-store/1", "spec": spec, "runs": runs[-100:]}
        self._write(self._join(META_FILE),
                    (json.dumps(data, indent=2, default=str) + "\n").encode())

    def read_meta(self) -> dict | None:
        p = self._join(META_FILE)
        if not self.fs.exists(p):
            return None
        with self.fs.open(p, "rb") as f:
            return json.loads(f.read().decode())

    # -- reading ----------------------------------------------------------------------
    def _rel(self, path: str) -> str:
        return posixpath.join(POINTS_DIR, posixpath.basename(path))

    def corrupt_error(self, path: str, exc: BaseException) -> ConfigError:
        """The one-line error for a part file that is not readable Parquet."""
        reason = " ".join(str(exc).split()) or type(exc).__name__
        reason = re.sub(r"^Could not open Parquet input source '[^']*': ", "", reason)
        return ConfigError(
            f"store {self.url}: {self._rel(path)} is not a readable Parquet file ({reason}); "
            f"move it out of {POINTS_DIR}/ (or delete it) and rerun 'camtwin sweep' to "
            "recompute its points")

    def part_schemas(self) -> list[tuple[str, pa.Schema]]:
        """(path, schema) of every part file, from its footer; a file that is not readable
        Parquet raises :meth:`corrupt_error`."""
        out = []
        for p in self.part_files():
            try:
                with self.fs.open(p, "rb") as f:
                    out.append((p, pq.read_schema(f)))
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise self.corrupt_error(p, exc) from None
        return out

    def dataset(self):
        """A :mod:`pyarrow.dataset` over every part file with the schemas unified by column
        name (a column missing from a file reads as null; int and float widen to float);
        ``None`` when the store has no results."""
        import pyarrow.dataset as ds

        parts = self.part_schemas()
        if not parts:
            return None
        try:
            schema = pa.unify_schemas([s for _, s in parts], promote_options="permissive")
        except pa.ArrowException as exc:
            raise ConfigError(f"store {self.url}: part files with incompatible columns "
                              f"({' '.join(str(exc).split())})") from None
        return ds.dataset([p for p, _ in parts], schema=schema, format="parquet",
                          filesystem=None if self.local else self.fs)

    def read_table(self, columns: list[str] | None = None) -> pa.Table:
        """All rows (files written by different specs are unified by column name)."""
        d = self.dataset()
        if d is None:
            return pa.table({})
        if columns is not None:
            columns = [c for c in columns if c in d.schema.names]
        try:
            return d.to_table(columns=columns)
        except (pa.ArrowException, OSError) as exc:   # a damaged page behind a good footer
            raise self.damage_error(exc) from None

    def damage_error(self, exc: BaseException) -> ConfigError:
        """The error for a scan that failed: :meth:`corrupt_error` of the first part file
        that does not read in full, else the scan's message."""
        for p in self.part_files():
            try:
                with self.fs.open(p, "rb") as f:
                    pq.read_table(f)
            except (pa.ArrowException, OSError, ValueError) as bad:
                return self.corrupt_error(p, bad)
        return ConfigError(f"store {self.url}: cannot read the part files "
                           f"({' '.join(str(exc).split())})")

    def completed(self) -> dict[str, str]:
        """point_hash → status of every stored point."""
        t = self.read_table(["point_hash", "status"])
        if t.num_rows == 0:
            return {}
        return dict(zip(t.column("point_hash").to_pylist(), t.column("status").to_pylist()))

    def drop_points(self, hashes: set[str]) -> int:
        """Remove the rows of ``hashes`` (rewriting the files that hold them); returns the
        number of rows removed. Used to retry error points without duplicating rows."""
        import pyarrow.compute as pc

        removed = 0
        value_set = pa.array(sorted(hashes), type=pa.string())
        for p in self.part_files():
            try:
                with self.fs.open(p, "rb") as f:
                    t = pq.read_table(f)
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise self.corrupt_error(p, exc) from None
            drop = pc.is_in(t.column("point_hash"), value_set=value_set)
            n = int(pc.sum(drop).as_py() or 0)
            if not n:
                continue
            kept = t.filter(pc.invert(drop))
            if kept.num_rows == 0:
                self.fs.rm(p)
            else:
                self._write_table(p, kept)
            removed += n
        return removed

    # -- DuckDB -----------------------------------------------------------------------
    def parquet_glob(self) -> str:
        return self._join(POINTS_DIR, f"{PART_PREFIX}*.parquet")

    def write_duckdb_view(self) -> Path | None:
        """(Local stores) ``points.duckdb`` with ``CREATE VIEW points`` over the Parquet
        files (absolute path: move the store → rerun or use ``camtwin query``)."""
        import duckdb

        if not self.local or not self.part_files():
            return None
        target = Path(self._join(DUCKDB_FILE))
        with atomic_path(target) as tmp:
            tmp.unlink()   # DuckDB wants to create the file itself
            con = duckdb.connect(str(tmp))
            try:
                con.execute(f"CREATE VIEW points AS SELECT * FROM read_parquet("
                            f"{_sql_str(self.parquet_glob())}, union_by_name = true)")
            finally:
                con.close()
        return target

    def connect(self, *, memory_limit: int | None = None):
        """An in-memory DuckDB connection with the view ``points`` over this store, in the
        sandbox of :func:`query`: external access off (no file system, ``COPY``,
        ``ATTACH``, extensions), no temporary directory (nothing spills to disk), at most
        ``memory_limit`` bytes (DuckDB's own limit, when given) and the configuration
        locked."""
        import duckdb

        d = self.dataset()
        if d is None:
            raise ConfigError(f"store {self.url}: no results yet (run 'camtwin sweep' first)")
        # bounded: memory from camtwin's budget, no spilling to a temporary directory
        config = {**SANDBOX_CONFIG, "temp_directory": ""}
        if memory_limit:
            config["memory_limit"] = f"{max(64 << 20, int(memory_limit))}B"
        con = duckdb.connect(":memory:", config=config)
        try:
            con.register("points_arrow", d)
            con.execute("CREATE VIEW points AS SELECT * FROM points_arrow")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        return con

    # -- the writer's lock ------------------------------------------------------------
    def lock(self) -> "StoreLock":
        """The writer's lock of this store (a context manager); see :class:`StoreLock`."""
        return StoreLock(self)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


class StoreLock:
    """One writer per store: ``STORE/sweep.lock`` holds the writer's pid, host and start
    time.

    Local stores: an exclusive, non-blocking ``flock`` on that file (released by the kernel
    when the holder dies, also on NFS, which emulates it with POSIX locks); the file is
    removed on release. Object stores: the lock object itself, written after checking that
    none exists (best effort: two writers starting within one round trip may both get it).

    A second writer gets a :class:`ConfigError` naming the holder. A lock file left behind
    by a process of this host that no longer runs is taken over; :attr:`notice` says so. A
    lock left by a process of another host is refused, with how to remove it, since that
    process cannot be checked from here.
    """

    def __init__(self, store: SweepStore):
        self.store = store
        self.path = store._join(LOCK_FILE)
        self.notice: str | None = None
        self._fd: int | None = None
        self._mine = {"pid": os.getpid(), "host": socket.gethostname(),
                      "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    @staticmethod
    def _describe(holder: dict) -> str:
        return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
                f"since {holder.get('started', '?')}")

    def _busy(self, holder: dict | None) -> ConfigError:
        who = self._describe(holder) if holder else "holder unknown"
        return ConfigError(f"store {self.store.url} is in use by another sweep ({who}); wait "
                           "for it to finish or write to another --out")

    def _take_over(self, holder: dict, *, flock_held: bool) -> None:
        """Take over a lock file left by ``holder``, or raise. With the ``flock`` held, a
        holder of this host is gone (its lock died with it; a live pid is a reused one);
        without it (object stores), only a pid that no longer runs here is."""
        same_host = holder.get("host") == self._mine["host"]
        if same_host and (flock_held or not _pid_alive(holder.get("pid", -1))):
            self.notice = (f"took over the lock of store {self.store.url}: its sweep "
                           f"({self._describe(holder)}) is no longer running")
            return
        if same_host:
            raise self._busy(holder)
        raise ConfigError(f"store {self.store.url} is locked by a sweep on another host "
                          f"({self._describe(holder)}); if it no longer runs, delete "
                          f"{self.path}")

    @staticmethod
    def _parse(data: bytes) -> dict | None:
        try:
            holder = json.loads(data.decode() or "null")
        except (UnicodeDecodeError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def acquire(self) -> "StoreLock":
        data = (json.dumps(self._mine) + "\n").encode()
        if self.store.local:
            self._acquire_local(data)
        else:
            self._acquire_remote(data)
        return self

    def _acquire_local(self, data: bytes) -> None:
        import fcntl

        while True:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"cannot create the store {self.store.url}: "
                                  f"{exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._parse(os.pread(fd, 4096, 0))
                os.close(fd)
                raise self._busy(holder) from None
            try:   # the file may have been removed by a releasing holder meanwhile
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = self._parse(os.pread(fd, 4096, 0))
        if holder:
            try:
                self._take_over(holder, flock_held=True)
            except ConfigError:
                os.close(fd)
                raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        self._fd = fd

    def _acquire_remote(self, data: bytes) -> None:
        fs = self.store.fs
        if fs.exists(self.path):
            self._take_over(self._parse(fs.cat_file(self.path)) or {}, flock_held=False)
        self.store._write(self.path, data)
        if self._parse(fs.cat_file(self.path)) != self._mine:   # lost a race
            raise self._busy(self._parse(fs.cat_file(self.path)))
        self._fd = -1

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if self.store.local:
                try:
                    os.unlink(self.path)   # still holding the flock: nobody else has it
                except FileNotFoundError:
                    pass
                os.close(self._fd)
            elif self._parse(self.store.fs.cat_file(self.path)) == self._mine:
                self.store.fs.rm(self.path)
        finally:
            self._fd = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_store(url: str | Path, *, must_exist: bool = False) -> SweepStore:
    store = SweepStore(url)
    if must_exist and not store.exists():
        raise ConfigError(f"store {url}: not found (no {META_FILE} or {POINTS_DIR}/)")
    return store


#: Default limits of :func:`query` (``camtwin query --timeout / --max-rows``).
QUERY_TIMEOUT_S = 60.0
QUERY_MAX_ROWS = 100_000


def query(url: str | Path, sql: str, *, timeout_s: float | None = QUERY_TIMEOUT_S,
          max_rows: int | None = QUERY_MAX_ROWS,
          max_memory: str | int | None = None) -> tuple[list[str], list[tuple]]:
    """Run DuckDB ``sql`` over the view ``points`` of a store → (column names, rows).

    Only ``SELECT`` statements run (``WITH``, ``DESCRIBE``, ``SUMMARIZE``, ``SHOW`` are
    SELECTs to DuckDB), in the sandbox of :meth:`SweepStore.connect`; anything else, and any
    file access, is a :class:`ConfigError` ``SQL: …`` of one line. The query is also
    bounded: it is interrupted after ``timeout_s`` seconds, DuckDB may use at most the
    memory budget of :func:`camtwin.memory.budget_bytes` (``max_memory``,
    ``CAMTWIN_MAX_MEMORY``; nothing spills to disk) and a result of more than
    ``max_rows`` rows is refused (add ``LIMIT``) — each a one-line ``SQL: …`` error.
    ``None`` lifts the time or row limit.
    """
    import threading

    import duckdb

    from ..memory import budget_bytes

    if timeout_s is not None and not 0 < timeout_s <= 86400:
        raise ConfigError(f"--timeout (timeout_s) = {timeout_s}: valid range is 0 < timeout ≤ "
                          "86400 s")
    if max_rows is not None and not 1 <= max_rows <= 100_000_000:
        raise ConfigError(f"--max-rows (max_rows) = {max_rows}: valid range is 1..100000000")
    memory = budget_bytes(max_memory)

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConfigError(f"SQL: {_first_line(exc)}") from None
    if not statements:
        raise ConfigError("SQL: empty query")
    for st in statements:
        if st.type != duckdb.StatementType.SELECT:
            raise ConfigError(f"SQL: {st.type.name} statements are not allowed; a store is "
                              "queried read-only (SELECT, WITH, DESCRIBE, SUMMARIZE)")
    store = open_store(url, must_exist=True)
    con = store.connect(memory_limit=memory)
    timer = threading.Timer(timeout_s, con.interrupt) if timeout_s is not None else None
    try:
        if timer is not None:
            timer.daemon = True
            timer.start()
        rel = con.execute(sql)
        cols = [d[0] for d in rel.description] if rel.description else []
        if not rel.description:
            return cols, []
        rows = rel.fetchmany(max_rows + 1) if max_rows is not None else rel.fetchall()
        if max_rows is not None and len(rows) > max_rows:
            raise ConfigError(f"SQL: the result has more than {max_rows} rows (--max-rows); "
                              "add LIMIT or aggregate")
        return cols, rows
    except duckdb.InterruptException:
        raise ConfigError(f"SQL: stopped after {timeout_s:g} s (--timeout); narrow the query "
                          "or raise the limit") from None
    except duckdb.OutOfMemoryException:
        raise ConfigError(f"SQL: the query needs more than the memory budget "
                          f"({memory / 2**30:.1f} GiB; --max-memory / CAMTWIN_MAX_MEMORY); "
                          "narrow it or add LIMIT") from None
    except duckdb.Error as exc:
        if "registered as 'points_arrow' failed" in str(exc):   # a damaged part file
            raise store.damage_error(exc) from None
        raise ConfigError(f"SQL: {_first_line(exc)}") from None
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
