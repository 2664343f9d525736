"""Nesterov neural ODEs (Nguyen et al., NeurIPS 2022)."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from .base import VectorField, VectorFn
from .second_order import DEFAULT_XI, GeneralisedTerms


def nesterov_scale(t: torch.Tensor | float) -> torch.Tensor | float:
    """``k(t) = t^(-3/2) * e^(t/2)``, the factor that maps the state ``x`` to ``h = k(t) x``.

    A Python float gives a Python float (exact in float64, no host-to-device copy in a readout).
    """
    if isinstance(t, torch.Tensor):
        return t.pow(-1.5) * torch.exp(0.5 * t)
    return t ** -1.5 * math.exp(0.5 * t)


class NesterovNODE(VectorField):
    """Nesterov neural ODE.

    ODE: ``x' = m``, ``m' = -m - f(t, h)`` with ``h = k(t) x``, ``k(t) = t^(-3/2) e^(t/2)``.
    ``k`` is singular at 0, so an ``ODEBlock`` around it refuses ``t0 <= 0`` (use e.g. t0=1, t1=2).
    ``initial_state(x0, m0)`` takes the state ``x0``; ``hidden(z, t)`` returns ``h = k(t) x`` for
    the readout (the reference code reads it inconsistently).
    State layout: ``[batch, 2, *features]`` = (x, m).
    """

    components = ("x", "m")
    needs_positive_time = True

    def hidden(self, z: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        return nesterov_scale(t) * z[:, 0]

    def momentum_along_f(self, t: torch.Tensor, h0: torch.Tensor, args: Any = None) -> torch.Tensor:
        """``m0 = f(t, k(t) x0)``: ``x' = m`` starts along ``f`` of the hidden state."""
        h = nesterov_scale(t) * h0
        return self.call_f(t, h, h, args)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        x, m = z[:, 0], z[:, 1]
        return torch.stack([m, -m - self.call_f(t, nesterov_scale(t) * x, x, args)], dim=1)


class GNesterovNODE(GeneralisedTerms, NesterovNODE):
    """Generalised Nesterov neural ODE.

    ODE: ``x' = act(m)``, ``m' = -m - act(f(t, h)) - xi * h`` with ``h = k(t) x``,
    ``xi = softplus(c)`` learnable, ``act`` tanh or hardtanh.
    State layout: ``[batch, 2, *features]`` = (x, m).
    """

    def __init__(
        self,
        f: VectorFn,
        xi: float = DEFAULT_XI,
        activation: str | Callable[[torch.Tensor], torch.Tensor] = "tanh",
        learn_xi: bool = True,
    ):
        super().__init__(f)
        self._init_generalised(xi, activation, learn_xi)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        x, m = z[:, 0], z[:, 1]
        h = nesterov_scale(t) * x
        dm = -m - self.activation(self.call_f(t, h, h, args)) - self.xi * h
        return torch.stack([self.activation(m), dm], dim=1)
