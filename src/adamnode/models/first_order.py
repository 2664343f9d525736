"""First-order baselines: NODE and ANODE."""

from __future__ import annotations

from typing import Any

import torch

from .base import VectorField, VectorFn, check_floating


class NODE(VectorField):
    """Neural ODE (Chen et al., NeurIPS 2018).

    ODE: ``h' = f(t, h)``.
    State layout: ``[batch, 1, *features]`` = (h).
    """

    components = ("h",)

    def forward(self, t: torch.Tensor, z: torch.Tensor, args: Any = None) -> torch.Tensor:
        h = z[:, 0]
        return self.call_f(t, h, h, args).unsqueeze(1)


def augment(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Pad ``x`` ``[batch, features, ...]`` with ``channels`` zero channels on dim 1 (ANODE's input)."""
    if not isinstance(channels, int) or channels < 0:
        raise ValueError(f"augment channels must be a non-negative int, got {channels!r}")
    if x.dim() < 2:
        raise ValueError(f"augment needs x of shape [batch, features, ...], got {tuple(x.shape)}")
    pad = x.new_zeros(x.shape[0], channels, *x.shape[2:])
    return torch.cat([x, pad], dim=1)


class ANODE(NODE):
    """Augmented neural ODE (Dupont et al., NeurIPS 2019): a NODE on zero-padded input.

    ODE: ``h' = f(t, h)`` with ``h(0) = [x, 0]``: ``augment_dim`` zero channels appended to the
    input on its feature dim (dim 1 of ``h0``), so ``f`` must map ``features + augment_dim``
    channels to as many. ``initial_state(x)`` does the padding.
    State layout: ``[batch, 1, features + augment_dim, ...]`` = (h).
    """

    def __init__(self, f: VectorFn, augment_dim: int):
        super().__init__(f)
        if not isinstance(augment_dim, int) or augment_dim < 1:
            raise ValueError(f"augment_dim must be a positive int, got {augment_dim!r}")
        self.augment_dim = augment_dim

    @classmethod
    def state_features(cls, features: int, *, augment_dim: int, **options: Any) -> int:
        return features + augment_dim

    def initial_state(self, h0: torch.Tensor, m0: torch.Tensor | None = None) -> torch.Tensor:
        check_floating("h0", h0)
        return super().initial_state(augment(h0, self.augment_dim), m0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, augment_dim={self.augment_dim}"
