"""Kinetic and Jacobian penalties (RNODE) and STEER's random end time against closed forms.

The reference problems are those of ``test_block.py``: linear fields ``f = A h`` whose solution is
``expm(t A) h0``, so the penalty integrals have closed forms too.
"""

import math

import pytest
import torch
from torch import nn

from adamnode import NODE, AdamNODE, ODEBlock
from adamnode.models.family import default_interval, field_class

D = 4


def linear(seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return -torch.eye(D, dtype=torch.float64) + 0.5 * torch.randn(D, D, dtype=torch.float64, generator=gen)


def linear_node(A: torch.Tensor) -> NODE:
    return NODE(lambda t, h: h @ A.T).double()


def states(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 1, D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


class MLP(nn.Module):
    def __init__(self, d_in, d_out, width=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in + 1, width), nn.Tanh(), nn.Linear(width, d_out))
        self.calls = 0

    def forward(self, t, h):
        self.calls += 1
        return self.net(torch.cat([h, t.expand(h.shape[0], 1)], dim=1))


def simpson(values: torch.Tensor, h: float) -> torch.Tensor:
    """Composite Simpson's rule over dim 0 (an odd number of equally spaced samples)."""
    weights = torch.ones(len(values), dtype=values.dtype)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    return h / 3 * torch.tensordot(weights, values, dims=1)


@pytest.mark.parametrize("adjoint", [True, False])
def test_kinetic_term_matches_the_closed_form_of_a_linear_node(adjoint):
    """f = A h: dz/dt = A expm(tA) h0, so r_K(1) = mean_i integral_0^1 ||A expm(tA) h0_i||^2 dt."""
    A, z0 = linear(), states(6)
    block = ODEBlock(linear_node(A), rtol=1e-11, atol=1e-11, gradient="adjoint" if adjoint else "direct", seminorm=adjoint,
                     params=(), kinetic=1.0)
    block(z0)
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64)
    velocity = torch.stack([z0[:, 0] @ (A @ torch.linalg.matrix_exp(t * A)).T for t in grid])  # [t, batch, D]
    expected = simpson(velocity.pow(2).sum(-1).mean(-1), 1 / 2000)
    assert block.penalty.dim() == 0
    assert block.penalty.item() == pytest.approx(expected.item(), rel=1e-8)
    # The weight scales it: kinetic * r_K(t1).
    weighted = ODEBlock(linear_node(A), rtol=1e-11, atol=1e-11, gradient="adjoint" if adjoint else "direct", seminorm=adjoint,
                        params=(), kinetic=0.25)
    weighted(z0)
    assert weighted.penalty.item() == pytest.approx(0.25 * expected.item(), rel=1e-8)


def test_jacobian_term_of_a_linear_field_is_the_frobenius_norm_in_expectation():
    """f = A h: J = A everywhere, so r_J(1) = mean_i ||eps_i^T A||^2 with E = ||A||_F^2.

    Per sample ||A^T eps||^2 has variance 2 ||A A^T||_F^2; over 200,000 samples the batch mean must
    lie within 5 of its standard deviations of ||A||_F^2 (0.9 % here).
    """
    A, batch = linear(), 200_000
    torch.manual_seed(0)
    block = ODEBlock(linear_node(A), rtol=1e-6, atol=1e-6, params=(), jacobian=1.0)
    block(states(batch))
    frobenius = A.pow(2).sum().item()
    sigma = math.sqrt(2 * (A @ A.T).pow(2).sum().item() / batch)
    assert 5 * sigma < 0.02 * frobenius
    assert abs(block.penalty.item() - frobenius) < 5 * sigma
    # Another probe draw gives another estimate: the probe is random, not a fixed vector.
    first = block.penalty.item()
    block(states(batch))
    assert block.penalty.item() != first


