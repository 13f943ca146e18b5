"""The one reader for measured images: encodings chosen from the file (ICC, PNG chunks,
bit depth), the --encoding override, raw files linear by definition, and the regression of
issue 18: a linear 16-bit TIFF of a Gaussian edge decoded as sRGB read MTF50 +8 %.

Reference: a point-sampled edge blurred by a Gaussian LSF of σ [px] has
MTF(ν) = exp(−2π²σ²ν²), so MTF50 = √(ln 2 / 2) / (π σ) cycles/pixel (0.3123 for σ = 0.6).
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import tifffile
from scipy import special
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.measure.imread import (Encoding, icc_encoding, image_channel, parse_encoding,
                                    read_measured_image, srgb_icc_profile)
from camtwin.measure.sfr import esfr

from _fresh import fresh_json

runner = CliRunner()
SIGMA_PX = 0.6
MTF50_ANALYTIC = np.sqrt(np.log(2) / 2) / (np.pi * SIGMA_PX)   # 0.3123 cy/px


def gaussian_edge(shape=(240, 160), angle_deg=5.0, lo=0.1, hi=0.7):
    """Linear signal of a point-sampled slanted edge with a Gaussian LSF (σ = SIGMA_PX)."""
    t = np.deg2rad(angle_deg)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    d = ((x - shape[1] / 2) - np.tan(t) * (y - shape[0] / 2)) * np.cos(t)
    return lo + (hi - lo) * 0.5 * (1 + special.erf(d / (np.sqrt(2) * SIGMA_PX)))


def u16(v):
    return (np.clip(v, 0, 1) * 65535 + 0.5).astype(np.uint16)


def sfr_json(*args):
    res = runner.invoke(app, ["sfr", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_linear_16bit_tiff_is_read_linear_and_gives_the_analytic_mtf50(tmp_path):
    # issue 18: this file used to be sRGB-decoded and read 0.304 instead of 0.281 (+8 %)
    lin = gaussian_edge()
    path = tmp_path / "edge.tif"
    tifffile.imwrite(path, u16(lin), photometric="minisblack")
    out = sfr_json(path)
    assert out["encoding"] == "linear" and "16-bit TIFF" in out["encoding_source"]
    assert out["mtf50_cy_px"] == pytest.approx(MTF50_ANALYTIC, rel=0.015)
    # the Python API on the same array agrees
    assert esfr(lin, roi=tuple(out["roi"])).mtf50_cy_px == pytest.approx(
        out["mtf50_cy_px"], rel=2e-3)
    # decoding it as sRGB (the old behaviour) is what made the number wrong
    wrong = sfr_json(path, "--encoding", "srgb")
    assert wrong["encoding_source"] == "--encoding"
    assert abs(wrong["mtf50_cy_px"] / MTF50_ANALYTIC - 1) > 0.04


def test_rgb_16bit_tiff_without_tags_is_linear_and_the_cli_says_so(tmp_path):
    lin = gaussian_edge()
    path = tmp_path / "edge_rgb.tif"
    tifffile.imwrite(path, u16(np.repeat(lin[..., None], 3, axis=2)), photometric="rgb")
    res = runner.invoke(app, ["sfr", str(path)])
    assert res.exit_code == 0, res.output
    assert "encoding linear" in res.output and "per sensor pixel" not in res.output.split(
        "encoding")[0]


@pytest.mark.parametrize("how", ["icc", "png", "gamma"])
def test_encoded_files_are_decoded_with_their_declared_or_given_encoding(tmp_path, how):
    lin = gaussian_edge()
    srgb = Encoding("srgb")
    if how == "icc":        # camtwin's own rendered TIFF: sRGB ICC profile embedded
        enc = np.interp(lin, srgb.decode(np.linspace(0, 1, 4097)), np.linspace(0, 1, 4097))
        path = tmp_path / "edge.tif"
        tifffile.imwrite(path, u16(np.repeat(enc[..., None], 3, axis=2)), photometric="rgb",
                         iccprofile=srgb_icc_profile())
        args, want = [], "srgb"
    elif how == "png":      # untagged 16-bit PNG: sRGB, what viewers assume
        import cv2

        enc = np.interp(lin, srgb.decode(np.linspace(0, 1, 4097)), np.linspace(0, 1, 4097))
        path = tmp_path / "edge.png"
        cv2.imwrite(str(path), u16(enc))
        args, want = [], "srgb"
    else:                   # pure power law, stated on the command line
        path = tmp_path / "edge_g22.tif"
        tifffile.imwrite(path, u16(lin ** (1 / 2.2)), photometric="minisblack")
        args, want = ["--encoding", "gamma:2.2"], "gamma:2.2"
    out = sfr_json(path, *args)
    assert out["encoding"] == want
    assert out["mtf50_cy_px"] == pytest.approx(MTF50_ANALYTIC, rel=0.015)


def test_float_tiff_is_linear(tmp_path):
    path = tmp_path / "f.tif"
    tifffile.imwrite(path, np.full((8, 8), 0.25, np.float32))
    img = read_measured_image(path)
    assert img.encoding == "linear" and "floating-point" in img.encoding_source
    np.testing.assert_allclose(img.linear, 0.25)


def _icc_with_curv(values):
    """A minimal ICC profile: 128-byte header + one rTRC tag of type 'curv'."""
    body = b"curv" + b"\0" * 4 + struct.pack(">I", len(values))
    body += b"".join(struct.pack(">H", v) for v in values)
    header = bytearray(128)
    header[36:40] = b"acsp"
    table = struct.pack(">I", 1) + struct.pack(">4sII", b"rTRC", 128 + 4 + 12, len(body))
    return bytes(header) + table + body


def test_icc_tone_curves_are_classified():
    assert str(icc_encoding(srgb_icc_profile())[0]) == "srgb"
    assert str(icc_encoding(_icc_with_curv([]))[0]) == "linear"
    g = icc_encoding(_icc_with_curv([int(2.2 * 256)]))[0]
    assert g.name == "gamma" and g.gamma == pytest.approx(2.2, abs=0.01)
    x = np.linspace(0, 1, 1024)
    table = (Encoding("srgb").decode(x) * 65535).round().astype(int)
    assert str(icc_encoding(_icc_with_curv(table.tolist()))[0]) == "srgb"
    assert icc_encoding(b"not a profile") is None


@pytest.mark.parametrize("text, want", [("srgb", "srgb"), ("LINEAR", "linear"),
                                        ("gamma:2.2", "gamma:2.2"), ("gamma:1", "linear")])
def test_parse_encoding(text, want):
    assert str(parse_encoding(text)) == want


@pytest.mark.parametrize("text", ["rec709", "gamma:9", "gamma:x", "gamma"])
def test_bad_encoding_is_a_one_line_error_exit_2(tmp_path, text):
    with pytest.raises(ConfigError, match="--encoding"):
        parse_encoding(text)
    path = tmp_path / "e.tif"
    tifffile.imwrite(path, u16(gaussian_edge()))
    res = runner.invoke(app, ["sfr", str(path), "--encoding", text])
    assert res.exit_code == 2 and "--encoding" in res.output and "Traceback" not in res.output


def test_raw_is_linear_by_definition(tmp_path):
    from camtwin.raw import RawFrame, save_raw

    dn = (64 + 2000 * gaussian_edge()).astype(np.uint16)
    path = save_raw(tmp_path / "edge.dng",
                    RawFrame(dn=dn, cfa="RGGB", black_level_dn=64, white_level_dn=4095,
                             exposure_s=0.01, conversion_gain_dn_per_e=0.5))
    img = read_measured_image(path)
    assert img.kind == "raw" and img.encoding == "linear"
    plane = image_channel(img, "g")
    assert plane.mask.mean() == pytest.approx(0.5) and "per sensor pixel" in plane.description
    res = runner.invoke(app, ["sfr", str(path), "--encoding", "srgb"])
    assert res.exit_code == 2 and "linear by definition" in res.output


def test_camtwin_raw_tiff_is_raw_and_colour_refuses_a_raw(tmp_path):
    from camtwin.raw import RawFrame, save_raw

    dn = (64 + 2000 * gaussian_edge()).astype(np.uint16)
    raw = RawFrame(dn=dn, cfa="RGGB", black_level_dn=64, white_level_dn=4095,
                   exposure_s=0.01, conversion_gain_dn_per_e=0.5)
    tif = save_raw(tmp_path / "edge_raw.tif", raw)
    img = read_measured_image(tif)
    assert img.kind == "raw" and img.raw.cfa == "RGGB"
    res = runner.invoke(app, ["colour", str(tif)])
    assert res.exit_code == 2 and "not a raw file" in res.output


def test_colour_refuses_an_image_with_other_primaries_than_srgb(tmp_path):
    # an Adobe RGB image decoded as if its primaries were sRGB's would score a wrong ΔE00:
    # the profile's rXYZ colorant is replaced by Adobe RGB (1998)'s D50 red (0.6097,
    # 0.3111, 0.0195; Adobe RGB 1998 specification, Annex, adapted to D50)
    from camtwin.measure.imread import _icc_tags, icc_has_srgb_primaries

    prof = bytearray(srgb_icc_profile())
    off = prof.find(_icc_tags(bytes(prof))[b"rXYZ"])
    prof[off + 8:off + 20] = struct.pack(">3i", *(round(v * 65536)
                                                   for v in (0.6097, 0.3111, 0.0195)))
    assert icc_has_srgb_primaries(srgb_icc_profile()) is True
    assert icc_has_srgb_primaries(bytes(prof)) is False
    path = tmp_path / "adobe.tif"
    tifffile.imwrite(path, np.full((64, 64, 3), 30000, np.uint16), photometric="rgb",
                     iccprofile=bytes(prof))
    assert read_measured_image(path).srgb_primaries is False
    res = runner.invoke(app, ["colour", str(path)])
    assert res.exit_code == 2 and "other primaries than sRGB" in res.output


def _png_with_chunk(path, values, chunk_type: bytes, data: bytes):
    """A 16-bit grey PNG (OpenCV) with one ancillary chunk inserted after IHDR."""
    import zlib

    import cv2

    ok, buf = cv2.imencode(".png", values)
    raw = buf.tobytes()
    ihdr_end = 8 + 8 + 13 + 4
    chunk = (struct.pack(">I", len(data)) + chunk_type + data
             + struct.pack(">I", zlib.crc32(chunk_type + data) & 0xFFFFFFFF))
    path.write_bytes(raw[:ihdr_end] + chunk + raw[ihdr_end:])


@pytest.mark.parametrize("chunk, data, want", [
    (b"gAMA", struct.pack(">I", 100000), "linear"),       # PNG gAMA 1.0: linear
    (b"gAMA", struct.pack(">I", 45455), "gamma:2.2"),     # gAMA 1/2.2 (PNG spec §11.3.3.2)
    (b"sRGB", b"\x00", "srgb"),                           # sRGB chunk, perceptual intent
])
def test_png_colour_chunks_choose_the_encoding(tmp_path, chunk, data, want):
    path = tmp_path / "c.png"
    _png_with_chunk(path, u16(gaussian_edge()), chunk, data)
    img = read_measured_image(path)
    assert img.encoding == want and "PNG" in img.encoding_source


def test_jpeg_exif_srgb(tmp_path):
    from PIL import Image

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA001] = 1    # ExifIFD ColorSpace = sRGB
    path = tmp_path / "e.jpg"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(path, exif=exif)
    img = read_measured_image(path)
    assert img.encoding == "srgb" and img.encoding_source == "EXIF ColorSpace = sRGB"


def test_decoding_in_place_is_the_eotf_and_leaves_the_callers_array_alone():
    # reference: colour-science's IEC 61966-2-1 sRGB decoding (the standard's function)
    # and the power law, on a ramp beyond 0..1 (clipped first) of more rows than a block
    import colour

    v = np.linspace(-0.1, 1.1, 3 * 70_001 * 7).reshape(70_001, 7, 3)
    kept = v.copy()
    c = np.clip(v, 0.0, 1.0)
    np.testing.assert_allclose(Encoding("srgb").decode(v),
                               colour.cctf_decoding(c, function="sRGB"), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(Encoding("gamma", 2.2).decode(v), c ** 2.2)
    np.testing.assert_array_equal(Encoding("linear").decode(v), c)
    np.testing.assert_array_equal(v, kept)               # decode: a new array
    t = v[:, :, 0].T                                    # (any layout, a scalar)
    np.testing.assert_array_equal(Encoding("srgb").decode(t), Encoding("srgb").decode(t.copy()))
    assert Encoding("srgb").decode(0.5) == ((0.5 + 0.055) / 1.055) ** 2.4
    w = v.copy()
    assert Encoding("srgb").decode_inplace(w) is w       # decode_inplace: that array
    np.testing.assert_array_equal(w, np.where(c <= 0.04045, c / 12.92,
                                              ((c + 0.055) / 1.055) ** 2.4))


def test_reading_a_photo_holds_one_float64_copy(tmp_path):
    """``read_measured_image`` of a 4 MP 8-bit PNG (grey: a broadcast view, no RGB copy)
    grows peak RSS by its decoded image and one float64 RGB copy, plus at most 8 MB of
    blocks: the whole-array decoding had held four float64 copies (a 12 MP photo read for
    ``camtwin sfr``: 1.62 GiB peak, 0.64 now)."""
    import sys

    import cv2

    if not sys.platform.startswith("linux"):
        pytest.skip("the peak is reset through /proc/self/clear_refs (Linux)")
    yy, xx = np.mgrid[0:1600, 0:2500]
    for name, img in (("rgb.png", np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1)),
                      ("grey.png", (xx + yy) % 256)):
        cv2.imwrite(str(tmp_path / name), img.astype(np.uint8))
    code = f"""
