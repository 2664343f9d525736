"""``ODEModel``: encoder -> ODEBlock -> readout, the shape every task's model takes."""

from __future__ import annotations

import torch
from torch import nn

from ..solve import ODEBlock


class ODEModel(nn.Module):
    """``x -> (h0, m0) -> z0 -> z(t1) -> h(t1) -> readout``.

    ``encoder(x)`` returns ``(h0, m0)`` (``m0`` is ``None`` for first-order models); the block's field
    builds the full initial state from them (AdamNODE: ``v0 = m0**2``; ANODE: zero padding).
    The readout sees the hidden state ``h`` only.
    """

    def __init__(self, encoder: nn.Module, block: ODEBlock, readout: nn.Module):
        super().__init__()
        self.encoder, self.block, self.readout = encoder, block, readout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h0, m0 = self.encoder(x)
        z1 = self.block(self.block.initial_state(h0, m0))
        return self.readout(self.block.hidden(z1))
