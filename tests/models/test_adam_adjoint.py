"""The adjoint system of AdamNODE derived in docs/theory/adjoint.md, checked against autograd.

The adjoint is written out from the derivation's formulas with a hand-coded MLP (its Jacobian and
parameter derivatives by hand, no autograd), integrated backward with fixed-step RK4, and compared
with autograd's backprop through a fine fixed-step RK4 solve of the library's AdamNODE. Both are
O(dt^4) approximations of the same exact gradient, so they agree far below the tolerance unless a
term of the derivation is wrong.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adamnode import AdamNODE
from reference import rk4

B, D, HIDDEN, STEPS, T1 = 2, 3, 5, 100, 1.0
EPS = 1e-2  # large enough that the eps in (sqrt(s) + eps)**2 matters at 1e-6

S = {  # s(v) and s'(v)
    "softplus": (nn.functional.softplus, torch.sigmoid),
    "sigmoid": (torch.sigmoid, lambda v: torch.sigmoid(v) * (1 - torch.sigmoid(v))),
    "identity": (lambda v: v, torch.ones_like),
}


class MLP(nn.Module):
    """f(t, h) = W2 tanh(W1 h + b1 + t c) + b2."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(D, HIDDEN)
        self.c = nn.Parameter(torch.randn(HIDDEN))
        self.outer = nn.Linear(HIDDEN, D)

    def forward(self, t, h):
        return self.outer(torch.tanh(self.inner(h) + t * self.c))


def adjoint_gradients(mlp: MLP, beta1: float, beta2: float, v_activation: str, z1, a1):
    """(dL/dz0, dL/dtheta) from the adjoint ODE of docs/theory/adjoint.md, integrated from t1 back to 0.

    theta = (W1, b1, c, W2, b2, beta1 logit, beta2 logit); a1 = dL/dz(t1).
    """
    s, ds = S[v_activation]
    W1, b1, c = mlp.inner.weight.detach(), mlp.inner.bias.detach(), mlp.c.detach()
    W2, b2 = mlp.outer.weight.detach(), mlp.outer.bias.detach()
    shapes = [W1.shape, b1.shape, c.shape, W2.shape, b2.shape, (), ()]
    sizes = [int(torch.Size(shape).numel()) for shape in shapes]

    def augmented(t, y):
        z, a = y[: 3 * B * D].view(B, 3, D), y[3 * B * D: 6 * B * D].view(B, 3, D)
        h, m, v = z.unbind(1)
        a_h, a_m, a_v = a.unbind(1)
        u = h @ W1.T + b1 + t * c
        tanh_u = torch.tanh(u)
        f = tanh_u @ W2.T + b2
        slope = 1 - tanh_u ** 2

        def J_T(w):  # (df/dh)^T w, per sample
            return (slope * (w @ W2)) @ W1

        root = s(v).sqrt()
        denominator = root + EPS
        dz = torch.stack([-m / denominator, beta1 * (-f - m), beta2 * (f * f - v)], dim=1)
        # a' = -(dF/dz)^T a, block by block.
        da_h = beta1 * J_T(a_m) - 2 * beta2 * J_T(f * a_v)
        da_m = a_h / denominator + beta1 * a_m
        da_v = -(m * ds(v) / (2 * root * denominator ** 2)) * a_h + beta2 * a_v
        # g' = -a^T dF/dtheta: f's parameters see w = -beta1 a_m + 2 beta2 f a_v through df/dtheta.
        w = -beta1 * a_m + 2 * beta2 * f * a_v
        back = slope * (w @ W2)  # w pulled back to the pre-activation u
        dtheta = [back.T @ h, back.sum(0), t * back.sum(0), w.T @ tanh_u, w.sum(0),
                  (a_m * (-f - m)).sum() * beta1 * (1 - beta1), (a_v * (f * f - v)).sum() * beta2 * (1 - beta2)]
        da = torch.stack([da_h, da_m, da_v], dim=1)
        return torch.cat([dz.reshape(-1), da.reshape(-1)] + [-g.reshape(-1) for g in dtheta])

    y1 = torch.cat([z1.reshape(-1), a1.reshape(-1), torch.zeros(sum(sizes))])
    y0 = rk4(augmented, y1, T1, 0.0, STEPS)
    a0 = y0[3 * B * D: 6 * B * D].view(B, 3, D)
    grads = y0[6 * B * D:].split(sizes)
    return a0, [g.view(shape) for g, shape in zip(grads, shapes)]


@pytest.mark.parametrize("v_activation", sorted(S))
def test_the_derived_adjoint_gives_autograds_gradients(v_activation):
    generator = torch.Generator().manual_seed(3)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        mlp = MLP().double()
    field = AdamNODE(mlp, beta1=0.3, beta2=0.6, eps=EPS, v_activation=v_activation).double()
    h0, m0 = torch.randn(2, B, D, generator=generator, dtype=torch.float64)
    # v0 = m0**2 as the model's initial_state sets it; plus a margin keeping s(v) off 0 for the identity.
    z0 = torch.stack([h0, m0, m0 * m0 + 0.1], dim=1).requires_grad_()
    weights = torch.randn(B, 3, D, generator=generator, dtype=torch.float64)

    z1 = rk4(field, z0, 0.0, T1, STEPS)
    loss = (weights * z1).sum() + 0.5 * (z1[:, 0] ** 2).sum()
    parameters = [mlp.inner.weight, mlp.inner.bias, mlp.c, mlp.outer.weight, mlp.outer.bias,
                  field.beta1_logit, field.beta2_logit]
    expected = torch.autograd.grad(loss, [z0, *parameters])

    a1 = weights + torch.stack([z1[:, 0], torch.zeros_like(z1[:, 0]), torch.zeros_like(z1[:, 0])], dim=1)
    a0, grads = adjoint_gradients(mlp, field.beta1.item(), field.beta2.item(), v_activation, z1.detach(), a1.detach())

    names = ["dL/dz0", "W1", "b1", "c", "W2", "b2", "beta1 logit", "beta2 logit"]
    for name, got, want in zip(names, [a0, *grads], expected):
        error = ((got - want).norm() / want.norm()).item()
        assert error < 1e-6, f"{name}: relative error {error:.2e}"
