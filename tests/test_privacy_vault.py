"""Biometric vault: authenticated encryption, crypto-shredding, tamper-evident audit log,
and no plaintext on disk.

Keys are injected (fixed bytes) so failures reproduce; the vault's own data keys, nonces
and ids still come from the OS CSPRNG.
"""

from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

from camtwin.errors import CamtwinError
from camtwin.privacy.stage import face_template
from camtwin.privacy.vault import (RECORD_MAGIC, SLOT_SIZE, RecordErasedError, Vault,
                                   VaultError, VaultIntegrityError, _hkdf, kek_from_slot,
                                   load_module_key, parse_module_key, write_key_file)

KEY = bytes.fromhex("8f" * 16 + "3a" * 16)
OTHER_KEY = bytes(32)


@pytest.fixture
def template_bytes():
    from skimage import data

    return face_template(data.astronaut(), (175, 76, 91, 91)).tobytes()


@pytest.fixture
def vault(tmp_path):
    return Vault.create(tmp_path / "vault", KEY, clock=lambda: 1.7e9)


def _all_bytes(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_roundtrip_and_audit(vault, template_bytes):
    rid = vault.store(template_bytes, kind="template", label={"zone": "none"})
    rec = vault.read(rid)
    assert rec.data == template_bytes and rec.kind == "template" and rec.label == {"zone": "none"}
    assert [e["op"] for e in vault.audit_log()] == ["store", "read"]
    again = Vault.open(vault.path, KEY)
    assert again.read(rid).data == template_bytes
    rep = again.verify()
    assert rep.ok and rep.n_records == 1 and rep.n_log_entries == 3


def test_no_plaintext_on_disk(vault, template_bytes):
    secret = np.random.default_rng(3).bytes(4096)
    ids = [vault.store(template_bytes), vault.store(secret, kind="crop")]
    vault.read(ids[0])
    vault.erase(ids[1])
    files = _all_bytes(vault.path)
    assert files, "the vault wrote nothing?"
    for plain in (template_bytes, secret):
        # a run of one byte value (the template has runs of zeros) is no evidence of
        # plaintext: kek.slots holds zero padding and zeroed (erased) slots by design
        windows = {w for i in range(0, len(plain) - 16, 8)
                   if len(set(w := plain[i:i + 16])) > 1}
        for path, blob in files.items():
            for w in windows:
                assert w not in blob, f"plaintext bytes found in {path}"
    # and the test itself can fail: the plaintext would be found if it were there
    (vault.path / "leak.bin").write_bytes(b"xx" + template_bytes[100:140])
    blob = (vault.path / "leak.bin").read_bytes()
    assert any(template_bytes[i:i + 16] in blob for i in range(0, len(template_bytes) - 16, 8))


def test_flipped_byte_in_record_is_detected(vault, template_bytes):
    rid = vault.store(template_bytes)
    path = vault.path / "records" / f"{rid}.rec"
    original = path.read_bytes()
    hlen = int.from_bytes(original[len(RECORD_MAGIC):len(RECORD_MAGIC) + 4], "big")
    start = len(RECORD_MAGIC) + 4
    # a byte in: magic, length, header, nonce, ciphertext, tag
    for pos in (2, start - 1, start + hlen // 2, start + hlen + 5, start + hlen + 12 + 100,
                len(original) - 1):
        blob = bytearray(original)
        blob[pos] ^= 0x01
        path.write_bytes(bytes(blob))
        with pytest.raises(VaultIntegrityError):
            vault.read(rid)
        assert not vault.verify().ok
    path.write_bytes(original)
    assert vault.read(rid).data == template_bytes and vault.verify().ok


@pytest.mark.parametrize("target", ["audit.log", "keys.json", "vault.json"])
def test_flipped_byte_in_log_keys_or_header_is_detected(vault, template_bytes, target):
    for _ in range(3):
        vault.store(template_bytes)
    path = vault.path / target
    original = path.read_bytes()
    rng = np.random.default_rng(11)
    text_positions = [i for i, c in enumerate(original) if chr(c) in "0123456789abcdef"]
    for pos in rng.choice(text_positions, size=12, replace=False):
        blob = bytearray(original)
        blob[pos] = ord("0") if blob[pos] != ord("0") else ord("1")
        path.write_bytes(bytes(blob))
        try:
            rep = Vault.open(vault.path, KEY).verify()
            assert not rep.ok, (target, pos)
        except VaultError:
            pass  # refused at open: detected too
    path.write_bytes(original)
    assert Vault.open(vault.path, KEY).verify().ok


def test_truncated_or_reordered_log_is_detected(vault, template_bytes):
    for _ in range(3):
        vault.store(template_bytes)
    log = vault.path / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-1]))
    assert any("head records 3" in p for p in vault.verify().problems)
    log.write_bytes(b"".join([lines[1], lines[0], lines[2]]))
    assert not vault.verify().ok
    log.write_bytes(b"".join(lines))
    assert vault.verify().ok
    with pytest.raises(VaultIntegrityError):  # refuses to extend a damaged log
        log.write_bytes(b"".join(lines[:-1]))
        vault.store(b"x")


