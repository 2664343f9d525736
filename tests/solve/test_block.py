"""ODEBlock numerics against closed forms and direct backprop; options and input validation."""

import math

import pytest
import torch
from torch import nn

from adamnode import GHBNODE, HBNODE, NODE, AdamNODE, NesterovNODE, ODEBlock
from adamnode.models.family import MODEL_NAMES, augmentation, default_interval, field_class

B, D = 3, 4


class MLP(nn.Module):
    def __init__(self, d_in, d_out, width=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in + 1, width), nn.Tanh(), nn.Linear(width, d_out))

    def forward(self, t, h):
        return self.net(torch.cat([h, t.expand(h.shape[0], 1)], dim=1))


def build(name, dtype=torch.float64):
    kind, options = field_class(name), augmentation(name, 1)
    d_in, d_out = kind.f_features(kind.state_features(D, **options))
    return kind(MLP(d_in, d_out), **options).to(dtype)


def initial(field, dtype=torch.float64, generator_seed=0):
    gen = torch.Generator().manual_seed(generator_seed)
    h0 = torch.randn(B, D, generator=gen, dtype=dtype)
    m0 = torch.randn(B, D, generator=gen, dtype=dtype) if field.n_components > 1 else None
    return field.initial_state(h0, m0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_adjoint_gradients_match_direct_backprop_float64(name):
    torch.manual_seed(0)
    field = build(name)
    t0, t1 = default_interval(name)
    z0 = initial(field).requires_grad_(True)
    target = torch.randn(B, *z0.shape[1:], dtype=torch.float64)
    grads = {}
    for adjoint in (True, False):
        block = ODEBlock(field, t0=t0, t1=t1, rtol=1e-10, atol=1e-10, gradient="adjoint" if adjoint else "direct", seminorm=adjoint)
        field.zero_grad()
        z0.grad = None
        ((block(z0) - target) ** 2).sum().backward()
        grads[adjoint] = [z0.grad.clone()] + [p.grad.clone() for p in field.parameters()]
        assert (block.stats.nfe_backward > 0) == adjoint
    for via_adjoint, direct in zip(grads[True], grads[False]):
        assert direct.norm() > 0
        assert ((via_adjoint - direct).norm() / direct.norm()).item() < 1e-6


def test_linear_hbnode_is_a_damped_oscillator():
    """h' = m, m' = -gamma m + A h has the solution expm(t [[0, I], [A, -gamma I]]) z0."""
    torch.manual_seed(1)
    A = -torch.eye(D, dtype=torch.float64) * 4 + 0.3 * torch.randn(D, D, dtype=torch.float64)
    gamma = 0.3
    field = HBNODE(lambda t, h: h @ A.T, gamma=gamma, learn_gamma=False).double()
    z0 = torch.randn(B, 2, D, dtype=torch.float64)
    times = torch.linspace(0, 3, 7, dtype=torch.float64)
    path = ODEBlock(field, t1=3.0, rtol=1e-10, atol=1e-10, params=())(z0, times)
    M = torch.zeros(2 * D, 2 * D, dtype=torch.float64)
    M[:D, D:] = torch.eye(D)
    M[D:, :D] = A
    M[D:, D:] = -gamma * torch.eye(D)
    for t, z in zip(times, path):
        expected = (torch.linalg.matrix_exp(t * M) @ z0.reshape(B, 2 * D).T).T.reshape(B, 2, D)
        torch.testing.assert_close(z, expected, rtol=1e-7, atol=1e-8)


def test_scalar_hbnode_matches_the_textbook_underdamped_solution():
    k, gamma = 9.0, 0.5
    field = HBNODE(lambda t, h: -k * h, gamma=gamma, learn_gamma=False).double()
    z0 = torch.tensor([[[1.0], [0.0]]], dtype=torch.float64)
    h1 = ODEBlock(field, t1=2.0, rtol=1e-10, atol=1e-10, params=())(z0)[0, 0, 0].item()
    omega = math.sqrt(k - gamma**2 / 4)
    expected = math.exp(-gamma) * (math.cos(2 * omega) + gamma / (2 * omega) * math.sin(2 * omega))
    assert h1 == pytest.approx(expected, rel=1e-8)


class CountingMLP(MLP):
    calls = 0

    def forward(self, t, h):
        self.calls += 1
        return super().forward(t, h)


def test_dopri5_nfe_accounting_forward_backward_and_totals():
    torch.manual_seed(2)
    f = CountingMLP(D, D, width=32)
    block = ODEBlock(AdamNODE(f), rtol=1e-6, atol=1e-6, seminorm=False)
    z0 = initial(block.field, torch.float32)
    out = block(z0)
    forward_calls = f.calls
    assert block.stats.nfe_forward == forward_calls == 2 + 6 * block.stats.steps_forward
    assert block.stats.nfe_backward == 0  # no backward yet
    out.sum().backward()
    assert block.stats.nfe_backward == f.calls - forward_calls > 0
    assert block.stats.steps_backward > 0
    first = block.stats.as_dict()
    with torch.no_grad():
        block(z0)
    assert block.stats.nfe_backward == 0
    assert block.stats.totals().nfe_forward == first["nfe_forward"] + block.stats.nfe_forward
    assert block.stats.totals().nfe_backward == first["nfe_backward"]
    assert block.stats.solves == 2 and all(isinstance(count, int) for count in block.stats.totals())
    block.stats.reset()
    assert block.stats.totals().nfe_forward == 0


def test_direct_backprop_evaluates_nothing_in_backward():
    f = CountingMLP(D, D)
    block = ODEBlock(HBNODE(f), gradient="direct", seminorm=False)
    out = block(initial(block.field, torch.float32))
    calls = f.calls
    out.sum().backward()
    assert f.calls == calls and block.stats.nfe_backward == 0
    assert next(f.parameters()).grad is not None


def test_seminorm_leaves_the_parameter_gradients_out_of_the_adjoint_error_control():
    """``f = p sin(40 t)`` at ``p = 0``: the state and its adjoint stay constant, only the parameter
    gradient ``integral of a * sin(40 t) dt`` oscillates. With the full norm the backward solve must
    resolve that oscillation (55 steps here); the seminorm does not look at it and steps as the
    (trivial) state allows (7 steps). An option that is ignored takes the full norm's steps.
    """

    class Oscillating(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros((), dtype=torch.float64))

        def forward(self, t, h):
            return self.p * torch.sin(40 * t) * torch.ones_like(h)

    steps = {}
    for seminorm in (False, True):
        f = Oscillating()
        block = ODEBlock(NODE(f), rtol=1e-6, atol=1e-6, seminorm=seminorm, warm_start=False, gradient="adjoint")
        block(torch.ones(2, 1, D, dtype=torch.float64)).sum().backward()
        steps[seminorm] = block.stats.steps_backward
        if not seminorm:
            # d/dp of sum(h(1)) = 2 * D * (1 - cos 40) / 40: the full norm resolves the integral.
            assert f.p.grad.item() == pytest.approx(2 * D * (1 - math.cos(40.0)) / 40, rel=1e-4)
    assert 3 * steps[True] < steps[False], steps


@pytest.mark.parametrize("name,seed,tol,t1,saves", [
    ("adamnode", 1, 1e-6, 3.0, True),
    ("hbnode", 3, 1e-6, 10.0, False),
])
def test_seminorm_usually_but_not_always_saves_backward_evaluations(name, seed, tol, t1, saves):
    """Same gradients to tolerance either way; the backward NFE (float64, width 16, cold starts):

    - AdamNODE, seed 1, tol 1e-6, t1 = 3: 92 with the full norm, 68 with the seminorm (fewer);
    - HBNODE, seed 3, tol 1e-6, t1 = 10: 206 with the full norm, 230 with the seminorm (more).

    The seminorm's looser control of the parameter gradients changes the accepted step sequence, so
    its steps are not a subset of the full norm's and the saving is a tendency, not a bound.
    """
    torch.manual_seed(seed)
    field = field_class(name)(MLP(D, D, width=16)).double()
    z0 = initial(field, torch.float64, seed)
    nfe, grads = {}, {}
    for seminorm in (False, True):
        block = ODEBlock(field, t1=t1, rtol=tol, atol=tol, seminorm=seminorm, warm_start=False, gradient="adjoint")
        field.zero_grad()
        block(z0).pow(2).sum().backward()
        nfe[seminorm] = block.stats.nfe_backward
        grads[seminorm] = torch.cat([p.grad.flatten() for p in field.parameters()])
    assert (nfe[True] < nfe[False]) == saves, nfe
    assert ((grads[True] - grads[False]).norm() / grads[False].norm()).item() < 1e-5


def test_adamnode_keeps_v_nonnegative():
    torch.manual_seed(3)
    field = AdamNODE(lambda t, h: torch.sin(7 * t) * h, beta2=0.99, v_activation="identity", learn_betas=False)
    z0 = field.initial_state(torch.randn(B, D, dtype=torch.float64), 1e-3 * torch.randn(B, D, dtype=torch.float64))
    path = ODEBlock(field, t1=5.0, rtol=1e-8, atol=1e-10, params=())(z0, torch.linspace(0, 5, 200, dtype=torch.float64))
    assert path[:, :, 2].min().item() >= 0.0


def test_fixed_step_rk4_counts_four_evaluations_per_step():
    block = ODEBlock(GHBNODE(MLP(D, D)), method="rk4", step_size=0.125, seminorm=False)
    out = block(initial(block.field, torch.float32))
    assert block.stats.steps_forward == 8 and block.stats.nfe_forward == 32
    out.sum().backward()
    assert block.stats.nfe_backward > 0


def test_trajectory_and_no_grad():
    field = NODE(MLP(D, D)).double()
    z0 = initial(field)
    block = ODEBlock(field, rtol=1e-9, atol=1e-9)
    path = block(z0, [0.0, 0.25, 1.0])
    assert path.shape == (3, *z0.shape)
    torch.testing.assert_close(path[0], z0)
    with torch.no_grad():
        end = block(z0)
    assert not end.requires_grad
    torch.testing.assert_close(path[-1], end, rtol=1e-7, atol=1e-8)


def test_float32_and_hidden_readout_for_nesterov():
    field = NesterovNODE(MLP(D, D))
    block = ODEBlock(field, t0=1.0, t1=2.0)
    z1 = block(initial(field, torch.float32))
    assert z1.dtype == torch.float32
    torch.testing.assert_close(block.hidden(z1), 2.0**-1.5 * math.exp(1.0) * z1[:, 0])


@pytest.mark.parametrize("kwargs,match", [
    (dict(rtol=-1e-3), r"rtol must lie in \[1e-12, 1\]"),
    (dict(atol=0.0), r"atol must lie in \[1e-12, 1\]"),
    (dict(rtol=1e300), r"rtol must lie in \[1e-12, 1\], got 1e\+300: .* above it the error control accepts any step"),
    (dict(rtol=1e-300), r"rtol must lie in .* below it no floating-point solve can meet the tolerance"),
    (dict(gradient="adjoints"), "unknown gradient 'adjoints'; choose one of"),
    (dict(checkpoint_every=0), "checkpoint_every must be a positive int"),
    (dict(adjoint=True), "adjoint= is gone: say gradient='adjoint'"),
    (dict(adjoint_params=()), "adjoint_params= is now params="),
    (dict(rtool=1e-3), "unknown solver setting rtool; the settings are method, rtol"),
    (dict(method="rk45"), "unknown method"),
    (dict(method="rk4"), "needs a positive step_size"),
    (dict(method="rk4", step_size=0.1, gradient="adjoint"), "seminorm applies to adaptive"),
    (dict(step_size=0.1), "step_size is for fixed-step"),
    (dict(t0=1.0, t1=1.0), "t1 must be greater"),
    (dict(step_budget=0), "step_budget"),
])
def test_invalid_options_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ODEBlock(HBNODE(MLP(D, D)), **kwargs)


def test_nesterov_refuses_t0_at_or_below_zero():
    with pytest.raises(ValueError, match="t0 > 0"):
        ODEBlock(NesterovNODE(MLP(D, D)), t0=0.0, t1=1.0)
    block = ODEBlock(NesterovNODE(MLP(D, D)), t0=1.0, t1=2.0)
    with pytest.raises(ValueError, match="start above 0"):
        block(initial(block.field, torch.float32), [0.0, 2.0])


def test_bad_inputs_are_value_errors():
    block = ODEBlock(AdamNODE(MLP(D, D)))
    with pytest.raises(ValueError, match=r"\[batch, 3, \*features\]"):
        block(torch.randn(B, 2, D))
    with pytest.raises(ValueError, match="floating"):
        block(torch.ones(B, 3, D, dtype=torch.int32))
    with pytest.raises(ValueError, match="NaN or Inf"):
        block(torch.full((B, 3, D), float("inf")))
    with pytest.raises(ValueError, match="VectorField"):
        ODEBlock(MLP(D, D))


@pytest.mark.parametrize("method,step", [("euler", 0.1), ("midpoint", 0.3), ("rk4", 0.125), ("rk4", 0.3)])
def test_sync_free_fixed_step_path_matches_torchdiffeq(method, step):
    from torchdiffeq import odeint

    torch.manual_seed(4)
    field = AdamNODE(MLP(D, D)).double()
    z0 = initial(field)
    block = ODEBlock(field, method=method, step_size=step, gradient="direct", seminorm=False)
    ours = block(z0)
    reference = odeint(field, z0, torch.tensor([0.0, 1.0], dtype=torch.float64), method=method,
                       options={"step_size": step})[-1]
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    n_steps = math.ceil(1.0 / step - 1e-9)
    assert block.stats.steps_forward == n_steps
    assert block.stats.nfe_forward == n_steps * {"euler": 1, "midpoint": 2, "rk4": 4}[method]


def test_solves_never_evaluate_outside_the_interval():
    seen = []

    class Recording(MLP):
        def forward(self, t, h):
            seen.append(float(t.detach()))
            return super().forward(t, h)

    torch.manual_seed(5)
    block = ODEBlock(NesterovNODE(Recording(D, D, width=32)), t0=0.5, t1=1.5, rtol=1e-3, atol=1e-3)
    block(initial(block.field, torch.float32)).pow(2).sum().backward()
    assert block.stats.nfe_backward > 0
    assert 0.5 <= min(seen) and max(seen) <= 1.5


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_plain_callable_f_needs_its_tensors_named_for_the_adjoint_and_checkpoint(gradient):
    torch.manual_seed(6)
    lin = nn.Linear(D, D).double()
    field = HBNODE(lambda t, h: torch.tanh(lin(h)))
    with pytest.raises(ValueError, match=r"pass params=\[\.\.\.\]"):
        ODEBlock(field, gradient=gradient)
    z0 = initial(field)
    grads = []
    for block in (ODEBlock(field, rtol=1e-10, atol=1e-10, params=list(lin.parameters()), gradient=gradient),
                  ODEBlock(field, rtol=1e-10, atol=1e-10, gradient="direct", seminorm=False)):
        lin.zero_grad()
        block(z0).pow(2).sum().backward()
        grads.append(lin.weight.grad.clone())
    assert ((grads[0] - grads[1]).norm() / grads[1].norm()).item() < 1e-6


def test_fixed_step_count_is_bounded_by_step_budget():
    with pytest.raises(ValueError, match="step_budget"):
        ODEBlock(HBNODE(MLP(D, D)), method="rk4", step_size=1e-3, seminorm=False, step_budget=100)


def test_each_data_parallel_replica_integrates_its_own_field():
    import copy

    block = ODEBlock(HBNODE(MLP(D, D)).double())
    replica = copy.copy(block)  # what nn.DataParallel's replicate does to __dict__
    replica._modules = {**block._modules, "field": HBNODE(MLP(D, D)).double()}
    z0 = initial(block.field)
    assert not torch.allclose(block(z0), replica(z0))


@pytest.mark.parametrize("t0", [0.0, 0.1], ids=["t0-exact", "t0-rounded"])
def test_a_second_solve_on_the_same_device_and_dtype_makes_no_tensor_of_its_interval(t0, monkeypatch):
    """The block's interval (and t0's tensor) are made once per device and dtype, not in every solve."""
    block = ODEBlock(AdamNODE(MLP(D, D)), t0=t0, method="rk4", step_size=0.25)
    z0 = initial(block.field, torch.float32)
    block(z0)
    made, make = [], torch.tensor

    def counted(*args, **kwargs):
        made.append(args)
        return make(*args, **kwargs)

    monkeypatch.setattr(torch, "tensor", counted)
    block(z0).sum().backward()
    assert made == []


def test_a_block_moved_to_another_dtype_solves_over_that_dtypes_rounding_of_its_interval():
    block = ODEBlock(AdamNODE(MLP(D, D)), t1=0.1)
    assert torch.tensor(0.1, dtype=torch.float32).item() != 0.1
    for dtype in (torch.float32, torch.float64, torch.float32):
        block.to(dtype)
        block(initial(block.field, dtype))
        assert block.end_time == torch.tensor(0.1, dtype=dtype).item()


def test_a_drawn_end_is_not_kept_for_the_solves_to_t1():
    torch.manual_seed(7)
    block = ODEBlock(AdamNODE(MLP(D, D)))
    z0 = initial(block.field, torch.float32)
    block(z0)
    steered = block.with_options(steer=0.5)
    for _ in range(2):
        steered(z0)
        assert steered.end_time != 1.0 and 0.5 <= steered.end_time <= 1.5
        block(z0, options={"steer": 0.5})
        assert block.end_time != 1.0
        block(z0)
        assert block.end_time == 1.0
    steered.eval()
    steered(z0)
    assert steered.end_time == 1.0
