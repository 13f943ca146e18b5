"""Limits and sizes of a workbench server."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class WebSettings:
    """Limits of one server instance.

    Attributes
    ----------
    workers : int
        Simulation threads (the bounded worker pool). Default: 2, or the number of CPUs
        if smaller.
    max_pending_jobs : int
        Jobs queued or running at once; one more is refused with 503 (try again later).
    max_stored_jobs : int
        Finished jobs (and their images) kept in memory; the oldest are dropped first.
    max_pixels : int
        Largest sensor (width × height after the optional centre crop) a capture may
        simulate; larger requests get 422 naming ``sensor.width_px``.
    max_upload_bytes : int
        Largest accepted upload body [bytes]; larger ones get 413.
    max_upload_pixels : int
        Largest decoded upload image [pixels]; larger ones get 413 (decompression bombs).
    upload_max_side_px : int
        Uploaded images are reduced (area averaging) to at most this many pixels on their
        longest side when stored.
    max_uploads : int
        Uploaded images kept in memory; the oldest are dropped first.
    """

    workers: int = 0
    max_pending_jobs: int = 128
    max_stored_jobs: int = 64
    max_pixels: int = 1_500_000
    max_upload_bytes: int = 8 * 1024 * 1024
    max_upload_pixels: int = 25_000_000
    upload_max_side_px: int = 2048
    max_uploads: int = 16

    def __post_init__(self):
        if self.workers == 0:
            object.__setattr__(self, "workers", max(1, min(2, os.cpu_count() or 1)))
        for name in ("workers", "max_pending_jobs", "max_stored_jobs", "max_pixels",
                     "max_upload_bytes", "max_upload_pixels", "upload_max_side_px",
                     "max_uploads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"web settings {name} = {value!r}: must be an integer >= 1")
        if self.workers > 64:
            raise ConfigError(f"web settings workers = {self.workers}: valid range is 1..64")
