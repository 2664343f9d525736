"""Warm-started step sizes (``warm_start=True``, off by default): one evaluation fewer, pure outputs in eval mode."""

import functools

import pytest
import torch
from torch import nn
from torchdiffeq import odeint

from adamnode import HBNODE, AdamNODE, ODEBlock
from adamnode.solve import Direction, SolverError
from ranks import run_two_ranks

#: The block with warm starts on, backpropagating by the adjoint, whose backward solve also starts
#: warm (a call's own ``warm_start=`` or ``gradient=`` still wins).
WarmBlock = functools.partial(ODEBlock, warm_start=True, gradient="adjoint")

B, D = 3, 4
T1 = 3.0


def oscillator(calls: list | None = None) -> tuple[HBNODE, torch.Tensor]:
    """Linear HBNODE h' = m, m' = -gamma m + A h, and its system matrix (solution expm(t M) z0)."""
    torch.manual_seed(1)
    A = -torch.eye(D, dtype=torch.float64) * 4 + 0.3 * torch.randn(D, D, dtype=torch.float64)
    gamma = 0.3

    def f(t, h):
        if calls is not None:
            calls.append(1)
        return h @ A.T

    M = torch.zeros(2 * D, 2 * D, dtype=torch.float64)
    M[:D, D:] = torch.eye(D)
    M[D:, :D] = A
    M[D:, D:] = -gamma * torch.eye(D)
    return HBNODE(f, gamma=gamma, learn_gamma=False).double(), M


def remember(block: ODEBlock, direction: Direction, size: float) -> None:
    """Make ``block`` start its next ``direction`` solve from ``size``."""
    block.step_memory.record(direction, torch.tensor(size))


def exact(M: torch.Tensor, z0: torch.Tensor, t: float) -> torch.Tensor:
    return (torch.linalg.matrix_exp(t * M) @ z0.reshape(len(z0), -1).T).T.reshape(z0.shape)


def z0_oscillator() -> torch.Tensor:
    return torch.randn(B, 2, D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))


def test_second_solve_starts_from_the_first_accepted_step_and_keeps_the_tolerance():
    calls = []
    field, M = oscillator(calls)
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
    z0 = z0_oscillator()
    errors, nfe, steps = [], [], []
    for _ in range(2):
        calls.clear()
        with torch.no_grad():
            z1 = block(z0)
        errors.append((z1 - exact(M, z0, T1)).abs().max().item())
        nfe.append(len(calls))
        steps.append(block.stats.steps_forward)
    # Cold: 1 evaluation to start, 1 for the first-step guess, 6 per step. Warm: no guess.
    assert nfe == [2 + 6 * steps[0], 1 + 6 * steps[1]]
    assert steps[1] <= steps[0]
    assert block.step_memory.sizes[0] > 0 and block.step_memory.sizes[1] == 0  # no adjoint ran
    assert max(errors) < 1e-4, errors


def test_repeated_warm_solves_start_from_the_same_size_instead_of_ratcheting_it_up():
    # AdamNODE with a constant f = 26: v climbs from ~0 to f^2 at rate ~f^2, a fast start like the
    # trained spheres AdamNODE's, where dopri5's embedded error estimate understates the true local
    # error ~40-fold (docs/results/benchmarks/warm_accuracy.md). Remembering the controller's
    # proposal grew the start up to tenfold per solve (here 0.001 -> 0.3 in eight solves; on the
    # trained network to the whole interval, with errors ~1000x the cold solve's).
    field = AdamNODE(lambda t, h: torch.full_like(h, 26.0), beta1=0.01, beta2=0.99, eps=0.0,
                     v_activation="identity", learn_betas=False).double()
    z0 = field.initial_state(torch.zeros(B, D, dtype=torch.float64), torch.full((B, D), 0.1, dtype=torch.float64))
    truth = odeint(field, z0, torch.tensor([0.0, 1.0], dtype=torch.float64), rtol=1e-12, atol=1e-12)[-1]
    block = WarmBlock(field, rtol=1e-3, atol=1e-3, params=())
    sizes, errors = [], []
    with torch.no_grad():
        for _ in range(6):
            errors.append(((block(z0) - truth).norm() / truth.norm()).item())
            sizes.append(block.step_memory.sizes[0].item())
    assert sizes == [sizes[0]] * 6 and 0 < sizes[0] < 0.01
    assert max(errors) < 1e-3, errors


