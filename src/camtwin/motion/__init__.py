"""Camera motion during the exposure: hand shake, motion blur, stabilisation (OIS, EIS).

* :mod:`.shake` — angular-velocity spectra of a hand-held / walking / vehicle camera and
  seeded trajectories that follow them.
* :mod:`.blur` — blur kernels and their MTF from a trajectory, rolling-shutter wobble.
* :mod:`.stabilise` — OIS (gyro, loop bandwidth, stroke) and EIS (crop margin, per-frame
  or per-row), stabilisation gain in stops after CIPA DC-011 / ISO 20954-1.
* :mod:`.metrics` — ``MOTION_METRICS`` for :mod:`camtwin.evaluate`.
"""

from .shake import (SHAKE_PRESETS, ShakeComponent, ShakeSpec, Trajectory, shake_spec,
                    shake_trajectory, synthesise)

__all__ = ["SHAKE_PRESETS", "ShakeComponent", "ShakeSpec", "Trajectory", "shake_spec",
           "shake_trajectory", "synthesise"]
