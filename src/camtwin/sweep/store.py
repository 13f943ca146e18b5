"""The sweep results store: Parquet files, one per completed batch, plus a DuckDB view.

Layout of ``STORE`` (a local folder or an fsspec URL such as ``s3://bucket/sweeps/a``)::

    STORE/sweep.json              the last spec run into the store, and the run history
    STORE/points/part-<id>.parquet  one file per completed batch: one row per point
    STORE/points.duckdb           (local stores) a DuckDB database with the view ``points``

A row holds the point's identity (``point_hash``), ``status`` (``ok`` / ``error``) and
``error`` message, its parameters, module descriptors and results. Files are written
atomically (local: temporary file + rename; object stores: a single PUT, which is atomic);
a batch file's name derives from the hashes of its points, so rewriting one is idempotent.
Readers ignore files whose names start with ``.`` (unfinished temporary files).

The store is plain Parquet: ``duckdb.sql("SELECT * FROM 'STORE/points/*.parquet'")`` or
``pyarrow.parquet.read_table("STORE/points")`` read it without camtwin.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._io import atomic_path, write_bytes_atomic
from ..errors import ConfigError, OutputError

POINTS_DIR = "points"
META_FILE = "sweep.json"
DUCKDB_FILE = "points.duckdb"
PART_PREFIX = "part-"


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
    def read_table(self, columns: list[str] | None = None) -> pa.Table:
        """All rows (files written by different specs are unified by column name)."""
        tables = []
        for p in self.part_files():
            with self.fs.open(p, "rb") as f:
                t = pq.read_table(f)
            if columns is not None:
                t = t.select([c for c in columns if c in t.column_names])
            tables.append(t)
        if not tables:
            return pa.table({})
        return pa.concat_tables(tables, promote_options="default")

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
            with self.fs.open(p, "rb") as f:
                t = pq.read_table(f)
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

    def connect(self):
        """An in-memory DuckDB connection with the view ``points`` over this store."""
        import duckdb

        if not self.part_files():
            raise ConfigError(f"store {self.url}: no results yet (run 'camtwin sweep' first)")
        con = duckdb.connect()
        if self.local:
            con.execute(f"CREATE VIEW points AS SELECT * FROM read_parquet("
                        f"{_sql_str(self.parquet_glob())}, union_by_name = true)")
        else:
            con.register("points_arrow", self.read_table())
            con.execute("CREATE VIEW points AS SELECT * FROM points_arrow")
        return con


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def open_store(url: str | Path, *, must_exist: bool = False) -> SweepStore:
    store = SweepStore(url)
    if must_exist and not store.exists():
        raise ConfigError(f"store {url}: not found (no {META_FILE} or {POINTS_DIR}/)")
    return store


def query(url: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run DuckDB ``sql`` over the view ``points`` of a store → (column names, rows)."""
    import duckdb

    store = open_store(url, must_exist=True)
    con = store.connect()
    try:
        rel = con.execute(sql)
        cols = [d[0] for d in rel.description] if rel.description else []
        rows = rel.fetchall() if rel.description else []
        return cols, rows
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"SQL: {first}") from None
    finally:
        con.close()
