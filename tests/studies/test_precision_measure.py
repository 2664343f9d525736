"""The work-precision measurement against closed forms: a linear heavy-ball ODE, solved by expm."""

import math
import sys

import pytest
import torch
from torch import nn

from adamnode import HBNODE, ODEBlock
from adamnode.studies.precision.measure import (PATHS, Variant, build_variant, check_available, measure, reference,
                                            variants)
from adamnode.nets.ode_model import ODEModel
from adamnode.solve import Direction, SolverOptions

D, T1, GAMMA = 3, 1.0, 0.3


class Halves(nn.Module):
    """``x = [h0, m0]`` -> ``(h0, m0)``: the input is the initial state."""

    def forward(self, x):
        return x[:, :D], x[:, D:]


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.weight = nn.Parameter(-2.0 * torch.eye(D) + 0.4 * torch.randn(D, D, generator=generator))

    def forward(self, t, h):
        return h @ self.weight.T


def build(options: SolverOptions) -> ODEModel:
    """h' = m, m' = -gamma m + A h with learned A; the output is h(T1), the loss its MSE to a target."""
    field = HBNODE(Linear(), gamma=GAMMA, learn_gamma=False)
    return ODEModel(Halves(), ODEBlock(field, t0=0.0, t1=T1, options=options), nn.Identity())


def loss_fn(output, target):
    return ((output - target) ** 2).mean()


