"""``camtwin privacy …``: anonymise images, run the biometric vault, export k-anonymous events.

The module key comes from ``--key-file`` or the ``CAMTWIN_VAULT_KEY`` environment variable
and is never printed. Every error is one line on stderr with exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..extras import require


def register(app, guard, fail, console) -> None:
    priv = typer.Typer(no_args_is_help=True, help="On-module privacy: anonymise faces, "
                       "geofenced policies, encrypted biometric vault, k-anonymous export.")
    vault = typer.Typer(no_args_is_help=True, help="Encrypted biometric vault "
                        "(AES-256-GCM, crypto-shredding, hash-chained audit log).")
    priv.add_typer(vault, name="vault")
    app.add_typer(priv, name="privacy")

    @priv.callback()
    def _privacy_extra():
        guard(require, "privacy", "camtwin privacy")

    @priv.command("anonymise")
    def anonymise_cmd(
        src: Path = typer.Argument(..., metavar="IN", help="Input image (PNG, TIFF, JPEG)."),
        out: Path = typer.Argument(..., metavar="OUT", help="Output image (.png, .tif, .tiff)."),
        policy: Optional[Path] = typer.Option(None, help="Policy YAML/JSON (zones + rules); "
                                                         "without it faces are always "
                                                         "anonymised."),
        lat: Optional[float] = typer.Option(None, help="Latitude of the frame [deg]."),
        lon: Optional[float] = typer.Option(None, help="Longitude of the frame [deg]."),
        accuracy_m: float = typer.Option(0.0, help="GPS accuracy radius [m]."),
        fix_age_s: float = typer.Option(0.0, help="Age of the GPS fix at the frame time [s]; "
                                                  "beyond the policy's max_fix_age_s the "
                                                  "strictest rule applies."),
        consent: bool = typer.Option(False, "--consent", help="The people in view consented."),
        method: str = typer.Option("mask", help="blur, pixelate or mask."),
        margin: float = typer.Option(0.25, help="Safety margin, fraction of the face box."),
        detector: list[str] = typer.Option(["lbp"], help="Face detector(s): lbp, hog."),
        vault_dir: Optional[Path] = typer.Option(None, "--vault", help="Store the templates "
                                                 "the policy allows in this vault."),
        key_file: Optional[Path] = typer.Option(None, help="Module key file (for --vault)."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ):
        """Anonymise the faces in IN and write OUT (decided per policy and position)."""
        guard(_anonymise, src, out, policy, lat, lon, accuracy_m, fix_age_s, consent, method,
              margin, detector, vault_dir, key_file, json_out, console)

    @vault.command("keygen")
    def keygen(key_file: Path = typer.Argument(..., help="New key file (mode 0600).")):
        """Write a new random 256-bit module key to KEY_FILE (never overwrites)."""
        from ..privacy.vault import write_key_file

        guard(write_key_file, key_file)
        console.print(f"wrote a new module key to {key_file} (mode 0600)", markup=False,
                      highlight=False)

    @vault.command("init")
    def init(path: Path = typer.Argument(..., help="New vault folder."),
             key_file: Optional[Path] = typer.Option(None, help="Module key file; default: "
                                                     "$CAMTWIN_VAULT_KEY.")):
        """Create an empty vault in PATH."""
        def run():
            from ..privacy.vault import Vault, load_module_key

            Vault.create(path, load_module_key(key_file))
            console.print(f"created vault {path}", markup=False, highlight=False)
        guard(run)

    @vault.command("store")
    def store(path: Path = typer.Argument(..., help="Vault folder."),
              data: Path = typer.Argument(..., help="File whose bytes are stored encrypted."),
              kind: str = typer.Option("template", help="template, crop or other."),
              key_file: Optional[Path] = typer.Option(None, help="Module key file.")):
        """Encrypt the bytes of DATA into the vault; print the record id."""
        def run():
            from ..privacy.vault import Vault, VaultError, load_module_key

            v = Vault.open(path, load_module_key(key_file))
            try:
                payload = data.read_bytes()
            except OSError as exc:
                raise VaultError(f"cannot read {data}: {exc.strerror or exc}") from None
            print(v.store(payload, kind=kind, label={"source": data.name}))
        guard(run)

    @vault.command("read")
    def read(path: Path = typer.Argument(..., help="Vault folder."),
             record: str = typer.Argument(..., help="Record id."),
             out: Optional[Path] = typer.Option(None, help="Write the decrypted bytes here "
                                                "(outside the vault; you then hold biometric "
                                                "data in clear). Default: print size and "
                                                "header only."),
             key_file: Optional[Path] = typer.Option(None, help="Module key file.")):
        """Decrypt a record (the read is logged)."""
        def run():
            from .._io import check_outputs, write_bytes_atomic
            from ..privacy.vault import Vault, VaultError, load_module_key

            check_outputs({"PATH": path, "--key-file": key_file}, {"--out": out})
            v = Vault.open(path, load_module_key(key_file))
            if out is not None and path.resolve() in out.resolve().parents:
                raise VaultError(f"--out {out} is inside the vault folder; plaintext never "
                                 "goes there")
            rec = v.read(record)
            if out is not None:
                write_bytes_atomic(out, rec.data)
            console.print_json(json.dumps({"id": rec.record_id, "kind": rec.kind,
                                           "created_s": rec.created_s, "label": rec.label,
                                           "bytes": len(rec.data),
                                           "written_to": str(out) if out else None}))
        guard(run)

    @vault.command("erase")
    def erase(path: Path = typer.Argument(..., help="Vault folder."),
              record: str = typer.Argument(..., help="Record id."),
              key_file: Optional[Path] = typer.Option(None, help="Module key file.")):
        """Crypto-shred a record: destroy its data key and scrub its file."""
        def run():
            from ..privacy.vault import Vault, load_module_key

            Vault.open(path, load_module_key(key_file)).erase(record)
            console.print(f"erased {record}: its data key is destroyed and the key-encryption "
                          "key rotated", markup=False, highlight=False)
        guard(run)

    @vault.command("list")
    def list_cmd(path: Path = typer.Argument(..., help="Vault folder."),
                 key_file: Optional[Path] = typer.Option(None, help="Module key file.")):
        """List live records (ids and clear headers; nothing is decrypted)."""
        def run():
            from ..privacy.vault import Vault, load_module_key

            console.print_json(json.dumps(Vault.open(path, load_module_key(key_file))
                                          .list_records()))
        guard(run)

    @vault.command("verify")
    def verify(path: Path = typer.Argument(..., help="Vault folder."),
               key_file: Optional[Path] = typer.Option(None, help="Module key file."),
               json_out: bool = typer.Option(False, "--json", help="Print as JSON.")):
        """Check header, audit chain, keystore and every record; exit 1 if tampered."""
        def run():
            from ..privacy.vault import Vault, load_module_key

            rep = Vault.open(path, load_module_key(key_file)).verify()
            if json_out:
                print(json.dumps(rep.as_dict(), indent=2))
            elif rep.ok:
                console.print(f"vault OK: {rep.n_records} record(s), {rep.n_erased} erased, "
                              f"{rep.n_log_entries} audit entries")
            else:
                from rich.text import Text

                for p in rep.problems:
                    console.print(Text.assemble(("TAMPERED: ", "red"), p))
                for p in rep.pending:
                    console.print(Text.assemble(("UNFINISHED: ", "yellow"), p))
            return rep.ok
        if not guard(run):
            raise typer.Exit(code=1)

    @vault.command("recover")
    def recover(path: Path = typer.Argument(..., help="Vault folder."),
                key_file: Optional[Path] = typer.Option(None, help="Module key file."),
                json_out: bool = typer.Option(False, "--json", help="Print as JSON.")):
        """Finish or roll back an interrupted store/read/erase (as the journal, keystore and
        audit log prove), overwrite a superseded key slot and scrub leftover temp files."""
        def run():
            from rich.text import Text

            from ..privacy.vault import Vault, load_module_key

            done = Vault.open(path, load_module_key(key_file)).recover()
            if json_out:
                print(json.dumps(done, indent=2))
                return
            t = done["transaction"]
            console.print(Text("no interrupted transaction" if not t else
                               "interrupted {op} of record {record}: {outcome}".format(**t)
                               + (f" (the {t['op']} did not happen; repeat it)"
                                  if t["outcome"] == "rolled back" else "")))
            if done["slot_wiped"]:
                console.print("overwrote a superseded key-encryption key slot")
            for name in done["removed"]:
                console.print(Text(f"scrubbed leftover {name}"))
        guard(run)

    @priv.command("export")
    def export(
        events: Path = typer.Argument(..., metavar="EVENTS.csv", help="Detection events."),
        out: Path = typer.Argument(..., metavar="OUT.csv", help="k-anonymous release."),
        k: int = typer.Option(50, "--k", help="Minimum equivalence-class size."),
        attribute: list[str] = typer.Option([], help="Attribute QI column (repeat); default: "
                                                     "every column but time/lat/lon/--keep."),
        keep: list[str] = typer.Option([], help="Column released unchanged (repeat); it splits "
                                                "the classes, so it counts in k. Never "
                                                "time/lat/lon."),
        time_bucket_s: float = typer.Option(900.0, help="Finest time bucket [s]."),
        cell_deg: float = typer.Option(1 / 1024, help="Finest grid cell [deg]."),
        json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ):
        """Generalise EVENTS.csv so every released row hides among ≥ k others identical in
        every column; the bytes are checked (as check-k does) before they are written."""
        def run():
            from rich.markup import escape

            from .._io import check_outputs
            from ..privacy.kanon import ExportSpec, check_release_columns, export_csv

            check_outputs({"EVENTS.csv": events}, {"OUT.csv": out})
            check_release_columns(keep, attribute, keep_name="--keep",
                                  attribute_name="--attribute")
            spec = ExportSpec(k=k, attributes=tuple(attribute) or None, keep=tuple(keep),
                              min_time_bucket_s=time_bucket_s, min_cell_deg=cell_deg)
            res = export_csv(events, out, spec)
            if json_out:
                print(json.dumps(res.summary(), indent=2))
            else:
                s = res.summary()
                console.print(f"wrote [bold]{escape(str(out))}[/]: {s['released']} of "
                              f"{s['events_in']} "
                              f"events in {s['classes']} classes (smallest {s['min_class_size']}"
                              f", k = {k}); suppressed {s['suppressed']}")
        guard(run)

    @priv.command("check-k")
    def check_k(released: Path = typer.Argument(..., metavar="OUT.csv"),
                k: int = typer.Option(50, "--k"),
                qi: list[str] = typer.Option([], help="QI column (repeat); default: all.")):
        """Prove k-anonymity of a released CSV; exit 1 if some class is smaller than k."""
        def run():
            from ..privacy.kanon import check_csv

            res = check_csv(released, k, tuple(qi) or None)
            print(json.dumps(res.as_dict() | {"violations": list(res.violations[:20])},
                             indent=2))
            return res.ok
        if not guard(run):
            raise typer.Exit(code=1)


def _anonymise(src, out, policy_path, lat, lon, accuracy_m, fix_age_s, consent, method,
               margin, detectors, vault_dir, key_file, json_out, console):
    import math
    import time

    import numpy as np
    from rich.markup import escape

    from .._io import check_outputs
    from ..camera import read_rgb_image
    from ..errors import ConfigError
    from ..isp import IMAGE_EXTENSIONS, write_rgb
    from ..privacy.anonymise import AnonymiseSpec
    from ..privacy.policy import FrameContext, Policy, PolicySpec, Rule, load_policy
    from ..privacy.stage import privacy_stage

    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ConfigError(f"OUT = {str(out)!r}: extension must be one of "
                          f"{', '.join(IMAGE_EXTENSIONS)}")
    check_outputs({"IN": src, "--policy": policy_path, "--key-file": key_file,
                   "--vault": vault_dir}, {"OUT": out})
    if (lat is None) != (lon is None):
        raise ConfigError("give both --lat and --lon, or neither")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(f"--lat {lat} / --lon {lon}: valid ranges are [-90, 90] / "
                          "[-180, 180]")
    if not (math.isfinite(accuracy_m) and accuracy_m >= 0):
        raise ConfigError(f"--accuracy-m = {accuracy_m}: must be a finite number ≥ 0")
    if not (math.isfinite(fix_age_s) and fix_age_s >= 0):
        raise ConfigError(f"--fix-age-s = {fix_age_s}: must be a finite number ≥ 0")
    if vault_dir is not None and policy_path is None:
        raise ConfigError("--vault needs --policy (templates are stored only where a policy "
                          "allows them)")
    spec = AnonymiseSpec(method=method, margin_fraction=margin, detectors=tuple(detectors))
    if policy_path is not None:
        pol = load_policy(policy_path)
    else:  # no policy: always anonymise, never store
        pol = Policy(PolicySpec(name="always-anonymise", rules={"default": Rule()}), ())
    vault = None
    if vault_dir is not None:
        from ..privacy.vault import Vault, load_module_key

        vault = Vault.open(vault_dir, load_module_key(key_file))
    image = read_rgb_image(src)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    # the position on the command line is a fix taken --fix-age-s before the frame
    now = time.time()
    ctx = FrameContext(lat, lon, time_s=now, fix_time_s=now - fix_age_s, accuracy_m=accuracy_m,
                       consent=consent)
    res = privacy_stage(image, ctx, pol, spec=spec, vault=vault)
    write_rgb(out, np.asarray(res.image))
    if json_out:
        print(json.dumps({"input": str(src), "output": str(out)} | res.as_dict(), indent=2))
    else:
        d = res.decision
        n = res.report.n_faces if res.report is not None else 0
        # paths and zone names are user text: printed literally, never as Rich markup
        console.print(f"wrote [bold]{escape(str(out))}[/]: "
                      + (f"{n} region(s) anonymised by {escape(method)}" if d.anonymise
                         else "not anonymised (policy allows it)")
                      + (f"; {len(res.stored)} record(s) stored encrypted" if res.stored else "")
                      + f" — {escape('; '.join(d.reasons))}", highlight=False)
