"""Write src/camtwin/data/spectra/cie_tables.npz: the CIE / ColorChecker tables camtwin needs at
run time, copied from colour-science (run once; the file is committed).

Why: ``import colour`` imports colour.plotting and with it matplotlib and pandas (≈1.4 s,
≈110 MB); camtwin only needs a handful of tabulated spectra. Every array is stored at its
native tabulation (no resampling), so :mod:`camtwin.spectra` and :mod:`camtwin.scene.charts`
interpolate exactly the numbers they used to read from colour-science.
tests/test_spectral_tables.py checks the shipped file against colour-science.

Usage: ``.venv/bin/python tools/make_spectral_tables.py``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "camtwin" / "data" / "spectra" / "cie_tables.npz"


def _sd(prefix: str, sd) -> dict:
    return {f"{prefix}_wl": np.asarray(sd.wavelengths, dtype=np.float64),
            f"{prefix}_values": np.asarray(sd.values, dtype=np.float64)}


def tables() -> dict[str, np.ndarray]:
    """Name -> array of everything shipped (``<name>_wl`` nm, ``<name>_values``)."""
    import colour

    from camtwin.scene.charts import COLORCHECKER_DATASET, COLORCHECKER_NAMES

    out: dict[str, np.ndarray] = {}
    out |= _sd("D65", colour.SDS_ILLUMINANTS["D65"])
    out |= _sd("FL11", colour.SDS_ILLUMINANTS["FL11"])
    out |= _sd("LED-B3", colour.SDS_ILLUMINANTS["LED-B3"])
    out |= _sd("V1924", colour.SDS_LEFS["CIE 1924 Photopic Standard Observer"])
    out |= _sd("CMFS1931", colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"])
    out |= _sd("MALLETT2019", colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019)
    sds = colour.SDS_COLOURCHECKERS[COLORCHECKER_DATASET]
    out["COLORCHECKER_wl"] = np.asarray(sds[COLORCHECKER_NAMES[0]].wavelengths, dtype=np.float64)
    out["COLORCHECKER_values"] = np.array([np.asarray(sds[n].values, dtype=np.float64)
                                           for n in COLORCHECKER_NAMES])
    # Colorimetric constants of camtwin.measure.color (no wavelength axis).
    from camtwin.measure.color import REFERENCE_SET

    cc = colour.CCS_COLOURCHECKERS[REFERENCE_SET]
    xyz_d50 = colour.xyY_to_XYZ(np.array(list(cc.data.values())))
    d65 = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])
    out["D65_WHITE_XYZ"] = np.asarray(d65, dtype=np.float64)
    out["COLORCHECKER_REF_XYZ_D65"] = np.asarray(colour.chromatic_adaptation(
        xyz_d50, colour.xy_to_XYZ(cc.illuminant), d65, method="Von Kries",
        transform="Bradford"), dtype=np.float64)
    srgb = colour.RGB_COLOURSPACES["sRGB"]
    out["SRGB_RGB_TO_XYZ"] = np.asarray(srgb.matrix_RGB_to_XYZ, dtype=np.float64)
    out["SRGB_XYZ_TO_RGB"] = np.asarray(srgb.matrix_XYZ_to_RGB, dtype=np.float64)
    return out


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **tables())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
