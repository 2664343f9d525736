"""``ODERNN``: closed forms, per-sample gaps against per-sample solves, adjoint against direct backprop, bad input."""

import math

import pytest
import torch
from torch import nn

from adamnode import HBNODE, NODE, AdamNODE, NesterovNODE, ODEBlock, ODERNN, SolverOptions
from adamnode.nets import TimedSequenceModel
from adamnode.models.family import MODEL_NAMES, augmentation, field_class

EXACT = SolverOptions(rtol=1e-10, atol=1e-10)


class Constant(nn.Module):
    """f(t, h) = c, whatever h."""

    def __init__(self, c: torch.Tensor):
        super().__init__()
        self.register_buffer("c", c)

    def forward(self, t, h):
        return self.c.expand_as(h)


class Accumulate(nn.Module):
    """cell(x, h) = h + x."""

    def forward(self, x, h):
        return h + x


class MLP(nn.Module):
    def __init__(self, inputs: int, outputs: int, width: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, width), nn.Tanh(), nn.Linear(width, outputs))

    def forward(self, t, h):
        return self.net(h)


def irregular(batch: int, steps: int, features: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, features, generator=generator, dtype=torch.float64)
    times = torch.cumsum(0.2 + torch.rand(batch, steps, generator=generator, dtype=torch.float64), dim=1)
    return x, times


def test_a_constant_field_and_an_accumulating_cell_give_the_hand_computed_sums():
    """h' = c between observations, h += x at each: y_k = x_0 + ... + x_k + c (s_k - s_0), per sample."""
    c = torch.tensor([0.5, -1.0], dtype=torch.float64)
    rnn = ODERNN(NODE(Constant(c)), 2, 2, nn.Identity(), Accumulate(), options=EXACT).double()
    x, times = irregular(3, 5, 2)
    expected = x.cumsum(dim=1) + c * (times - times[:, :1]).unsqueeze(2)
    torch.testing.assert_close(rnn(x, times), expected)


def test_heavy_ball_momentum_passes_through_the_updates_unchanged():
    """h' = m, m' = c - gamma m from rest, h += x at each observation (m untouched): with T = s_k - s_0,
    h(s_k) = x_0 + ... + x_k + (c / gamma) (T - (1 - exp(-gamma T)) / gamma)."""
    gamma, c = 0.3, torch.tensor([2.0], dtype=torch.float64)
    rnn = ODERNN(HBNODE(Constant(c), gamma=gamma, learn_gamma=False), 1, 1, nn.Identity(), Accumulate(),
                 options=EXACT).double()
    x, times = irregular(2, 6, 1, seed=1)
    span = (times - times[:, :1]).unsqueeze(2)
    drift = c / gamma * (span - (1 - torch.exp(-gamma * span)) / gamma)
    torch.testing.assert_close(rnn(x, times), x.cumsum(dim=1) + drift)


def test_extrapolation_continues_the_flow_without_observations():
    c = torch.tensor([1.5], dtype=torch.float64)
    rnn = ODERNN(NODE(Constant(c)), 1, 1, nn.Identity(), Accumulate(), options=EXACT).double()
    x, times = irregular(2, 3, 1)
    outputs, state = rnn.scan(x, times)
    gaps = torch.tensor([0.5, 0.25, 1.0], dtype=torch.float64)
    expected = outputs[:, -1:] + c * gaps.cumsum(0).view(1, -1, 1)
    torch.testing.assert_close(rnn.extrapolate(state, gaps), expected)


def test_a_timed_model_reads_times_from_channel_0_and_forecasts_gap_by_gap():
    c = torch.tensor([1.5, -0.5], dtype=torch.float64)
    rnn = ODERNN(NODE(Constant(c)), 2, 2, nn.Identity(), Accumulate(), options=EXACT).double()
    x, times = irregular(2, 3, 2)
    out = TimedSequenceModel(rnn, forecast=2, gap=0.5)(torch.cat([times.unsqueeze(2), x], dim=2))
    sums = x.cumsum(dim=1) + c * (times - times[:, :1]).unsqueeze(2)
    torch.testing.assert_close(out, torch.cat([sums, sums[:, -1:] + c * 0.5, sums[:, -1:] + c * 1.0], dim=1))
    with pytest.raises(ValueError, match=r"\[batch, steps, 1 \+ 2\] \(time first\)"):
        TimedSequenceModel(rnn)(x)


