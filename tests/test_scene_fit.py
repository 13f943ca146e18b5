"""Photos as scenes keep their proportions (issue 18: a 3:2 photo on a 4:3 sensor was
stretched, every circle 11 % too narrow): crop to fill (default) or letterbox, and say which.

Reference: a disk stays a disk — its width/height ratio on the scene grid is 1 within a
sample; a stretch to the grid would make it (W/w)/(H/h) = (160/300)/(120/200) = 0.889.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.scene import from_rgb
from camtwin.scene.rgb import fit_image, plan_fit

runner = CliRunner()


def disk_photo(h=200, w=300, r=60):
    y, x = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), 0.2, np.float32)
    img[(y - h / 2 + 0.5) ** 2 + (x - w / 2 + 0.5) ** 2 <= r * r] = 0.9
    return img


def disk_aspect(img):
    m = img[..., 0] > 0.55
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_a_disk_stays_round(fit):
    out, plan = fit_image(disk_photo(), (120, 160), fit)
    assert out.shape == (120, 160, 3)
    assert disk_aspect(out) == pytest.approx(1.0, abs=0.03)
    if fit == "crop":   # all of the grid is photo, the sides of the photo are cut
        assert plan.placed == (0, 120, 0, 160) and plan.used == (0, 200, 16, 283)
    else:               # all of the photo is seen, black bars top and bottom
        assert plan.used == (0, 200, 0, 300) and plan.placed == (6, 113, 0, 160)
        assert np.all(out[:6] == 0) and np.all(out[113:] == 0)


def test_from_rgb_crops_by_default_and_records_where_the_photo_lies():
    sc = from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160))
    assert sc.layout["image"] == [(0.0, 1.0, 0.0, 1.0)]
    lb = from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160), fit="letterbox")
    assert lb.layout["image"][0] == pytest.approx((6 / 120, 113 / 120, 0.0, 1.0))
    with pytest.raises(ConfigError, match="crop, letterbox"):
        from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160), fit="stretch")


def test_same_aspect_is_untouched_and_said_so():
    plan = plan_fit((120, 160), (240, 320), "crop")
    assert plan.used == (0, 120, 0, 160) and "same aspect ratio" in plan.describe()


def test_capture_says_how_the_photo_was_fitted(tmp_path):
    import cv2

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), (disk_photo() * 255).astype(np.uint8))
    res = runner.invoke(app, ["capture", "--scene", str(photo), "--crop", "160,120",
                              "--scene-fit", "letterbox", "--out", str(tmp_path / "o.png"),
                              "--json", "-q"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "letterboxed" in out["scene_fit"] and out["grey_snr_db"] is None
    res = runner.invoke(app, ["capture", "--scene", str(photo), "--crop", "160,120",
                              "--scene-fit", "stretch", "--out", str(tmp_path / "o.png")])
    assert res.exit_code == 2 and "--scene-fit" in res.output
