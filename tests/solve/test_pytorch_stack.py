"""The layer inside the PyTorch stack: torch.compile and autocast."""

import pytest
import torch
from torch import nn

from adamnode import AdamNODE, HBNODE, NeuralODE


def model(**settings) -> nn.Module:
    torch.manual_seed(0)
    f = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 8))
    return nn.Sequential(nn.Linear(2, 8), NeuralODE(AdamNODE(f), **settings), nn.Linear(8, 2))


@pytest.mark.parametrize("settings", [dict(method="rk4", step_size=0.5, gradient="direct"),
                                      dict(rtol=1e-3, atol=1e-3)], ids=["rk4-direct", "dopri5-checkpoint"])
def test_a_compiled_model_gives_the_eager_outputs_and_gradients(settings):
    torch._dynamo.reset()
    eager, to_compile = model(**settings), model(**settings)
    compiled = torch.compile(to_compile)
    x = torch.randn(16, 2)
    outputs = []
    for net, weights in ((eager, eager), (compiled, to_compile)):
        out = net(x)
        out.pow(2).sum().backward()
        outputs.append((out.detach(), weights[0].weight.grad.clone()))
    for got, want in zip(outputs[1], outputs[0]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_runs_the_adaptive_solve_with_its_error_control_in_float32(dtype):
    net = model(rtol=1e-3, atol=1e-3)
    x = torch.randn(32, 2)
    reference = net(x)
    with torch.autocast("cpu", dtype=dtype):
        out = net(x)
        out.float().sum().backward()
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), reference, rtol=0.05, atol=0.05)
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()


def test_a_half_state_outside_autocast_is_refused_with_the_reason():
    layer = NeuralODE(HBNODE(nn.Linear(3, 3).half()))
    with pytest.raises(ValueError, match="error norms and first-step estimate overflow in half precision"):
        layer(torch.randn(2, 3).half())
