"""The paper's image classifiers: parameter budgets, state layout, the time channel, training."""

import math

import pytest
import torch
from torch.nn import functional as F

from adamnode.models.family import MODEL_NAMES, field_class
from adamnode.nets.images import CIFAR10, MNIST, TimeConvField, image_classifier
from adamnode.solve import SolverOptions

# SPEC section 3: the reference code's parameter counts.
SPEC_COUNTS = {
    "mnist": {"node": 85_316, "anode": 85_462, "sonode": 86_179, "hbnode": 85_931, "ghbnode": 85_235,
              "adamnode": 85_832},
    "cifar10": {"node": 173_611, "anode": 172_452, "sonode": 171_635, "hbnode": 172_916, "ghbnode": 172_916,
                "adamnode": 173_070},
}
# Ours, as derived in the module docstring of adamnode.nets.images.
OUR_COUNTS = {
    "mnist": {"node": 85_316, "anode": 85_462, "sonode": 86_179, "hbnode": 85_930, "ghbnode": 85_235,
              "adamnode": 85_931, "nesterovnode": 85_929, "gnesterovnode": 85_930},
    "cifar10": {"node": 173_611, "anode": 172_452, "sonode": 171_635, "hbnode": 172_916, "ghbnode": 172_917,
                "adamnode": 173_261, "nesterovnode": 172_915, "gnesterovnode": 172_916},
}
DATASETS = {"mnist": MNIST, "cifar10": CIFAR10}
LOOSE = SolverOptions(rtol=1e-2, atol=1e-2)
# Two Euler steps keep a training step of all 16 models cheap: the fewest for f to reach h through
# the momentum. The adaptive solve is exercised on the paper's model below and in tests/solve.
TWO_STEPS = SolverOptions(method="euler", step_size=0.5, gradient="adjoint", seminorm=False)


