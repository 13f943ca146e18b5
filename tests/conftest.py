"""Shared fixtures: small sensors and modules so the physics tests run in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.module import load_module


@pytest.fixture(scope="session")
def small_module():
    """The default module shrunk to 480×360 pixels (same pixel, lens and ISP)."""
    return load_module("default").replace(sensor={"width_px": 480, "height_px": 360})


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