def test_erased_record_cannot_be_decrypted_even_with_module_key(tmp_path, vault,
                                                                 template_bytes):
    keep = vault.store(b"another subject")
    rid = vault.store(template_bytes)
    stolen = (vault.path / "records" / f"{rid}.rec").read_bytes()  # attacker's copy
    vault.erase(rid)
    assert not (vault.path / "records" / f"{rid}.rec").exists()
    with pytest.raises(RecordErasedError):
        vault.read(rid)
    with pytest.raises(RecordErasedError):
        vault.erase(rid)
    rep = vault.verify()
    assert rep.ok and rep.n_erased == 1 and rep.n_records == 1
    # the attacker has the vault folder, the module key and the old record file: every data
    # key still in the keystore is unwrapped and tried on the stolen ciphertext
    # (format 2: the data keys are wrapped by the KEK of the current epoch, which the module
    # key unwraps from the live slot of kek.slots; the other slot is overwritten by erase)
    header = json.loads((vault.path / "vault.json").read_text())
    slots = (vault.path / "kek.slots").read_bytes()
    keks = [got[1] for i in range(0, len(slots), SLOT_SIZE)
            if (got := kek_from_slot(KEY, header["vault_id"], slots[i:i + SLOT_SIZE]))]
    assert len(keks) == 1
    kek = keks[0]
    wrapped = json.loads((vault.path / "keys.json").read_text())["wrapped_keys"]
    assert rid not in wrapped and keep in wrapped
    n = len(RECORD_MAGIC)
    hlen = int.from_bytes(stolen[n:n + 4], "big")
    hdr, nonce, ct = stolen[n + 4:n + 4 + hlen], stolen[n + 4 + hlen:n + 16 + hlen], \
        stolen[n + 16 + hlen:]
    tried = 0
    for w in wrapped.values():
        dek = aes_key_unwrap(kek, base64.b64decode(w))
        with pytest.raises(InvalidTag):
            AESGCM(dek).decrypt(nonce, ct, RECORD_MAGIC + hdr)
        tried += 1
    assert tried == 1
    # control: before erasure the same procedure *does* decrypt (so the attack is real)
    rid2 = vault.store(template_bytes)
    blob = (vault.path / "records" / f"{rid2}.rec").read_bytes()
    w2 = json.loads((vault.path / "keys.json").read_text())["wrapped_keys"][rid2]
    h2 = int.from_bytes(blob[n:n + 4], "big")
    plain = AESGCM(aes_key_unwrap(kek, base64.b64decode(w2))).decrypt(
        blob[n + 4 + h2:n + 16 + h2], blob[n + 16 + h2:], RECORD_MAGIC + blob[n + 4:n + 4 + h2])
    assert plain == template_bytes
    # and the wrong key never unwraps anything
    assert all(kek_from_slot(OTHER_KEY, header["vault_id"], slots[i:i + SLOT_SIZE]) is None
               for i in range(0, len(slots), SLOT_SIZE))
    bad_kek = _hkdf(OTHER_KEY, bytes.fromhex(header["vault_id"]), "key-encryption")
    with pytest.raises(InvalidUnwrap):
        aes_key_unwrap(bad_kek, base64.b64decode(w2))


def test_wrong_key_and_bad_folder(tmp_path, vault):
    rid = vault.store(b"abc")
    before = _all_bytes(vault.path)
    with pytest.raises(VaultError, match="wrong module key"):
        Vault.open(vault.path, OTHER_KEY)
    assert _all_bytes(vault.path) == before  # nothing lost or changed
    with pytest.raises(VaultError, match="not a vault"):
        Vault.open(tmp_path, KEY)
    with pytest.raises(VaultError, match="not an empty folder"):
        Vault.create(vault.path, KEY)
    with pytest.raises(VaultError, match="32 hex"):
        vault.read("../../etc/passwd")
    with pytest.raises(VaultError, match="no record"):
        vault.read("0" * 32)
    with pytest.raises(VaultError, match="label"):
        vault.store(b"x", label={"face": [1, 2]})
    assert vault.read(rid).data == b"abc"
    assert issubclass(VaultError, CamtwinError) and issubclass(VaultError, ValueError)


def test_module_key_parsing_never_echoes_key(tmp_path, monkeypatch):
    assert parse_module_key(KEY.hex()) == KEY
    assert parse_module_key(base64.b64encode(KEY).decode()) == KEY
    with pytest.raises(VaultError) as exc:
        parse_module_key("deadbeef" * 7)
    assert "deadbeef" not in str(exc.value)
    kf = write_key_file(tmp_path / "k")
    assert (kf.stat().st_mode & 0o777) == 0o600 and len(load_module_key(kf)) == 32
    with pytest.raises(VaultError, match="refusing to overwrite"):
        write_key_file(kf)
    monkeypatch.setenv("CAMTWIN_VAULT_KEY", KEY.hex())
    assert load_module_key() == KEY
    monkeypatch.delenv("CAMTWIN_VAULT_KEY")
    with pytest.raises(VaultError, match="CAMTWIN_VAULT_KEY"):
        load_module_key()


def test_copied_vault_keeps_working_and_erasure_is_independent(tmp_path, vault):
    rid = vault.store(b"payload")
    copy = tmp_path / "copy"
    shutil.copytree(vault.path, copy)
    vault.erase(rid)
    assert Vault.open(copy, KEY).read(rid).data == b"payload"  # a backup is NOT shredded


def test_format_1_vault_is_refused_with_one_line(tmp_path, vault):
    header = json.loads((vault.path / "vault.json").read_text())
    (vault.path / "vault.json").write_text(json.dumps({**header, "version": 1}))
    with pytest.raises(VaultError, match="format version 1 is not supported") as exc:
        Vault.open(vault.path, KEY)
    assert "\n" not in str(exc.value)