def test_a_first_step_too_large_is_rejected_and_the_answer_keeps_the_tolerance():
    field, M = oscillator()
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
    remember(block, Direction.FORWARD, T1)
    z0 = z0_oscillator()
    with torch.no_grad():
        z1 = block(z0)
        with_rejections = block.stats.steps_forward
        assert block.stats.rejected_forward >= 1, "the oversized first step was attempted and rejected"
        assert (z1 - exact(M, z0, T1)).abs().max().item() < 1e-4
        assert 0 < block.step_memory.sizes[0] < T1, "the size remembered is one the error control accepted"
        block(z0)
    assert block.stats.steps_forward < with_rejections


def test_eval_mode_starts_cold_every_time_so_outputs_depend_on_the_input_alone():
    field, _ = oscillator()
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
    z0 = z0_oscillator()
    with torch.no_grad():
        cold = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=()).eval()(z0)
        block(z0)
        block(z0)
        warm_nfe = block.stats.last().nfe_forward
        remembered = block.step_memory.sizes.clone()
        block.eval()
        first = block(z0)
        cold_nfe = block.stats.last().nfe_forward
        second = block(z0)
    assert warm_nfe == cold_nfe - 1, "the second training-mode solve took the warm-started path (no first-step guess)"
    assert torch.equal(first, cold) and torch.equal(second, cold)
    assert torch.equal(block.step_memory.sizes, remembered), "eval solves leave the training state alone"


def test_warm_start_off_leaves_no_history():
    field, _ = oscillator()
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=(), warm_start=False)
    z0 = z0_oscillator()
    with torch.no_grad():
        assert torch.equal(block(z0), block(z0))
    assert not block.step_memory.sizes.any()
    assert not WarmBlock(field, method="rk4", step_size=0.5, params=(), seminorm=False).warm_start
    assert not ODEBlock(field, params=()).warm_start, "cold starts are the default"


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(D + 1, 32), nn.Tanh(), nn.Linear(32, D))

    def forward(self, t, h):
        return self.net(torch.cat([h, t.expand(h.shape[0], 1)], dim=1))


def gradients(block: ODEBlock, z0: torch.Tensor) -> torch.Tensor:
    block.field.zero_grad()
    block(z0).pow(2).sum().backward()
    return torch.cat([p.grad.flatten() for p in block.field.parameters()])


def test_warm_started_adjoint_keeps_its_gradients_and_saves_backward_evaluations():
    torch.manual_seed(4)
    field = AdamNODE(MLP()).double()
    z0 = field.initial_state(torch.randn(B, D, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64))
    direct = gradients(WarmBlock(field, rtol=1e-12, atol=1e-12, gradient="direct", seminorm=False).eval(), z0)
    block = WarmBlock(field, rtol=1e-8, atol=1e-8)
    cold = gradients(block, z0)
    cold_nfe = block.stats.nfe_backward
    assert block.step_memory.sizes[1] > 0
    warm = gradients(block, z0)
    assert block.stats.nfe_backward < cold_nfe
    for estimate in (cold, warm):
        assert ((estimate - direct).norm() / direct.norm()).item() < 1e-5


