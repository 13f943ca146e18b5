"""Voice-coil motor (VCM) lens actuator: second-order dynamics, hysteresis, noise.

The lens barrel on its springs is a damped harmonic oscillator driven by the coil force;
with the commanded (static) position u [µm] as input,

    ẍ + 2ζω₀ẋ + ω₀²x = ω₀²·u_h(t),      ω₀ = 2π·f₀                       (1)

f₀ the mechanical resonance (60–150 Hz for phone VCMs), ζ the damping ratio (≈ 0.05–0.2
open loop, 0.5–0.7 with damping gel or closed-loop drive). u_h is the command after
*hysteresis* (friction of the guide; a play operator of width h = ``hysteresis_um``):

    u_h ← u − h/2  if u − u_h > h/2;   u_h ← u + h/2  if u − u_h < −h/2;   else unchanged

so a position approached from below stops h/2 short of the command and one approached
from above h/2 beyond it. Equation (1) is integrated exactly for the piecewise-constant
input (state-transition matrix exp(AΔt), Δt = 0.1 ms). The lens has *settled* when
|x − u_h| stays below ``settle_tolerance_um`` (and the velocity below tolerance/1 ms);
the settled position then carries Gaussian position noise (σ = ``position_noise_um``:
driver-current noise and posture, fresh per settled move).

References: K. Ogata, *Modern Control Engineering*, 5th ed., §5-3 (second-order step
response, settling time ≈ 4/(ζω₀) for a 2 % band); I. D. Mayergoyz, *Mathematical Models
of Hysteresis* (play operator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field
from scipy.linalg import expm

from .._spec import FrozenSpec
from ..errors import ConfigError

#: Integration step of the VCM model [s].
VCM_DT_S = 1e-4
#: Longest simulated move [s] (a move that has not settled by then is reported unsettled).
VCM_MAX_MOVE_S = 0.5


class VcmSpec(FrozenSpec):
    """A VCM actuator (module docstring). Defaults: a typical open-loop phone VCM with
    some damping (f₀ = 90 Hz, ζ = 0.3, 2 µm hysteresis, 0.3 µm position noise) and a
    120 µm stroke (a 2.8 mm lens from infinity to 6.8 cm: p* = f²/(D − f))."""

    stroke_um: float = Field(120.0, gt=0, le=2000)
    resonance_hz: float = Field(90.0, gt=1, le=5000)
    damping_ratio: float = Field(0.3, gt=0, le=5)
    hysteresis_um: float = Field(2.0, ge=0, le=50)
    position_noise_um: float = Field(0.3, ge=0, le=20)
    settle_tolerance_um: float = Field(1.0, gt=0, le=50)


@dataclass
class VcmState:
    """Position x [µm], velocity v [µm/s], hysteresis state u_h [µm], last command [µm]."""

    x_um: float = 0.0
    v_um_s: float = 0.0
    u_h_um: float = 0.0
    command_um: float = 0.0


def _play(u: float, u_h: float, h: float) -> float:
    if u - u_h > h / 2:
        return u - h / 2
    if u - u_h < -h / 2:
        return u + h / 2
    return u_h


class Vcm:
    """A VCM instance: its spec, its state and the random source of its position noise."""

    def __init__(self, spec: VcmSpec, rng, *, start_um: float = 0.0):
        self.spec = spec
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        if not 0 <= start_um <= spec.stroke_um:
            raise ConfigError(f"start position {start_um} µm: valid range is 0..{spec.stroke_um}")
        self.state = VcmState(x_um=start_um, u_h_um=start_um, command_um=start_um)
        w = 2 * math.pi * spec.resonance_hz
        a = np.array([[0.0, 1.0], [-w * w, -2 * spec.damping_ratio * w]])
        self._phi = expm(a * VCM_DT_S)                       # state transition
        self._gam = np.linalg.solve(a, (self._phi - np.eye(2)) @ np.array([0.0, w * w]))
        self.moves = 0
        self.total_time_s = 0.0

    @property
    def position_um(self) -> float:
        return self.state.x_um

    def move_to(self, command_um: float) -> float:
        """Command ``command_um`` (clamped to the stroke), run the dynamics until settled;
        returns the settle time [s]. The settled position gets fresh position noise."""
        s = self.spec
        u = float(np.clip(command_um, 0.0, s.stroke_um))
        st = self.state
        if abs(u - st.command_um) < 1e-9 and self.moves:
            return 0.0
        u_h = _play(u, st.u_h_um, s.hysteresis_um)
        x = np.array([st.x_um, st.v_um_s])
        tol = s.settle_tolerance_um
        t, inside_since = 0.0, None
        while t < VCM_MAX_MOVE_S:
            x = self._phi @ x + self._gam * u_h
            t += VCM_DT_S
            ok = abs(x[0] - u_h) < tol and abs(x[1]) < tol / 1e-3
            if ok and inside_since is None:
                inside_since = t
            elif not ok:
                inside_since = None
            if inside_since is not None and t - inside_since >= 2e-3:  # stayed inside 2 ms
                break
        settle = inside_since if inside_since is not None else t
        noise = self.rng.normal(0.0, s.position_noise_um) if s.position_noise_um else 0.0
        self.state = VcmState(x_um=u_h + noise, v_um_s=0.0, u_h_um=u_h, command_um=u)
        self.moves += 1
        self.total_time_s += settle
        return settle

    def step_response(self, command_um: float, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(t [s], x [µm]) of a step from the current state to ``command_um`` (no noise,
        state unchanged) — for plots and tests of eq. (1)."""
        u_h = _play(float(command_um), self.state.u_h_um, self.spec.hysteresis_um)
        n = int(round(duration_s / VCM_DT_S))
        x = np.array([self.state.x_um, self.state.v_um_s])
        out = np.empty(n)
        for i in range(n):
            x = self._phi @ x + self._gam * u_h
            out[i] = x[0]
        return (np.arange(1, n + 1) * VCM_DT_S), out
