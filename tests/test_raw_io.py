"""Raw file formats: DNG read back by LibRaw (rawpy) as the independent reference, TIFF/NPZ
round trips, atomic writes and error handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydantic
import pytest
import rawpy
import tifffile

from camtwin.errors import ConfigError
from camtwin.raw import (RawFrame, load_raw, read_npz, read_raw, read_tiff, save_raw, write_dng,
                         write_npz, write_tiff)
from camtwin.raw.dng import XYZ_TO_LINEAR_SRGB

BAYER = ("RGGB", "GRBG", "GBRG", "BGGR")
# LibRaw keeps white-balance multipliers as float32, so AsShotNeutral comes back to ~1e-7;
# the DNG rationals themselves are exact to ~1e-9 (32-bit numerator and denominator).
RTOL_FLOAT32 = 1e-6
RTOL_RATIONAL = 1e-8


class _Spec(pydantic.BaseModel):
    name: str = "tiny"
    full_well_e: float = 6000.0


def make_frame(seed: int, cfa: str = "RGGB", shape=(64, 96), bits: int = 12, **changes) -> RawFrame:
    rng = np.random.default_rng(seed)
    white = 2**bits - 1
    kwargs = dict(
        dn=rng.integers(0, white + 1, shape, dtype=np.uint16), cfa=cfa,
        black_level_dn=float(2 ** (bits - 4)), white_level_dn=white, exposure_s=1 / 120,
        conversion_gain_dn_per_e=0.4321, analog_gain=2.0, temperature_c=41.5, pixel_pitch_um=1.12,
        illuminant="D65", as_shot_neutral=(0.4671, 1.0, 0.6138),
        xyz_to_camera=np.array([[0.71, 0.13, -0.08], [-0.42, 1.25, 0.21], [-0.05, 0.18, 0.62]]),
        mean_electrons=rng.random(shape, dtype=np.float32) * 5000,
        metadata={"scene": "noise", "seed": seed})
    return RawFrame(**{**kwargs, **changes})


def rawpy_cfa(rp) -> str:
    return "".join(rp.color_desc.decode()[i] for i in rp.raw_pattern.ravel())


# --- DNG, checked against LibRaw ---------------------------------------------------------------

@pytest.mark.parametrize("cfa", BAYER)
@pytest.mark.parametrize("shape, bits",
                         [((64, 96), 10), ((130, 200), 12), ((65, 97), 12), ((32, 48), 16)])
def test_dng_bit_exact_in_rawpy(tmp_path, cfa, shape, bits):
    raw = make_frame(7, cfa, shape, bits)
    path = write_dng(tmp_path / "f.dng", raw)
    with rawpy.imread(str(path)) as rp:
        assert rp.raw_image_visible.shape == shape
        assert np.array_equal(rp.raw_image_visible, raw.dn)
        assert rp.num_colors == 3 and rawpy_cfa(rp) == cfa
        assert rp.black_level_per_channel == [int(raw.black_level_dn)] * 4
        assert rp.white_level == raw.white_level_dn
        assert rp.other.shutter_speed == pytest.approx(raw.exposure_s, rel=RTOL_FLOAT32)


@pytest.mark.parametrize("cfa", BAYER)
def test_read_raw_restores_dng_fields(tmp_path, cfa):
    raw = make_frame(3, cfa, black_level_dn=64.5, sensor=_Spec())
    back = load_raw(save_raw(tmp_path / "f.DNG", raw))  # extension dispatch is case-insensitive
    assert np.array_equal(back.dn, raw.dn) and back.dn.dtype == np.uint16
    assert (back.cfa, back.white_level_dn) == (cfa, raw.white_level_dn)
    # LibRaw truncates the fractional BlackLevel to 64; the JSON restores 64.5 exactly.
    assert back.black_level_dn == 64.5
    for name in ("exposure_s", "conversion_gain_dn_per_e", "analog_gain", "temperature_c",
                 "pixel_pitch_um", "illuminant"):
        assert getattr(back, name) == getattr(raw, name), name
    np.testing.assert_allclose(back.as_shot_neutral, raw.as_shot_neutral, rtol=RTOL_FLOAT32)
    np.testing.assert_allclose(back.xyz_to_camera, raw.xyz_to_camera, rtol=RTOL_RATIONAL)
    assert back.sensor == {"name": "tiny", "full_well_e": 6000.0}
    assert back.metadata == raw.metadata
    assert back.mean_electrons is None  # DNG carries no ground truth


def test_dng_defaults_when_colour_unknown(tmp_path):
    raw = make_frame(4, as_shot_neutral=None, xyz_to_camera=None)
    back = read_raw(write_dng(tmp_path / "f.dng", raw))
    assert back.as_shot_neutral == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(back.xyz_to_camera, XYZ_TO_LINEAR_SRGB, rtol=RTOL_RATIONAL)


def test_dng_tags(tmp_path):
    path = write_dng(tmp_path / "f.dng", make_frame(5, "GRBG"), make="acme", model="m1")
    with tifffile.TiffFile(path) as tif:
        tags = {t.code: t.value for t in tif.pages.first.tags}
    assert tags[254] == 0 and tags[262] == 32803 and tags[277] == 1 and tags[258] == 16
    assert tags[50706] == b"\x01\x04\x00\x00" and tags[50707] == b"\x01\x01\x00\x00"
    assert tags[33421] == (2, 2) and tags[33422] == bytes([1, 0, 2, 1])
    assert tags[50710] == bytes([0, 1, 2]) and tags[50711] == 1 and tags[50713] == (1, 1)
    assert tags[50778] == 21 and (tags[271], tags[272], tags[50708]) == ("acme", "m1", "acme m1")


def test_dng_mono_is_1_sample_linear_raw(tmp_path):
    raw = make_frame(6, "mono", (63, 95), 12, as_shot_neutral=None, xyz_to_camera=None)
    path = write_dng(tmp_path / "mono.dng", raw)
    with tifffile.TiffFile(path) as tif:
        assert (tif.pages.first.photometric, tif.pages.first.samplesperpixel) == (34892, 1)
    with rawpy.imread(str(path)) as rp:
        assert rp.num_colors == 1
        assert np.array_equal(rp.raw_image_visible, raw.dn)
        assert rp.white_level == raw.white_level_dn
    back = read_raw(path)
    assert back.cfa == "mono" and np.array_equal(back.dn, raw.dn)
    assert back.as_shot_neutral is None and back.xyz_to_camera is None


def test_rawpy_postprocess_uses_colour_tags(tmp_path):
    """A grey patch under a non-white illuminant: raw channels are black + k * AsShotNeutral.

    If LibRaw applies AsShotNeutral (white balance) and ColorMatrix1 (here XYZ->sRGB, so the
    camera *is* sRGB and rgb_cam is the identity), the rendered image is neutral."""
    neutral = np.array([0.5, 1.0, 0.8])
    raw = make_frame(8, "BGGR", (64, 96), 12, as_shot_neutral=tuple(neutral), xyz_to_camera=None)
    dn = (raw.black_level_dn + 2000 * neutral[raw.channel_index]).astype(np.uint16)
    path = write_dng(tmp_path / "grey.dng", raw.with_(dn=dn))
    with rawpy.imread(str(path)) as rp:
        np.testing.assert_allclose(rp.color_matrix[:, :3], np.eye(3), atol=1e-3)
        rgb = rp.postprocess(no_auto_bright=True, use_camera_wb=True, gamma=(1, 1), output_bps=16)
    assert rgb.shape == (64, 96, 3)
    r, g, b = np.median(rgb[8:-8, 8:-8].reshape(-1, 3), axis=0)
    assert g > 1000 and r == pytest.approx(g, rel=0.02) and b == pytest.approx(g, rel=0.02)


def test_read_raw_rejects_xtrans(tmp_path):
    xtrans = [1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
              1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1]
    tags = [(50706, 1, 4, (1, 4, 0, 0)), (50708, 2, 0, "xtrans"), (33421, 3, 2, (6, 6)),
            (33422, 1, 36, xtrans), (50710, 1, 3, (0, 1, 2)), (50711, 3, 1, 1), (50717, 4, 1, 4095)]
    path = tmp_path / "xtrans.dng"
    tifffile.imwrite(path, np.zeros((60, 90), np.uint16), photometric="cfa", subfiletype=0,
                     metadata=None, extratags=tags)
    with pytest.raises(ConfigError, match="not a 2x2 RGB Bayer mosaic.*6x6"):
        read_raw(path)


# --- TIFF and NPZ ---------------------------------------------------------------------------------

@pytest.mark.parametrize("write, read", [(write_tiff, read_tiff), (write_npz, read_npz)])
@pytest.mark.parametrize("cfa", BAYER + ("mono",))
def test_lossless_round_trip(tmp_path, write, read, cfa):
    raw = make_frame(11, cfa, (65, 97), sensor=_Spec(), conversion_gain_dn_per_e=float("nan"),
                     metadata={"seed": np.int64(11), "lux": np.float32(250.0), "tags": ["a", "b"]})
    back = read(write(tmp_path / "f.bin", raw))
    assert np.array_equal(back.dn, raw.dn) and back.dn.dtype == np.uint16
    assert back.mean_electrons.dtype == np.float32
    assert np.array_equal(back.mean_electrons, raw.mean_electrons)
    for name in ("cfa", "black_level_dn", "white_level_dn", "exposure_s", "analog_gain",
                 "temperature_c", "pixel_pitch_um", "illuminant", "as_shot_neutral"):
        assert getattr(back, name) == getattr(raw, name), name
    assert np.isnan(back.conversion_gain_dn_per_e)
    assert np.array_equal(back.xyz_to_camera, raw.xyz_to_camera)
    assert back.sensor == _Spec().model_dump()
    assert back.metadata == {"seed": 11, "lux": 250.0, "tags": ["a", "b"]}


@pytest.mark.parametrize("ext", [".tif", ".tiff", ".npz"])
def test_round_trip_without_ground_truth(tmp_path, ext):
    raw = make_frame(12, mean_electrons=None, xyz_to_camera=None, as_shot_neutral=None)
    path = save_raw(tmp_path / f"f{ext}", raw)
    back = load_raw(path)
    assert back.mean_electrons is None and back.xyz_to_camera is None
    assert back.as_shot_neutral is None
    assert np.array_equal(back.dn, raw.dn)
    if ext != ".npz":
        with tifffile.TiffFile(path) as tif:
            assert len(tif.pages) == 1


# --- atomic writes ------------------------------------------------------------------------------

def _fail_midway(target, *args, **kwargs):
    """Stand-in writer: writes part of a file, then fails."""
    if hasattr(target, "write"):
        target.write(b"PK\x03\x04 partial")
    else:
        Path(target).write_bytes(b"II*\x00 partial")
    raise RuntimeError("disk full")


@pytest.mark.parametrize("ext, module, name", [(".dng", tifffile, "imwrite"),
                                               (".tif", tifffile, "imwrite"),
                                               (".npz", np, "savez_compressed")])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, ext, module, name):
    raw = make_frame(13)
    monkeypatch.setattr(module, name, _fail_midway)
    with pytest.raises(RuntimeError, match="disk full"):
        save_raw(tmp_path / f"new{ext}", raw)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_file(tmp_path, monkeypatch):
    path = write_dng(tmp_path / "f.dng", make_frame(14))
    before = path.read_bytes()
    monkeypatch.setattr(tifffile, "imwrite", _fail_midway)
    with pytest.raises(RuntimeError):
        write_dng(path, make_frame(15))
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["missing.dng", "missing.cr2", "missing.tif", "missing.npz"])
def test_missing_file(tmp_path, name):
    with pytest.raises(ConfigError, match=name):
        load_raw(tmp_path / name)


@pytest.mark.parametrize("reader, name", [(read_raw, "text.dng"), (read_tiff, "text.tif"),
                                          (read_npz, "text.npz")])
def test_unreadable_file(tmp_path, reader, name):
    path = tmp_path / name
    path.write_text("not an image\n")
    with pytest.raises(ConfigError, match=f"cannot read .*{name}"):
        reader(path)


def test_foreign_tiff_and_npz_are_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((4, 4), np.uint16))
    np.savez(tmp_path / "plain.npz", dn=np.zeros((4, 4), np.uint16))
    np.savez(tmp_path / "other.npz", image=np.zeros((4, 4), np.uint16))
    for name in ("plain.tif", "plain.npz"):
        with pytest.raises(ConfigError, match="no camtwin metadata"):
            load_raw(tmp_path / name)
    with pytest.raises(ConfigError, match="no 'dn' array"):
        read_npz(tmp_path / "other.npz")


def test_unknown_extension(tmp_path):
    with pytest.raises(ConfigError, match=r"'\.png'.*\.dng, \.tif, \.tiff, \.npz"):
        save_raw(tmp_path / "f.png", make_frame(16))
    assert list(tmp_path.iterdir()) == []


def test_unserialisable_metadata(tmp_path):
    with pytest.raises(ConfigError, match="JSON"):
        write_npz(tmp_path / "f.npz", make_frame(17, metadata={"fn": print}))
    assert list(tmp_path.iterdir()) == []


def test_dng_dimensions_checked_against_the_memory_budget(tmp_path, monkeypatch):
    """The header's sizes are checked before LibRaw unpacks: over budget → one-line
    MemoryBudgetError naming the file and its size, nothing decoded."""
    from camtwin.memory import MemoryBudgetError

    path = write_dng(tmp_path / "big.dng", make_frame(3, shape=(1600, 2400), bits=12))
    monkeypatch.setenv("CAMTWIN_MAX_MEMORY", "16M")  # 2·3.84 MP + 6·3.84 MP bytes > 16 MiB
    with pytest.raises(MemoryBudgetError, match=r"big\.dng \(2400 × 1600 px\)") as exc:
        read_raw(path)
    assert "\n" not in str(exc.value)
    monkeypatch.setenv("CAMTWIN_MAX_MEMORY", "64M")
    assert read_raw(path).shape == (1600, 2400)
