"""Crypto-shredding against leftover keystore copies (issue 22, item 3).

Before the fix, a crash while ``keys.json`` was replaced left ``.keys.XXXX.tmp.json``; a later
``erase`` ignored it, ``verify`` did not mention it, and it still held the erased record's
wrapped data key — which the module key unwrapped, decrypting a saved ciphertext. The same
held for superseded ``keys.json`` copies in freed ext4 blocks. Now every erase rotates the
key-encryption key (KEK), so every keystore copy older than the erase is wrapped under a KEK
that no longer exists; these tests play the attacker who holds the module key, every old
keystore copy and the erased record's ciphertext.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import textwrap

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from camtwin.privacy.vault import (RECORD_MAGIC, SLOT_SIZE, RecordErasedError, Vault,
                                   VaultIntegrityError, kek_from_slot)

KEY = bytes.fromhex("a7" * 16 + "19" * 16)
SECRET = b"face template of the subject who asked to be erased " * 20


def attack(vault_id, slot_files, keystores, stolen_record):
    """Try every KEK in every copy of kek.slots on every wrapped key in every keystore copy
    against the stolen ciphertext. Returns the plaintext, or None; also the number of
    (KEK, wrapped key) pairs that unwrapped, so a test can show the attack had material."""
    keks = [got[1] for blob in slot_files for i in range(0, len(blob), SLOT_SIZE)
            if (got := kek_from_slot(KEY, vault_id, blob[i:i + SLOT_SIZE]))]
    n = len(RECORD_MAGIC)
    hlen = int.from_bytes(stolen_record[n:n + 4], "big")
    hdr = stolen_record[n + 4:n + 4 + hlen]
    nonce, ct = stolen_record[n + 4 + hlen:n + 16 + hlen], stolen_record[n + 16 + hlen:]
    unwrapped = 0
    for text in keystores:
        for w in json.loads(text)["wrapped_keys"].values():
            for kek in keks:
                try:
                    dek = aes_key_unwrap(kek, base64.b64decode(w))
                except InvalidUnwrap:
                    continue
                unwrapped += 1
                try:
                    return AESGCM(dek).decrypt(nonce, ct, RECORD_MAGIC + hdr), unwrapped
                except InvalidTag:
                    pass
    return None, unwrapped


def _vault_id(path):
    return json.loads((path / "vault.json").read_text())["vault_id"]


_KILL_AT_KEYSTORE_RENAME = textwrap.dedent("""
    import os, signal, sys
    from camtwin.privacy.vault import Vault
    real = os.replace
    def replace(src, dst, *a, **k):
        if str(dst).endswith("keys.json"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *a, **k)
    os.replace = replace
    Vault.open(sys.argv[1], bytes.fromhex(sys.argv[2])).store(b"another subject")
