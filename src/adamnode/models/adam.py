"""AdamNODE: the heavy-ball ODE with Adam's adaptive, RMS-normalised step."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.nn import functional as F

from .base import VectorField, VectorFn
from .scalars import logit, register_scalar, sigmoid

#: beta1 = sigmoid(3) = 0.953: measured better than the paper's MNIST value sigmoid(-5) = 0.0067 on
#: spheres and the F-16 task in every seed and equal on MNIST, Walker2d and moons (docs/results/rates,
#: docs/results/layer); the paper's networks (nets/images.py) keep the paper's values.
DEFAULT_BETA1 = sigmoid(3.0)
DEFAULT_BETA2 = sigmoid(5.0)


V_ACTIVATIONS = {"softplus": F.softplus, "sigmoid": torch.sigmoid, "identity": lambda v: v}


class AdamNODE(VectorField):
    """Adaptive-moment neural ODE (Cho, Hong, Lee, Park, arXiv 2207.06066, 2022).

    ODE::

        h' = -m / (sqrt(s(v)) + eps)
        m' = beta1 * (-f(t, h) - m)
        v' = beta2 * (f(t, h)**2 - v)

    ``m`` is a running mean of the "gradient" ``-f`` and ``v`` of ``f**2``, so ``h`` moves along
    ``f`` normalised by its running RMS. ``beta1 = sigmoid(a1)``, ``beta2 = sigmoid(a2)`` are stored
    as logits (learnable unless ``learn_betas=False``). ``s`` keeps the denominator defined:
    ``softplus`` (paper's MNIST/Silverbox), ``sigmoid`` (CIFAR-10) or ``identity`` (the exact AdamODE;
    ``v`` stays non-negative from ``v0 >= 0``). ``s(v)`` is floored at the dtype's smallest normal
    number: an adaptive solver's trial stage can drive ``v`` so negative that ``s(v)`` is exactly 0,
    where ``sqrt`` has an infinite derivative and the adjoint would turn NaN; the floor is far below
    ``eps**2``, so the dynamics are unchanged.
    ``initial_state(h0, m0)`` sets ``v0 = m0**2`` elementwise (the aligned layout; the reference
    code misaligns it).
    State layout: ``[batch, 3, *features]`` = (h, m, v).
    """

    components = ("h", "m", "v")

    def __init__(
        self,
        f: VectorFn,
        beta1: float = DEFAULT_BETA1,
        beta2: float = DEFAULT_BETA2,
        eps: float = 1e-8,
        v_activation: str = "softplus",
        learn_betas: bool = True,
    ):
        super().__init__(f)
        register_scalar(self, "beta1_logit", logit(beta1, "beta1"), learn_betas)
        register_scalar(self, "beta2_logit", logit(beta2, "beta2"), learn_betas)
        if not (isinstance(eps, (int, float)) and eps >= 0):
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        if v_activation not in V_ACTIVATIONS:
            raise ValueError(f"unknown v_activation {v_activation!r}; choose one of {sorted(V_ACTIVATIONS)}")
        self.register_buffer("eps", torch.tensor(float(eps)))
        self.v_activation = v_activation
        self._s = V_ACTIVATIONS[v_activation]

    @property
    def beta1(self) -> torch.Tensor:
        return torch.sigmoid(self.beta1_logit)

    @property
    def beta2(self) -> torch.Tensor:
        return torch.sigmoid(self.beta2_logit)

    def momentum_along_f(self, t: torch.Tensor, h0: torch.Tensor, args: Any = None) -> torch.Tensor:
        """``m0 = -f(t, h0)``, where ``m'`` rests: with ``v0 = m0**2``, ``h' = f / (|f| + eps)`` at the start."""
        return -self.call_f(t, h0, h0, args)

    def _extra_components(self, h0: torch.Tensor, m0: torch.Tensor) -> Sequence[torch.Tensor]:
        return (h0, m0, m0 * m0)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        h, m, v = z[:, 0], z[:, 1], z[:, 2]
        f = self.call_f(t, h, h, args)
        dh = -m / (self._s(v).clamp_min(torch.finfo(v.dtype).tiny).sqrt() + self.eps)
        dm = self.beta1 * (-f - m)
        dv = self.beta2 * (f * f - v)
        return torch.stack([dh, dm, dv], dim=1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, v_activation={self.v_activation!r}"
