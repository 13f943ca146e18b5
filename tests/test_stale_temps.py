"""What a killed process leaves — :func:`camtwin._io.atomic_path`'s temporary file, the
demo's staging folder — is removed by the next camtwin process writing into the same
folder (``camtwin._io.sweep_stale``); a live process's, another host's and the privacy
vault's (which scrubs its own) are left alone.

The processes here are really killed (SIGKILL: no ``finally``, no ``atexit``)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from camtwin._io import _TEMP_NAME, atomic_path, sweep_stale, temp_prefix

pytestmark = pytest.mark.skipif(os.name != "posix", reason="sweeping needs POSIX signals")


def _killed_mid_write(folder, name="frame.png"):
    """Run a process that starts an atomic write of ``folder/name`` and is SIGKILLed in
    the middle; return the temporary file it left."""
    code = textwrap.dedent(f"""
        import os, signal
        from camtwin._io import atomic_path
        with atomic_path({str(folder / name)!r}) as tmp:
            tmp.write_bytes(b"half a frame")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in folder.iterdir() if p.name.startswith(f".{name.split('.')[0]}.")]
    assert len(left) == 1 and _TEMP_NAME.match(left[0].name), left
    return left[0]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    stale = _killed_mid_write(tmp_path)
    assert not (tmp_path / "frame.png").exists()        # the target was never written
    with atomic_path(tmp_path / "other.png") as tmp:
        tmp.write_bytes(b"ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.png"]
    assert not stale.exists()


def test_live_and_foreign_temporary_files_are_kept(tmp_path):
    # a live process in the middle of its write (it waits on stdin)
    code = textwrap.dedent(f"""
        import sys
        from camtwin._io import atomic_path
        with atomic_path({str(tmp_path / "live.png")!r}) as tmp:
            tmp.write_bytes(b"in progress")
            print("writing", flush=True)
            sys.stdin.readline()
    """)
    with subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as live:
        try:
            assert live.stdout.readline().strip() == "writing"
            # a dead process id under another host's name (a folder shared over the network)
            dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True, check=True)
            foreign = tmp_path / f".x.otherhost-0-{int(dead.stdout)}.abcdefgh.tmp.png"
            foreign.write_bytes(b"theirs")
            # this process's own temporary name (another thread's write in progress)
            mine = tmp_path / f"{temp_prefix('y')}abcdefgh.tmp.png"
            mine.write_bytes(b"mine")
            # a file that only looks hidden
            (tmp_path / ".notes.txt").write_text("keep")
            stale = _killed_mid_write(tmp_path)
            assert sweep_stale(tmp_path) == [stale]
            names = sorted(p.name for p in tmp_path.iterdir())
            assert foreign.name in names and mine.name in names and ".notes.txt" in names
            assert any(n.startswith(".live.") for n in names)     # the live write's file
            assert sweep_stale(tmp_path) == []              # (once per process and folder)
            live.stdin.write("\n")
            live.stdin.flush()
            assert live.wait(timeout=60) == 0
            assert (tmp_path / "live.png").read_bytes() == b"in progress"
        finally:
            if live.poll() is None:
                live.kill()

def test_the_vault_scrubs_its_own_strays(tmp_path):
    """``atomic_path(sweep=False)`` (the privacy vault's writes) leaves a killed writer's
    file for the vault's ``recover``, which overwrites it before unlinking."""
    stale = _killed_mid_write(tmp_path, "keys.json")
    with atomic_path(tmp_path / "vault.json", sweep=False) as tmp:
        tmp.write_bytes(b"{}")
    assert stale.exists()
    from camtwin.privacy.vault import _TEMP_RE
    assert _TEMP_RE.match(stale.name)                    # what recover() scrubs


def test_a_killed_demo_leaves_a_staging_folder_the_next_run_removes(tmp_path):
    out = tmp_path / "demo-out"
    code = textwrap.dedent(f"""
        import os, signal
        import camtwin.demo as demo
        real = demo.save_raw
        calls = []
        def save_raw(*a, **k):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*a, **k)
        demo.save_raw = save_raw
        demo.run_demo({str(out)!r}, crop=(160, 120))
    """)
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == -signal.SIGKILL
    left = list(tmp_path.iterdir())
    assert len(left) == 1 and left[0].name.endswith(".partial") and left[0].is_dir()
    assert any(left[0].iterdir())                       # files of the killed run in it
    from camtwin.demo import run_demo
    run_demo(out, crop=(160, 120))
    assert [p.name for p in tmp_path.iterdir()] == ["demo-out"]
    assert (out / "summary.json").is_file()
