"""Solver failures surface as SolverError with time, step size, NFE and remedies."""

import pickle

import pytest
import torch

from adamnode import NODE, HBNODE, FailureKind, ODEBlock, SolverError
from adamnode.cli.flags import with_flags
from adamnode.solve import gradients as gradients_module


def test_non_finite_derivative_is_diagnosed():
    field = NODE(lambda t, h: torch.where(t > 0.5, torch.full_like(h, float("nan")), -h))
    with pytest.raises(SolverError, match="non-finite derivative") as info:
        ODEBlock(field, params=())(torch.ones(2, 1, 3))
    error = info.value
    assert error.phase == "forward" and 0.5 < error.t <= 1.0 and error.nfe > 2
    assert "remedies" in str(error) and "\n" not in str(error)


def test_finite_time_blow_up_is_a_solver_error_not_an_assertion():
    field = NODE(lambda t, h: h * h)  # h(t) = 1 / (1 - t): infinite at t = 1
    with pytest.raises(SolverError) as info:
        ODEBlock(field, t1=2.0, rtol=1e-6, atol=1e-6, params=())(torch.ones(1, 1, 1))
    assert 0.9 < info.value.t <= 1.0 + 1e-5


def test_too_many_steps():
    field = HBNODE(lambda t, h: -400.0 * h, learn_gamma=False)
    with pytest.raises(SolverError, match="step_budget=5") as info:
        ODEBlock(field, t1=10.0, rtol=1e-9, atol=1e-9, step_budget=5, params=())(torch.ones(1, 2, 1))
    assert info.value.nfe == 2 + 6 * 5


def test_failure_during_the_adjoint_backward_pass(nan_gradient):
    weight = torch.nn.Parameter(torch.tensor(-1.0))

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = weight

        def forward(self, t, h):
            return nan_gradient(self.weight * h)

    block = ODEBlock(NODE(Field()), gradient="adjoint")
    out = block(torch.ones(2, 1, 3))
    with pytest.raises(SolverError, match="backward solve failed") as info:
        out.sum().backward()
    assert info.value.phase == "backward"


FIXED_STEP_FAILURES = {
    "nan": lambda t, h: torch.where(t > 0.5, torch.full_like(h, float("nan")), -h),
    # h' = h^2 from 10 is infinite at t = 0.1; every fixed-step method overflows float32 by t = 2.
    "overflow": lambda t, h: h * h,
}


@pytest.mark.parametrize("failure", sorted(FIXED_STEP_FAILURES))
@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
@pytest.mark.parametrize("path", ["own loop", "adjoint", "trajectory"])
def test_fixed_step_solves_never_return_nan_or_inf(failure, method, path):
    """Fixed steps have no error estimate to reject a non-finite step: only a finiteness check stops it."""
    block = ODEBlock(NODE(FIXED_STEP_FAILURES[failure]), t1=2.0, method=method, step_size=0.25,
                     gradient="adjoint" if path == "adjoint" else "direct", seminorm=False, params=())
    z0 = torch.full((2, 1, 3), 10.0, requires_grad=True)
    with pytest.raises(SolverError) as info:
        block(z0, [0.0, 1.0, 2.0]) if path == "trajectory" else block(z0)
    assert info.value.phase == "forward"


def kind_of(solve) -> FailureKind:
    with pytest.raises(SolverError) as info:
        solve()
    return info.value.kind


def constant(value: float):
    return lambda t, h: torch.full_like(h, value)


def test_every_failure_path_names_its_kind(nan_gradient):
    one = torch.ones(1, 1, 1)
    assert kind_of(lambda: ODEBlock(NODE(lambda t, h: h * h), t1=2.0, rtol=1e-6, atol=1e-6,
                                    params=())(one)) is FailureKind.STEP_UNDERFLOW
    assert kind_of(lambda: ODEBlock(NODE(constant(float("nan"))), params=())(one)) \
        is FailureKind.NON_FINITE_FIELD
    # A finite field whose integral overflows float32: the state, not the field, is at fault.
    assert kind_of(lambda: ODEBlock(NODE(constant(3e38)), t1=2.0, method="rk4", step_size=0.5, gradient="direct",
                                    seminorm=False)(one)) is FailureKind.NON_FINITE_SOLUTION
    assert kind_of(lambda: ODEBlock(NODE(constant(3e38)), t1=2.0, gradient="direct")(one)) \
        is FailureKind.NON_FINITE_SOLUTION
    assert kind_of(lambda: ODEBlock(HBNODE(lambda t, h: -400.0 * h, learn_gamma=False), t1=10.0, rtol=1e-9,
                                    atol=1e-9, step_budget=5, params=())(torch.ones(1, 2, 1))) \
        is FailureKind.STEP_BUDGET
    weight = torch.nn.Parameter(torch.tensor(-1.0))
    out = ODEBlock(NODE(lambda t, h: nan_gradient(weight * h)), params=[weight], gradient="adjoint")(
        torch.ones(2, 1, 3))
    assert kind_of(lambda: out.sum().backward()) is FailureKind.NON_FINITE_ADJOINT


def test_only_torchdiffeqs_own_assertions_become_solver_errors(monkeypatch):
    def failing_f(t, h):
        assert False, "the user's own check"

    with pytest.raises(AssertionError, match="the user's own check"):
        ODEBlock(NODE(failing_f), gradient="direct")(torch.ones(1, 1, 1))

    def torchdiffeq_stops(*args, **kwargs):
        raise AssertionError("an assertion inside torchdiffeq")

    monkeypatch.setattr(gradients_module, "odeint_adjoint", torchdiffeq_stops)
    with pytest.raises(SolverError, match="torchdiffeq stopped") as info:
        ODEBlock(NODE(lambda t, h: -h), gradient="adjoint", params=())(torch.ones(1, 1, 1))
    assert info.value.kind is FailureKind.SOLVER_STOPPED


def test_solver_errors_pickle_with_every_field():
    error = SolverError(FailureKind.NON_FINITE_ADJOINT, "the adjoint state became NaN", t=0.25, dt=1e-3, nfe=17,
                        phase="backward", method="dopri5", warm_started=True)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SolverError and copy.fields() == error.fields() and str(copy) == str(error)
    renamed = error.with_reason("the adjoint state became NaN (on rank 1)")
    assert renamed.kind is error.kind and renamed.warm_started and "on rank 1" in str(renamed)


def test_messages_name_the_setting_and_the_command_line_adds_its_flag():
    with pytest.raises(SolverError) as info:
        ODEBlock(HBNODE(lambda t, h: -400.0 * h, learn_gamma=False), t1=10.0, rtol=1e-9, atol=1e-9, step_budget=5,
                 params=())(torch.ones(1, 2, 1))
    assert "step_budget=5" in str(info.value) and "--" not in str(info.value)
    assert "step_budget: --step-budget" in with_flags(str(info.value))
