"""Each vector field against its equation, written out independently here."""

import math

import pytest
import torch
from torch import nn

from adamnode import ANODE, GHBNODE, HBNODE, NODE, SONODE, AdamNODE, GNesterovNODE, NesterovNODE, augment
from adamnode.models.family import MODEL_NAMES, default_interval, field_class

B, D = 5, 4


@pytest.fixture(autouse=True)
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


class Linear(nn.Module):
    """f(t, h) = tanh(W h + t b): nonlinear, time-dependent, parameters known to the test."""

    def __init__(self, d_in, d_out=None):
        super().__init__()
        self.lin = nn.Linear(d_in, d_out or d_in)

    def forward(self, t, h):
        return torch.tanh(self.lin(h) + t)


def rand_state(k):
    return torch.randn(B, k, D)


def sig(x):
    return 1 / (1 + math.exp(-x))


def sp(x):
    return math.log1p(math.exp(x))


def test_node():
    f = Linear(D)
    z, t = rand_state(1), torch.tensor(0.3)
    torch.testing.assert_close(NODE(f)(t, z)[:, 0], f(t, z[:, 0]))


def test_sonode_f_sees_h_and_u():
    f = Linear(2 * D, D)
    z, t = rand_state(2), torch.tensor(0.7)
    out = SONODE(f)(t, z)
    torch.testing.assert_close(out[:, 0], z[:, 1])
    torch.testing.assert_close(out[:, 1], f(t, torch.cat([z[:, 0], z[:, 1]], dim=1)))
    # A non-contiguous state must give the same answer.
    wide = torch.randn(B, 2, 2 * D)[:, :, ::2]
    torch.testing.assert_close(SONODE(f)(t, wide), SONODE(f)(t, wide.contiguous()))


def test_hbnode():
    f = Linear(D)
    z, t = rand_state(2), torch.tensor(0.1)
    field = HBNODE(f, gamma=0.2)
    h, m = z[:, 0], z[:, 1]
    out = field(t, z)
    torch.testing.assert_close(out[:, 0], m)
    torch.testing.assert_close(out[:, 1], -0.2 * m + f(t, h))


@pytest.mark.parametrize("act,fn", [("tanh", torch.tanh), ("hardtanh", lambda x: x.clamp(-1, 1))])
def test_ghbnode(act, fn):
    f = Linear(D)
    z, t = rand_state(2) * 2, torch.tensor(0.4)
    field = GHBNODE(f, gamma=0.3, xi=1.5, activation=act)
    h, m = z[:, 0], z[:, 1]
    out = field(t, z)
    torch.testing.assert_close(out[:, 0], fn(m))
    torch.testing.assert_close(out[:, 1], -0.3 * m + f(t, h) - 1.5 * h)


@pytest.mark.parametrize("v_activation", ["softplus", "sigmoid", "identity"])
def test_adamnode(v_activation):
    f = Linear(D)
    z, t = rand_state(3), torch.tensor(0.5)
    z[:, 2] = z[:, 2].abs()
    b1, b2, eps = 0.1, 0.9, 1e-8
    field = AdamNODE(f, beta1=b1, beta2=b2, eps=eps, v_activation=v_activation)
    h, m, v = z[:, 0], z[:, 1], z[:, 2]
    s = {"softplus": torch.log1p(torch.exp(v)), "sigmoid": 1 / (1 + torch.exp(-v)), "identity": v}[v_activation]
    fh = f(t, h)
    out = field(t, z)
    torch.testing.assert_close(out[:, 0], -m / (torch.sqrt(s) + eps))
    torch.testing.assert_close(out[:, 1], b1 * (-fh - m))
    torch.testing.assert_close(out[:, 2], b2 * (fh**2 - v))


def test_nesterov():
    f = Linear(D)
    z, t = rand_state(2), torch.tensor(1.3)
    k = 1.3 ** -1.5 * math.exp(0.65)
    x, m = z[:, 0], z[:, 1]
    out = NesterovNODE(f)(t, z)
    torch.testing.assert_close(out[:, 0], m)
    torch.testing.assert_close(out[:, 1], -m - f(t, k * x))
    torch.testing.assert_close(NesterovNODE(f).hidden(z, 1.3), k * x)


def test_gnesterov():
    f = Linear(D)
    z, t = rand_state(2), torch.tensor(1.7)
    k = 1.7 ** -1.5 * math.exp(0.85)
    x, m = z[:, 0], z[:, 1]
    out = GNesterovNODE(f, xi=0.7)(t, z)
    torch.testing.assert_close(out[:, 0], torch.tanh(m))
    torch.testing.assert_close(out[:, 1], -m - torch.tanh(f(t, k * x)) - 0.7 * k * x)


def test_defaults_are_the_papers_values_but_adamnodes_measured_beta1():
    field = AdamNODE(Linear(D))
    assert field.beta1.item() == pytest.approx(sig(3))  # measured, docs/DEVIATIONS.md; the paper's MNIST: sig(-5)
    assert field.beta2.item() == pytest.approx(sig(5))
    assert HBNODE(Linear(D)).gamma.item() == pytest.approx(sig(-3))
    assert GHBNODE(Linear(D)).xi.item() == pytest.approx(sp(2.0))


