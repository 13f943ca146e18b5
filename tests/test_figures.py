"""Figures: the contact sheet's thumbnails (camtwin.report.figures)."""

import numpy as np

from camtwin.report.figures import THUMBNAIL_PX, plot_contact_sheet, thumbnail


def test_a_thumbnail_is_the_block_mean_of_the_image():
    """Scaling by an integer factor, each thumbnail pixel is the mean of its k × k block
    (reference: the block mean by NumPy reshape); a Nyquist checkerboard, which plain
    decimation (``[::2, ::2]``, the demo's thumbnails before) turns all white, comes out
    mid-grey — no aliasing; an image already narrow enough is returned as it is, a
    scaled one is a copy (the full frame can be freed)."""
    rng = np.random.default_rng(0)
    img = rng.random((240, 320, 3)).astype(np.float32)
    got = thumbnail(img, 80)                    # factor 4
    want = img.reshape(60, 4, 80, 4, 3).mean(axis=(1, 3))
    assert got.shape == (60, 80, 3)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert not np.shares_memory(got, img)
    checker = (np.indices((200, 300)).sum(0) % 2).astype(np.float32)
    assert checker[::2, ::2].min() == checker[::2, ::2].max()      # (decimation: one value)
    np.testing.assert_allclose(thumbnail(checker, 150), 0.5, atol=1e-6)
    small = img[:, :THUMBNAIL_PX // 2]
    assert thumbnail(small) is small
    u8 = (img * 255).astype(np.uint8)
    assert thumbnail(u8, 160).dtype == np.uint8


def test_the_contact_sheet_draws_each_image_at_its_panel_size(tmp_path, monkeypatch):
    """The sheet resamples each image to a thumbnail of at most the panel's width before
    matplotlib draws it (resampling the full frames, the demo's figures took 2.1 s, not
    1.65 s)."""
    import matplotlib.axes

    shown = []
    draw = matplotlib.axes.Axes.imshow

    def spy(self, x, *a, **k):
        shown.append(np.asarray(x).shape)
        return draw(self, x, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", spy)
    frames = [(f"f{i}", np.full((960, 1280, 3), i / 4, np.float32)) for i in range(4)]
    out = plot_contact_sheet(frames, tmp_path / "sheet.png", columns=2)
    assert out.stat().st_size > 0
    assert shown == [(264, THUMBNAIL_PX, 3)] * 4
