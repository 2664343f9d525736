"""Nested spheres: the embedded default task, generated from the seed, no files needed.

Class 0 is the ball ``|x| < r1``, class 1 the shell ``r2 < |x| < r3``, both sampled uniformly
in volume with equally many points (Dupont, Doucet, Teh, "Augmented Neural ODEs", 2019).

Default ``dim = 1`` (ANODE's ``g_1d``) because there the claim is a theorem, not a tendency: a 1-D
ODE flow preserves order, so after NODE the ball lies between the shell's two halves and a linear
readout (a threshold) can get at most one half right: NODE's accuracy is capped near 75% however
long it trains. An augmented state (ANODE) or a momentum state (h, m) lifts the flow into more
dimensions, where the halves can pass each other. ``dim = 2`` (preset ``plane``) is the picture of
the papers; there a finite sample leaves gaps in the shell that NODE can squeeze through, so the
separation is a matter of training budget only.

Models: ``f`` is an MLP on ``[h, t]`` (two tanh layers); momentum models get their initial
momentum from a learned linear map of ``x`` (AdamNODE: ``v0 = m0**2``); ANODE pads
``augment_dim`` zeros; ``model_options`` (the fields' constructor options) apply before the
width is matched; SONODE's ``f`` sees ``[h, u]``; the readout is linear on ``h``. Every
model's hidden width is chosen so that its parameter count is the closest to NODE's at ``width``.

Training defaults run on one CPU thread: with tensors of a few thousand numbers a second thread
only adds synchronisation, which costs up to 50x when other processes share the cores.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.family import augmentation, default_interval, field_class, options_for
from ..nets import ODEModel
from ..nets.sizing import count_built, matched_width
from ..solve import ODEBlock, SolverOptions
from .base import Split, Task
from ..errors import ConfigError

CLASSES = 2


class TimeMLP(nn.Module):
    """``f(t, h)``: two tanh layers of ``width`` on ``[h, t]``."""

    def __init__(self, inputs: int, outputs: int, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs + 1, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, outputs))

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([h, t.expand(h.shape[0], 1)], dim=1))


class PointEncoder(nn.Module):
    """``x -> (h0, m0)``: the point itself and, for momentum models, a learned linear momentum."""

    def __init__(self, dim: int, momentum: bool):
        super().__init__()
        self.momentum = nn.Linear(dim, dim) if momentum else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return x, None if self.momentum is None else self.momentum(x)


def sample_shell(count: int, dim: int, inner: float, outer: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` points uniform in volume between radii ``inner`` and ``outer`` in ``dim`` dimensions."""
    direction = torch.randn(count, dim, generator=generator, dtype=torch.float64)
    direction /= direction.norm(dim=1, keepdim=True)
    # Inverse CDF of the radius: the volume inside radius r grows as r**dim.
    u = torch.rand(count, 1, generator=generator, dtype=torch.float64)
    radius = (inner ** dim + u * (outer ** dim - inner ** dim)) ** (1.0 / dim)
    return (direction * radius).float()


def sample_spheres(count: int, settings: dict[str, Any], generator: torch.Generator) -> Split:
    """``count`` labelled points, half in the ball (class 0), half in the shell (class 1), shuffled."""
    dim, ball = settings["dim"], count // 2
    inputs = torch.cat([sample_shell(ball, dim, 0.0, settings["r1"], generator),
                        sample_shell(count - ball, dim, settings["r2"], settings["r3"], generator)])
    targets = torch.cat([torch.zeros(ball, dtype=torch.long), torch.ones(count - ball, dtype=torch.long)])
    order = torch.randperm(count, generator=generator)
    return Split(inputs[order], targets[order])


class SpheresTask(Task):
    name = "spheres"
    description = ("nested spheres: ball |x|<r1 (class 0) against shell r2<|x|<r3 (class 1); "
                   "NODE cannot separate them in dim 1, augmented and momentum models can")
    defaults = {
        "dim": 1, "r1": 0.5, "r2": 1.0, "r3": 1.5, "n_train": 512, "n_test": 512, "width": 32, "augment_dim": 1,
        "epochs": 15, "batch_size": 64, "lr": 0.01, "tol": 1e-3,
        # Tensors this small gain nothing from a second thread, and lose a lot when cores are shared.
        "threads": 1,
    }
    presets = {
        "tiny": {"n_train": 64, "n_test": 64, "width": 8, "epochs": 2, "batch_size": 32},
        "plane": {"dim": 2, "n_train": 1024, "n_test": 1024, "epochs": 20},
        "long": {"n_train": 1024, "n_test": 1024, "epochs": 40},
    }

    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        _check(settings)
        generator = torch.Generator().manual_seed(settings["seed"])
        train = sample_spheres(settings["n_train"], settings, generator)
        test = sample_spheres(settings["n_test"], settings, generator)
        for key, total in (("train_subset", len(train)), ("test_subset", len(test))):
            if (settings.get(key) or 0) > total:
                split = key.split("_")[0]
                raise ConfigError(f"{key} {settings[key]} is more than the {total} spheres {split} points; choose "
                                 f"at most {total}, or set n_{split} (config file) to generate more")
        # The points are i.i.d., so the first ones are as fair a subset as any.
        return (train.first(settings.get("train_subset")).to(device),
                test.first(settings.get("test_subset")).to(device))

    def build_model(self, model: str, solver: SolverOptions, settings: dict[str, Any]) -> nn.Module:
        settings = {**self.defaults, **settings}
        _check(settings)
        target = count_built(lambda: _assemble("node", settings["width"], solver, settings))
        width = matched_width(lambda width: count_built(lambda: _assemble(model, width, solver, settings)), target,
                              max_width=4 * settings["width"])
        return _assemble(model, width, solver, settings)


def _assemble(model: str, width: int, solver: SolverOptions, settings: dict[str, Any]) -> ODEModel:
    """``model`` with ``f`` two layers of ``width``; ANODE gets ``augment_dim`` zero channels."""
    kind, dim = field_class(model), settings["dim"]
    # A user's augment_dim (a model option) overrides the task's setting for ANODE.
    options = {**augmentation(model, settings["augment_dim"]),
               **options_for(model, settings.get("model_options", {}))}
    inputs, outputs = kind.f_features(kind.state_features(dim, **options))
    field = kind(TimeMLP(inputs, outputs, width), **options)
    ode = ODEBlock(field, *default_interval(model), options=solver)
    return ODEModel(PointEncoder(dim, momentum=kind.takes_momentum()), ode, nn.Linear(outputs, CLASSES))


def _check(settings: dict[str, Any]) -> None:
    for key in ("dim", "n_train", "n_test", "width", "augment_dim"):
        if settings[key] < 1:
            raise ConfigError(f"spheres setting {key!r} must be at least 1, got {settings[key]}")
    if not 0 < settings["r1"] < settings["r2"] < settings["r3"]:
        raise ConfigError(f"spheres radii must satisfy 0 < r1 < r2 < r3, got r1={settings['r1']}, "
                         f"r2={settings['r2']}, r3={settings['r3']}")
    if min(settings["n_train"], settings["n_test"]) < CLASSES:
        raise ConfigError("spheres n_train and n_test must be at least 2 (one point per class)")
