"""Vault transactions: a failed operation leaves the vault byte-for-byte as it was, and a
process killed (SIGKILL, i.e. kill -9) at any step of a store or erase leaves a vault that
``vault recover`` provably completes or rolls back (issue 22, item 2).

Before the fix, a store that failed after writing its key (the "refusing to extend a damaged
log" case) left ``TAMPERED: record …: has a key but no 'store' entry`` for good, and a crash
while ``keys.json`` was replaced left ``.keys.XXXX.tmp.json`` behind, unnoticed by ``verify``.
"""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
import textwrap

import pytest

from camtwin.privacy import vault as V
from camtwin.privacy.vault import RecordErasedError, Vault, VaultError

KEY = bytes.fromhex("5c" * 16 + "e1" * 16)


def _all_bytes(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def two_records(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    a, b = v.store(b"subject A" * 50), v.store(b"subject B" * 50)
    return v, a, b


# --- failures inside the process: undone byte for byte --------------------------------

def _fail_on(monkeypatch, name, when):
    real = getattr(V, name)

    def boom(*args, **kw):
        if when(*args):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kw)
    monkeypatch.setattr(V, name, boom)


FAILURES = {  # step of the transaction → (function patched, which call fails)
    "journal": ("_write_atomic", lambda p, d: p.name == "journal.json"),
    "record file": ("_write_atomic", lambda p, d: p.suffix == ".rec"),
    "new KEK slot": ("_overwrite", lambda p, off, d: any(d)),
    "log append": ("_append", lambda p, d: True),
    "keystore commit": ("_write_atomic", lambda p, d: p.name == "keys.json"),
}


@pytest.mark.parametrize("op", ["store", "read", "erase"])
@pytest.mark.parametrize("step", list(FAILURES))
def test_failed_operation_leaves_vault_exactly_as_it_was(two_records, monkeypatch, op, step):
    v, a, b = two_records
    before = _all_bytes(v.path)
    with monkeypatch.context() as m:
        _fail_on(m, *FAILURES[step])
        run = {"store": lambda: v.store(b"new"), "read": lambda: v.read(a),
               "erase": lambda: v.erase(a)}[op]
        try:
            run()
            failed = False
        except OSError as exc:
            failed = True
            assert "No space left" in str(exc)
    # steps an operation does not have (a store writes no KEK slot) do not fail it
    expect_fail = not ((step == "record file" and op != "store")
                       or (step == "new KEK slot" and op != "erase"))
    assert failed == expect_fail
    if failed:
        assert _all_bytes(v.path) == before
    rep = v.verify()
    assert rep.ok, rep
    # and the vault keeps working
    assert v.read(b).data == b"subject B" * 50
    rid = v.store(b"after")
    assert v.read(rid).data == b"after"


def test_failure_after_commit_completes_the_erase(two_records, monkeypatch):
    """The commit was durable, a cleanup step failed once: the erase stands, nothing is
    left half done."""
    v, a, b = two_records
    calls = []
    real = V._scrub

    def flaky(path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError(errno.EIO, "Input/output error")
        return real(path)
    monkeypatch.setattr(V, "_scrub", flaky)
    v.erase(a)
    monkeypatch.undo()
    with pytest.raises(RecordErasedError):
        v.read(a)
    assert v.verify().ok and v.read(b).data == b"subject B" * 50


def test_refuses_to_extend_a_damaged_log_without_leaving_damage(two_records):
    """The issue's symptom: the refused store used to leave a key without a 'store' entry."""
    v, a, b = two_records
    log = v.path / "audit.log"
    good = log.read_bytes()
    log.write_bytes(good[:good.rstrip(b"\n").rfind(b"\n") + 1])  # drop the last entry
    damaged = _all_bytes(v.path)
    with pytest.raises(VaultError, match="refusing to extend a damaged log"):
        v.store(b"x")
    assert _all_bytes(v.path) == damaged
    log.write_bytes(good)
    rep = v.verify()
    assert rep.ok, rep.problems


# --- kill -9 at each step, then recover -------------------------------------------------

_WORKER = textwrap.dedent("""
    # One fresh interpreter imports camtwin once, then forks one child per case (it has no
    # threads, so fork is safe); each child patches one step to SIGKILL itself right there.
    import json, os, signal, sys
    from camtwin.privacy import vault as V

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def after(name, cond):
        real = getattr(V, name)
        def f(*a, **k):
            out = real(*a, **k)
            if cond(*a):
                die()
            return out
        setattr(V, name, f)

    def run(path, key, op, point, rid):
        if point == "journal":
            after("_write_atomic", lambda p, d: p.name == "journal.json")
        elif point == "keys temp":       # keys.json's temporary written, not yet renamed
            real_replace = os.replace
            def replace(src, dst, *a, **k):
                if str(dst).endswith("keys.json"):
                    die()
                return real_replace(src, dst, *a, **k)
            os.replace = replace
        elif point == "half log entry":
            def append(p, data):
                with open(p, "ab") as f:
                    f.write(data[:len(data) // 2]); f.flush(); os.fsync(f.fileno())
                die()
            V._append = append
        elif point == "log entry":
            after("_append", lambda p, d: True)
        elif point == "commit":
            after("_write_atomic", lambda p, d: p.name == "keys.json")
        elif point == "old slot wiped":
            after("_overwrite", lambda p, off, d: not any(d))
        v = V.Vault.open(path, bytes.fromhex(key))
        if op == "store":
            v.store(b"the new record")
        else:
            v.erase(rid)

    status = {}
    for case in json.loads(sys.argv[1]):
        pid = os.fork()
        if pid == 0:
            try:
                run(*case)
            finally:
                os._exit(0)  # not killed: the test sees status 0 and fails
        status[case[0]] = os.waitpid(pid, 0)[1]
    print(json.dumps({k: [os.WIFSIGNALED(st), os.WTERMSIG(st) if os.WIFSIGNALED(st) else 0]
                      for k, st in status.items()}))
""")

POINTS = {  # kill point → outcome of recover
    "journal": "rolled back", "keys temp": "rolled back", "half log entry": "rolled back",
    "log entry": "rolled back", "commit": "completed", "old slot wiped": "completed"}
CASES = [(op, pt) for op in ("store", "erase") for pt in POINTS
         if not (op == "store" and pt == "old slot wiped")]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Run every (op, kill point) in its own vault, all processes at once (imports are slow)."""
    root = tmp_path_factory.mktemp("killed")
    runs, cases = {}, []
    for op, pt in CASES:
        folder = root / f"{op}-{pt.replace(' ', '_')}"
        v = Vault.create(folder, KEY)
        a, b = v.store(b"subject A" * 50), v.store(b"subject B" * 50)
        runs[op, pt] = (v, a, b, _all_bytes(folder))
        cases.append([str(folder), KEY.hex(), op, pt, a])
    r = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(cases)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    status = json.loads(r.stdout)
    return {case: (*runs[case], status[c[0]]) for case, c in zip(runs, cases)}


@pytest.mark.parametrize("op,point", CASES)
def test_kill_9_mid_transaction_then_recover(killed, op, point):
    v, a, b, before, (signalled, signal_number) = killed[op, point]
    assert signalled and signal_number == signal.SIGKILL  # it really died at that point
    rep = v.verify()
    assert not rep.ok and any("interrupted " + op in p for p in rep.pending), rep
    if point == "keys temp":  # the crash left a temporary keystore, and verify says so
        assert any("stray file .keys." in p for p in rep.pending), rep
    with pytest.raises(VaultError, match="recover"):  # nobody builds on a half transaction
        v.store(b"x")
    done = v.recover()
    assert done["transaction"] == {"op": op, "record": done["transaction"]["record"],
                                   "outcome": POINTS[point]}
    rep = v.verify()
    assert rep.ok, rep
    assert not any(n.startswith(".") for n in _all_bytes(v.path) if n != ".lock")
    if POINTS[point] == "rolled back":
        assert _all_bytes(v.path) == before  # exactly the vault before the killed operation
    assert v.read(b).data == b"subject B" * 50
    if POINTS[point] == "completed" and op == "erase":
        with pytest.raises(RecordErasedError):
            v.read(a)
        slots = (v.path / "kek.slots").read_bytes()
        assert sum(any(slots[i:i + V.SLOT_SIZE]) for i in (0, V.SLOT_SIZE)) == 1
    elif POINTS[point] == "completed":
        new = done["transaction"]["record"]
        assert v.read(new).data == b"the new record"
    assert v.recover() == {"transaction": None, "slot_wiped": False, "removed": []}


def test_recover_refuses_what_it_cannot_prove(two_records):
    v, a, b = two_records
    # leave an interrupted erase (journal + new slot + log entry), then tamper with the log
    _interrupt_at_commit(v, lambda: v.erase(a))
    log = v.path / "audit.log"
    log.write_bytes(log.read_bytes().replace(b'"op":"erase"', b'"op":"eRase"'))
    snapshot = _all_bytes(v.path)
    with pytest.raises(V.VaultIntegrityError, match="restore the vault from a backup"):
        v.recover()
    assert _all_bytes(v.path) == snapshot


def _interrupt_at_commit(v, run):
    """Leave the transaction ``run`` starts as a crash would: journal written, steps done up
    to the commit, no undo (the process 'dies' with a BaseException nobody handles)."""
    class Crash(BaseException):
        pass
    real = V._write_atomic

    def crash_at_commit(p, d):
        if p.name == "keys.json":
            raise Crash
        return real(p, d)
    V._write_atomic = crash_at_commit
    v._resolve = lambda journal: (_ for _ in ()).throw(Crash)
    try:
        with pytest.raises(Crash):
            run()
    finally:
        V._write_atomic = real
        del v._resolve


def test_cli_verify_and_recover_an_interrupted_erase(two_records):
    from typer.testing import CliRunner

    from camtwin.cli import app

    v, a, b = two_records
    _interrupt_at_commit(v, lambda: v.erase(a))
    runner, env = CliRunner(), {"CAMTWIN_VAULT_KEY": KEY.hex()}
    r = runner.invoke(app, ["privacy", "vault", "verify", str(v.path)], env=env)
    assert r.exit_code == 1 and "UNFINISHED: interrupted erase" in r.stdout, r.output
    assert "TAMPERED" not in r.stdout
    r = runner.invoke(app, ["privacy", "vault", "erase", str(v.path), a], env=env)
    assert r.exit_code == 2 and "vault recover" in r.output
    r = runner.invoke(app, ["privacy", "vault", "recover", str(v.path)], env=env)
    assert r.exit_code == 0 and f"erase of record {a}: rolled back" in r.stdout, r.output
    r = runner.invoke(app, ["privacy", "vault", "erase", str(v.path), a], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["privacy", "vault", "verify", str(v.path)], env=env)
    assert r.exit_code == 0 and "vault OK: 1 record(s), 1 erased" in r.stdout, r.output


def test_failed_create_leaves_nothing_half_made(tmp_path, monkeypatch):
    with monkeypatch.context() as m:
        _fail_on(m, "_write_atomic", lambda p, d: p.name == "keys.json")
        with pytest.raises(OSError, match="No space left"):
            Vault.create(tmp_path / "v", KEY)
    assert [p.name for p in (tmp_path / "v").iterdir()] == [".lock"]
    with pytest.raises(VaultError, match="not a vault"):
        Vault.open(tmp_path / "v", KEY)
    v = Vault.create(tmp_path / "v", KEY)  # a retry works
    assert v.verify().ok


# --- random operation sequences with random failures ------------------------------------

_STEPS = [("_write_atomic", "journal.json"), ("_write_atomic", ".rec"), ("_overwrite", "slot"),
          ("_append", "log"), ("_write_atomic", "keys.json"), ("_scrub", "finish")]


class _Injected(OSError):
    pass


def _matches(step, args):
    name, what = step
    if name == "_write_atomic":
        return args[0].name == what or args[0].suffix == what
    if name == "_overwrite":
        return any(args[2])  # a new KEK slot (wiping writes zeros)
    return True


def test_random_operations_with_random_failures_keep_the_vault_consistent(tmp_path):
    """Hypothesis draws sequences of store/read/erase, each possibly failing at one step
    of its transaction; after every operation the vault verifies, holds exactly the records
    a plain dict model holds, and an operation that raised changed no byte (unless it had
    already committed, which only a failure after the commit point can do)."""
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as hs

    ops = hs.lists(hs.tuples(hs.sampled_from(["store", "read", "erase"]),
                             hs.none() | hs.sampled_from(range(len(_STEPS))),
                             hs.integers(0, 10 ** 6)), min_size=1, max_size=12)

    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    # every kind of outcome at least once, whatever the draws: derandomized, the test
    # alone reached all four, but in a full-suite run no erase failing after its commit —
    # Hypothesis (≥ 6.131) also draws constants found in the source of every local module
    # imported so far (hypothesis.internal.constants_ast), so even derandomized draws
    # depend on which of camtwin's and the tests' modules the run has imported
    @example([("store", 0, 1)])
    @example([("store", None, 1), ("read", 0, 0)])
    @example([("store", None, 1), ("erase", 0, 0)])
    @example([("store", None, 1), ("erase", len(_STEPS) - 1, 0)])
    @given(ops)
    def run(sequence):
        folder = tmp_path / f"v{run.n}"
        run.n += 1
        v = Vault.create(folder, KEY)
        model: dict[str, bytes] = {}
        for op, step, pick in sequence:
            live = sorted(model)
            if op != "store" and not live:
                op = "store"
            target = live[pick % len(live)] if live else None
            before = _all_bytes(folder)
            saved = {}
            if step is not None:
                name, _ = _STEPS[step]
                real = saved[name] = getattr(V, name)

                def boom(*args, _real=real, _step=_STEPS[step], **kw):
                    if _matches(_step, args):
                        raise _Injected(errno.EIO, "injected I/O error")
                    return _real(*args, **kw)
                setattr(V, name, boom)
            try:
                if op == "store":
                    data = pick.to_bytes(4, "big") * (1 + pick % 50)
                    rid = v.store(data)
                    model[rid] = data
                elif op == "read":
                    assert v.read(target).data == model[target]
                else:
                    v.erase(target)
                    del model[target]
            except _Injected:
                assert _all_bytes(folder) == before
                run.seen.add(("undone", op))
            except VaultError as exc:  # committed, but a step after the commit kept failing
                assert step == len(_STEPS) - 1 and op == "erase" and "recover" in str(exc)
                for name, real in saved.items():
                    setattr(V, name, real)
                assert any("interrupted erase" in p for p in v.verify().pending)
                assert v.recover()["transaction"]["outcome"] == "completed"
                del model[target]
                run.seen.add(("completed by recover", op))
            finally:
                for name, real in saved.items():
                    setattr(V, name, real)
            rep = v.verify()
            assert rep.ok, rep
            assert sorted(r["id"] for r in v.list_records()) == sorted(model)
        for rid, data in model.items():
            assert v.read(rid).data == data
    run.n, run.seen = 0, set()
    run()
    # every kind of outcome was reached (the explicit examples make sure of it)
    assert run.seen == {("undone", "store"), ("undone", "read"), ("undone", "erase"),
                        ("completed by recover", "erase")}


def test_persistent_failure_after_commit_is_finished_by_recover(two_records, monkeypatch):
    v, a, b = two_records
    _fail_on(monkeypatch, "_scrub", lambda p: True)
    with pytest.raises(VaultError, match="neither completed nor undone.*vault recover"):
        v.erase(a)
    monkeypatch.undo()
    rep = v.verify()
    assert not rep.ok and not rep.problems
    assert any("interrupted erase" in p for p in rep.pending)
    # the old KEK's slot was overwritten before the failing scrub: the record is already
    # cryptographically erased, only its (undecryptable) file is left for recover
    assert not any("superseded" in p for p in rep.pending)
    assert (v.path / "records" / f"{a}.rec").exists()
    assert v.recover()["transaction"]["outcome"] == "completed"
    assert not (v.path / "records" / f"{a}.rec").exists()
    with pytest.raises(RecordErasedError):
        v.read(a)
    assert v.verify().ok