def test_learnable_scalars_stay_valid_after_wild_optimizer_steps():
    field = AdamNODE(Linear(D), beta1=0.5, beta2=0.5)
    hb = GHBNODE(Linear(D), gamma=0.5, xi=0.5)
    opt = torch.optim.SGD(list(field.parameters()) + list(hb.parameters()), lr=1e3)
    for sign in (1, -1):
        opt.zero_grad()
        (sign * (field.beta1 + field.beta2 + hb.gamma + hb.xi)).backward()
        opt.step()
        assert 0 < field.beta1.item() < 1 and 0 <= field.beta2.item() <= 1
        assert 0 <= hb.gamma.item() <= 1 and hb.xi.item() >= 0


def test_frozen_scalars_are_buffers():
    field = AdamNODE(Linear(D), learn_betas=False)
    names = {n for n, _ in field.named_parameters()}
    assert "beta1_logit" not in names and "beta1_logit" in dict(field.named_buffers())
    assert "beta1_logit" in {n for n, _ in AdamNODE(Linear(D)).named_parameters()}


def test_initial_states_and_components():
    h0, m0 = torch.randn(B, D), torch.randn(B, D)
    adam = AdamNODE(Linear(D))
    z = adam.initial_state(h0, m0)
    assert z.shape == (B, 3, D)
    torch.testing.assert_close(adam.component(z, "h"), h0)
    torch.testing.assert_close(adam.component(z, "m"), m0)
    torch.testing.assert_close(adam.component(z, "v"), m0 * m0)
    hb = HBNODE(Linear(D)).initial_state(h0)
    torch.testing.assert_close(hb[:, 1], torch.zeros(B, D))
    assert NODE(Linear(D)).initial_state(h0).shape == (B, 1, D)
    with pytest.raises(ValueError, match="components"):
        adam.component(z, "u")


def test_anode_pads_zero_channels():
    x = torch.randn(B, 3, 2, 2)
    z = ANODE(lambda t, h: h, augment_dim=2).initial_state(x)
    assert z.shape == (B, 1, 5, 2, 2)
    torch.testing.assert_close(z[:, 0, :3], x)
    assert torch.count_nonzero(z[:, 0, 3:]) == 0
    torch.testing.assert_close(augment(x, 0), x)


@pytest.mark.parametrize("bad", [
    lambda: AdamNODE(Linear(D), beta1=1.0),
    lambda: AdamNODE(Linear(D), beta2=0.0),
    lambda: AdamNODE(Linear(D), beta1=float("nan")),
    lambda: AdamNODE(Linear(D), v_activation="relu"),
    lambda: AdamNODE(Linear(D), eps=-1.0),
    lambda: HBNODE(Linear(D), gamma=-0.1),
    lambda: GHBNODE(Linear(D), xi=0.0),
    lambda: GHBNODE(Linear(D), activation="swish"),
    lambda: ANODE(Linear(D), augment_dim=0),
    lambda: NODE("not callable"),
    lambda: field_class("resnet")(Linear(D)),
])
def test_invalid_construction_is_a_value_error(bad):
    with pytest.raises(ValueError):
        bad()


def test_validate_state_errors_name_expected_and_given():
    field = AdamNODE(Linear(D))
    with pytest.raises(ValueError, match=r"\[batch, 3, \*features\].*got shape \(5, 2, 4\)"):
        field.validate_state(torch.randn(B, 2, D))
    with pytest.raises(ValueError, match="floating"):
        field.validate_state(torch.ones(B, 3, D, dtype=torch.int64))
    bad = torch.randn(B, 3, D)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        field.validate_state(bad)
    with pytest.raises(ValueError, match="shape of h0"):
        field.initial_state(torch.randn(B, D), torch.randn(B, D + 1))


def test_family_registry_covers_every_model():
    for name in MODEL_NAMES:
        options = {"augment_dim": 1} if name == "anode" else {}
        field = field_class(name.upper())(Linear(D), **options)
        t0, t1 = default_interval(name)
        assert t1 - t0 == 1.0 and (t0 > 0 or not field.needs_positive_time)


@pytest.mark.parametrize("v_activation", ["softplus", "sigmoid", "identity"])
def test_adamnode_gradient_stays_finite_where_s_of_v_underflows(v_activation):
    field = AdamNODE(Linear(D), v_activation=v_activation).float()
    z = torch.randn(B, 3, D, dtype=torch.float32)
    z[:, 2] = -200.0  # softplus(-200) and sigmoid(-200) are exactly 0 in float32
    z.requires_grad_(True)
    field(torch.tensor(0.5), z).sum().backward()
    assert torch.isfinite(z.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in field.parameters())


def test_a_field_keeps_the_options_it_was_built_with_defaults_filled_in():
    assert AdamNODE(Linear(D), beta1=0.3, learn_betas=False).options == {
        "beta1": 0.3, "beta2": AdamNODE.option_defaults()["beta2"], "eps": 1e-8, "v_activation": "softplus",
        "learn_betas": False}
    # Subclasses chained through super() keep their own constructor's options, not their parent's.
    assert GHBNODE(Linear(D), activation="hardtanh").options["activation"] == "hardtanh"
    assert set(GHBNODE(Linear(D)).options) == set(GHBNODE.option_defaults())
    assert ANODE(Linear(D), augment_dim=3).options == {"augment_dim": 3} and NODE(Linear(D)).options == {}
