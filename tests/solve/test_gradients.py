"""Gradient strategies: ``checkpoint`` replays exactly what ``direct`` differentiates, in less memory."""

import math

import pytest
import torch
from torch import nn
from torchdiffeq import odeint

from adamnode import ODEBlock
from adamnode.models.family import FIELDS, default_interval, field_class
from adamnode.solve.options import ADAPTIVE_METHODS, FIXED_STEP_METHODS
from ranks import run_two_ranks

D = 3


class MLP(nn.Module):
    def __init__(self, features_in: int, features_out: int, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features_in, width), nn.Tanh(), nn.Linear(width, features_out))

    def forward(self, t, h):
        return self.net(h) * torch.cos(t)


def field(name: str, seed: int = 0):
    torch.manual_seed(seed)
    options = {"augment_dim": 2} if name == "anode" else {}
    features = field_class(name).state_features(D, **options)
    return field_class(name)(MLP(*field_class(name).f_features(features)), **options).double(), features


def problem(name: str):
    """(field, t0, t1, z0) of model ``name`` on its default interval."""
    vector_field, features = field(name)
    return (vector_field, *default_interval(name), state(vector_field, features))


def state(vector_field, features: int, batch: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    h0 = torch.randn(batch, D, dtype=torch.float64, generator=g)
    m0 = torch.randn(batch, features, dtype=torch.float64, generator=g) if vector_field.takes_momentum() else None
    return vector_field.initial_state(h0, m0).detach().requires_grad_(True)


def gradients(block: ODEBlock, z0: torch.Tensor, times=None, args=None):
    """(output, d loss / d z0, d loss / d parameters, d loss / d args) of a fixed quadratic loss."""
    block.zero_grad()
    out = block(z0, times, args=args)
    loss = (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)).pow(2).sum() + block.penalty
    inputs = [z0, *block.parameters()] + ([args] if args is not None else [])
    return [out.detach(), *torch.autograd.grad(loss, inputs, allow_unused=True)]


def assert_same(a, b, rtol=1e-10):
    for x, y in zip(a, b):
        if y is None:
            assert x is None
            continue
        torch.testing.assert_close(x, y, rtol=rtol, atol=1e-12)


def settings(method: str) -> dict:
    return {"method": method, "step_size": 0.125} if method in FIXED_STEP_METHODS else {"method": method,
                                                                                       "rtol": 1e-6, "atol": 1e-6}


@pytest.mark.parametrize("name", sorted(FIELDS))
@pytest.mark.parametrize("method", ADAPTIVE_METHODS + FIXED_STEP_METHODS)
def test_checkpoint_equals_direct_for_every_model_and_method(name, method):
    vector_field, t0, t1, z0 = problem(name)
    results = {}
    for gradient in ("direct", "checkpoint"):
        block = ODEBlock(vector_field, t0, t1 + 1.0, gradient=gradient, **settings(method))
        results[gradient] = gradients(block, z0)
        if gradient == "checkpoint":
            replayed = block.stats.last()
            assert replayed.nfe_backward > 0 and replayed.steps_backward == replayed.steps_forward - replayed.rejected_forward
    assert_same(results["checkpoint"], results["direct"])