@pytest.mark.parametrize("field_class_", [HBNODE, AdamNODE, NesterovNODE])
def test_one_batched_rescaled_solve_equals_solving_each_sample_over_its_own_gap(field_class_):
    torch.manual_seed(0)
    field = field_class_(MLP(3, 3)).double()
    rnn = ODERNN(field, 2, 3, nn.Linear(3, 2), options=EXACT).double()
    x, times = irregular(3, 4, 2, seed=2)
    batched = rnn(x, times)
    # By hand: each sample alone, each gap solved over its real time span (t0 on the field's own clock).
    t0 = rnn.block.t0
    for sample in range(3):
        z = torch.zeros(1, field.n_components, 3, dtype=torch.float64)
        for k in range(4):
            if k > 0:
                gap = float(times[sample, k] - times[sample, k - 1])
                if field.needs_positive_time:
                    # Nesterov's k(t) reads the time, which the rescaled solve sees as the gap's phase:
                    # for it only the batching is checked, against a one-sample ODERNN.
                    z = ODEBlock(rnn.block.field, t0=t0, t1=t0 + 1, options=EXACT)(
                        z, args=torch.tensor([gap], dtype=torch.float64))
                else:
                    z = ODEBlock(field, t0=0.0, t1=gap, options=EXACT)(z)
            z = torch.cat([rnn.cell(x[sample:sample + 1, k], z[:, 0]).unsqueeze(1), z[:, 1:]], dim=1)
            y = rnn.readout(field.hidden(z, rnn.block.t1))
            torch.testing.assert_close(batched[sample, k], y[0], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("field_class_", [HBNODE, AdamNODE])
def test_adjoint_gradients_equal_direct_backprop_in_float64(field_class_):
    x, times = irregular(3, 4, 2, seed=3)
    grads = []
    for adjoint in (True, False):
        torch.manual_seed(1)
        rnn = ODERNN(field_class_(MLP(3, 3)), 2, 3, nn.Linear(3, 2),
                     options=EXACT.replace(gradient="adjoint" if adjoint else "direct")).double()
        rnn(x, times).pow(2).sum().backward()
        grads.append([p.grad for p in rnn.parameters()])
    for adjoint_grad, direct_grad in zip(*grads):
        assert adjoint_grad is not None and adjoint_grad.abs().sum() > 0
        torch.testing.assert_close(adjoint_grad, direct_grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_field_of_the_family_trains_in_an_odernn(model):
    torch.manual_seed(0)
    kind = field_class(model)
    options = augmentation(model, 2)
    state = kind.state_features(3, **options)
    field = kind(MLP(*kind.f_features(state)), **options)
    rnn = ODERNN(field, 2, state, nn.Linear(state, 2), options=SolverOptions(rtol=1e-3, atol=1e-3))
    x, times = irregular(4, 3, 2)
    out = rnn(x.float(), times.float())
    out.sum().backward()
    assert out.shape == (4, 3, 2) and all(p.grad is not None for p in rnn.cell.parameters())


def test_padded_sequences_match_their_unpadded_runs_and_output_zero_when_padded():
    torch.manual_seed(0)
    rnn = ODERNN(HBNODE(MLP(3, 3)), 2, 3, nn.Linear(3, 2), options=EXACT).double()
    x, times = irregular(2, 5, 2)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    padded_x, padded_times = x.clone(), times.clone()
    padded_x[1, 3:], padded_times[1, 3:] = math.nan, 0.0
    out = rnn(padded_x, padded_times, mask)
    torch.testing.assert_close(out[1, :3], rnn(x[1:, :3], times[1:, :3])[0])
    torch.testing.assert_close(out[0], rnn(x[:1], times[:1])[0])
    assert bool((out[1, 3:] == 0).all())


def test_sequence_nfe_counts_every_gap_of_the_sequence():
    """rk4 with step 0.5 on the unit clock: 2 steps of 4 evaluations per gap, steps - 1 gaps."""
    options = SolverOptions(method="rk4", step_size=0.5, seminorm=False)
    rnn = ODERNN(NODE(MLP(3, 3)), 2, 3, nn.Linear(3, 1), options=options)
    x, times = irregular(2, 6, 2)
    rnn(x.float(), times.float())
    assert rnn.sequence_nfe == 8 * 5


def test_warm_starts_are_off_in_the_odernn_block():
    assert not ODERNN(NODE(MLP(3, 3)), 2, 3, nn.Linear(3, 1)).block.warm_start


@pytest.fixture
def rnn():
    return ODERNN(NODE(MLP(3, 3)), 2, 3, nn.Linear(3, 1))


def test_sequences_of_different_lengths_without_a_mask_are_refused(rnn):
    with pytest.raises(ValueError, match="different lengths .*mask="):
        rnn([torch.randn(4, 2), torch.randn(3, 2)], torch.arange(4.0))


def test_non_increasing_times_are_refused(rnn):
    times = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"increase strictly .*sample 1: step 2 at 1 is not after step 1"):
        rnn(torch.randn(2, 3, 2), times)


def test_nan_observations_are_refused(rnn):
    x = torch.randn(2, 3, 2)
    x[1, 2, 0] = math.nan
    with pytest.raises(ValueError, match=r"NaN or Inf \(sample 1, step 2\)"):
        rnn(x, torch.arange(3.0))


def test_a_mask_with_holes_is_refused(rnn):
    mask = torch.tensor([[True, False, True]])
    with pytest.raises(ValueError, match="prefix"):
        rnn(torch.randn(1, 3, 2), torch.arange(3.0), mask)


def test_regularisers_are_refused():
    with pytest.raises(ValueError, match="kinetic, jacobian and steer .* do not apply"):
        ODERNN(NODE(MLP(3, 3)), 2, 3, nn.Linear(3, 1), options=SolverOptions(kinetic=0.1))


def test_a_plain_callable_f_under_the_adjoint_is_refused():
    with pytest.raises(ValueError, match="plain callable"):
        ODERNN(NODE(lambda t, h: -h), 2, 3, nn.Linear(3, 1))
