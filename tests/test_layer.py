"""``NeuralODE``: features in, features out, composable, and never silently wrong."""

import pytest
import torch
from torch import nn

from adamnode import AdamNODE, HBNODE, NODE, NesterovNODE, NeuralODE, ODEBlock
from adamnode.models.family import FIELDS
from adamnode.models.scalars import sigmoid

W = 8


def mlp(features_in: int = W, features_out: int = W) -> nn.Module:
    return nn.Sequential(nn.Linear(features_in, 16), nn.Tanh(), nn.Linear(16, features_out))


def layer_for(name: str, **kwargs) -> NeuralODE:
    options = {"augment_dim": 2} if name == "anode" else {}
    field_class = FIELDS[name]
    return NeuralODE(field_class(mlp(*field_class.f_features(field_class.state_features(W, **options))), **options),
                     **kwargs)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_it_trains_inside_nn_sequential_for_every_model(name):
    torch.manual_seed(0)
    layer = layer_for(name)
    out_features = W + 2 if name == "anode" else W
    model = nn.Sequential(nn.Linear(2, W), layer, nn.Linear(out_features, 2))
    x = torch.randn(64, 2)
    y = (x[:, 0] * x[:, 1] > 0).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0], losses


def test_f_may_take_x_or_t_and_x_or_t_x_and_args():
    torch.manual_seed(1)
    net = mlp()
    x = torch.randn(5, W)
    autonomous = NeuralODE(HBNODE(net))(x)

    class TimeAndState(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, t, h):
            return self.net(h)

    torch.testing.assert_close(NeuralODE(HBNODE(TimeAndState()))(x), autonomous)

    class Driven(TimeAndState):
        def forward(self, t, h, drive):
            return self.net(h) + drive

    drive = torch.zeros(5, W)
    torch.testing.assert_close(NeuralODE(HBNODE(Driven()))(x, args=drive), autonomous)
    with pytest.raises(ValueError, match=r"takes one argument, f\(x\), so it cannot take args"):
        NeuralODE(HBNODE(net))(x, args=drive)


def test_any_feature_shape_comes_back_in_its_own_shape_and_a_grid_adds_a_time_dim():
    f = nn.Conv2d(3, 3, 3, padding=1)
    x = torch.randn(2, 3, 5, 5)
    assert NeuralODE(AdamNODE(f))(x).shape == x.shape
    layer = NeuralODE(AdamNODE(f), times=[0.0, 0.5, 1.0])
    assert layer(x).shape == (3, *x.shape)


