"""camtwin.depth.plots: each figure renders to a non-empty PNG and plots exactly its inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from camtwin.depth import plots
from camtwin.errors import ConfigError
from camtwin.units import SPEED_OF_LIGHT_M_S


def _png_ok(fig, tmp_path, name):
    from PIL import Image

    p = plots.save_figure(fig, tmp_path / name)
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    with Image.open(io.BytesIO(data)) as im:
        a = np.asarray(im.convert("L"))
    assert a.shape[0] > 100 and a.shape[1] > 100 and a.std() > 5   # not a blank canvas


def _line(fig, gid):
    found = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == gid]
    assert len(found) == 1, f"no single line with gid {gid!r}"
    return found[0]


def test_depth_vs_distance_plots_inputs_and_requirement(tmp_path):
    d = np.array([2.0, 0.5, 1.0, 4.0])                       # unsorted on purpose
    prec = {"10 %": np.array([0.8, 0.2, 0.4, 1.6]), "90 %": np.array([0.3, 0.1, 0.2, 0.6])}
    acc = np.array([0.05, -0.02, 0.01, 0.2])
    fig = plots.plot_depth_vs_distance(d, precision_pct=prec, accuracy_pct=acc,
                                       precision_limit_pct=1.0, accuracy_limit_pct=0.1,
                                       max_range_m=2.8, title="test")
    assert len(fig.axes) == 2
    order = np.argsort(d)
    ln = _line(fig, "precision:10 %")
    np.testing.assert_array_equal(ln.get_xdata(), d[order])
    np.testing.assert_array_equal(ln.get_ydata(), prec["10 %"][order])
    np.testing.assert_array_equal(_line(fig, "precision:90 %").get_ydata(), prec["90 %"][order])
    np.testing.assert_array_equal(_line(fig, "accuracy:").get_ydata(), acc[order])
    np.testing.assert_array_equal(_line(fig, "limit:precision").get_ydata(), [1.0, 1.0])
    np.testing.assert_array_equal(_line(fig, "limit:accuracy").get_ydata(), [0.1, 0.1])
    np.testing.assert_array_equal(_line(fig, "limit:accuracy:low").get_ydata(), [-0.1, -0.1])
    np.testing.assert_array_equal(_line(fig, "max_range").get_xdata(), [2.8, 2.8])
    _png_ok(fig, tmp_path, "pa.png")


def test_depth_vs_distance_one_panel_and_errors():
    fig = plots.plot_depth_vs_distance([1, 2], precision_pct=[0.1, 0.2], logy=True)
    assert len(fig.axes) == 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ConfigError, match="one per distance"):
        plots.plot_depth_vs_distance([1, 2], precision_pct=[0.1])
    with pytest.raises(ConfigError, match="precision_pct and/or"):
        plots.plot_depth_vs_distance([1, 2])


def test_dtof_histogram_plots_counts_corrected_and_truth(tmp_path):
    n, dt = 64, 250e-12
    k = np.arange(n)
    counts = 5 + 200 * np.exp(-0.5 * ((k - 20) / 1.5) ** 2)
    corrected = counts * 1.1
    fig = plots.plot_dtof_histogram(counts, dt, corrected=corrected, true_distance_m=0.75)
    ln = _line(fig, "counts")
    np.testing.assert_allclose(ln.get_xdata(), (k + 0.5) * 0.25)          # bin centres, ns
    np.testing.assert_array_equal(ln.get_ydata(), counts)
    assert ln.get_drawstyle() == "steps-mid"
    np.testing.assert_array_equal(_line(fig, "corrected").get_ydata(), corrected)
    # 0.75 m → round trip 1.5 m / c = 5.0034 ns
    np.testing.assert_allclose(_line(fig, "truth").get_xdata(),
                               [1.5 / SPEED_OF_LIGHT_M_S * 1e9] * 2)
    _png_ok(fig, tmp_path, "h.png")
    with pytest.raises(ConfigError, match="bins"):
        plots.plot_dtof_histogram(counts, dt, corrected=corrected[:-1])
    with pytest.raises(ConfigError, match="bin_width_s"):
        plots.plot_dtof_histogram(counts, 0.0)


def test_depth_error_map_image_equals_error_in_mm(tmp_path):
    truth = np.full((30, 40), 2.0)
    depth = truth + np.linspace(-0.01, 0.01, 40)[None, :]
    depth[5, 5] = np.nan
    fig = plots.plot_depth_error_map(depth, truth, limit_mm=10.0)
    img = fig.axes[0].images[0]
    a = img.get_array()
    assert a.mask[5, 5] and a.mask.sum() == 1
    np.testing.assert_allclose(a.data[~a.mask], ((depth - truth) * 1000)[~a.mask], atol=1e-9)
    assert img.get_clim() == (-10.0, 10.0)
    _png_ok(fig, tmp_path, "e.png")
    with pytest.raises(ConfigError, match="does not match"):
        plots.plot_depth_error_map(depth, truth[:, :-1])