def test_remembered_steps_travel_with_the_state_dict():
    field, _ = oscillator()
    z0 = z0_oscillator()
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
    with torch.no_grad():
        block(z0)
        resumed = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
        resumed.load_state_dict(block.state_dict())
        fresh = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
        continued = resumed(z0)
        assert torch.equal(continued, block(z0))
        fresh(z0)
    assert torch.equal(resumed.step_memory.sizes, block.step_memory.sizes)
    assert resumed.stats.last().nfe_forward == fresh.stats.last().nfe_forward - 1, "resumed warm: no first-step guess"


def sinh_field() -> HBNODE:
    """h'' = -gamma h' - sinh(h): tame near 0, explosive far from it."""

    class MinusSinh(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones((), dtype=torch.float64))

        def forward(self, t, h):
            return -self.scale * torch.sinh(h)

    return HBNODE(MinusSinh(), learn_gamma=False).double()


def resting_at(field: HBNODE, height: float) -> torch.Tensor:
    return field.initial_state(torch.full((2, 3), height, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))


def test_a_forward_solve_that_fails_from_a_remembered_step_is_redone_cold():
    field = sinh_field()
    block = WarmBlock(field, rtol=1e-6, atol=1e-6, gradient="direct")
    far = resting_at(field, 8.0)
    with torch.no_grad():
        remember(block, Direction.FORWARD, 1.0)  # fine for a start near 0, far too large for the start at 8
        block(resting_at(field, 0.1))
        out = block(far)
        cold = WarmBlock(field, rtol=1e-6, atol=1e-6, gradient="direct").eval()(far)
    assert block.stats.solves == 3, "the warm attempt failed and was redone"
    assert torch.equal(out, cold)


