"""Shared fixtures: small sensors and modules so the physics tests run in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.module import load_module


def pytest_configure(config):
    """Every test run (and the subprocesses it starts) gets its own, empty on-disk cache
    (camtwin.cache), so no test reads a fitted CCM left by another run or by the user."""
    import os
    import tempfile

    if "CAMTWIN_CACHE_DIR" not in os.environ:
        config._camtwin_cache_dir = tempfile.mkdtemp(prefix="camtwin-test-cache-")
        os.environ["CAMTWIN_CACHE_DIR"] = config._camtwin_cache_dir


def pytest_unconfigure(config):
    """Remove the run's own cache directory (a run used to leave one in the temp directory)."""
    import os
    import shutil

    path = getattr(config, "_camtwin_cache_dir", None)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get("CAMTWIN_CACHE_DIR") == path:
            del os.environ["CAMTWIN_CACHE_DIR"]


@pytest.fixture(scope="session")
def small_module():
    """The default module shrunk to 480×360 pixels with the same pixel, f-number and field of
    view (focal length scaled by 480/1280), so vignetting and blur match the real module."""
    m = load_module("default")
    return m.replace(sensor={"width_px": 480, "height_px": 360},
                     lens={"focal_length_mm": m.lens.focal_length_mm * 480 / 1280})


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
