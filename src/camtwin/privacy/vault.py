"""Encrypted biometric vault with crypto-shredding, a key hierarchy that rotates on every
erasure, atomic transactions and a hash-chained, MAC'd audit log.

Layout of a vault folder (mode 0700, every file 0600)::

    vault.json        format, vault id, key-check value (+ MAC); written once, never changed
    kek.slots         two fixed 64-byte slots; the live one holds the key-encryption key
                      (KEK) of the current epoch, wrapped; overwritten in place, never renamed
    keys.json         the commit record: epoch, live slot, per-record data keys wrapped by
                      the KEK, head (sequence number, hash) of the audit chain (+ MAC)
    audit.log         JSON lines: store / read / erase, hash-chained and MAC'd; append-only
    records/<id>.rec  one record: header (clear, non-biometric) + AES-256-GCM ciphertext
    journal.json      only while a transaction runs (or after it was interrupted)
    .lock             advisory lock (``flock``) serialising every access

Key hierarchy (all primitives from the ``cryptography`` package)::

    module key (32 B, never in the vault folder)
      └─ HKDF-SHA256 (RFC 5869, salt = vault id) → slot key of epoch n, MAC keys, key check
           └─ AES Key Wrap (RFC 3394) → KEK_n (random 32 B) in the live slot of kek.slots
                └─ AES Key Wrap → per-record data key (DEK, random 32 B) in keys.json
                     └─ AES-256-GCM (NIST SP 800-38D; 96-bit random nonce, record header
                        as associated data) → the record's ciphertext

**Erasure = crypto-shredding with key rotation.** ``erase`` draws a new KEK_{n+1}, writes it
(wrapped under the epoch-(n+1) slot key) into the *other* slot, re-wraps every remaining DEK
under it, drops the erased record's DEK, commits ``keys.json``, and then overwrites the old
slot with zeros in place. From then on every older copy of ``keys.json`` — the one replaced,
a temporary ``.keys.*.tmp.json`` left by a crash, copies in freed disk blocks — holds DEKs
wrapped under KEK_n, and KEK_n existed only in the slot that was overwritten: the module
key plus any number of old keystore copies plus a saved ciphertext do not decrypt the
erased record (the tests try, with every key in every copy). The record file is also
scrubbed and unlinked, and so are leftover temporary files (defence in depth).

**Transactions.** Every store, read (reads are logged) and erase runs under an exclusive
lock taken *before* anything is read, re-reads all state under it, and is one transaction:
an authenticated intent (``journal.json``: the log size and ``keys.json`` digest before and
after, and the new log entry), then the record file, the new KEK slot, the log entry
(appended and fsynced) and finally the atomic replace of ``keys.json`` — the single commit
point. An operation that fails undoes its steps, leaving the vault byte-for-byte as it was;
one killed mid-way leaves the journal, and :meth:`Vault.recover` either completes it (the
new ``keys.json`` is in place and the log ends with exactly the journaled entry) or rolls it
back (the old ``keys.json`` is in place and the log holds at most a prefix of the entry);
anything else it refuses. Until then store/read/erase refuse and :meth:`Vault.verify`
reports the unfinished transaction. Readers (list, verify, audit log) take a shared lock.

Residual limits, stated exactly:

* The **old slot's physical blocks** are the whole residue: whoever holds the module key
  *and* a pre-erasure copy of ``kek.slots`` *and* a pre-erasure ``keys.json`` (or temp copy)
  recovers the erased record. The slot is overwritten in place, which on ext4/XFS (default
  ``data=ordered``) on a disk without remapping reuses the same blocks, but it survives on
  copy-on-write file systems (btrfs, ZFS, APFS), with ``data=journal``, in snapshots and
  backups, and on flash whose translation layer remaps writes (SSD, eMMC, SD cards). A real
  module keeps the KEK slot in a secure element or an RPMB partition (a replay-protected,
  truly overwritable block); the design needs only those 128 bytes to be erasable.
* Between the commit of an erase and the slot overwrite (microseconds, or until ``recover``
  after a crash) the old KEK still exists; ``verify`` reports it.
* Python cannot zero keys or plaintext in memory; rolling the *whole* folder back to an
  older consistent copy is not detectable without a hardware monotonic counter; ``flock``
  serialises processes on one host (not across NFS).
* Record headers (kind, time, caller label) are in clear by design — never put biometric
  data in a label.

Module key files must be readable by their owner only (a group- or world-accessible file is
refused) and must hold a random key (64 hex digits, base64 of 32 bytes, or 32 raw binary
bytes); 32 characters of text are a passphrase, not a key, and are refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
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
VERSION = 2
RECORD_MAGIC = b"CTVREC1\n"
SLOT_MAGIC = b"CTVKEK2\n"
#: Bytes per KEK slot (magic 8 + epoch 8 + wrapped KEK 40, zero padded); two slots.
SLOT_SIZE = 64
N_SLOTS = 2
KEY_ENV = "CAMTWIN_VAULT_KEY"
#: Record kinds the vault accepts.
RECORD_KINDS = ("template", "crop", "other")
_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_TEMP_RE = re.compile(r"^\..+\.tmp(\.\w+)?$")   # names camtwin._io.atomic_path gives temps
_GENESIS = "0" * 64
_KEYSTORE_ALG = "A256KW (RFC 3394) under KEK epoch n; KEK A256KW under HKDF-SHA256(module key)"
_FILES = ("vault.json", "kek.slots", "keys.json", "audit.log", "journal.json", ".lock")
_RECOVER_HINT = "run 'camtwin privacy vault recover'"


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


def _is_text(data: bytes) -> bool:
    try:
        s = data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in s)


def parse_module_key(text: str | bytes, *, source: str = "key") -> bytes:
    """32 key bytes from 64 hex digits, base64 of 32 bytes, or 32 raw *binary* bytes.

    32 bytes that are all printable text are a passphrase, not a random key, and are
    refused (a random 32-byte key is printable ASCII with probability ≈ 1e-13). The error
    message never contains key material."""
    if isinstance(text, (bytes, bytearray)):
        if not _is_text(bytes(text)):
            if len(text) == 32:
                return bytes(text)
            raise VaultError(f"{source}: not a 256-bit key (expected 32 raw bytes, 64 hex "
                             "digits or base64)")
        text = bytes(text).decode("ascii")
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
        hint = (" — this looks like a passphrase; the vault needs a random key: create one "
                "with 'camtwin privacy vault keygen'" if len(text) in (32, 33) else "")
        raise VaultError(f"{source}: not a 256-bit key (expected 64 hex digits or base64 of "
                         f"32 bytes){hint}")
    return key


def load_module_key(key_file: str | os.PathLike | None = None, *,
                    env: str = KEY_ENV) -> bytes:
    """The module key from ``key_file`` or, if None, from environment variable ``env``.

    A regular key file that its group or other users may read or write (any of the mode
    bits 0o077) is refused, as ssh refuses such private keys: the module key protects
    every record of the vault."""
    if key_file is not None:
        p = Path(key_file)
        try:
            with open(p, "rb") as f:
                st = os.fstat(f.fileno())
                if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
                    raise VaultError(f"key file {p} has mode {stat.S_IMODE(st.st_mode):04o}: "
                                     "other users can read or replace the module key; run "
                                     f"'chmod 600 {p}'")
                data = f.read(4096)
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


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Temporary file (in the 0700 vault folder) + fsync + rename + fsync of the folder."""
    with atomic_path(path, sweep=False) as tmp:    # (strays are scrubbed: recover())
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    os.chmod(path, 0o600)  # vault files are for the module's process only
    _fsync_dir(path.parent)


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    """Overwrite ``data`` at ``offset`` of an existing file in place, then fsync."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` to a file and fsync it."""
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _scrub(path: Path) -> bool:
    """Overwrite a file with random bytes in place, fsync, unlink; False if it was absent.

    A symbolic link is unlinked, never written through."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        path.unlink()
        return True
    try:
        os.pwrite(fd, secrets.token_bytes(os.fstat(fd).st_size), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    return True


def _hkdf(module_key: bytes, salt: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=f"camtwin vault v1 {label}".encode()).derive(module_key)


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def slot_key(module_key: bytes, vault_id: str, epoch: int) -> bytes:
    """The key that wraps KEK_epoch in ``kek.slots``: HKDF-SHA256(module key, salt = vault
    id, info names the epoch), so a slot cannot be replayed under another epoch."""
    return _hkdf(module_key, bytes.fromhex(vault_id), f"kek-slot epoch {int(epoch)}")


def kek_from_slot(module_key: bytes, vault_id: str, slot: bytes) -> tuple[int, bytes] | None:
    """(epoch, KEK) unwrapped from one 64-byte slot, or None for an empty or foreign slot.

    Public so that the tests can play the attacker who holds the module key and copies of
    ``kek.slots`` (Kerckhoffs: the format is not the secret)."""
    n = len(SLOT_MAGIC)
    if len(slot) < n + 8 + 40 or slot[:n] != SLOT_MAGIC:
        return None
    (epoch,) = struct.unpack(">Q", slot[n:n + 8])
    try:
        return epoch, aes_key_unwrap(slot_key(module_key, vault_id, epoch), slot[n + 8:n + 48])
    except (InvalidUnwrap, ValueError):
        return None


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
    """Result of :meth:`Vault.verify`.

    ``problems``: failed authentication or disagreement (tampering or corruption);
    ``pending``: what an interrupted operation left (an unfinished transaction, a
    superseded KEK still in its slot, stray temporary files) — ``recover`` clears these.
    ``ok`` only if both are empty."""

    ok: bool
    problems: tuple[str, ...]
    n_records: int
    n_erased: int
    n_log_entries: int
    pending: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": list(self.problems), "pending": list(self.pending),
                "records": self.n_records, "erased": self.n_erased,
                "log_entries": self.n_log_entries}


@dataclass(frozen=True)
class _State:
    """``keys.json`` as read under the lock."""

    epoch: int
    slot: int
    keys: dict
    head: dict
    raw: bytes


class Vault:
    """An open vault folder. Create with :meth:`create`, open with :meth:`open`.

    A ``Vault`` holds only the keys derived from the module key and the immutable header;
    every operation re-reads the mutable state under the folder's lock, so any number of
    handles and processes may use one vault at once."""

    def __init__(self, path: Path, module_key: bytes, header: dict, *, clock=time.time):
        self.path = Path(path)
        self._header = header
        self._vault_id = header["vault_id"]
        salt = bytes.fromhex(self._vault_id)
        self._module_key = bytes(module_key)
        self._audit_key = _hkdf(module_key, salt, "audit-mac")
        self._keys_mac_key = _hkdf(module_key, salt, "keystore-mac")
        self._head_mac_key = _hkdf(module_key, salt, "header-mac")
        self._journal_mac_key = _hkdf(module_key, salt, "journal-mac")
        self._clock = clock

    # -- files
    @property
    def _header_path(self) -> Path:
        return self.path / "vault.json"

    @property
    def _keys_path(self) -> Path:
        return self.path / "keys.json"

    @property
    def _slots_path(self) -> Path:
        return self.path / "kek.slots"

    @property
    def _log_path(self) -> Path:
        return self.path / "audit.log"

    @property
    def _journal_path(self) -> Path:
        return self.path / "journal.json"

    def _record_path(self, record_id: str) -> Path:
        return self.path / "records" / f"{record_id}.rec"

    @staticmethod
    def _check_key(module_key: bytes) -> None:
        if not isinstance(module_key, (bytes, bytearray)) or len(module_key) != 32:
            raise VaultError("module key must be 32 bytes (256 bits)")

    @classmethod
    def create(cls, path: str | os.PathLike, module_key: bytes, *, clock=time.time) -> "Vault":
        """Create an empty vault in ``path`` (a new or empty folder), epoch 0."""
        cls._check_key(module_key)
        p = Path(path)
        def refuse():
            return VaultError(f"{p} exists and is not an empty folder; refusing to create a "
                              "vault there")
        if p.exists() and (not p.is_dir() or any(q.name != ".lock" for q in p.iterdir())):
            raise refuse()
        try:
            p.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise VaultError(f"cannot create vault folder {p}: {exc.strerror or exc}") from None
        vault_id = secrets.token_bytes(16).hex()
        header = {"format": FORMAT, "version": VERSION, "vault_id": vault_id,
                  "key_check": _hkdf(bytes(module_key), bytes.fromhex(vault_id),
                                     "key-check").hex()}
        v = cls(p, bytes(module_key), header, clock=clock)
        header["mac"] = v._header_mac()
        with v._lock(exclusive=True):
            if any(q.name != ".lock" for q in p.iterdir()):  # another create was first
                raise refuse()
            try:
                os.chmod(p, 0o700)
                (p / "records").mkdir(mode=0o700)
                _write_atomic(v._slots_path, v._slot_blob(0, secrets.token_bytes(32))
                              + bytes(SLOT_SIZE * (N_SLOTS - 1)))
                _write_atomic(v._log_path, b"")
                _write_atomic(v._keys_path, v._state_bytes(0, 0, {}, {"seq": 0,
                                                                      "hash": _GENESIS}))
                # the header last: a half-created folder is "not a vault", never a broken one
                _write_atomic(v._header_path, (json.dumps(header, indent=2) + "\n").encode())
            except BaseException:
                for name in ("vault.json", "keys.json", "audit.log", "kek.slots"):
                    (p / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    (p / "records").rmdir()
                raise
        return v

    @classmethod
    def open(cls, path: str | os.PathLike, module_key: bytes, *, clock=time.time) -> "Vault":
        """Open an existing vault; a wrong module key is a :class:`VaultError`.

        ``vault.json`` is written once (last, by :meth:`create`) and never changed, so it
        is read without the lock; all mutable state is read under it, per operation."""
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
                             f"supported (this camtwin reads {VERSION}; format 1 derived its "
                             "key-encryption key from the module key, so its erasures cannot "
                             "be made to hold — read it with the camtwin that wrote it)")
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
    def _lock(self, *, exclusive: bool):
        import fcntl

        try:
            fd = os.open(self.path / ".lock", os.O_RDONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            raise VaultError(f"cannot lock vault {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    # -- header, slots and keystore
    def _header_mac(self) -> str:
        body = {k: v for k, v in self._header.items() if k != "mac"}
        return _mac(self._head_mac_key, _canon(body))

    def _check_header(self) -> None:
        if not hmac.compare_digest(self._header_mac(), str(self._header.get("mac", ""))):
            raise VaultIntegrityError(f"{self._header_path}: header MAC mismatch (tampered)")

    def _slot_blob(self, epoch: int, kek: bytes) -> bytes:
        wrapped = aes_key_wrap(slot_key(self._module_key, self._vault_id, epoch), kek)
        return (SLOT_MAGIC + struct.pack(">Q", epoch) + wrapped).ljust(SLOT_SIZE, b"\0")

    def _read_slots(self) -> list[bytes]:
        try:
            blob = self._slots_path.read_bytes()
        except FileNotFoundError:
            raise VaultIntegrityError(f"{self._slots_path} is missing") from None
        if len(blob) != SLOT_SIZE * N_SLOTS:
            raise VaultIntegrityError(f"{self._slots_path}: {len(blob)} bytes, expected "
                                      f"{SLOT_SIZE * N_SLOTS} (tampered or corrupt)")
        return [blob[i * SLOT_SIZE:(i + 1) * SLOT_SIZE] for i in range(N_SLOTS)]

    def _write_slot(self, index: int, blob: bytes) -> None:
        _overwrite(self._slots_path, index * SLOT_SIZE, blob)

    def _kek(self, st: _State) -> bytes:
        got = kek_from_slot(self._module_key, self._vault_id, self._read_slots()[st.slot])
        if got is None or got[0] != st.epoch:
            raise VaultIntegrityError(f"{self._slots_path}: slot {st.slot} does not hold the "
                                      f"key-encryption key of epoch {st.epoch} (tampered)")
        return got[1]

    def _state_bytes(self, epoch: int, slot: int, keys: dict, head: dict) -> bytes:
        body = {"alg": _KEYSTORE_ALG, "epoch": epoch, "slot": slot, "wrapped_keys": keys,
                "head": head}
        return (json.dumps({**body, "mac": _mac(self._keys_mac_key, _canon(body))}, indent=1,
                           sort_keys=True) + "\n").encode()

    def _read_state(self) -> _State:
        try:
            raw = self._keys_path.read_bytes()
            obj = json.loads(raw)
            body = {k: obj[k] for k in ("alg", "epoch", "slot", "wrapped_keys", "head")}
            mac = obj["mac"]
            if (not isinstance(body["wrapped_keys"], dict) or body["alg"] != _KEYSTORE_ALG
                    or not isinstance(body["head"], dict)):
                raise TypeError
        except FileNotFoundError:
            raise VaultIntegrityError(f"{self._keys_path} is missing") from None
        except (OSError, ValueError, KeyError, TypeError):
            raise VaultIntegrityError(f"{self._keys_path}: keystore unreadable "
                                      "(tampered or corrupt)") from None
        if not hmac.compare_digest(_mac(self._keys_mac_key, _canon(body)), str(mac)):
            raise VaultIntegrityError(f"{self._keys_path}: keystore MAC mismatch (tampered)")
        if body["slot"] not in range(N_SLOTS) or not isinstance(body["epoch"], int):
            raise VaultIntegrityError(f"{self._keys_path}: bad slot or epoch")
        return _State(body["epoch"], body["slot"], body["wrapped_keys"], body["head"], raw)

    # -- audit log
    def _read_log(self, limit: int | None = None) -> tuple[list[dict], int]:
        try:
            raw = self._log_path.read_bytes()[:limit]
        except FileNotFoundError:
            raise VaultIntegrityError(f"{self._log_path} is missing") from None
        out = []
        for i, line in enumerate(raw.splitlines(), start=1):
            try:
                e = json.loads(line)
                if not isinstance(e, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                raise VaultIntegrityError(f"{self._log_path} line {i}: not a log entry "
                                          "(tampered or corrupt)") from None
            out.append(e)
        return out, len(raw)

    def _check_log(self, entries: list[dict], head: dict) -> list[str]:
        problems = []
        prev = _GENESIS
        for i, e in enumerate(entries, start=1):
            core = {k: e.get(k) for k in ("seq", "time_s", "op", "record", "detail", "prev")}
            if e.get("seq") != i:
                problems.append(f"audit log entry {i}: sequence number {e.get('seq')!r} "
                                f"(expected {i})")
            if e.get("prev") != prev:
                problems.append(f"audit log entry {i}: chain broken (prev hash mismatch)")
            try:
                h = _sha(bytes.fromhex(prev) + _canon(core))
            except ValueError:
                h = ""
            if e.get("hash") != h:
                problems.append(f"audit log entry {i}: hash mismatch (entry modified)")
            if not hmac.compare_digest(_mac(self._audit_key, h.encode()), str(e.get("mac"))):
                problems.append(f"audit log entry {i}: MAC mismatch (forged or modified)")
            prev = str(e.get("hash"))
        if head.get("seq") != len(entries) or head.get("hash") != (prev if entries
                                                                    else _GENESIS):
            problems.append(f"audit log has {len(entries)} entries but the keystore head "
                            f"records {head.get('seq')}: entries removed, added or replaced")
        return problems

    def _log_entry(self, head: dict, op: str, record: str | None, detail: dict) -> dict:
        prev = head["hash"]
        core = {"seq": int(head["seq"]) + 1, "time_s": round(float(self._clock()), 6),
                "op": op, "record": record, "detail": detail, "prev": prev}
        h = _sha(bytes.fromhex(prev) + _canon(core))
        return {**core, "hash": h, "mac": _mac(self._audit_key, h.encode())}

    def audit_log(self) -> list[dict]:
        """The audit entries (seq, time_s, op, record, detail) after checking the chain."""
        with self._lock(exclusive=False):
            st = self._read_state()
            entries, _ = self._read_log()
            problems = self._check_log(entries, st.head)
        if problems:
            raise VaultIntegrityError(f"{self._log_path}: {problems[0]}")
        return [{k: e[k] for k in ("seq", "time_s", "op", "record", "detail")}
                for e in entries]

    # -- transactions
    def _begin(self) -> tuple[_State, list[dict], int]:
        """Under the exclusive lock: refuse an unfinished transaction, read and check state."""
        if self._journal_path.exists():
            raise VaultError(f"vault {self.path} has an interrupted transaction "
                             f"(journal.json); {_RECOVER_HINT}")
        st = self._read_state()
        entries, log_size = self._read_log()
        problems = self._check_log(entries, st.head)
        if problems:
            raise VaultIntegrityError(f"{self._log_path}: " + problems[0]
                                      + " — refusing to extend a damaged log")
        return st, entries, log_size

    def _journal_mac(self, body: dict) -> str:
        return _mac(self._journal_mac_key, _canon(body))

    def _read_journal(self) -> dict | None:
        try:
            obj = json.loads(self._journal_path.read_bytes())
            body = {k: obj[k] for k in ("op", "record", "log_size", "entry", "state_before",
                                        "state_after", "slot_old", "slot_new")}
            ok = hmac.compare_digest(self._journal_mac(body), str(obj["mac"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            raise VaultIntegrityError(f"{self._journal_path}: unreadable (tampered or "
                                      "corrupt); the interrupted transaction cannot be proven"
                                      ) from None
        if not ok:
            raise VaultIntegrityError(f"{self._journal_path}: MAC mismatch (tampered); the "
                                      "interrupted transaction cannot be proven")
        return body

    def _transact(self, st: _State, log_size: int, op: str, record: str | None,
                  detail: dict, keys: dict, *, record_blob: bytes | None = None,
                  new_kek: bytes | None = None) -> None:
        """Run one transaction (see the module docstring); the caller holds the lock."""
        entry = self._log_entry(st.head, op, record, detail)
        line = _canon(entry) + b"\n"
        head = {"seq": entry["seq"], "hash": entry["hash"]}
        rotate = new_kek is not None
        epoch, slot = (st.epoch + 1, (st.slot + 1) % N_SLOTS) if rotate else (st.epoch, st.slot)
        new_state = self._state_bytes(epoch, slot, keys, head)
        body = {"op": op, "record": record, "log_size": log_size, "entry": line.decode(),
                "state_before": _sha(st.raw), "state_after": _sha(new_state),
                "slot_old": st.slot if rotate else None, "slot_new": slot if rotate else None}
        journal = (json.dumps({**body, "mac": self._journal_mac(body)}) + "\n").encode()
        try:
            _write_atomic(self._journal_path, journal)
            if record_blob is not None:
                _write_atomic(self._record_path(record), record_blob)
            if rotate:
                self._write_slot(slot, self._slot_blob(epoch, new_kek))
            _append(self._log_path, line)
            _write_atomic(self._keys_path, new_state)            # the commit point
            self._finish(body)
        except BaseException as exc:
            try:
                outcome = self._resolve(body)
            except Exception as exc2:
                raise VaultError(f"{op} was interrupted ({exc}) and could be neither "
                                 f"completed nor undone ({exc2}); {_RECOVER_HINT}") from exc
            if outcome == "rolled back" or not isinstance(exc, Exception):
                raise
            # the commit was durable; only a later step failed, and _resolve finished it

    def _finish(self, journal: dict) -> None:
        """The steps after the commit (idempotent): for an erase, overwrite the superseded
        KEK slot, scrub the record file and stray temporary files; then drop the journal."""
        if journal["op"] == "erase":
            st = self._read_state()
            old = journal["slot_old"]
            if old is not None and old != st.slot:
                self._write_slot(old, bytes(SLOT_SIZE))
            _scrub(self._record_path(journal["record"]))
            self._scrub_strays()
        self._journal_path.unlink(missing_ok=True)
        _fsync_dir(self.path)

    def _resolve(self, journal: dict) -> str:
        """Complete or roll back the transaction ``journal`` describes, if the keystore and
        the log prove which of the two happened; otherwise raise."""
        try:
            cur = _sha(self._keys_path.read_bytes())
            log = self._log_path.read_bytes()
        except OSError as exc:
            raise VaultIntegrityError(f"cannot read the vault to resolve the interrupted "
                                      f"{journal['op']}: {exc}") from None
        size, line = int(journal["log_size"]), journal["entry"].encode()
        tail = log[size:] if len(log) >= size else None
        if cur == journal["state_after"] and tail == line:
            self._finish(journal)
            return "completed"
        if cur == journal["state_before"] and tail is not None and line.startswith(tail):
            if tail:
                with open(self._log_path, "r+b") as f:
                    f.truncate(size)
                    f.flush()
                    os.fsync(f.fileno())
            st = self._read_state()
            new = journal["slot_new"]
            if new is not None and new != st.slot:
                self._write_slot(new, bytes(SLOT_SIZE))
            if journal["op"] == "store" and journal["record"] not in st.keys:
                _scrub(self._record_path(journal["record"]))
            self._scrub_strays()
            self._journal_path.unlink(missing_ok=True)
            _fsync_dir(self.path)
            return "rolled back"
        raise VaultIntegrityError(
            f"interrupted {journal['op']} of record {journal['record']}: neither the keystore "
            "nor the audit log matches the state before or after it (tampered); restore the "
            "vault from a backup")

    def _stray_files(self) -> list[Path]:
        """Files in the vault folder that no vault state refers to: temporary files left by
        an interrupted write (they may hold an old keystore copy) and anything else."""
        out = [p for p in self.path.iterdir()
               if p.name not in _FILES and p.name != "records"]
        rec = self.path / "records"
        if rec.is_dir():
            out += [p for p in rec.iterdir() if not (p.suffix == ".rec"
                                                     and _ID_RE.match(p.stem))]
        return sorted(out)

    def _scrub_strays(self) -> list[str]:
        """Scrub and unlink the temporary files an interrupted write left (only names that
        :func:`camtwin._io.atomic_path` creates; other files are reported, never touched)."""
        removed = []
        for p in self._stray_files():
            if (p.is_symlink() or p.is_file()) and _TEMP_RE.match(p.name) and _scrub(p):
                removed.append(str(p.relative_to(self.path)))
        if removed:
            _fsync_dir(self.path)
            if (self.path / "records").is_dir():
                _fsync_dir(self.path / "records")
        return removed

    def recover(self) -> dict:
        """Finish or roll back an interrupted transaction, overwrite a superseded KEK slot
        and scrub leftover temporary files. Returns what was done::

            {"transaction": None | {"op", "record", "outcome": "completed"|"rolled back"},
             "slot_wiped": bool, "removed": [paths relative to the vault]}

        Raises :class:`VaultIntegrityError` if the journal, keystore and log do not prove
        which way the transaction went (nothing is changed then)."""
        with self._lock(exclusive=True):
            journal = self._read_journal()
            done: dict = {"transaction": None, "slot_wiped": False, "removed": []}
            temps = [p for p in self._stray_files() if _TEMP_RE.match(p.name)]
            if journal is not None:
                done["transaction"] = {"op": journal["op"], "record": journal["record"],
                                       "outcome": self._resolve(journal)}
            st = self._read_state()
            slots = self._read_slots()
            for i, blob in enumerate(slots):
                if i != st.slot and any(blob):
                    self._write_slot(i, bytes(SLOT_SIZE))
                    done["slot_wiped"] = True
            self._scrub_strays()
            done["removed"] = [str(p.relative_to(self.path)) for p in temps if not p.exists()]
        return done

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
                         "label": label, "vault_id": self._vault_id})
        dek = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        aad = RECORD_MAGIC + header
        ct = AESGCM(dek).encrypt(nonce, bytes(data), aad)
        blob = RECORD_MAGIC + struct.pack(">I", len(header)) + header + nonce + ct
        with self._lock(exclusive=True):
            st, _, log_size = self._begin()
            keys = dict(st.keys)
            keys[record_id] = base64.b64encode(aes_key_wrap(self._kek(st), dek)).decode()
            del dek
            self._transact(st, log_size, "store", record_id, {"kind": kind, "bytes": len(data)},
                           keys, record_blob=blob)
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

    def _missing(self, record_id: str, entries: list[dict], *, again: bool = False):
        if any(e.get("op") == "erase" and e.get("record") == record_id for e in entries):
            return RecordErasedError(f"record {record_id} was already erased" if again else
                                     f"record {record_id} was erased (crypto-shredded): its "
                                     "data key no longer exists")
        return VaultError(f"no record {record_id} in vault {self.path}")

    def _decrypt(self, record_id: str, kek: bytes, wrapped: str) -> tuple[dict, bytes]:
        try:
            dek = aes_key_unwrap(kek, base64.b64decode(wrapped))
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
        return meta, data

    def read(self, record_id: str) -> VaultRecord:
        """Decrypt a record (logged as ``read``, in a transaction like :meth:`store`).

        Raises
        ------
        RecordErasedError
            The record was erased; its data key no longer exists.
        VaultIntegrityError
            The record, its wrapped key, the KEK slot or the keystore failed authentication.
        """
        self._check_id(record_id)
        with self._lock(exclusive=True):
            st, entries, log_size = self._begin()
            if record_id not in st.keys:
                raise self._missing(record_id, entries)
            meta, data = self._decrypt(record_id, self._kek(st), st.keys[record_id])
            self._transact(st, log_size, "read", record_id, {}, dict(st.keys))
        return VaultRecord(record_id, str(meta.get("kind")), float(meta.get("created_s", 0.0)),
                           dict(meta.get("label", {})), data)

    def erase(self, record_id: str) -> None:
        """Crypto-shred a record: drop its data key and rotate the KEK (every remaining data
        key re-wrapped under a fresh KEK, the old KEK's slot overwritten), then scrub the
        record file and any temporary keystore copies left by a crash."""
        self._check_id(record_id)
        with self._lock(exclusive=True):
            st, entries, log_size = self._begin()
            if record_id not in st.keys:
                raise self._missing(record_id, entries, again=True)
            old_kek, new_kek = self._kek(st), secrets.token_bytes(32)
            keys = {}
            for rid, wrapped in st.keys.items():
                if rid == record_id:
                    continue
                try:
                    dek = aes_key_unwrap(old_kek, base64.b64decode(wrapped))
                except (InvalidUnwrap, ValueError, binascii.Error):
                    raise VaultIntegrityError(f"record {rid}: wrapped data key fails integrity "
                                              "check (tampered); nothing was erased") from None
                keys[rid] = base64.b64encode(aes_key_wrap(new_kek, dek)).decode()
            del old_kek
            self._transact(st, log_size, "erase", record_id, {}, keys, new_kek=new_kek)

    def list_records(self) -> list[dict]:
        """Live records (id, kind, created_s, label) from their clear headers; not logged."""
        with self._lock(exclusive=False):
            keys = self._read_state().keys
            out = []
            for rid in sorted(keys):
                try:
                    meta, *_ = self._parse_record(rid, self._record_path(rid).read_bytes())
                except (OSError, VaultIntegrityError):
                    meta = {}
                out.append({"id": rid, "kind": meta.get("kind"),
                            "created_s": meta.get("created_s"), "label": meta.get("label")})
        return out

    def verify(self) -> VerifyReport:
        """Check everything without changing anything: header MAC, keystore MAC, the KEK
        slots, the audit chain and head, every wrapped key and every record's tag, that
        records, keys and log agree, and what an interrupted operation left behind."""
        with self._lock(exclusive=False):
            return self._verify()

    def _verify(self) -> VerifyReport:
        problems: list[str] = []
        pending: list[str] = []
        try:
            self._check_header()
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        journal = None
        try:
            journal = self._read_journal()
            if journal is not None:
                pending.append(f"interrupted {journal['op']} of record {journal['record']} "
                               f"(journal.json); {_RECOVER_HINT}")
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        for p in self._stray_files():
            name = p.relative_to(self.path)
            if _TEMP_RE.match(p.name):
                pending.append(f"stray file {name}: left by an interrupted write (may hold an "
                               f"old keystore or record copy); {_RECOVER_HINT}")
            else:
                problems.append(f"unexpected file {name} in the vault folder")
        try:
            st = self._read_state()
        except VaultIntegrityError as exc:
            problems.append(str(exc))
            st = _State(0, 0, {}, {}, b"")
        kek = None
        try:
            slots = self._read_slots()
            kek = self._kek(st) if st.raw else None
            for i, blob in enumerate(slots):
                if i != st.slot and any(blob):
                    pending.append(f"{self._slots_path.name} slot {i} still holds a superseded "
                                   f"key-encryption key (an erase did not finish); "
                                   f"{_RECOVER_HINT}")
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        entries: list[dict] = []
        try:
            entries, _ = self._read_log(
                # before the commit of an interrupted transaction the log may already hold
                # (part of) its entry: check the log as it was before it
                limit=journal["log_size"] if journal is not None
                and _sha(st.raw) == journal["state_before"] else None)
            problems += self._check_log(entries, st.head)
        except VaultIntegrityError as exc:
            problems.append(str(exc))
        stored = {e.get("record") for e in entries if e.get("op") == "store"}
        erased = {e.get("record") for e in entries if e.get("op") == "erase"}
        for rid, wrapped in sorted(st.keys.items()):
            if kek is not None:
                try:
                    self._decrypt(rid, kek, wrapped)
                except VaultIntegrityError as exc:
                    problems.append(str(exc))
            if rid not in stored:
                problems.append(f"record {rid}: has a key but no 'store' entry in the audit log")
            if rid in erased:
                problems.append(f"record {rid}: logged as erased but its key still exists")
        for rid in sorted((stored - erased) - set(st.keys)):
            problems.append(f"record {rid}: stored per the audit log but its key is gone "
                            "without an 'erase' entry")
        rec_dir = self.path / "records"
        files = {p.stem for p in rec_dir.glob("*.rec")} if rec_dir.is_dir() else set()
        in_flight = {journal["record"]} if journal is not None else set()
        for rid in sorted(files - set(st.keys) - in_flight):
            problems.append(f"record file {rid}.rec has no key (unrecoverable leftover)")
        return VerifyReport(not problems and not pending, tuple(problems), len(st.keys),
                            len(erased & stored), len(entries), tuple(pending))
