"""On-module privacy: anonymise faces before frames leave the module, geofenced policies,
an encrypted biometric vault with verifiable erasure, and k-anonymous event export.

Pieces
------
:mod:`~camtwin.privacy.detect`
    Face detectors whose models ship in pip packages: scikit-image's MB-LBP frontal-face
    cascade (``"lbp"``, default) and dlib's HOG + SVM (``"hog"``, optional ``dlib-bin``).
:mod:`~camtwin.privacy.anonymise`
    :func:`anonymise` (array or RenderedImage → new image + :class:`AnonymiseReport`),
    :func:`anonymise_rendered`, :func:`render_anonymised` (hook after
    :func:`camtwin.camera.render`), :func:`anonymise_frames` (video, with box hold).
:mod:`~camtwin.privacy.geo`, :mod:`~camtwin.privacy.policy`
    GeoJSON zones (RFC 7946: holes, MultiPolygons split at the antimeridian) tested with
    GEOS (shapely), rules, per-frame :func:`decide`.
:mod:`~camtwin.privacy.vault`
    AES-256-GCM records; per-record data keys wrapped (RFC 3394) by a key-encryption key
    that the module key wraps and every erasure rotates (crypto-shredding); atomic,
    locked, recoverable transactions; hash-chained MAC'd audit log; :meth:`Vault.verify`.
:mod:`~camtwin.privacy.stage`
    :func:`privacy_stage`: decision → (templates into the vault, if allowed) → anonymise.
:mod:`~camtwin.privacy.kanon`
    k-anonymous export of detection events and a checker that proves it on the output.

Threat model
------------
Assets: the faces in frames (personal data; biometric data under GDPR Art. 9 once
templates are made), face templates/crops kept with consent, and event logs.

Adversaries: (1) anyone who receives frames or event exports leaving the module
(cloud, operator, a leak); (2) someone who copies the module's storage (stolen device,
a vault folder in a backup) *without* the module key; (3) someone who tampers with stored
records or the audit trail to hide an access; (4) after an erasure request, anyone holding
the vault *and* the module key — the erased record must stay unrecoverable.

Guarantees (each tested):

* Frames leave the anonymisation stage with every face *the detectors find* blurred,
  pixelated or masked with a safety margin; all other pixels are bit-identical.
* A frame in a zone whose rule forbids templates never yields one; unknown, invalid or
  stale positions get the strictest rule of the policy (fail closed); every decision
  carries its reasons.
* Nothing biometric is written to disk unencrypted by camtwin; records are authenticated
  (AES-GCM), so any flipped byte is detected; the audit log detects edits, reordering and
  truncation (hash chain + HMAC + MAC'd head in the header).
* After :meth:`Vault.erase` the record's data key exists nowhere in the vault: the module
  key plus the vault folder plus a saved copy of the ciphertext do not decrypt it — nor do
  older ``keys.json`` copies (a crash's ``.keys.*.tmp.json``, freed blocks), because the
  erase rotated the key-encryption key that wrapped them and overwrote its slot in place.
* Concurrent processes and handles never corrupt the vault (one lock, re-read under it);
  a failed store/read/erase leaves it byte-for-byte unchanged; one killed mid-way is
  completed or rolled back by ``vault recover`` as the journal and log prove.
* Exported events are k-anonymous on every released column (default k = 50): time and
  place only as buckets (keeping the exact time/lat/lon columns is refused), attributes
  generalised, kept columns — derived from time or place or not — splitting the classes;
  the bytes are checked with ``check-k``'s code before they are written.

Limits (not guaranteed):

* **Detectors miss faces**: both are frontal-face detectors (profile, tilted > ~20°,
  small < ``min_face_px``, occluded, very dark or motion-blurred faces are missed), and a
  missed face leaves the module in clear. Use ``"mask"`` plus both detectors and
  ``hold_frames`` for video where recall matters; no detector is a guarantee.
* **Blur and pixelation are reversible in part**: trained recognisers re-identify
  obfuscated faces above chance (McPherson et al. 2016); only ``"mask"`` removes the data.
  Bodies, clothes, gait, licence plates and context still identify people.
* **Crypto-shredding relies on the key never having been persisted unwrapped** and on the
  128-byte ``kek.slots`` file being truly overwritable: whoever holds the module key, a
  pre-erasure copy of ``kek.slots`` *and* a pre-erasure keystore copy decrypts the erased
  record (tested, on purpose). The slot is overwritten in place — the same blocks on
  ext4/XFS without remapping — but old copies survive in backups, snapshots, copy-on-write
  file systems (btrfs, ZFS, APFS), ``data=journal`` and flash translation layers (SSD,
  eMMC, SD). A backup taken before erasure still decrypts (tested). A real module keeps
  the module key and the KEK slot in a secure element / TEE / RPMB.
* Python cannot wipe keys or plaintext from memory; whoever controls the running process
  (or the module key) sees everything. camtwin refuses a key file that other users may
  read or write (mode & 0o077) and a 32-character text passphrase in place of a random
  key; protecting the environment variable or the file's owner account is the deployer's
  job.
* Rolling back the *whole* vault folder to an older consistent copy is not detectable
  without a hardware monotonic counter; the audit log proves integrity, not completeness
  against an adversary who holds the module key.
* Geofences are only as good as the position: GPS spoofing or a wrong accuracy radius
  defeats them. Zones are straight-edged in (lon, lat) and read literally (RFC 7946): a
  ring written the old way across the antimeridian (``[170, …] → [-170, …]``) is the
  340°-wide band, not the small zone — split such zones at ±180. Distances for the
  accuracy radius use a local flat frame (≤ 2 % error up to 50 km below 85° latitude);
  a radius above 50 km counts as no position.
* k-anonymity does not prevent attribute disclosure in homogeneous classes (no
  l-diversity / t-closeness) nor linkage across repeated releases; it is not differential
  privacy.
* This code is a simulation aid for camtwin's digital twin; it does not by itself make a
  product compliant with the GDPR or the EU AI Act (which restricts remote biometric
  identification) — it implements technical measures such regimes ask for (data
  minimisation, encryption, erasure, logging).
"""

from ..extras import require as _require

_require("privacy", "camtwin.privacy")

from .anonymise import (ANONYMISE_METHODS, AnonymiseReport, AnonymiseSpec, anonymise,
                        anonymise_frames, anonymise_rendered, render_anonymised)
from .detect import FACE_DETECTORS, Detection, detect_faces
from .geo import Polygon, Zone, read_geojson, zones_from_geojson
from .kanon import ExportSpec, check_k_anonymity, export_csv, generalise
from .policy import (Decision, FrameContext, Policy, PolicySpec, Rule, decide,
                     example_policy, load_policy)
from .stage import StageResult, face_template, privacy_stage
from .vault import (RecordErasedError, Vault, VaultError, VaultIntegrityError,
                    generate_module_key, load_module_key)

__all__ = [
    "ANONYMISE_METHODS", "AnonymiseReport", "AnonymiseSpec", "Decision", "Detection",
    "ExportSpec", "FACE_DETECTORS", "FrameContext", "Policy", "PolicySpec", "Polygon",
    "RecordErasedError", "Rule", "StageResult", "Vault", "VaultError", "VaultIntegrityError",
    "Zone", "anonymise", "anonymise_frames", "anonymise_rendered", "check_k_anonymity",
    "decide", "detect_faces", "example_policy", "export_csv", "face_template",
    "generalise", "generate_module_key", "load_module_key", "load_policy", "privacy_stage",
    "read_geojson", "render_anonymised", "zones_from_geojson",
]
