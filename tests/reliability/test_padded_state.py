"""ODERNN with padded sequences: the state ``scan`` returns for a padded sample (the state a
forecast continues) is the state its unpadded run ends in. Outputs alone cannot show it, as a
padded step's output is 0 whatever the state: integrating a padded sample over the negative gap
back to its padding's time 0, or feeding the padded zeros to the cell, passed a test of outputs."""

import torch
from torch import nn

from adamnode import HBNODE, ODERNN, SolverOptions


class MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, 8), nn.Tanh(), nn.Linear(8, width))

    def forward(self, t, h):
        return self.net(h)


def test_a_padded_samples_final_state_is_its_unpadded_runs():
    torch.manual_seed(0)
    rnn = ODERNN(HBNODE(MLP(3)), 2, 3, nn.Linear(3, 2), options=SolverOptions(rtol=1e-10, atol=1e-10)).double()
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    times = torch.cumsum(0.2 + torch.rand(2, 5, dtype=torch.float64), dim=1)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    padded_x, padded_times = x.clone(), times.clone()
    padded_x[1, 3:], padded_times[1, 3:] = 0.0, 0.0  # padding as a data loader writes it
    _, state = rnn.scan(padded_x, padded_times, mask)
    _, alone = rnn.scan(x[1:, :3], times[1:, :3])
    torch.testing.assert_close(state[1:], alone)
    _, first = rnn.scan(x[:1], times[:1])
    torch.testing.assert_close(state[:1], first)
