"""Butcher tableaux of the explicit Runge-Kutta methods the solver core integrates with.

Each method is data: nodes ``c``, stage coefficients ``a`` (row ``i`` gives stage ``i + 1``), weights
``b`` of the propagated solution and, for adaptive methods, ``error`` = ``b - b_hat`` (the embedded
lower-order solution's weights subtracted), whose combination of the stages estimates the local
error. ``order`` is the exponent the step-size controller uses; it is torchdiffeq's for the same
method, so the two take the same steps from the same start.

First same as last (FSAL): where the last stage is evaluated at ``t + h`` on the propagated
solution itself (``c[-1] == 1`` and ``a[-1] == b``), its derivative is the next step's first stage.
torchdiffeq also reuses the last stage of ``fehlberg2`` and ``adaptive_heun``, whose last stage is
*not* at the propagated solution; here those evaluate ``f(t + h, y1)`` afresh (one evaluation more
per step, and the method is the one its name says).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tableau:
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    error: tuple[float, ...] | None = None
    order: int = 1

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.error is not None

    @property
    def fsal(self) -> bool:
        """Whether the last stage's derivative is ``f(t + h, y1)`` (reused as the next first stage)."""
        return self.stages > 1 and self.c[-1] == 1.0 and tuple(self.a[-1]) + (0.0,) == tuple(self.b)


def _minus(b: tuple[float, ...], b_hat: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(x - y for x, y in zip(b, b_hat))


_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_BOSH3_B = (2 / 9, 1 / 3, 4 / 9, 0.0)

TABLEAUX: dict[str, Tableau] = {
    # Dormand & Prince (1980), order 5(4), with Shampine's embedded order-4 weights (Shampine 1986,
    # as torchdiffeq and MATLAB's ode45 use them): the same steps as torchdiffeq from the same start.
    "dopri5": Tableau(
        c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
        a=((), (1 / 5,), (3 / 40, 9 / 40), (44 / 45, -56 / 15, 32 / 9),
           (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
           (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
           _DOPRI5_B[:6]),
        b=_DOPRI5_B,
        error=_minus(_DOPRI5_B, (1951 / 21600, 0.0, 22642 / 50085, 451 / 720, -12231 / 42400, 649 / 6300, 1 / 60)),
        order=5),
    # Bogacki & Shampine (1989), order 3(2).
    "bosh3": Tableau(
        c=(0.0, 1 / 2, 3 / 4, 1.0),
        a=((), (1 / 2,), (0.0, 3 / 4), _BOSH3_B[:3]),
        b=_BOSH3_B,
        error=_minus(_BOSH3_B, (7 / 24, 1 / 4, 1 / 3, 1 / 8)),
        order=3),
    # Fehlberg's RKF1(2), propagating the order-2 solution (as torchdiffeq does).
    "fehlberg2": Tableau(
        c=(0.0, 1 / 2, 1.0),
        a=((), (1 / 2,), (1 / 256, 255 / 256)),
        b=(1 / 512, 255 / 256, 1 / 512),
        error=(-1 / 512, 0.0, 1 / 512),
        order=2),
    # Heun's method with Euler as the embedded estimate.
    "adaptive_heun": Tableau(c=(0.0, 1.0), a=((), (1.0,)), b=(1 / 2, 1 / 2), error=(-1 / 2, 1 / 2), order=2),
    "euler": Tableau(c=(0.0,), a=((),), b=(1.0,)),
    "midpoint": Tableau(c=(0.0, 1 / 2), a=((), (1 / 2,)), b=(0.0, 1.0)),
    "heun2": Tableau(c=(0.0, 1.0), a=((), (1.0,)), b=(1 / 2, 1 / 2)),
    "heun3": Tableau(c=(0.0, 1 / 3, 2 / 3), a=((), (1 / 3,), (0.0, 2 / 3)), b=(1 / 4, 0.0, 3 / 4)),
    # Kutta's 3/8 rule: torchdiffeq's ``rk4``.
    "rk4": Tableau(c=(0.0, 1 / 3, 2 / 3, 1.0), a=((), (1 / 3,), (-1 / 3, 1.0), (1.0, -1.0, 1.0)),
                   b=(1 / 8, 3 / 8, 3 / 8, 1 / 8)),
}