""")


def test_temp_keystore_left_by_a_crash_cannot_unwrap_the_erased_key(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    rid = v.store(SECRET)
    keep = v.store(b"a subject who stays")
    stolen = (v.path / "records" / f"{rid}.rec").read_bytes()
    # kill -9 while keys.json is replaced: the temporary keystore stays behind
    r = subprocess.run([sys.executable, "-c", _KILL_AT_KEYSTORE_RENAME, str(v.path), KEY.hex()],
                       capture_output=True, timeout=300)
    assert r.returncode == -9, r.stderr
    temps = list(v.path.glob(".keys.*.tmp.json"))
    assert len(temps) == 1
    assert rid in json.loads(temps[0].read_text())["wrapped_keys"]  # the hazard is real
    rep = v.verify()
    assert not rep.ok and any(f"stray file {temps[0].name}" in p for p in rep.pending), rep
    # the attacker keeps every copy the disk ever held (as freed blocks would)
    old_keystores = [temps[0].read_text(), (v.path / "keys.json").read_text()]
    old_slots = (v.path / "kek.slots").read_bytes()
    assert attack(_vault_id(v.path), [old_slots], old_keystores, stolen)[0] == SECRET  # control
    assert v.recover()["removed"] == [temps[0].name]
    v.erase(rid)
    assert not list(v.path.glob(".keys.*")) and v.verify().ok
    with pytest.raises(RecordErasedError):
        v.read(rid)
    keystores = old_keystores + [(v.path / "keys.json").read_text()]
    plain, unwrapped = attack(_vault_id(v.path), [(v.path / "kek.slots").read_bytes()],
                              keystores, stolen)
    assert plain is None
    assert unwrapped == 1  # the current KEK unwraps exactly the surviving record's key
    assert v.read(keep).data == b"a subject who stays"
    # the residual risk, stated in the docstring: an old copy of kek.slots (its pre-erase
    # blocks) next to an old keystore still decrypts — the design needs exactly those 128
    # bytes to be erasable (overwritten in place; a secure element or RPMB on a module)
    assert attack(_vault_id(v.path), [old_slots], keystores, stolen)[0] == SECRET


def test_erase_scrubs_stray_keystore_copies_and_verify_flags_them(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    rid = v.store(SECRET)
    stolen = (v.path / "records" / f"{rid}.rec").read_bytes()
    stray = v.path / ".keys.u7x2k9qa.tmp.json"  # what a crash in an old version left
    shutil.copyfile(v.path / "keys.json", stray)
    odd = v.path / "notes.txt"
    odd.write_text("not vault data")
    rep = v.verify()
    assert any(".keys.u7x2k9qa.tmp.json" in p for p in rep.pending), rep
    assert any("unexpected file notes.txt" in p for p in rep.problems), rep
    saved = stray.read_text()
    v.erase(rid)
    assert not stray.exists() and odd.read_text() == "not vault data"  # reported, not touched
    odd.unlink()
    assert v.verify().ok
    plain, unwrapped = attack(_vault_id(v.path), [(v.path / "kek.slots").read_bytes()],
                              [saved], stolen)
    assert plain is None and unwrapped == 0


def test_every_erase_rotates_the_kek_in_place(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    ids = [v.store(bytes([i]) * 100) for i in range(5)]
    slots_path = v.path / "kek.slots"
    inode = slots_path.stat().st_ino
    extents = _physical_extents(slots_path)
    seen = set()
    for k, rid in enumerate(ids[:3], start=1):
        before = slots_path.read_bytes()
        v.erase(rid)
        state = json.loads((v.path / "keys.json").read_text())
        blob = slots_path.read_bytes()
        live = [kek_from_slot(KEY, _vault_id(v.path), blob[i:i + SLOT_SIZE])
                for i in (0, SLOT_SIZE)]
        assert state["epoch"] == k and state["slot"] == k % 2
        assert live[k % 2][0] == k and not any(blob[(1 - k % 2) * SLOT_SIZE:][:SLOT_SIZE])
        old = before[(1 - k % 2) * SLOT_SIZE:][:SLOT_SIZE]
        assert old not in blob and live[k % 2][1] not in seen  # a fresh KEK each time
        seen.add(live[k % 2][1])
    assert slots_path.stat().st_ino == inode  # overwritten in place, never renamed
    if extents is not None:  # and on this file system in the same physical blocks
        assert _physical_extents(slots_path) == extents
    for i, rid in enumerate(ids[3:], start=3):
        assert v.read(rid).data == bytes([i]) * 100
    assert v.verify().ok


def _physical_extents(path):
    """Physical block ranges of a file from FIEMAP (``filefrag -v``); None if unavailable."""
    exe = shutil.which("filefrag")
    if exe is None:
        return None
    r = subprocess.run([exe, "-v", str(path)], capture_output=True, text=True)
    rows = [line.split(":")[2].strip() for line in r.stdout.splitlines()
            if line.strip()[:1].isdigit() and line.count(":") >= 3]
    return rows or None


def test_tampered_kek_slot_is_detected(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    rid = v.store(b"x" * 50)
    path = v.path / "kek.slots"
    original = path.read_bytes()
    for pos in (0, 9, 20, 50):
        blob = bytearray(original)
        blob[pos] ^= 0x10
        path.write_bytes(bytes(blob))
        assert not v.verify().ok
        with pytest.raises(VaultIntegrityError):
            v.read(rid)
    path.write_bytes(original)
    assert v.read(rid).data == b"x" * 50 and v.verify().ok


def test_scrubbing_never_writes_through_a_symlink(tmp_path):
    v = Vault.create(tmp_path / "v", KEY)
    rid = v.store(b"record")
    outside = tmp_path / "precious.txt"
    outside.write_text("not the vault's to scrub")
    (v.path / ".keys.planted.tmp.json").symlink_to(outside)
    rec = v.path / "records" / f"{rid}.rec"
    rec.unlink()
    rec.symlink_to(outside)
    v.erase(rid)  # scrubs the record "file" and the stray temp: both only unlinked
    assert outside.read_text() == "not the vault's to scrub"
    assert not rec.is_symlink() and not (v.path / ".keys.planted.tmp.json").is_symlink()