@pytest.mark.parametrize("field_class", [HBNODE, NesterovNODE, AdamNODE])
def test_hidden_and_component_read_a_trajectory_per_time(field_class):
    torch.manual_seed(2)
    field = field_class(mlp()).double()
    t0 = 1.0 if field.needs_positive_time else 0.0
    times = torch.linspace(t0, t0 + 1, 6, dtype=torch.float64)
    block = ODEBlock(field, t0, t0 + 1, rtol=1e-9, atol=1e-9)
    z0 = field.initial_state(torch.randn(5, W, dtype=torch.float64), torch.randn(5, W, dtype=torch.float64))
    path = block(z0, times)
    hidden = block.hidden(path)
    assert hidden.shape == (6, 5, W)
    for i, t in enumerate(times.tolist()[1:], start=1):
        end = ODEBlock(field, t0, t, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(hidden[i], end.hidden(end(z0)), rtol=1e-6, atol=1e-8)
    assert field.component(path, field.components[0], trajectory=True).shape == (6, 5, W)
    with pytest.raises(ValueError, match=r"reads a state \[batch, k, \*features\]"):
        field.component(path, field.components[0])
    with pytest.raises(ValueError, match="hidden reads the last call's output, a trajectory"):
        block.hidden(path[-1])


def test_a_learnable_end_time_is_refused_not_frozen():
    with pytest.raises(ValueError, match="t1 requires grad, but the integration interval is not learned"):
        ODEBlock(HBNODE(mlp()), t1=nn.Parameter(torch.tensor(1.0)))
    with pytest.raises(ValueError, match="times require grad"):
        block = ODEBlock(HBNODE(mlp()))
        block(block.initial_state(torch.randn(2, W)), torch.tensor([0.0, 1.0], requires_grad=True))


def test_statistics_after_an_empty_batch_say_zero_evaluations():
    block = ODEBlock(HBNODE(mlp()))
    block(block.initial_state(torch.randn(4, W)))
    assert block.stats.nfe_forward > 0
    block(block.initial_state(torch.randn(0, W)))
    assert block.stats.nfe_forward == 0 and block.stats.last().steps_forward == 0


def test_options_per_call_and_with_options_share_the_weights():
    torch.manual_seed(3)
    layer = NeuralODE(AdamNODE(mlp()), rtol=1e-3, atol=1e-3)
    x = torch.randn(16, W)
    loose = layer(x)
    loose_nfe = layer.block.stats.nfe_forward
    tight = layer(x, options={"rtol": 1e-7, "atol": 1e-7})
    assert layer.block.stats.nfe_forward > loose_nfe
    assert layer.block.options.rtol == 1e-3, "a per-call option changes that call only"
    tighter = layer.block.with_options(rtol=1e-7, atol=1e-7)
    assert tighter.field is layer.block.field
    z0 = layer.initial_state(x)
    torch.testing.assert_close(tighter.hidden(tighter(z0)), tight)
    assert not torch.allclose(loose, tight, rtol=0, atol=1e-6)


def test_adamnode_moves_its_state_from_the_default_momentum():
    torch.manual_seed(4)
    f = mlp()
    x = torch.randn(64, W)
    with torch.no_grad():
        node = (NeuralODE(NODE(f))(x) - x).norm(dim=1).mean()
        paper_rates = {"beta1": sigmoid(-5.0), "beta2": sigmoid(5.0)}
        from_zeros = (NeuralODE(AdamNODE(f, **paper_rates), m0="zeros")(x) - x).norm(dim=1).mean()
        along_f = (NeuralODE(AdamNODE(f, **paper_rates))(x) - x).norm(dim=1).mean()
        default = (NeuralODE(AdamNODE(f))(x) - x).norm(dim=1).mean()
    assert from_zeros < 0.01 * node  # 0.1's zeros with the paper's rates barely move h
    assert along_f > 0.5 * node and default > 0.5 * node


def test_a_learned_initial_momentum_gets_gradients():
    encoder = nn.Linear(W, W)
    layer = NeuralODE(HBNODE(mlp()), m0=encoder)
    layer(torch.randn(4, W)).pow(2).sum().backward()
    assert encoder.weight.grad is not None and encoder.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="m0 must be one of"):
        NeuralODE(HBNODE(mlp()), m0="learned")


def test_a_second_call_makes_no_tensor_of_t0_for_the_default_momentum(monkeypatch):
    """m0 = "flow" evaluates f at t0, with the block's tensor of t0: on a GPU a new one in every call
    would be a host-to-device copy that syncs and breaks CUDA-graph capture."""
    layer = NeuralODE(HBNODE(nn.Sequential(nn.Linear(3, 3), nn.Tanh())), 0.1, 1.0, method="rk4", step_size=0.25)
    x = torch.randn(4, 3)
    first = layer(x)
    made, make = [], torch.tensor

    def counted(*args, **kwargs):
        made.append(args)
        return make(*args, **kwargs)

    monkeypatch.setattr(torch, "tensor", counted)
    again = layer(x)
    again.sum().backward()
    assert made == [] and torch.equal(first, again)
    # Rounded as the solve's times are: the field sees t0 = float32(0.1), the same value in both.
    assert layer.block.start_time(x).item() == torch.tensor(0.1, dtype=torch.float32).item() != 0.1