import json
from camtwin.memory import call_peak_growth
from camtwin.measure.imread import read_measured_image
read_measured_image({str(tmp_path / "grey.png")!r})
out = []
for name in ("rgb.png", "grey.png"):
    img, grew = call_peak_growth(read_measured_image, {str(tmp_path)!r} + "/" + name)
    out.append(grew)
print(json.dumps(out))
"""
    n = 1600 * 2500
    for grew, decoded in zip(fresh_json(code), (3 * n, n)):
        assert grew <= 2 * decoded + 24 * n + 8 * 2 ** 20, grew


def test_a_measurement_stays_within_the_bytes_its_reader_checks(tmp_path):
    """``camtwin colour`` and ``camtwin sfr`` (``y``: a luminance plane) of a 4 MP 8-bit
    rendering grow peak RSS by at most the decoded image and
    ``MEASURE_WORK_BYTES_PER_PX`` per pixel — what the reader checks before decoding. The
    chart search made a clipped float64 copy and a float32 one of the frame, its check and
    SNR a frame-sized luminance, ``auto_roi`` two frame-sized differences (a 48 MP
    ColorChecker: 3.0 → 1.54 GiB; the reader's check had asked 96 B per pixel, which
    refused the 200 MP module's own rendering on a 24 GB machine)."""
    import sys

    import cv2

    import camtwin
    from camtwin.camera import module_scene
    from camtwin.crop import crop_module
    from camtwin.isp.pipeline import write_image
    from camtwin.measure.imread import MEASURE_WORK_BYTES_PER_PX

    if not sys.platform.startswith("linux"):
        pytest.skip("the peak is reset through /proc/self/clear_refs (Linux)")
    mod = crop_module(camtwin.load_module("default"), 1280, 960)
    paths = {}
    for scene in ("colorchecker", "slanted_edge"):
        shot = camtwin.shoot(mod, module_scene(mod, scene, illuminance_lux=300), rng=1)
        small = tmp_path / f"{scene}_small.png"
        write_image(small, shot.rendered)
        big = cv2.resize(cv2.imread(str(small)), (2560, 1920), interpolation=cv2.INTER_NEAREST)
        paths[scene] = tmp_path / f"{scene}.png"
        cv2.imwrite(str(paths[scene]), big)
    code = f"""
import json
from camtwin.memory import call_peak_growth
from camtwin.measure.files import measure_file
measure_file({str(paths["colorchecker"])!r}.replace(".png", "_small.png"), "colour")
measure_file({str(paths["slanted_edge"])!r}.replace(".png", "_small.png"), "sfr", channel="y")
out = [call_peak_growth(measure_file, {str(paths["colorchecker"])!r}, "colour")[1],
       call_peak_growth(measure_file, {str(paths["slanted_edge"])!r}, "sfr", channel="y")[1]]
print(json.dumps(out))
"""
    n = 2560 * 1920
    # (measured: colour 24.0 or 33.1–33.4 B per pixel — whether the heap already holds a
    # float64 plane's worth of freed pages —, sfr y 26.8; 62 and 40 before)
    for grew in fresh_json(code):
        assert grew <= n * (3 + MEASURE_WORK_BYTES_PER_PX), grew / n
        assert grew <= n * 37, grew / n     # (the float64 copy and one plane, no more)
