"""Second-order and heavy-ball models: SONODE, HBNODE, GHBNODE."""

from __future__ import annotations

from typing import Any, Callable

import torch

from .base import VectorField, VectorFn, resolve_activation
from .scalars import inverse_softplus, logit, register_scalar, sigmoid, softplus

DEFAULT_GAMMA = sigmoid(-3.0)
DEFAULT_XI = softplus(2.0)


class SONODE(VectorField):
    """Second-order neural ODE (Norcliffe et al., NeurIPS 2020).

    ODE: ``h' = u``, ``u' = f(t, [h, u])``; ``f`` sees both halves concatenated on the feature
    dim (dim 1 of ``h``), so it maps ``2 * features`` channels to ``features``.
    State layout: ``[batch, 2, *features]`` = (h, u).
    """

    components = ("h", "u")

    @classmethod
    def f_features(cls, state_features: int) -> tuple[int, int]:
        return 2 * state_features, state_features

    def momentum_along_f(self, t: torch.Tensor, h0: torch.Tensor, args: Any = None) -> torch.Tensor:
        """``u0 = f(t, [h0, 0])``: the velocity starts along ``f`` at rest."""
        return self.call_f(t, torch.cat([h0, torch.zeros_like(h0)], dim=1), h0, args)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        # [batch, 2, C, ...] -> [batch, 2C, ...] is a view of a contiguous state: no copy.
        hu = z.flatten(1, 2) if z.is_contiguous() else torch.cat([z[:, 0], z[:, 1]], dim=1)
        return torch.stack([z[:, 1], self.call_f(t, hu, z[:, 1], args)], dim=1)


class HBNODE(VectorField):
    """Heavy-ball neural ODE (Xia et al., NeurIPS 2021).

    ODE: ``h' = m``, ``m' = -gamma * m + f(t, h)``, ``gamma = sigmoid(g)`` learnable (or fixed
    with ``learn_gamma=False``). The reference code flips the sign of ``m``; with a learned ``f``
    both forms are the same family.
    State layout: ``[batch, 2, *features]`` = (h, m).
    """

    components = ("h", "m")

    def __init__(self, f: VectorFn, gamma: float = DEFAULT_GAMMA, learn_gamma: bool = True):
        super().__init__(f)
        register_scalar(self, "gamma_logit", logit(gamma, "gamma"), learn_gamma)

    @property
    def gamma(self) -> torch.Tensor:
        return torch.sigmoid(self.gamma_logit)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        h, m = z[:, 0], z[:, 1]
        return torch.stack([m, self.call_f(t, h, h, args) - self.gamma * m], dim=1)


class GeneralisedTerms:
    """The generalised variants' bounded activation and skip term ``xi = softplus(c)``."""

    def _init_generalised(self, xi: float, activation, learn_xi: bool) -> None:
        register_scalar(self, "xi_raw", inverse_softplus(xi, "xi"), learn_xi)
        self.activation = resolve_activation(activation)

    @property
    def xi(self) -> torch.Tensor:
        return torch.nn.functional.softplus(self.xi_raw)


class GHBNODE(GeneralisedTerms, HBNODE):
    """Generalised heavy-ball neural ODE (Xia et al., NeurIPS 2021).

    ODE: ``h' = act(m)``, ``m' = -gamma * m + f(t, h) - xi * h`` with ``act`` bounded (tanh or
    hardtanh), ``gamma = sigmoid(g)`` and ``xi = softplus(c)`` learnable.
    State layout: ``[batch, 2, *features]`` = (h, m).
    """

    def __init__(
        self,
        f: VectorFn,
        gamma: float = DEFAULT_GAMMA,
        xi: float = DEFAULT_XI,
        activation: str | Callable[[torch.Tensor], torch.Tensor] = "tanh",
        learn_gamma: bool = True,
        learn_xi: bool = True,
    ):
        super().__init__(f, gamma=gamma, learn_gamma=learn_gamma)
        self._init_generalised(xi, activation, learn_xi)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        h, m = z[:, 0], z[:, 1]
        dm = self.call_f(t, h, h, args) - self.gamma * m - self.xi * h
        return torch.stack([self.activation(m), dm], dim=1)
