"""Reference solutions the tests check the library against, independent of torchdiffeq."""

from __future__ import annotations


def rk4(rhs, z, t0: float, t1: float, steps: int):
    """Classical fixed-step RK4 for dz/dt = rhs(t, z) from t0 to t1 (either direction); z a tensor or an array."""
    dt = (t1 - t0) / steps
    for i in range(steps):
        t = t0 + i * dt
        k1 = rhs(t, z)
        k2 = rhs(t + dt / 2, z + dt / 2 * k1)
        k3 = rhs(t + dt / 2, z + dt / 2 * k2)
        k4 = rhs(t + dt, z + dt * k3)
        z = z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z