def test_jacobian_term_of_a_nonlinear_field_matches_the_exact_frobenius_norm():
    """AdamNODE (three components) with an MLP: the mean of r_J over many probes against
    mean_i integral_0^1 ||J(t, z_i(t))||_F^2 dt, with J from torch.autograd.functional.jacobian on
    the solved trajectory. Four distinct samples, each repeated 250 times per solve, 8 solves; the
    estimate must lie within 5 standard errors (from the spread over the solves)."""
    torch.manual_seed(3)
    field = AdamNODE(MLP(D, D)).double()
    h0 = torch.randn(4, D, dtype=torch.float64)
    z0 = field.initial_state(h0, 0.5 * torch.randn(4, D, dtype=torch.float64))
    block = ODEBlock(field, rtol=1e-8, atol=1e-8, jacobian=1.0)
    estimates = []
    for _ in range(8):
        block(z0.repeat(250, 1, 1))
        estimates.append(block.penalty.item())
    estimates = torch.tensor(estimates, dtype=torch.float64)
    block.eval()
    grid = torch.linspace(0, 1, 101, dtype=torch.float64)
    with torch.no_grad():
        path = block(z0, grid)
    squared = torch.zeros(len(grid), dtype=torch.float64)
    for k, t in enumerate(grid):
        for z in path[k]:
            J = torch.autograd.functional.jacobian(lambda y: field(t, y[None])[0], z)
            squared[k] += J.pow(2).sum() / len(z0)
    exact = simpson(squared, 1 / 100).item()
    error = estimates.std().item() / math.sqrt(len(estimates))
    assert error < 0.05 * exact
    assert abs(estimates.mean().item() - exact) < 5 * error


@pytest.mark.parametrize("name, steer", [("node", 0.0), ("hbnode", 0.0), ("adamnode", 0.0), ("nesterovnode", 0.0),
                                         ("hbnode", 0.4)])
def test_gradients_of_loss_plus_penalty_by_adjoint_and_direct_backprop_agree(name, steer):
    torch.manual_seed(0)
    field = field_class(name)(MLP(D, D)).double()
    t0, t1 = default_interval(name)
    gen = torch.Generator().manual_seed(0)
    h0 = torch.randn(3, D, dtype=torch.float64, generator=gen)
    m0 = torch.randn(3, D, dtype=torch.float64, generator=gen) if field.n_components > 1 else None
    z0 = field.initial_state(h0, m0).requires_grad_(True)
    grads, penalties = {}, {}
    for adjoint in (True, False):
        block = ODEBlock(field, t0=t0, t1=t1, rtol=1e-10, atol=1e-10, gradient="adjoint" if adjoint else "direct", seminorm=adjoint,
                         kinetic=0.3, jacobian=0.7, steer=steer)
        field.zero_grad()
        z0.grad = None
        torch.manual_seed(5)  # the same probe (and end time) both ways
        loss = block.hidden(block(z0)).pow(2).sum() + block.penalty
        loss.backward()
        penalties[adjoint] = block.penalty.item()
        grads[adjoint] = [z0.grad.clone()] + [p.grad.clone() for p in field.parameters()]
        assert (block.stats.nfe_backward > 0) == adjoint
    assert penalties[True] == pytest.approx(penalties[False], rel=1e-8) and penalties[True] > 0
    for via_adjoint, direct in zip(grads[True], grads[False]):
        assert direct.norm() > 0
        assert ((via_adjoint - direct).norm() / direct.norm()).item() < 1e-6


def test_the_penalty_enters_the_gradient():
    """d penalty / d theta is not zero, and by finite differences it is what backward gives."""
    torch.manual_seed(0)
    field = NODE(MLP(D, D)).double()
    block = ODEBlock(field, rtol=1e-10, atol=1e-10, kinetic=1.0, jacobian=1.0)
    z0 = states(3)
    weight = field.f.net[0].weight

    def penalty():
        torch.manual_seed(7)
        block(z0)
        return block.penalty

    penalty().backward()
    analytic = weight.grad[0, 0].item()
    with torch.no_grad():
        weight[0, 0] += 1e-5
    plus = penalty().item()
    with torch.no_grad():
        weight[0, 0] -= 2e-5
    minus = penalty().item()
    assert analytic != 0
    assert analytic == pytest.approx((plus - minus) / 2e-5, rel=1e-5)


