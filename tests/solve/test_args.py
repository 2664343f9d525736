"""The ``args`` channel: what the block is called with reaches ``f``, and gradients reach ``args``."""

import pytest
import torch
from torch import nn

from adamnode import NODE, AdamNODE, HBNODE, ODEBlock
from adamnode.nets.driven import DrivenNet, InputSignal

B, D = 3, 4


def test_a_constant_drive_integrates_to_its_closed_form_and_gradient():
    """h' = a: h(1) = h0 + a, so d sum(h(1)) / da = 1 and / dh0 = 1, under either backprop."""
    field = NODE(lambda t, h, a: a.expand_as(h))
    h0 = torch.randn(B, 1, D, dtype=torch.float64)
    for adjoint in (True, False):
        a = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
        z0 = h0.clone().requires_grad_(True)
        block = ODEBlock(field, gradient="adjoint" if adjoint else "direct", params=(), rtol=1e-10, atol=1e-10)
        z1 = block(z0, args=a)
        torch.testing.assert_close(z1[:, 0], h0[:, 0] + a.detach())
        z1.sum().backward()
        torch.testing.assert_close(a.grad, torch.ones_like(a))
        torch.testing.assert_close(z0.grad, torch.ones_like(z0))


class Driven(nn.Module):
    """f(t, h, (u, scale)) = scale * tanh(W [h, u])."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2 * D, D)

    def forward(self, t, h, args):
        u, scale = args
        return scale * torch.tanh(self.linear(torch.cat([h, u], dim=1)))


@pytest.mark.parametrize("field_class", [HBNODE, AdamNODE])
def test_gradients_with_respect_to_args_agree_under_adjoint_and_direct_backprop(field_class):
    torch.manual_seed(0)
    field = field_class(Driven()).double()
    h0, m0 = torch.randn(B, D, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64)
    u = torch.randn(B, D, dtype=torch.float64)
    grads = []
    for adjoint in (True, False):
        field.zero_grad()
        drive = u.clone().requires_grad_(True)
        scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        block = ODEBlock(field, rtol=1e-10, atol=1e-10, gradient="adjoint" if adjoint else "direct", warm_start=False)
        block(block.initial_state(h0, m0), args=(drive, scale)).pow(2).sum().backward()
        grads.append([drive.grad, scale.grad, *(p.grad for p in field.parameters())])
    for adjoint_grad, direct_grad in zip(*grads):
        assert adjoint_grad is not None and direct_grad is not None
        torch.testing.assert_close(adjoint_grad, direct_grad, rtol=1e-7, atol=1e-9)


def test_args_reach_f_on_every_path_and_f_without_args_is_called_with_two():
    seen = []

    def f(t, h, *args):
        seen.append(len(args))
        return -h

    field = NODE(f)
    z0 = torch.ones(2, 1, 3)
    ODEBlock(field, params=())(z0, args="anything")
    ODEBlock(field, gradient="direct", method="rk4", step_size=0.5, seminorm=False)(z0, args=7)
    ODEBlock(field, params=())(z0, torch.tensor([0.0, 0.5, 1.0]), args=[1])
    assert set(seen) == {1}
    seen.clear()
    ODEBlock(field, params=())(z0)
    assert set(seen) == {0}


def test_an_input_signal_drives_the_field_through_args():
    """u(t) = t sampled at 0, 1, 2 and interpolated: h' = u(t) gives h(2) = h0 + 2."""
    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[0.0, 1.0]]))
    field = NODE(DrivenNet(net)).double()
    signal = InputSignal.of(torch.tensor([[[0.0], [1.0], [2.0]]], dtype=torch.float64), start=0.0)
    z1 = ODEBlock(field, t1=2.0, rtol=1e-10, atol=1e-10)(torch.zeros(1, 1, 1, dtype=torch.float64), args=signal)
    assert z1.item() == pytest.approx(2.0, abs=1e-9)
