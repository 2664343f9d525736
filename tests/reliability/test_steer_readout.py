"""Under STEER a training solve ends at a drawn time, and a Nesterov readout must read
``h = k(t) x`` at that time: STEER was tested with NODE only, whose readout ignores the time, so a
readout at ``t1`` passed the suite."""

import math

import torch
from torch import nn

from adamnode import NesterovNODE, ODEBlock, SolverOptions

EXACT = dict(rtol=1e-9, atol=1e-9)


class Linear(nn.Module):
    """f(t, h) = W h + b."""

    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Linear(width, width)

    def forward(self, t, h):
        return self.net(h)


def test_a_nesterov_readout_under_steer_reads_the_state_at_the_drawn_end():
    torch.manual_seed(0)
    field = NesterovNODE(Linear(3)).double()
    block = ODEBlock(field, t0=1.0, t1=2.0, options=SolverOptions(steer=0.5, **EXACT)).train()
    z0 = field.initial_state(torch.randn(4, 3, dtype=torch.float64))
    z = block(z0)
    end = float(block.end_time)
    assert end != 2.0 and 1.5 <= end <= 2.5
    # The drawn end is where the solve ended: a plain solve to it gives the same state.
    torch.testing.assert_close(z, ODEBlock(field, t0=1.0, t1=end, options=SolverOptions(**EXACT)).eval()(z0))
    # And the readout scales by k(t) = t^(-3/2) e^(t/2) there, not at t1.
    torch.testing.assert_close(block.hidden(z), end ** -1.5 * math.exp(end / 2) * z[:, 0])
