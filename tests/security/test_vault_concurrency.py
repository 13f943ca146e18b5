"""Concurrent vault users (issue 22, item 2).

Before the fix, ``for i in 1 2 3 4; do camtwin privacy vault store v a.bin & done`` made two
stores fail ("refusing to extend a damaged log") and left ``TAMPERED: record …: has a key but
no 'store' entry`` for good; two handles in one process did the same, deterministically (the
second handle's cached header was stale). Every operation now takes the folder's lock before
reading anything and re-reads all state under it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from camtwin.privacy.vault import (RecordErasedError, Vault, VaultError, load_module_key,
                                   write_key_file)

KEY = bytes.fromhex("3e" * 16 + "c4" * 16)


def test_two_handles_in_one_process(tmp_path):
    Vault.create(tmp_path / "v", KEY)
    a, b = Vault.open(tmp_path / "v", KEY), Vault.open(tmp_path / "v", KEY)
    ra = a.store(b"from handle a")
    rb = b.store(b"from handle b")        # failed before: stale head in b
    assert a.read(rb).data == b"from handle b" and b.read(ra).data == b"from handle a"
    b.erase(ra)
    with pytest.raises(RecordErasedError):
        a.read(ra)
    rep = Vault.open(tmp_path / "v", KEY).verify()
    assert rep.ok and rep.n_records == 1 and rep.n_erased == 1, rep


def test_handles_in_threads(tmp_path):
    Vault.create(tmp_path / "v", KEY)
    got, errors = {}, []

    def work(i):
        try:
            v = Vault.open(tmp_path / "v", KEY)
            for j in range(4):
                data = f"thread {i} item {j}".encode()
                rid = v.store(data)
                assert v.read(rid).data == data
                got[rid] = data
        except Exception as exc:  # reported below with the thread's number
            errors.append((i, exc))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    v = Vault.open(tmp_path / "v", KEY)
    assert v.verify().ok and len(got) == 16
    assert all(v.read(rid).data == data for rid, data in got.items())


_WORKERS = textwrap.dedent("""
    # A fresh interpreter imports camtwin once and forks N worker processes (it has no
    # threads, so fork is safe); they start together at a barrier and hammer one vault.
    import hashlib, json, os, random, sys
    from camtwin.privacy.vault import Vault, RecordErasedError

    path, key = sys.argv[1], bytes.fromhex(sys.argv[2])
    n_proc, n_ops, out_dir = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

    def work(seed):
        rng = random.Random(seed)
        handles = [Vault.open(path, key), Vault.open(path, key)]  # two handles per process
        live, erased = {}, []
        for i in range(n_ops):
            v = handles[i % 2]
            data = rng.randbytes(rng.randint(1, 3000))
            rid = v.store(data, kind="crop", label={"worker": seed, "i": i})
            live[rid] = hashlib.sha256(data).hexdigest()
            assert handles[(i + 1) % 2].read(rid).data == data, "read back differs"
            if i % 3 == 2:
                victim = rng.choice(sorted(live))
                v.erase(victim)
                del live[victim]
                erased.append(victim)
                try:
                    v.read(victim)
                    raise AssertionError("erased record still readable")
                except RecordErasedError:
                    pass
            if i % 4 == 3:
                assert all(r["id"] for r in v.list_records())
                assert v.verify().n_records >= len(live)
        with open(os.path.join(out_dir, f"worker-{seed}.json"), "w") as f:
            json.dump({"live": live, "erased": erased}, f)

    gate_r, gate_w = os.pipe()
    pids = []
    for seed in range(n_proc):
        pid = os.fork()
        if pid == 0:
            os.close(gate_w)
            os.read(gate_r, 1)  # the barrier: wait until every worker exists
            code = 1
            try:
                work(seed)
                code = 0
            except BaseException as exc:
                print(f"worker {seed}: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(gate_w)  # EOF releases all workers at once
    sys.exit(max(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) != 0 for p in pids))
""")


def test_many_processes_store_read_erase_at_once(tmp_path):
    """6 processes × 9 stores, 9 read-backs, 3 erases, 2 lists and 2 verifies each, all
    on one vault at once."""
    path = tmp_path / "v"
    Vault.create(path, KEY)
    n_proc, n_ops = 6, 9
    r = subprocess.run([sys.executable, "-c", _WORKERS, str(path), KEY.hex(), str(n_proc),
                        str(n_ops), str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    results = [json.loads((tmp_path / f"worker-{s}.json").read_text()) for s in range(n_proc)]
    live = {rid: h for r in results for rid, h in r["live"].items()}
    erased = [rid for r in results for rid in r["erased"]]
    assert len(live) == n_proc * (n_ops - n_ops // 3) and len(erased) == n_proc * (n_ops // 3)
    v = Vault.open(path, KEY)
    rep = v.verify()
    assert rep.ok, rep
    assert rep.n_records == len(live) and rep.n_erased == len(erased)
    ops = [e["op"] for e in v.audit_log()]
    assert ops.count("store") == n_proc * n_ops and ops.count("erase") == len(erased)
    assert ops.count("read") == n_proc * n_ops
    for rid, h in live.items():  # every surviving record bit-exact
        assert hashlib.sha256(v.read(rid).data).hexdigest() == h
    for rid in erased:
        with pytest.raises(RecordErasedError):
            v.read(rid)
    assert sorted(r["id"] for r in v.list_records()) == sorted(live)
    assert json.loads((path / "keys.json").read_text())["epoch"] == len(erased)


def test_concurrent_cli_stores(tmp_path):
    """The issue's reproduction, verbatim: four ``vault store`` processes at once."""
    exe = Path(sys.executable).with_name("camtwin")
    if not exe.exists():
        pytest.skip("the camtwin console script is not installed next to this Python")
    kf = write_key_file(tmp_path / "k")
    v = tmp_path / "v"
    Vault.create(v, load_module_key(kf))
    payload = tmp_path / "a.bin"
    payload.write_bytes(bytes(range(256)) * 8)
    procs = [subprocess.Popen([exe, "privacy", "vault", "store", v, payload, "--key-file", kf],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        ids.append(out.strip())
    vault = Vault.open(v, load_module_key(kf))
    rep = vault.verify()
    assert rep.ok and rep.n_records == 4, rep
    assert all(vault.read(rid).data == payload.read_bytes() for rid in ids)


def test_concurrent_creates_of_one_folder(tmp_path):
    """Two creates racing for one folder: one vault, the other refused (it used to
    overwrite the first one's files under a different vault id)."""
    results = []

    def create(key):
        try:
            results.append(("ok", Vault.create(tmp_path / "v", key)))
        except VaultError as exc:
            results.append(("refused", exc))
    keys = [KEY, bytes(reversed(KEY))]
    threads = [threading.Thread(target=create, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in results) == ["ok", "refused"]
    winner = next(r[1] for r in results if r[0] == "ok")
    assert winner.verify().ok
    assert winner.read(winner.store(b"x")).data == b"x"
