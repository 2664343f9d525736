"""Solver failures surface as SolverError with time, step size, NFE and remedies."""

import pytest
import torch

from adamnode import NODE, HBNODE, ODEBlock, SolverError


def test_non_finite_derivative_is_diagnosed():
    field = NODE(lambda t, h: torch.where(t > 0.5, torch.full_like(h, float("nan")), -h))
    with pytest.raises(SolverError, match="non-finite derivative") as info:
        ODEBlock(field, adjoint_params=())(torch.ones(2, 1, 3))
    error = info.value
    assert error.phase == "forward" and 0.5 < error.t <= 1.0 and error.nfe > 2
    assert "remedies" in str(error) and "\n" not in str(error)


def test_finite_time_blow_up_is_a_solver_error_not_an_assertion():
    field = NODE(lambda t, h: h * h)  # h(t) = 1 / (1 - t): infinite at t = 1
    with pytest.raises(SolverError) as info:
        ODEBlock(field, t1=2.0, rtol=1e-6, atol=1e-6, adjoint_params=())(torch.ones(1, 1, 1))
    assert 0.9 < info.value.t <= 1.0 + 1e-5


def test_too_many_steps():
    field = HBNODE(lambda t, h: -400.0 * h, learn_gamma=False)
    with pytest.raises(SolverError, match="max_steps=5") as info:
        ODEBlock(field, t1=10.0, rtol=1e-9, atol=1e-9, max_steps=5, adjoint_params=())(torch.ones(1, 2, 1))
    assert info.value.nfe == 2 + 6 * 5


def test_failure_during_the_adjoint_backward_pass(nan_gradient):
    weight = torch.nn.Parameter(torch.tensor(-1.0))

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = weight

        def forward(self, t, h):
            return nan_gradient(self.weight * h)

    block = ODEBlock(NODE(Field()))
    out = block(torch.ones(2, 1, 3))
    with pytest.raises(SolverError, match="backward solve failed") as info:
        out.sum().backward()
    assert info.value.phase == "backward"
