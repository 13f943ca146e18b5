"""Encrypted biometric vault with crypto-shredding and a hash-chained, MAC'd audit log.

Layout of a vault folder::

    vault.json        format, vault id, key-check value, head of the audit chain (+ MAC)
    keys.json         per-record data keys, each wrapped by the key-encryption key (+ MAC)
    records/<id>.rec  one record: header (clear, non-biometric) + AES-256-GCM ciphertext
    audit.log         JSON lines: store / read / erase, hash-chained and MAC'd

Cryptography (all from the ``cryptography`` package):

* The 256-bit *module key* never touches the vault folder. HKDF-SHA256 (RFC 5869; salt =
  the vault id) derives from it a key-encryption key (KEK), an audit-MAC key, a keystore-MAC
  key and a key-check key.
* Each record gets a fresh 256-bit data key (DEK) from ``os.urandom``; the payload is
  encrypted with AES-256-GCM (NIST SP 800-38D; 96-bit random nonce, the record header as
  associated data, so header and ciphertext are both authenticated); the DEK is stored only
  wrapped with AES Key Wrap (RFC 3394) under the KEK.
* **Erasure = crypto-shredding**: the wrapped DEK is removed from ``keys.json`` (rewritten
  atomically) and the record file is overwritten with random bytes and unlinked. Without
  the DEK the ciphertext is computationally indistinguishable from random: holding the
  module key, the current vault folder and even a saved copy of the old record file does
  not recover it (the tests try).
* The audit log is a hash chain (entry hash = SHA-256(previous hash ‖ canonical entry)),
  each entry MAC'd with HMAC-SHA256 under the audit key; ``vault.json`` stores the head
  (sequence number and hash) under a MAC, so editing, reordering, deleting or truncating
  entries is detected by :meth:`Vault.verify`.

Every file is written atomically (temporary file + fsync + rename); no plaintext payload
is ever written into the vault folder. Record headers (kind, time, caller label) are in
clear by design — never put biometric data in a label.

Limits (see also :mod:`camtwin.privacy`): crypto-shredding only holds if no old copy of
``keys.json`` survives together with the module key (backups, snapshots, SSD wear-levelled
blocks — a real module keeps the keystore in a secure element or RPMB); Python cannot zero
the DEK or plaintext in memory; rolling back the whole folder to an older consistent state
is not detectable without a hardware monotonic counter; single writer (an advisory lock
serialises writers on one host).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from .._io import atomic_path
from ..errors import CamtwinError

FORMAT = "camtwin-biometric-vault"
VERSION = 1
RECORD_MAGIC = b"CTVREC1\n"
KEY_ENV = "CAMTWIN_VAULT_KEY"
#: Record kinds the vault accepts.
RECORD_KINDS = ("template", "crop", "other")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_GENESIS = "0" * 64
_KEYSTORE_ALG = "A256KW (RFC 3394) under HKDF-SHA256(module key)"


class VaultError(CamtwinError, ValueError):
    """The vault cannot do what was asked (wrong key, unknown record, bad folder)."""


class VaultIntegrityError(VaultError):
    """Vault data failed authentication: tampering or corruption."""


class RecordErasedError(VaultError):
    """The record was erased (its data key was destroyed)."""


# --- module key ----------------------------------------------------------------------

def generate_module_key() -> bytes:
    """A fresh 256-bit module key from the OS CSPRNG (``secrets.token_bytes``)."""
    return secrets.token_bytes(32)


def parse_module_key(text: str | bytes, *, source: str = "key") -> bytes:
    """32 key bytes from 64 hex digits, base64 (44 chars) or 32 raw bytes.

    The error message never contains key material."""
    if isinstance(text, bytes):
        if len(text) == 32:
            return text
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise VaultError(f"{source}: not a 256-bit key (expected 32 raw bytes, 64 hex "
                             "digits or base64)") from None
    t = text.strip()
    key = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", t):
        key = bytes.fromhex(t)
    else:
        try:
            raw = base64.b64decode(t, validate=True)
            key = raw if len(raw) == 32 else None
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise VaultError(f"{source}: not a 256-bit key (expected 64 hex digits or base64 of "
                         "32 bytes)")
    return key


def load_module_key(key_file: str | os.PathLike | None = None, *,
                    env: str = KEY_ENV) -> bytes:
    """The module key from ``key_file`` or, if None, from environment variable ``env``."""
    if key_file is not None:
        p = Path(key_file)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise VaultError(f"cannot read key file {p}: {exc.strerror or exc}") from None
        return parse_module_key(data, source=f"key file {p}")
    value = os.environ.get(env)
    if not value:
        raise VaultError(f"no module key: pass --key-file or set {env}")
    return parse_module_key(value, source=f"environment variable {env}")


def write_key_file(path: str | os.PathLike, key: bytes | None = None) -> Path:
    """Write a (new) module key as hex to ``path`` with mode 0600; never overwrites."""
    p = Path(path)
    key = generate_module_key() if key is None else key
    if len(key) != 32:
        raise VaultError("module key must be 32 bytes")
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VaultError(f"key file {p} exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise VaultError(f"cannot create key file {p}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
        f.flush()
        os.fsync(f.fileno())
    return p


# --- helpers ---------------------------------------------------------------------------

def _canon(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    os.chmod(path, 0o600)  # vault files are for the module's process only


def _hkdf(module_key: bytes, salt: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=f"camtwin vault v1 {label}".encode()).derive(module_key)


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VaultRecord:
    """A decrypted record: payload bytes plus its clear header."""

    record_id: str
    kind: str
    created_s: float
    label: dict
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class VerifyReport:
    """Result of :meth:`Vault.verify`: ``ok`` and one line per problem found."""

    ok: bool
    problems: tuple[str, ...]
    n_records: int
    n_erased: int
    n_log_entries: int

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": list(self.problems), "records": self.n_records,
                "erased": self.n_erased, "log_entries": self.n_log_entries}


class Vault:
    """An open vault folder. Create with :meth:`create`, open with :meth:`open`."""

    def __init__(self, path: Path, module_key: bytes, header: dict, *, clock=time.time):
        self.path = Path(path)
        self._header = header
        salt = bytes.fromhex(header["vault_id"])
        self._kek = _hkdf(module_key, salt, "key-encryption")
        self._audit_key = _hkdf(module_key, salt, "audit-mac")
        self._keys_mac_key = _hkdf(module_key, salt, "keystore-mac")
        self._head_mac_key = _hkdf(module_key, salt, "header-mac")
        self._clock = clock

    # -- files
    @property
    def _header_path(self) -> Path:
        return self.path / "vault.json"

    @property
    def _keys_path(self) -> Path:
        return self.path / "keys.json"

    @property
    def _log_path(self) -> Path:
        return self.path / "audit.log"

    def _record_path(self, record_id: str) -> Path:
        return self.path / "records" / f"{record_id}.rec"

    @staticmethod
    def _check_key(module_key: bytes) -> None:
        if not isinstance(module_key, (bytes, bytearray)) or len(module_key) != 32:
            raise VaultError("module key must be 32 bytes (256 bits)")

    @classmethod
    def create(cls, path: str | os.PathLike, module_key: bytes, *, clock=time.time) -> "Vault":
        """Create an empty vault in ``path`` (a new or empty folder)."""
        cls._check_key(module_key)
        p = Path(path)
        if p.exists() and (not p.is_dir() or any(p.iterdir())):
            raise VaultError(f"{p} exists and is not an empty folder; refusing to create a "
                             "vault there")
        try:
            (p / "records").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VaultError(f"cannot create vault folder {p}: {exc.strerror or exc}") from None
        vault_id = secrets.token_bytes(16).hex()
        check = _hkdf(bytes(module_key), bytes.fromhex(vault_id), "key-check").hex()
        header = {"format": FORMAT, "version": VERSION, "vault_id": vault_id,
                  "key_check": check, "head": {"seq": 0, "hash": _GENESIS}}
        v = cls(p, bytes(module_key), header, clock=clock)
        with v._lock():
            v._write_keys({})
            _write_atomic(v._log_path, b"")
            v._write_header(header["head"])
        return v

    @classmethod
    def open(cls, path: str | os.PathLike, module_key: bytes, *, clock=time.time) -> "Vault":
        """Open an existing vault; a wrong module key is a :class:`VaultError`."""
        cls._check_key(module_key)
        p = Path(path)
        hp = p / "vault.json"
        try:
            header = json.loads(hp.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise VaultError(f"{p} is not a vault (no vault.json); create one with "
                             "'camtwin privacy vault init'") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VaultIntegrityError(f"{hp}: unreadable vault header ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise VaultIntegrityError(f"{hp}: not a camtwin vault header")
        if header.get("version") != VERSION:
            raise VaultError(f"{hp}: vault format version {header.get('version')!r} is not "
                             f"supported (this camtwin reads {VERSION})")
        try:
            salt = bytes.fromhex(header["vault_id"])
            check = _hkdf(bytes(module_key), salt, "key-check").hex()
            ok = hmac.compare_digest(check, str(header["key_check"]))
        except (KeyError, ValueError, TypeError):
            raise VaultIntegrityError(f"{hp}: vault header is damaged") from None
        if not ok:
            raise VaultError(f"wrong module key for vault {p} (key check failed)")
        v = cls(p, bytes(module_key), header, clock=clock)
        v._check_header()
        return v

    @contextlib.contextmanager
    def _lock(self):
        import fcntl

        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- header and keystore
    def _header_mac(self, head: dict) -> str:
        body = {k: v for k, v in self._header.items() if k not in ("head", "head_mac")}
        return _mac(self._head_mac_key, _canon({**body, "head": head}))

    def _write_header(self, head: dict) -> None:
        self._header = {**self._header, "head": head}
        self._header["head_mac"] = self._header_mac(head)
        _write_atomic(self._header_path, (json.dumps(self._header, indent=2) + "\n").encode())

    def _check_header(self) -> None:
        head = self._header.get("head")
        mac = self._header.get("head_mac", "")
        if not isinstance(head, dict) or not hmac.compare_digest(self._header_mac(head),
                                                                 str(mac)):
            raise VaultIntegrityError(f"{self._header_path}: header MAC mismatch (tampered)")

    def _read_keys(self) -> dict[str, str]:
        try:
            obj = json.loads(self._keys_path.read_text(encoding="utf-8"))
            keys, mac, alg = obj["wrapped_keys"], obj["mac"], obj["alg"]
            if not isinstance(keys, dict) or alg != _KEYSTORE_ALG:
                raise TypeError
        except FileNotFoundError:
            raise VaultIntegrityError(f"{self._keys_path} is missing") from None
        except (OSError, ValueError, KeyError, TypeError):
            raise VaultIntegrityError(f"{self._keys_path}: keystore unreadable "
                                      "(tampered or corrupt)") from None
        if not hmac.compare_digest(_mac(self._keys_mac_key, _canon(keys)), str(mac)):
            raise VaultIntegrityError(f"{self._keys_path}: keystore MAC mismatch (tampered)")
        return keys

    def _write_keys(self, keys: dict[str, str]) -> None:
        obj = {"alg": _KEYSTORE_ALG, "wrapped_keys": keys,
               "mac": _mac(self._keys_mac_key, _canon(keys))}
        _write_atomic(self._keys_path, (json.dumps(obj, indent=1, sort_keys=True) + "\n")
                      .encode())

    # -- audit log
    def _read_log(self) -> list[dict]:
        try:
            text = self._log_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VaultIntegrityError(f"{self._log_path} is missing") from None
        except (OSError, UnicodeDecodeError):
            raise VaultIntegrityError(f"{self._log_path}: unreadable") from None
        out = []
        for i, line in enumerate(text.splitlines(), start=1):
            try:
                e = json.loads(line)
                if not isinstance(e, dict):
                    raise ValueError
            except ValueError:
                raise VaultIntegrityError(f"{self._log_path} line {i}: not a log entry "
                                          "(tampered or corrupt)") from None
            out.append(e)
        return out

    def _check_log(self, entries: list[dict]) -> list[str]:
        problems = []
        prev = _GENESIS
        for i, e in enumerate(entries, start=1):
            core = {k: e.get(k) for k in ("seq", "time_s", "op", "record", "detail", "prev")}
            if e.get("seq") != i:
                problems.append(f"audit log entry {i}: sequence number {e.get('seq')!r} "
                                f"(expected {i})")
            if e.get("prev") != prev:
                problems.append(f"audit log entry {i}: chain broken (prev hash mismatch)")
            h = hashlib.sha256(bytes.fromhex(prev) + _canon(core)).hexdigest()
            if e.get("hash") != h:
                problems.append(f"audit log entry {i}: hash mismatch (entry modified)")
            if not hmac.compare_digest(_mac(self._audit_key, h.encode()), str(e.get("mac"))):
                problems.append(f"audit log entry {i}: MAC mismatch (forged or modified)")
            prev = str(e.get("hash"))
        head = self._header.get("head", {})
        if head.get("seq") != len(entries) or head.get("hash") != (prev if entries
                                                                    else _GENESIS):
            problems.append(f"audit log has {len(entries)} entries but the vault header "
                            f"records {head.get('seq')}: entries removed, added or replaced")
        return problems

    def _append_log(self, op: str, record: str | None, detail: dict | None = None) -> None:
        entries = self._read_log()
        problems = self._check_log(entries)
        if problems:
            raise VaultIntegrityError(f"{self._log_path}: " + problems[0]
                                      + " — refusing to extend a damaged log")
        prev = entries[-1]["hash"] if entries else _GENESIS
        core = {"seq": len(entries) + 1, "time_s": round(float(self._clock()), 6), "op": op,
                "record": record, "detail": detail or {}, "prev": prev}
        h = hashlib.sha256(bytes.fromhex(prev) + _canon(core)).hexdigest()
        entry = {**core, "hash": h, "mac": _mac(self._audit_key, h.encode())}
        text = self._log_path.read_bytes() + _canon(entry) + b"\n"
        _write_atomic(self._log_path, text)
        self._write_header({"seq": core["seq"], "hash": h})

    def audit_log(self) -> list[dict]:
        """The audit entries (seq, time_s, op, record, detail) after checking the chain."""
        entries = self._read_log()
        problems = self._check_log(entries)
        if problems:
            raise VaultIntegrityError(f"{self._log_path}: {problems[0]}")
        return [{k: e[k] for k in ("seq", "time_s", "op", "record", "detail")}
                for e in entries]

    # -- records
    @staticmethod
    def _check_id(record_id: str) -> str:
        if not isinstance(record_id, str) or not _ID_RE.match(record_id):
            raise VaultError(f"record id {str(record_id)[:40]!r} is not valid (32 hex digits)")
        return record_id

    def store(self, data: bytes, *, kind: str = "template", label: dict | None = None) -> str:
        """Encrypt and store ``data``; return the new record id.

        ``label`` (clear text, JSON scalars only) is for non-biometric context such as the
        policy decision or frame time — never put biometric data in it."""
        if kind not in RECORD_KINDS:
            raise VaultError(f"record kind {kind!r} is not one of {', '.join(RECORD_KINDS)}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise VaultError("record data must be bytes")
        label = dict(label or {})
        for k, v in label.items():
            if not isinstance(k, str) or not (v is None or isinstance(v, (str, int, float, bool))):
                raise VaultError(f"label {k!r}: only str/int/float/bool/None values are allowed")
        record_id = secrets.token_bytes(16).hex()
        header = _canon({"id": record_id, "kind": kind, "created_s": float(self._clock()),
                         "label": label, "vault_id": self._header["vault_id"]})
        dek = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        aad = RECORD_MAGIC + header
        ct = AESGCM(dek).encrypt(nonce, bytes(data), aad)
        blob = RECORD_MAGIC + struct.pack(">I", len(header)) + header + nonce + ct
        wrapped = aes_key_wrap(self._kek, dek)
        del dek
        with self._lock():
            keys = self._read_keys()
            _write_atomic(self._record_path(record_id), blob)
            keys[record_id] = base64.b64encode(wrapped).decode()
            self._write_keys(keys)
            self._append_log("store", record_id, {"kind": kind, "bytes": len(data)})
        return record_id

    def _parse_record(self, record_id: str, blob: bytes) -> tuple[dict, bytes, bytes, bytes]:
        p = self._record_path(record_id)
        n = len(RECORD_MAGIC)
        if len(blob) < n + 4 or blob[:n] != RECORD_MAGIC:
            raise VaultIntegrityError(f"{p}: not a vault record (tampered or corrupt)")
        (hlen,) = struct.unpack(">I", blob[n:n + 4])
        header = blob[n + 4:n + 4 + hlen]
        rest = blob[n + 4 + hlen:]
        if len(header) != hlen or len(rest) < 12 + 16:
            raise VaultIntegrityError(f"{p}: truncated record (tampered or corrupt)")
        try:
            meta = json.loads(header)
            if not isinstance(meta, dict):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            meta = {}  # authentication below fails and reports it
        return meta, header, rest[:12], rest[12:]

    def _erased_ids(self) -> set[str]:
        return {e.get("record") for e in self._read_log() if e.get("op") == "erase"}

    def read(self, record_id: str) -> VaultRecord:
        """Decrypt a record (logged as ``read``).

        Raises
        ------
        RecordErasedError
            The record was erased; its data key no longer exists.
        VaultIntegrityError
            The record, its wrapped key or the keystore failed authentication.
        """
        self._check_id(record_id)
        with self._lock():
            keys = self._read_keys()
            if record_id not in keys:
                if record_id in self._erased_ids():
                    raise RecordErasedError(f"record {record_id} was erased (crypto-shredded): "
                                            "its data key no longer exists")
                raise VaultError(f"no record {record_id} in vault {self.path}")
            try:
                dek = aes_key_unwrap(self._kek, base64.b64decode(keys[record_id]))
            except (InvalidUnwrap, ValueError, binascii.Error):
                raise VaultIntegrityError(f"record {record_id}: wrapped data key fails "
                                          "integrity check (tampered)") from None
            p = self._record_path(record_id)
            try:
                blob = p.read_bytes()
            except FileNotFoundError:
                raise VaultIntegrityError(f"record {record_id}: file {p} is missing") from None
            meta, header, nonce, ct = self._parse_record(record_id, blob)
            try:
                data = AESGCM(dek).decrypt(nonce, ct, RECORD_MAGIC + header)
            except InvalidTag:
                raise VaultIntegrityError(f"record {record_id}: authentication failed "
                                          "(record tampered or corrupt)") from None
            if meta.get("id") != record_id:
                raise VaultIntegrityError(f"record {record_id}: header names another record")
            self._append_log("read", record_id)
        return VaultRecord(record_id, str(meta.get("kind")), float(meta.get("created_s", 0.0)),
                           dict(meta.get("label", {})), data)

    def erase(self, record_id: str) -> None:
        """Crypto-shred a record: destroy its wrapped data key, then scrub its file."""
        self._check_id(record_id)
        with self._lock():
            keys = self._read_keys()
            if record_id not in keys:
                if record_id in self._erased_ids():
                    raise RecordErasedError(f"record {record_id} was already erased")
                raise VaultError(f"no record {record_id} in vault {self.path}")
            del keys[record_id]
            self._write_keys(keys)          # the key is gone: the record is unrecoverable
            p = self._record_path(record_id)
            try:                            # defence in depth: scrub and remove ciphertext
                size = p.stat().st_size
                with open(p, "r+b") as f:
                    f.write(secrets.token_bytes(size))
                    f.flush()
                    os.fsync(f.fileno())
                p.unlink()
            except FileNotFoundError:
                pass
            self._append_log("erase", record_id)

    def list_records(self) -> list[dict]:
        """Live records (id, kind, created_s, label) from their clear headers; not logged."""
        keys = self._read_keys()
        out = []
        for rid in sorted(keys):
            try:
                meta, *_ = self._parse_record(rid, self._record_path(rid).read_bytes())
            except (OSError, VaultIntegrityError):
                meta = {}
            out.append({"id": rid, "kind": meta.get("kind"), "created_s": meta.get("created_s"),
                        "label": meta.get("label")})
        return out

    def verify(self) -> VerifyReport:
        """Check everything without changing anything: header MAC, audit chain and head,
        keystore MAC, every wrapped key and every record's authentication tag, and that
        records, keys and log agree."""
        problems: list[str] = []
        try:
            self._check_header()
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        entries: list[dict] = []
        try:
            entries = self._read_log()
            problems += self._check_log(entries)
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        stored = {e.get("record") for e in entries if e.get("op") == "store"}
        erased = {e.get("record") for e in entries if e.get("op") == "erase"}
        try:
            keys = self._read_keys()
        except VaultIntegrityError as exc:
            problems.append(str(exc))
            keys = {}
        for rid, wrapped in sorted(keys.items()):
            try:
                dek = aes_key_unwrap(self._kek, base64.b64decode(wrapped))
            except (InvalidUnwrap, ValueError, binascii.Error):
                problems.append(f"record {rid}: wrapped data key fails integrity check")
                continue
            try:
                meta, header, nonce, ct = self._parse_record(rid, self._record_path(rid)
                                                             .read_bytes())
                AESGCM(dek).decrypt(nonce, ct, RECORD_MAGIC + header)
                if meta.get("id") != rid:
                    problems.append(f"record {rid}: header names another record")
            except FileNotFoundError:
                problems.append(f"record {rid}: file missing")
            except VaultIntegrityError as exc:
                problems.append(str(exc))
            except InvalidTag:
                problems.append(f"record {rid}: authentication failed (tampered or corrupt)")
            if rid not in stored:
                problems.append(f"record {rid}: has a key but no 'store' entry in the audit log")
            if rid in erased:
                problems.append(f"record {rid}: logged as erased but its key still exists")
        for rid in sorted((stored - erased) - set(keys)):
            problems.append(f"record {rid}: stored per the audit log but its key is gone "
                            "without an 'erase' entry")
        rec_dir = self.path / "records"
        files = {p.stem for p in rec_dir.glob("*.rec")} if rec_dir.is_dir() else set()
        for rid in sorted(files - set(keys)):
            problems.append(f"record file {rid}.rec has no key (unrecoverable leftover)")
        return VerifyReport(not problems, tuple(problems), len(keys), len(erased & stored),
                            len(entries))