def grads_and_output(block: ODEBlock, z0: torch.Tensor):
    block.field.zero_grad()
    torch.manual_seed(11)
    out = block(z0)
    (out.pow(2).sum() + block.penalty).backward()
    return out.detach(), [p.grad.clone() for p in block.field.parameters()], block.stats.last()


@pytest.mark.parametrize("adjoint", [True, False])
def test_zero_weights_are_bitwise_the_unregularised_block(adjoint):
    torch.manual_seed(0)
    field = AdamNODE(MLP(D, D)).double()
    z0 = field.initial_state(torch.randn(3, D, dtype=torch.float64), torch.randn(3, D, dtype=torch.float64))
    plain = ODEBlock(field, rtol=1e-6, atol=1e-6, gradient="adjoint" if adjoint else "direct", seminorm=adjoint, warm_start=True)
    zero = ODEBlock(field, rtol=1e-6, atol=1e-6, gradient="adjoint" if adjoint else "direct", seminorm=adjoint, warm_start=True, kinetic=0.0,
                    jacobian=0.0, steer=0.0)
    # Two training steps each (the second one warm-started).
    for _ in range(2):
        out_plain, grads_plain, counts_plain = grads_and_output(plain, z0)
        out_zero, grads_zero, counts_zero = grads_and_output(zero, z0)
        # Nothing drawn (no probe, no end time), nothing integrated: the penalty is a constant 0.
        rng_after = torch.get_rng_state()
        torch.manual_seed(11)
        assert torch.equal(rng_after, torch.get_rng_state())
        assert zero.penalty.item() == 0 and zero.penalty.grad_fn is None and not zero.penalty.requires_grad
        assert torch.equal(out_zero, out_plain)
        assert all(torch.equal(a, b) for a, b in zip(grads_zero, grads_plain))
        assert counts_zero == counts_plain


@pytest.mark.parametrize("mode", ["eval", "no_grad"])
def test_eval_mode_and_no_grad_integrate_no_penalty(mode):
    """A block with weights above 0 does no extra work in eval mode and under no_grad: same output
    bits and evaluations as the unregularised block, penalty 0, no probe drawn."""
    torch.manual_seed(0)
    field = AdamNODE(MLP(D, D)).double()
    z0 = field.initial_state(torch.randn(3, D, dtype=torch.float64), torch.randn(3, D, dtype=torch.float64))
    outputs, counts = [], []
    for weights in ({}, {"kinetic": 0.5, "jacobian": 0.5}):
        block = ODEBlock(field, rtol=1e-6, atol=1e-6, **weights)
        block.train(mode != "eval")
        rng_before = torch.get_rng_state()
        with torch.no_grad() if mode == "no_grad" else torch.enable_grad():
            outputs.append(block(z0).detach())
        assert torch.equal(torch.get_rng_state(), rng_before)
        assert block.penalty.item() == 0 and block.penalty.grad_fn is None
        counts.append(block.stats.last())
    assert torch.equal(outputs[0], outputs[1]) and counts[0] == counts[1]


@pytest.mark.parametrize("adjoint", [True, False])
def test_the_penalty_rides_along_without_changing_the_steps_and_each_augmented_call_is_one_evaluation(adjoint):
    """The error control measures z alone, so a regularised training solve takes the unregularised
    solve's steps (forward; backward with the seminorm) and the same z(t1) to rounding; every
    augmented evaluation is one call of f, counted once."""
    torch.manual_seed(0)
    f = MLP(D, D, width=16)
    field = AdamNODE(f).double()
    z0 = field.initial_state(torch.randn(5, D, dtype=torch.float64), torch.randn(5, D, dtype=torch.float64))
    outputs, counts = [], []
    for weights in ({}, {"kinetic": 1.0, "jacobian": 1.0}):
        block = ODEBlock(field, rtol=1e-7, atol=1e-7, gradient="adjoint" if adjoint else "direct", seminorm=adjoint, warm_start=False, **weights)
        f.calls = 0
        out = block(z0)
        forward_calls = f.calls
        (out.pow(2).sum() + block.penalty).backward()
        stats = block.stats
        assert stats.nfe_forward == forward_calls == 2 + 6 * stats.steps_forward
        assert stats.nfe_backward == f.calls - forward_calls
        outputs.append(out.detach())
        counts.append((stats.nfe_forward, stats.steps_forward, stats.rejected_forward))
    assert counts[0] == counts[1]
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-12, atol=1e-12)


