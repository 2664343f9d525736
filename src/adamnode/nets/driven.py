"""Vector fields driven by a recorded input ``u(t)``, and the sequence model built on them.

The input travels through the solve as ``args`` (``ODEBlock.forward(z0, times, args=signal)``):
an ``InputSignal`` holds the sampled input of the current batch and answers ``u(t)`` at any time
the solver asks for, by linear interpolation between the samples. It is a value made per batch,
not state beside the solver, so model replicas never share it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..solve import ODEBlock


class InputSignal(NamedTuple):
    """Samples ``u[batch, n, channels]`` taken at the times ``start + k`` (``k = 0..n-1``).

    ``signal(t)`` is ``u`` linearly interpolated at ``t``, shape ``[batch, channels]``. Outside the
    sampled span it holds the end value: an adaptive step may overshoot the last requested time,
    and the solution up to that time does not depend on ``u`` beyond it. A tuple, so the block's
    adjoint finds ``samples`` if they need gradients.
    """

    samples: torch.Tensor
    start: float = 0.0

    @classmethod
    def of(cls, samples: torch.Tensor, start: float = 0.0) -> "InputSignal":
        """A checked signal."""
        if samples.dim() != 3 or samples.shape[1] < 2:
            raise ValueError(f"input samples must have shape [batch, n >= 2, channels], got {tuple(samples.shape)}")
        return cls(samples, float(start))

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        last = self.samples.shape[1] - 1
        position = (torch.as_tensor(t, dtype=self.samples.dtype) - self.start).clamp(0, last)
        # A tensor index keeps the lookup on the device (no host sync per evaluation).
        left = position.floor().long().clamp(max=last - 1)
        weight = position - left
        return torch.lerp(self.samples[:, left], self.samples[:, left + 1], weight)


class DrivenNet(nn.Module):
    """``f(t, h, signal) = net([h, signal(t)])``: a network that sees the state and the input at ``t``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, t: torch.Tensor, h: torch.Tensor, signal: InputSignal) -> torch.Tensor:
        u = signal(t).to(h.dtype)
        return self.net(torch.cat([h, u.expand(h.shape[0], -1)], dim=1))


class DrivenSequenceModel(nn.Module):
    """Predict an output sequence from the input sequence, after a short look at the past.

    Input ``x[batch, past + horizon, 2]`` holds (u, y) per sample; only the first ``past`` outputs
    are read. ``encoder`` maps the flattened past ``(u, y)`` to ``(h0, m0)`` at the last past sample;
    the block then integrates the driven field one time unit per sample across the horizon
    (starting at the block's ``t0``: Nesterov models need ``t0 > 0``), and ``readout`` maps the
    hidden state at each later sample to the predicted output. Returns ``[batch, horizon]``.
    """

    def __init__(self, encoder: nn.Module, block: ODEBlock, readout: nn.Module, past: int):
        super().__init__()
        self.encoder, self.block, self.readout = encoder, block, readout
        self.past = past

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        horizon = x.shape[1] - self.past
        h0, m0 = self.encoder(x[:, : self.past].flatten(1))
        t0 = self.block.t0
        signal = InputSignal.of(x[:, self.past - 1 :, :1], start=t0)
        times = t0 + torch.arange(horizon + 1, device=x.device, dtype=x.dtype)
        path = self.block(self.block.initial_state(h0, m0), times, args=signal)
        hidden = torch.stack([self.block.field.hidden(path[k], times[k]) for k in range(1, horizon + 1)], dim=1)
        return self.readout(hidden).squeeze(-1)


class PastEncoder(nn.Module):
    """Linear maps from the flattened past to ``h0`` and (for momentum models) ``m0``."""

    def __init__(self, past_features: int, hidden: int, momentum: bool):
        super().__init__()
        self.h0 = nn.Linear(past_features, hidden)
        self.m0 = nn.Linear(past_features, hidden) if momentum else None

    def forward(self, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.h0(past), (self.m0(past) if self.m0 is not None else None)