@pytest.mark.parametrize("every", [1, 2, 5, None])
@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_checkpoint_on_a_time_grid_with_args_matches_direct_whatever_its_segments(every, method):
    class Driven(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = MLP(D, D)

        def forward(self, t, h, drive):
            return self.mlp(t, h) + drive * torch.sin(3 * t)

    torch.manual_seed(3)
    vector_field = field_class("adamnode")(Driven()).double()
    z0 = state(vector_field, D)
    drive = torch.randn(4, D, dtype=torch.float64, requires_grad=True)
    times = torch.linspace(0, 2, 6, dtype=torch.float64)
    direct = gradients(ODEBlock(vector_field, gradient="direct", **settings(method)), z0, times, drive)
    block = ODEBlock(vector_field, gradient="checkpoint", checkpoint_every=every, **settings(method))
    assert_same(gradients(block, z0, times, drive), direct)
    assert all(g is not None and g.abs().sum() > 0 for g in direct[1:])


@pytest.mark.parametrize("changes", [dict(kinetic=0.3), dict(jacobian=0.2), dict(kinetic=0.1, jacobian=0.1),
                                     dict(steer=0.4)], ids=["kinetic", "jacobian", "both", "steer"])
@pytest.mark.parametrize("name", ["nesterovnode", "adamnode", "hbnode"])
def test_checkpoint_matches_direct_with_the_penalties_and_steer(name, changes):
    vector_field, t0, t1, z0 = problem(name)
    results = {}
    for gradient in ("direct", "checkpoint"):
        block = ODEBlock(vector_field, t0, t1, gradient=gradient, rtol=1e-6, atol=1e-6, **changes).train()
        torch.manual_seed(11)  # the same probe and the same drawn end on both paths
        results[gradient] = gradients(block, z0)
        if "steer" not in changes:
            assert block.penalty.requires_grad
    assert_same(results["checkpoint"], results["direct"])


def saved_bytes(block: ODEBlock, z0: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves in the forward pass of a training step."""
    total = 0

    def pack(x):
        nonlocal total
        total += x.numel() * x.element_size()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        out = block(z0)
    out.pow(2).sum().backward()
    return total


def test_checkpoint_saves_far_less_than_direct_and_its_memory_grows_like_the_root_of_the_steps():
    vector_field, _ = field("hbnode")
    vector_field.f = MLP(D, D, width=128).double()
    z0 = state(vector_field, D, batch=32)
    rows = []
    for tol in (1e-3, 1e-9):
        row = {}
        for gradient, every in (("direct", None), ("checkpoint", 1), ("checkpoint", None)):
            block = ODEBlock(vector_field, t1=10.0, rtol=tol, atol=tol, gradient=gradient, checkpoint_every=every)
            row[gradient, every] = saved_bytes(block, z0)
            row["steps"] = block.stats.steps_forward
        rows.append(row)
    loose, tight = rows
    growth = tight["steps"] / loose["steps"]
    assert growth > 5, rows
    # direct keeps every stage's activations: linear in the steps, and 100x checkpoint's at tight tolerance
    assert tight["direct", None] / loose["direct", None] > 0.7 * growth
    assert tight["direct", None] > 100 * tight["checkpoint", 1]
    # one state and stage per step; the default keeps about sqrt(steps) of them
    assert tight["checkpoint", 1] / loose["checkpoint", 1] > 0.7 * growth
    assert tight["checkpoint", None] / loose["checkpoint", None] < 2 * math.sqrt(growth)


@pytest.mark.parametrize("method", ADAPTIVE_METHODS)
def test_the_core_agrees_with_torchdiffeq_at_tight_tolerance(method):
    vector_field, _ = field("hbnode")
    z0 = state(vector_field, D).detach()
    times = torch.tensor([0.0, 0.7, 2.0], dtype=torch.float64)
    ours = ODEBlock(vector_field, rtol=1e-10, atol=1e-10, method=method, gradient="direct",
                    step_budget=100_000)(z0, times)
    theirs = odeint(vector_field, z0, times, rtol=1e-10, atol=1e-10, method=method)
    # Both meet 1e-10 per step; their global errors (and torchdiffeq's interpolation at 0.7) differ below 1e-5.
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", FIXED_STEP_METHODS)
def test_fixed_steps_are_torchdiffeqs_to_rounding(method):
    vector_field, _ = field("adamnode")
    z0 = state(vector_field, D).detach()
    block = ODEBlock(vector_field, method=method, step_size=0.1, gradient="direct")
    ours = block(z0)
    theirs = odeint(vector_field, z0, torch.tensor([0.0, 1.0], dtype=torch.float64), method=method,
                    options={"step_size": 0.1})[-1]
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert block.stats.steps_forward == 10


def test_dopri5_takes_torchdiffeqs_steps_from_the_same_start():
    vector_field, _ = field("nesterovnode")
    z0 = state(vector_field, D).detach()
    block = ODEBlock(vector_field, 1.0, 3.0, rtol=1e-7, atol=1e-7, gradient="direct")
    ours = block(z0)
    accepted = []

    class Counting(nn.Module):
        def __init__(self):
            super().__init__()
            self.field = vector_field

        def forward(self, t, z):
            return self.field(t, z)

        def callback_accept_step(self, t0, y0, dt):
            accepted.append(float(dt))

    t = torch.tensor([1.0, 3.0], dtype=torch.float64)
    theirs = odeint(Counting(), z0, t, rtol=1e-7, atol=1e-7, options={"step_t": t[-1:]})[-1]
    # The same steps; sizes differ in the last digits (torchdiffeq's controller runs on tensors).
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-12)
    assert block.stats.steps_forward - block.stats.rejected_forward == len(accepted)


@pytest.mark.parametrize("gradient", ["checkpoint", "adjoint"])
def test_double_backward_is_refused_where_it_would_be_partial(gradient):
    vector_field, _ = field("hbnode")
    z0 = state(vector_field, D)
    out = ODEBlock(vector_field, gradient=gradient)(z0)
    (grad,) = torch.autograd.grad(out.pow(2).sum(), z0)  # first order is fine
    assert grad.abs().sum() > 0
    out = ODEBlock(vector_field, gradient=gradient)(z0)
    with pytest.raises(RuntimeError, match=f"second derivatives through gradient='{gradient}' are not computed"):
        torch.autograd.grad(out.pow(2).sum(), z0, create_graph=True)


@pytest.mark.parametrize("gradient", ["checkpoint", "adjoint"])
def test_functional_call_gets_the_gradients_of_the_tensors_it_passes(gradient):
    vector_field, _ = field("hbnode")
    z0 = state(vector_field, D).detach()
    block = ODEBlock(vector_field, rtol=1e-8, atol=1e-8, gradient=gradient, seminorm=False)
    params = {name: p.detach().clone().requires_grad_(True) for name, p in block.named_parameters()}
    out = torch.func.functional_call(block, params, (z0,))
    grads = torch.autograd.grad(out.pow(2).sum(), list(params.values()))
    reference = ODEBlock(vector_field, rtol=1e-8, atol=1e-8, gradient="direct")
    expected = torch.autograd.grad(reference(z0).pow(2).sum(), list(reference.parameters()))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-9)


class DDPModel(nn.Module):
    def __init__(self, gradient: str):
        super().__init__()
        vector_field, _ = field("adamnode", seed=5)
        self.block = ODEBlock(vector_field, rtol=1e-7, atol=1e-7, gradient=gradient)

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        return self.block(z0)


def checkpoint_under_ddp(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        model = DDPModel("checkpoint")
        network = nn.parallel.DistributedDataParallel(model)
        vector_field = model.block.field
        z0 = state(vector_field, D, batch=3) * (1 + rank)
        network(z0.detach()).pow(2).sum().backward()
        torch.save([p.grad for p in model.parameters()], f"{out}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_checkpoint_under_two_gloo_ranks_gives_the_mean_of_the_direct_gradients(tmp_path):
    run_two_ranks(checkpoint_under_ddp, str(tmp_path / "store"), str(tmp_path))
    expected = []
    for rank in (0, 1):
        model = DDPModel("direct")
        z0 = state(model.block.field, D, batch=3) * (1 + rank)
        model(z0.detach()).pow(2).sum().backward()
        expected.append([p.grad for p in model.parameters()])
    for rank in (0, 1):
        for got, want0, want1 in zip(torch.load(tmp_path / f"rank{rank}.pt"), *expected):
            torch.testing.assert_close(got, (want0 + want1) / 2, rtol=1e-10, atol=1e-12)
