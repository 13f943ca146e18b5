"""Module-key handling (issue 22, item 5): a 32-byte text passphrase file used to be taken
as a raw key, and a key file that every user could read (0644) was used silently. The
threat model (``camtwin.privacy``) names the module key as the one secret that protects
every record: both are now refused with one line, and the key never appears in it."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.privacy.vault import (Vault, VaultError, load_module_key, parse_module_key,
                                   write_key_file)

PASSPHRASE = b"correct horse battery staple 123"  # 32 printable bytes
RAW = bytes(range(200, 232))                      # 32 binary bytes: a raw key


def _key_file(path, data, mode=0o600):
    path.write_bytes(data)
    os.chmod(path, mode)
    return path


def test_32_byte_passphrase_file_is_refused(tmp_path):
    assert len(PASSPHRASE) == 32
    for data in (PASSPHRASE, PASSPHRASE + b"\n"):
        kf = _key_file(tmp_path / "pass.key", data)
        with pytest.raises(VaultError, match="looks like a passphrase") as exc:
            load_module_key(kf)
        assert "horse" not in str(exc.value)
    with pytest.raises(VaultError, match="passphrase"):
        parse_module_key(PASSPHRASE.decode())


def test_raw_hex_and_base64_keys_still_work(tmp_path):
    assert load_module_key(_key_file(tmp_path / "raw.key", RAW)) == RAW
    assert load_module_key(_key_file(tmp_path / "hex.key", RAW.hex().encode() + b"\n")) == RAW
    kf = write_key_file(tmp_path / "new.key")
    assert len(load_module_key(kf)) == 32


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_key_file_other_users_can_access_is_refused(tmp_path, mode):
    kf = _key_file(tmp_path / "module.key", RAW.hex().encode(), mode)
    with pytest.raises(VaultError, match=f"mode {mode:04o}.*chmod 600") as exc:
        load_module_key(kf)
    assert RAW.hex() not in str(exc.value)
    os.chmod(kf, 0o600)
    assert load_module_key(kf) == RAW
    os.chmod(kf, 0o400)
    assert load_module_key(kf) == RAW


def test_cli_refuses_world_readable_key_and_passphrase(tmp_path):
    runner = CliRunner()
    kf = _key_file(tmp_path / "module.key", RAW.hex().encode(), 0o644)
    r = runner.invoke(app, ["privacy", "vault", "init", str(tmp_path / "v"),
                            "--key-file", str(kf)])
    assert r.exit_code == 2 and "chmod 600" in r.output and RAW.hex() not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "v").exists()
    pf = _key_file(tmp_path / "pass.key", PASSPHRASE)
    r = runner.invoke(app, ["privacy", "vault", "init", str(tmp_path / "v"),
                            "--key-file", str(pf)])
    assert r.exit_code == 2 and "passphrase" in r.output and "horse" not in r.output
    assert not (tmp_path / "v").exists()
    os.chmod(kf, 0o600)
    r = runner.invoke(app, ["privacy", "vault", "init", str(tmp_path / "v"),
                            "--key-file", str(kf)])
    assert r.exit_code == 0, r.output
    assert Vault.open(tmp_path / "v", RAW).verify().ok
    assert (os.stat(tmp_path / "v").st_mode & 0o777) == 0o700
