"""Constrained scalars stored unconstrained.

Users give the value they think in (a rate in (0, 1), a positive damping); the module stores its
logit or inverse softplus so that any optimizer step keeps the value valid (in floating point a
logit beyond about +-17 rounds the rate to exactly 0 or 1 in float32; the closed range is what
is guaranteed). Frozen scalars are
buffers, not parameters with ``requires_grad=False``, so optimizers and DDP never see them.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def logit(value: float, name: str) -> float:
    """The unconstrained form of a rate in the open interval (0, 1)."""
    value = finite_float(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")
    return math.log(value) - math.log1p(-value)


def inverse_softplus(value: float, name: str) -> float:
    """The unconstrained form of a strictly positive value."""
    value = finite_float(value, name)
    if not value > 0.0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value + math.log(-math.expm1(-value))


def register_scalar(module: nn.Module, name: str, raw: float, learnable: bool) -> None:
    """Store ``raw`` as a learnable parameter or a constant buffer named ``name``."""
    tensor = torch.tensor(float(raw))
    if learnable:
        module.register_parameter(name, nn.Parameter(tensor))
    else:
        module.register_buffer(name, tensor)


def finite_float(value, name: str) -> float:
    """``value`` as a finite float, or a ValueError naming ``name``."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value