def exact(A: torch.Tensor, gamma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """h(T1) from the matrix exponential of the system [[0, I], [A, -gamma I]]."""
    M = torch.zeros(2 * D, 2 * D, dtype=torch.float64)
    M[:D, D:] = torch.eye(D, dtype=torch.float64)
    M[D:, :D] = A
    M[D:, D:] = -gamma * torch.eye(D, dtype=torch.float64)
    return (x @ torch.linalg.matrix_exp(T1 * M).T)[:, :D]


@pytest.fixture
def setup():
    generator = torch.Generator().manual_seed(0)
    batches = [(torch.randn(5, 2 * D, generator=generator), torch.randn(5, D, generator=generator)) for _ in range(2)]
    return build(SolverOptions()).state_dict(), batches


def closed_form(state: dict, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact output and the exact gradient of the loss with respect to A (autograd through expm)."""
    A = state["block.field.f.weight"].double().requires_grad_()
    # The model's gamma is the sigmoid of a float32 logit, not 0.3 exactly.
    gamma = torch.sigmoid(state["block.field.gamma_logit"].double())
    x, y = (part.double() for part in batch)
    output = exact(A, gamma, x)
    (grad,) = torch.autograd.grad(loss_fn(output, y), A)
    return output.detach(), grad


def relative(a, b) -> float:
    return float((a.double() - b).norm() / b.norm())


@pytest.mark.parametrize("adjoint", [False, True])
def test_the_reference_is_float64_and_matches_the_closed_form_to_far_below_float32(setup, adjoint):
    state, batches = setup
    built = []
    truth = reference(lambda options: built.append(build(options)) or built[-1], state, batches, loss_fn,
                      adjoint=adjoint)
    assert truth.failure is None and truth.adjoint == adjoint
    # The adjoint backprops by a backward solve, the exact reference by replaying its forward steps.
    assert all(model.block.options.gradient == ("adjoint" if adjoint else "checkpoint") for model in built)
    assert all(model.block.stats.last().nfe_backward > 0 for model in built)
    output_errors = []
    for outcome, batch in zip(truth.outcomes, batches):
        output, grad = closed_form(state, batch)
        assert outcome.output.dtype == torch.float64
        output_errors.append(relative(outcome.output, output))
        assert relative(outcome.field_grad, grad.flatten()) < 1e-8
    # float32 could not get within 1e-7.
    assert max(output_errors) < 1e-8
    # The check solve at 1e-12 is a hundred times closer to the truth, so the difference from it
    # is the reference's own error.
    assert truth.estimate["output_error"] == pytest.approx(max(output_errors), rel=0.05)


@pytest.mark.parametrize("path", ["default", "reference"])  # the paths whose solves start cold: repeatable
def test_error_columns_equal_the_errors_against_the_closed_form_and_fall_with_the_tolerance(setup, path):
    state, batches = setup
    truth = reference(build, state, batches, loss_fn)
    found = []
    for tol in (1e-2, 1e-4, 1e-6):
        variant = Variant(path, tol=tol)
        result = measure(build_variant(build, state, variant), batches, loss_fn, truth)
        # Independently: the same solve again (cold, so the same steps), judged by the closed form.
        model = build_variant(build, state, variant)
        output_errors, grad_errors = [], []
        for batch in batches:
            output = model(batch[0])
            weight = next(p for name, p in model.named_parameters() if name.endswith("f.weight"))
            (grad,) = torch.autograd.grad(loss_fn(output, batch[1]), [weight])
            true_output, true_grad = closed_form(state, batch)
            output_errors.append(relative(output.detach(), true_output))
            grad_errors.append(relative(grad, true_grad))
        expected_output, expected_grad = sum(output_errors) / 2, sum(grad_errors) / 2
        assert result.errors["output_error"] == pytest.approx(expected_output, rel=1e-3)
        # A is the field's only parameter, and encoder and readout have none: both gradient columns are A's.
        assert result.errors["field_grad_error"] == pytest.approx(expected_grad, rel=1e-3)
        assert result.errors["grad_error"] == pytest.approx(expected_grad, rel=1e-3)
        found.append(result.errors["output_error"])
    assert found[0] > found[1] > found[2], found
    assert found[2] < 1e-5


def test_fixed_step_errors_fall_at_rk4s_fourth_order(setup):
    state, batches = setup
    truth = reference(build, state, batches, loss_fn)
    coarse, fine = (measure(build_variant(build, state, Variant("fixed", steps=n)), batches, loss_fn, truth)
                    for n in (4, 16))
    assert (coarse.nfe_forward, fine.nfe_forward, fine.nfe_backward) == (16, 64, 0)
    ratio = coarse.errors["output_error"] / fine.errors["output_error"]
    assert 4 ** 4 / 4 < ratio < 4 ** 4 * 4, ratio


def test_measuring_leaves_weights_optimizer_buffers_and_gradients_as_they_were(setup):
    state, batches = setup
    model = build(SolverOptions(rtol=1e-4, atol=1e-4, warm_start=True))
    model.load_state_dict(state)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn(model(batches[0][0]), batches[0][1]).backward()
    optimizer.step()
    model.block.step_memory.record(Direction.FORWARD, torch.tensor(0.125))
    model.block.step_memory.forget(Direction.BACKWARD)
    model.eval()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer_before = repr(optimizer.state_dict())
    truth = reference(build, before, batches, loss_fn)
    solves = model.block.stats.solves

    first = measure(model, batches, loss_fn, truth)
    # Warm-up pass and timed pass both ran in training mode, so the step memory was rewritten meanwhile.
    assert model.block.stats.solves - solves == 2 * len(batches)
    assert all(torch.equal(value, before[key]) for key, value in model.state_dict().items())
    assert float(model.block.step_memory.sizes[Direction.FORWARD]) == 0.125
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert repr(optimizer.state_dict()) == optimizer_before
    assert not model.training
    # Restored, the warm path starts from the same memory again and measures the same.
    second = measure(model, batches, loss_fn, truth)
    assert (second.nfe_forward, second.nfe_backward, second.errors) == (first.nfe_forward, first.nfe_backward,
                                                                         first.errors)


def test_the_reference_path_counts_its_evaluations_and_has_no_warm_start(setup):
    state, batches = setup
    truth = reference(build, state, batches, loss_fn)
    model = build_variant(build, state, Variant("reference", tol=1e-5))
    result = measure(model, batches, loss_fn, truth)
    # dopri5 as torchdiffeq runs it: 2 evaluations to start (one for the first-step guess), 6 per step.
    assert result.nfe_forward > 2 and (result.nfe_forward - 2) % 6 == 0
    assert result.nfe_backward > 0 and result.errors["output_error"] < 1e-4
    again = measure(model, batches, loss_fn, truth)
    assert again.nfe_forward == result.nfe_forward


def _torchdyn_imports() -> bool:
    try:
        check_available(["torchdyn"])
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("path", ["plain-direct", pytest.param("torchdyn", marks=pytest.mark.skipif(
    not _torchdyn_imports(), reason="torchdyn does not import here (an optional benchmark extra)"))])
def test_the_direct_external_paths_match_the_closed_form_and_make_no_backward_solve(setup, path):
    state, batches = setup
    truth = reference(build, state, batches, loss_fn)
    result = measure(build_variant(build, state, Variant(path, tol=1e-6)), batches, loss_fn, truth)
    assert result.nfe_forward > 2 and result.nfe_backward == 0
    assert result.errors["output_error"] < 1e-4 and result.errors["grad_error"] < 1e-3
    exact_output, _ = closed_form(state, batches[0])
    with torch.no_grad():
        assert relative(build_variant(build, state, Variant(path, tol=1e-6))(batches[0][0]), exact_output) < 1e-4
    loose = measure(build_variant(build, state, Variant(path, tol=1e-3)), batches, loss_fn, truth)
    assert loose.nfe_forward < result.nfe_forward


def _torchdiffeqpack_imports() -> bool:
    try:
        check_available(["aca"])
    except ValueError:
        return False
    return True


@pytest.mark.skipif(not _torchdiffeqpack_imports(), reason="TorchDiffEqPack does not import here (a test extra)")
@pytest.mark.parametrize("path", ["aca", "mali"])
def test_the_torchdiffeqpack_paths_run_and_approach_the_closed_form(setup, path):
    state, batches = setup
    truth = reference(build, state, batches, loss_fn)
    result = measure(build_variant(build, state, Variant(path, tol=1e-6)), batches, loss_fn, truth)
    assert result.nfe_forward > 2
    assert result.errors["output_error"] < 1e-2 and result.errors["grad_error"] < 1e-1


def test_a_missing_optional_library_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchdyn", None)
    monkeypatch.setitem(sys.modules, "torchdyn.numerics", None)
    with pytest.raises(ValueError, match="path 'torchdyn' needs torchdyn.*--no-deps"):
        check_available(["default", "torchdyn"])
    check_available(["default", "reference"])
    monkeypatch.setitem(sys.modules, "TorchDiffEqPack", None)
    with pytest.raises(ValueError, match="path 'mali' needs TorchDiffEqPack.*pip install torchdiffeqpack"):
        check_available(["mali"])


def test_a_failed_reference_is_reported_not_hidden(setup):
    state, batches = setup
    truth = reference(lambda options: build(options.replace(step_budget=3)), state, batches, loss_fn)
    assert truth.outcomes is None and "step_budget" in truth.failure
    result = measure(build_variant(build, state, Variant("direct", tol=1e-3)), batches, loss_fn, truth)
    assert all(math.isnan(value) for value in result.errors.values())


def test_variants_cover_every_path_and_refuse_a_wrong_setting():
    chosen = variants(PATHS, [1e-3, 1e-5], [2, 8])
    assert [(v.path, v.tol, v.steps) for v in chosen if v.path in ("default", "fixed")] == [
        ("default", 1e-3, None), ("default", 1e-5, None), ("fixed", None, 2), ("fixed", None, 8)]
    assert Variant("fixed", steps=4).options().step_size == 0.25
    assert Variant("warm", tol=1e-3).options().warm_start and not Variant("default", tol=1e-3).options().warm_start
    assert Variant("direct", tol=1e-3).options().gradient == "direct"
    with pytest.raises(ValueError, match="unknown path"):
        Variant("fast", tol=1e-3)
    with pytest.raises(ValueError, match="takes steps"):
        Variant("fixed", tol=1e-3)


def test_a_path_whose_solve_fails_is_a_row_not_the_end_of_the_study(setup):
    """Plain torchdiffeq fails with assertions ("underflow in dt"); the block with a SolverError: both are rows."""
    from types import SimpleNamespace

    from adamnode.studies.precision.study import run_study

    state, batches = setup
    broken = dict(state, **{"block.field.f.weight": torch.full((D, D), float("nan"))})
    weights = {"good": state, "broken": broken}
    record = run_study(SimpleNamespace(loss=loss_fn), list(weights), weights.get, lambda name, options: build(options), [Variant("reference", tol=1e-3), Variant("default", tol=1e-3)],
                       batches, repeats=1, reference_tol=1e-8, check_tol=1e-9, log=lambda line: None)
    rows = {(row["model"], row["path"]): row["status"] for row in record["rows"]}
    assert rows[("good", "reference")] == "ok" and rows[("good", "default")] == "ok"
    assert rows[("broken", "reference")].startswith("failed: ") and rows[("broken", "default")].startswith("failed: ")