def steer_block(steer: float = 0.5, **kwargs) -> tuple[ODEBlock, float]:
    """h' = a h: z(T) = exp(a T) z0 tells where a solve ended."""
    a = -0.7
    return ODEBlock(NODE(lambda t, h: a * h).double(), t0=0.0, t1=2.0, steer=steer, params=(),
                    **kwargs), a


def test_steer_draws_each_training_end_uniformly_in_range_and_the_solve_ends_there():
    block, a = steer_block(0.5, rtol=1e-9, atol=1e-9)
    z0 = torch.ones(2, 1, 1, dtype=torch.float64)
    torch.manual_seed(0)
    ends = []
    for k in range(400):
        if k == 10:  # the first ten at a tolerance that pins the end down, the rest cheaply
            block, a = steer_block(0.5)
        with torch.no_grad():
            out = block(z0)
        ends.append(block.end_time)
        assert out[0, 0, 0].item() == pytest.approx(math.exp(a * block.end_time), rel=1e-7 if k < 10 else 1e-3)
    ends = torch.tensor(ends, dtype=torch.float64)
    assert bool(((ends >= 1.5) & (ends <= 2.5)).all())
    # Kolmogorov-Smirnov against U[1.5, 2.5]: critical value 1.95 / sqrt(n) at the 0.1 % level.
    u = ((ends - 1.5) / 1.0).sort().values
    n = len(u)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    ks = torch.maximum(i / n - u, u - (i - 1) / n).max().item()
    assert ks < 1.95 / math.sqrt(n)
    # One draw per solve, from torch's global generator: a seeded run draws the same ends again.
    torch.manual_seed(0)
    again = []
    for _ in range(5):
        with torch.no_grad():
            block(z0)
        again.append(block.end_time)
    assert again == ends[:5].tolist()


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_steer_eval_mode_integrates_to_t1(method):
    step = {"step_size": 0.1, "seminorm": False} if method == "rk4" else {"rtol": 1e-9, "atol": 1e-9}
    block, a = steer_block(0.5, method=method, **step)
    z0 = torch.ones(2, 1, 1, dtype=torch.float64)
    block.eval()
    for _ in range(3):
        out = block(z0)
        assert block.end_time == 2.0
        assert out[0, 0, 0].item() == pytest.approx(math.exp(2 * a), rel=1e-5)
    block.train()
    torch.manual_seed(1)
    with torch.no_grad():  # (rk4: the sync-free fixed-step loop)
        out = block(z0)
    assert block.end_time != 2.0 and out[0, 0, 0].item() == pytest.approx(math.exp(a * block.end_time), rel=1e-5)


def test_steer_refuses_trajectories_in_training_and_a_half_width_reaching_t0():
    block, _ = steer_block(0.5)
    z0 = torch.ones(2, 1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="steer=0.5 .* cannot integrate to given times"):
        block(z0, [0.0, 1.0, 2.0])
    block.eval()
    assert block(z0, [0.0, 1.0, 2.0]).shape == (3, 2, 1, 1)
    with pytest.raises(ValueError, match=r"steer must be below t1 - t0 = 2, got 2"):
        steer_block(2.0)
    for name in ("kinetic", "jacobian", "steer"):
        with pytest.raises(ValueError, match=f"{name} must be non-negative, got -0.1"):
            ODEBlock(NODE(MLP(D, D)), **{name: -0.1})
        with pytest.raises(ValueError, match=f"{name} must be finite"):
            ODEBlock(NODE(MLP(D, D)), **{name: math.inf})
