"""``SolverOptions`` and the block's inputs: validated once, read-only, bounded, honest about shapes."""

import time

import pytest
import torch
from torch import nn

from adamnode import HBNODE, NODE, AdamNODE, ODEBlock, SolverOptions


def linear(d: int = 3) -> nn.Module:
    return nn.Linear(d, d)


def test_keywords_build_the_options_and_override_given_ones():
    base = SolverOptions(rtol=1e-6, atol=1e-7, gradient="direct")
    block = ODEBlock(HBNODE(linear()), options=base, step_budget=50)
    assert block.options == base.replace(step_budget=50)
    assert (block.options.rtol, block.options.atol, block.options.gradient, block.options.step_budget) == (1e-6, 1e-7, "direct", 50)
    assert ODEBlock(HBNODE(linear())).options == SolverOptions()


def test_settings_are_read_only():
    block = ODEBlock(HBNODE(linear()))
    for name in ("t0", "t1", "options"):
        with pytest.raises(AttributeError):
            setattr(block, name, None)
    with pytest.raises(AttributeError):
        block.options.rtol = 1.0


@pytest.mark.parametrize("method", ["rk4", "heun3", "midpoint"])
def test_a_tiny_step_size_is_refused_before_anything_is_allocated(method):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"1,000,000,000 steps .*raise step_size or step_budget"):
        ODEBlock(HBNODE(linear()), method=method, step_size=1e-9, seminorm=False)
    assert time.perf_counter() - start < 1.0
    block = ODEBlock(HBNODE(linear()), method=method, step_size=0.5, seminorm=False, step_budget=4)
    z0 = block.initial_state(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="step_budget=4"):
        block(z0, torch.tensor([0.0, 10.0]))  # a trajectory's interval is known only at the call


@pytest.mark.parametrize("returned", [lambda h: h[:1], lambda h: h.sum()], ids=["[1, d]", "scalar"])
@pytest.mark.parametrize("field_class", [HBNODE, AdamNODE, NODE])
def test_f_must_return_the_shape_of_h(field_class, returned):
    def f(t, h):
        return returned(h)

    block = ODEBlock(field_class(f), gradient="direct")
    z0 = block.initial_state(torch.randn(4, 3), None if field_class is NODE else torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"f \(.*f\) must return the shape of h \(4, 3\), returned"):
        block(z0)


@pytest.mark.parametrize("options", [dict(), dict(gradient="direct"), dict(method="rk4", step_size=0.25, seminorm=False),
                                     dict(method="rk4", step_size=0.25, gradient="direct", seminorm=False)])
def test_an_empty_batch_gives_an_empty_result_on_every_path(options):
    block = ODEBlock(AdamNODE(linear()), **options)
    z0 = torch.zeros(0, 3, 3, requires_grad=True)
    assert block(z0).shape == (0, 3, 3)
    assert block(z0, torch.tensor([0.0, 0.5, 1.0])).shape == (3, 0, 3, 3)
    block(z0).sum().backward()
    assert z0.grad.shape == z0.shape


def test_half_precision_is_refused_by_adaptive_solvers_and_works_with_fixed_steps():
    field = HBNODE(lambda t, h: -h, learn_gamma=False)
    z0 = torch.ones(2, 2, 3, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"float16 state .* z0\.float\(\)"):
        ODEBlock(field, params=())(z0)
    z1 = ODEBlock(field, method="rk4", step_size=0.25, gradient="direct", seminorm=False)(z0)
    reference = ODEBlock(field, method="rk4", step_size=0.25, gradient="direct", seminorm=False)(z0.float())
    assert z1.dtype == torch.float16
    torch.testing.assert_close(z1.float(), reference, rtol=1e-2, atol=1e-2)


def test_an_f_whose_output_changes_shape_after_its_first_call_is_refused_at_that_call():
    calls = []

    def f(t, h):
        calls.append(1)
        return h if len(calls) < 3 else h[:1]  # [1, d] from the third evaluation on: would broadcast

    block = ODEBlock(HBNODE(f), gradient="direct")
    with pytest.raises(ValueError, match=r"must return the shape of h \(4, 3\), returned \(1, 3\)"):
        block(block.initial_state(torch.randn(4, 3)))
    assert len(calls) == 3


@pytest.mark.parametrize("tol", [0.0, 1e-300, 1e-13, 1.5, 1e300])
def test_tolerances_outside_their_range_are_refused_by_the_options_with_the_reason(tol):
    for name in ("rtol", "atol"):
        with pytest.raises(ValueError, match=rf"{name} must lie in \[1e-12, 1\], got .*: below it no floating-point "
                                             "solve can meet the tolerance, above it the error control accepts"):
            SolverOptions(**{name: tol})
    SolverOptions(rtol=1e-12, atol=1.0)


def test_seminorm_with_the_adjoint_of_a_fixed_step_method_is_refused_by_the_options():
    with pytest.raises(ValueError, match="seminorm applies to adaptive methods only; pass seminorm=False"):
        SolverOptions(method="rk4", step_size=0.25, gradient="adjoint")
    SolverOptions(method="rk4", step_size=0.25, gradient="adjoint", seminorm=False)
    SolverOptions(method="rk4", step_size=0.25)  # the seminorm belongs to the adjoint: ignored elsewhere


def test_a_huge_step_budget_steps_lazily_instead_of_listing_every_fixed_step():
    class Stop(Exception):
        pass

    calls = []

    def f(t, h):
        calls.append(1)
        if len(calls) > 400:
            raise Stop
        return -h

    block = ODEBlock(NODE(f), method="rk4", step_size=1e-9, step_budget=10**12, gradient="direct")
    with pytest.raises(Stop):  # a billion steps begin at once, holding one state at a time
        block(block.initial_state(torch.ones(1, 3)))