def cold_gradients(field: HBNODE, z0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    field.zero_grad()
    z0 = z0.detach().requires_grad_(True)
    WarmBlock(field, rtol=1e-6, atol=1e-6, warm_start=False)(z0).sum().backward()
    return field.f.scale.grad.clone(), z0.grad.clone()


def backward_from_a_remembered_step(size: float) -> tuple[WarmBlock, tuple, tuple]:
    """The block, its gradients after a backward pass started from a remembered ``size``, and the cold gradients."""
    field = sinh_field()
    z0 = resting_at(field, 8.0).requires_grad_(True)
    block = WarmBlock(field, rtol=1e-6, atol=1e-6)
    remember(block, Direction.BACKWARD, size)
    block(z0).sum().backward()
    warm_grads = field.f.scale.grad.clone(), z0.grad.clone()
    return block, warm_grads, cold_gradients(field, z0)


def test_a_backward_solve_that_fails_from_a_remembered_step_is_redone_cold_inside_backward():
    # A trial step this large overflows: sinh of Inf.
    block, warm_grads, cold_grads = backward_from_a_remembered_step(0.5)
    assert block.stats.nfe_backward > 0
    # The retry repeats the forward solve from the same (cold) start and runs the adjoint cold: the
    # gradients of a block that never warm-started, to the bit.
    assert all(torch.equal(a, b) for a, b in zip(warm_grads, cold_grads))
    assert 0 < block.step_memory.sizes[1] < 0.5, "the failed size is forgotten; the retry records its own"


def test_an_overflowing_step_is_never_accepted():
    """torchdiffeq scales the error by |y1|: an Inf trial state gives error ratio 0 and passes.

    Accepted, it would hand back NaN gradients without an error, so there would be nothing to retry;
    refused, the backward pass is redone cold and the gradients are the cold ones.
    """
    # The whole interval in one step: accepted by torchdiffeq.
    _, warm_grads, cold_grads = backward_from_a_remembered_step(1.0)
    assert all(bool(torch.isfinite(grad).all()) for grad in warm_grads)
    assert all(torch.equal(a, b) for a, b in zip(warm_grads, cold_grads))


def test_a_trajectorys_adjoint_records_no_backward_size():
    field = AdamNODE(MLP()).double()
    z0 = field.initial_state(torch.randn(B, D, dtype=torch.float64), torch.randn(B, D, dtype=torch.float64))
    block = WarmBlock(field, rtol=1e-6, atol=1e-6)
    for _ in range(2):
        block(z0, torch.tensor([0.0, 0.3, 0.7, 1.0], dtype=torch.float64)).pow(2).sum().backward()
    # One backward solve per interval: what follows the first accepted step is another interval's start.
    assert block.step_memory.sizes[0] > 0 and block.step_memory.sizes[1] == 0


def test_the_remembered_size_is_the_first_accepted_step():
    field, _ = oscillator()
    z0 = z0_oscillator()
    accepted = []

    class Recording(nn.Module):
        def forward(self, t, z):
            return field(t, z)

        def callback_accept_step(self, t0, y0, dt):
            accepted.append(dt.item())

    odeint(Recording(), z0, torch.tensor([0.0, T1], dtype=torch.float64), rtol=1e-6, atol=1e-6,
           options={"step_t": torch.tensor([T1], dtype=torch.float64)})
    block = WarmBlock(field, t1=T1, rtol=1e-6, atol=1e-6, params=())
    with torch.no_grad():
        block(z0)
    assert len(accepted) > 1 and accepted[1] > accepted[0]  # a larger proposal followed; it is not kept
    assert block.step_memory.sizes[0].item() == accepted[0]


def test_a_one_step_solve_remembers_its_step():
    field, _ = oscillator()
    block = WarmBlock(field, t1=0.01, rtol=1e-3, atol=1e-3, params=())
    remember(block, Direction.FORWARD, 5.0)  # far past the end: the step is cut to the interval
    with torch.no_grad():
        block(z0_oscillator())
    assert block.stats.steps_forward == 1
    assert block.step_memory.sizes[0].item() == pytest.approx(0.01)


def test_running_out_of_steps_is_not_redone():
    field, _ = oscillator()
    block = WarmBlock(field, t1=T1, rtol=1e-9, atol=1e-9, params=(), step_budget=3)
    remember(block, Direction.FORWARD, 0.01)
    with torch.no_grad(), pytest.raises(SolverError, match="step_budget=3"):
        block(z0_oscillator())
    assert block.stats.solves == 1


class SinhModel(nn.Module):
    """A DDP-wrappable model around the explosive field, starting at rest at height 8."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.block = WarmBlock(sinh_field(), rtol=1e-6, atol=1e-6)

    def forward(self, heights: torch.Tensor) -> torch.Tensor:
        field = self.block.field
        z0 = field.initial_state(heights, torch.zeros_like(heights))
        return self.block(z0)


def retry_under_ddp(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        model = SinhModel()
        network = nn.parallel.DistributedDataParallel(model)
        # Only rank 1's backward starts from a size that overflows; rank 0's starts cold.
        if rank == 1:
            remember(model.block, Direction.BACKWARD, 0.5)
        heights = torch.full((2, 3), 8.0 + rank, dtype=torch.float64)
        network(heights).sum().backward()
        torch.save({"grad": model.block.field.f.scale.grad, "size": model.block.step_memory.sizes[1]},
                   f"{out}/rank{rank}.pt")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_a_failed_warm_backward_is_redone_inside_backward_under_two_gloo_ranks(tmp_path):
    run_two_ranks(retry_under_ddp, str(tmp_path / "store"), str(tmp_path))
    results = [torch.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    # The single-process gradient of the mean loss over both ranks' batches, all cold.
    expected = []
    for rank in (0, 1):
        model = SinhModel()
        model.block.train()
        model(torch.full((2, 3), 8.0 + rank, dtype=torch.float64)).sum().backward()
        expected.append(model.block.field.f.scale.grad)
    mean = (expected[0] + expected[1]) / 2
    for result in results:
        torch.testing.assert_close(result["grad"], mean, rtol=1e-12, atol=0)
    assert 0 < results[1]["size"] < 0.5, "rank 1 forgot the failed size and recorded the cold retry's"