def count(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def images(dataset, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, dataset.image_channels, dataset.size, dataset.size, generator=generator)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_parameter_counts(dataset, model):
    ours = count(image_classifier(DATASETS[dataset], model, SolverOptions()))
    assert ours == OUR_COUNTS[dataset][model]
    if model in SPEC_COUNTS[dataset]:
        assert ours == pytest.approx(SPEC_COUNTS[dataset][model], rel=0.01)
    else:
        assert ours == pytest.approx(OUR_COUNTS[dataset]["adamnode"], rel=0.03)


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_training_step_updates_every_parameter(dataset, model):
    train_step(image_classifier(DATASETS[dataset], model, TWO_STEPS), DATASETS[dataset])


def test_training_step_with_the_papers_adaptive_adjoint_solve():
    net = image_classifier(MNIST, "adamnode", LOOSE.replace(method="dopri5", gradient="adjoint", seminorm=False))
    train_step(net, MNIST)
    assert net.block.stats.nfe_forward == 2 + 6 * net.block.stats.steps_forward


def train_step(net, dataset):
    torch.manual_seed(0)
    x, y = images(dataset), torch.tensor([3, 7])
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    logits = net(x)
    assert logits.shape == (2, 10)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    assert math.isfinite(loss.item()) and net.block.stats.nfe_backward > 0
    unchanged = [name for (name, p), old in zip(net.named_parameters(), before) if torch.equal(p, old)]
    assert unchanged == []


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", [name for name in MODEL_NAMES if field_class(name).takes_momentum()])
def test_initial_state_starts_from_the_image(dataset, model):
    net = image_classifier(DATASETS[dataset], model, LOOSE)
    x = images(DATASETS[dataset])
    h0, m0 = net.encoder(x)
    z0 = net.block.initial_state(h0, m0)
    channels = DATASETS[dataset].architectures[model].channels
    assert z0.shape[2] == channels and m0.shape == h0.shape
    hidden = net.block.field.hidden(z0, net.block.t0)
    torch.testing.assert_close(hidden[:, :x.shape[1]], x)
    if model == "adamnode":
        torch.testing.assert_close(z0[:, 2], z0[:, 1] ** 2)


def test_nesterov_runs_on_positive_times_and_reads_out_k_times_x():
    net = image_classifier(MNIST, "nesterovnode", LOOSE)
    assert (net.block.t0, net.block.t1) == (1.0, 2.0)
    z = torch.randn(2, 2, 5, 28, 28)
    torch.testing.assert_close(net.block.hidden(z), 2.0 ** -1.5 * math.exp(1.0) * z[:, 0])


def test_first_order_models_start_from_the_padded_image():
    x = images(MNIST)
    anode = image_classifier(MNIST, "anode", LOOSE)
    z0 = anode.block.initial_state(*anode.encoder(x))
    assert z0.shape == (2, 1, 6, 28, 28)
    assert torch.equal(z0[:, 0, :1], x) and not z0[:, 0, 1:].any()
    node = image_classifier(CIFAR10, "node", LOOSE)
    assert torch.equal(node.block.initial_state(*node.encoder(images(CIFAR10)))[:, 0], images(CIFAR10))


def concatenated_reference(f, t, h):
    """The paper's form, written out: a constant channel holding t concatenated before each conv."""
    def with_t(x):
        return torch.cat([x, torch.full_like(x[:, :1], float(t))], dim=1)

    out = torch.relu(f.conv_in(with_t(h)))
    out = torch.relu(f.conv_mid(with_t(out)))
    return f.conv_out(with_t(out))


@pytest.mark.parametrize("t", [0.0, 0.37, 1.0])
def test_time_channel_folding_equals_the_concatenated_form(t):
    torch.manual_seed(0)
    f = TimeConvField(5, 7, 5).double()
    h = torch.randn(3, 5, 9, 9, dtype=torch.float64)
    torch.testing.assert_close(f(torch.tensor(t, dtype=torch.float64), h), concatenated_reference(f, t, h))
    strided = torch.randn(3, 2, 5, 9, 9, dtype=torch.float64)[:, 1]
    torch.testing.assert_close(f(t, strided), concatenated_reference(f, t, strided.contiguous()))


def test_time_enters_as_a_channel_without_copying_t():
    f = TimeConvField(2, 4, 2)
    h = torch.randn(3, 2, 5, 5)
    assert not torch.allclose(f(torch.tensor(0.0), h), f(torch.tensor(1.0), h))
    torch.testing.assert_close(f(0.5, h), f(torch.tensor(0.5), h))
    assert f.conv_in.in_channels == 3 and f.conv_mid.in_channels == 5 and f.conv_out.in_channels == 5


def test_paper_options_per_dataset():
    mnist_adam = image_classifier(MNIST, "adamnode", LOOSE).block.field
    cifar_adam = image_classifier(CIFAR10, "adamnode", LOOSE).block.field
    assert mnist_adam.v_activation == "softplus" and cifar_adam.v_activation == "sigmoid"
    torch.testing.assert_close(mnist_adam.beta1, torch.sigmoid(torch.tensor(-5.0)))
    torch.testing.assert_close(mnist_adam.beta2, torch.sigmoid(torch.tensor(5.0)))
    torch.testing.assert_close(cifar_adam.beta1, torch.sigmoid(torch.tensor(3.0)))
    torch.testing.assert_close(cifar_adam.beta2, torch.sigmoid(torch.tensor(3.0)))
    for dataset in (MNIST, CIFAR10):
        ghb = image_classifier(dataset, "ghbnode", LOOSE).block.field
        assert ghb.activation is torch.tanh
        torch.testing.assert_close(ghb.xi, F.softplus(torch.tensor(2.0)))
    assert image_classifier(MNIST, "sonode", LOOSE).block.field.f.conv_in.in_channels == 2 * 5 + 1


def test_cifar_ghbnode_adds_a_fixed_residual_inside_f():
    f = image_classifier(CIFAR10, "ghbnode", LOOSE).block.field.f
    assert f.residual == 1.5 and image_classifier(MNIST, "ghbnode", LOOSE).block.field.f.residual == 0.0
    h = torch.randn(2, 12, 32, 32)
    conv_only = TimeConvField(12, 51, 12)
    conv_only.load_state_dict(f.state_dict())
    torch.testing.assert_close(f(torch.tensor(0.3), h), conv_only(torch.tensor(0.3), h) + 1.5 * h)
