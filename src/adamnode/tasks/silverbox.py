"""Silverbox system identification: predict the output voltage V2 from the input voltage V1.

Data split (chronological, no overlap): the record opens with the "arrow", filtered Gaussian
noise of linearly growing amplitude (samples 0..40,399 are used for training), then, after a short
pause, ten realisations of an odd random-phase multisine (samples 40,650..127,399, the first 100
samples after the pause skipped as start-up transient, are the test part). Training therefore
covers the test's amplitudes (the arrow's largest input is about 1.5 times the multisine's) and the
test part is never seen.
This is not the benchmark's usual protocol (estimate on the multisine, test on the arrow).

Examples are windows of ``past + horizon`` samples (defaults 16 + 16). The model reads the past
inputs and outputs to set its initial state, then simulates the horizon from the input alone
(``DrivenSequenceModel``); the loss is the MSE over the horizon. Training windows start every
``stride`` samples (default 8); test windows tile the test part without overlap. ``train_subset``
and ``test_subset`` take a fixed subset (the same for every model and seed): a random one for
training, an evenly spaced one for testing.

Metric ``rmse_mV``: the root-mean-square error of the predicted V2 in millivolts over every
predicted sample, i.e. a ``horizon``-step simulation error with the initial state estimated from
the past window. It is not comparable with the literature's free-run simulation error over the
whole test signal.

Units: each voltage is centred on its training mean and divided by a fixed unit near its standard
deviation (V1: 20 mV, V2: 50 mV), so the metric converts back without any state.

Models: ``f`` is a tanh MLP on ``[h, u(t)]`` (SONODE: ``[h, u_velocity, u(t)]``), one time unit
per sample. ``h0`` and ``m0`` come from linear maps of the past window; the readout is linear on
the hidden state (Nesterov: ``h = k(t) x``). Nesterov models run on the clock ``t + 1``, because
they are singular at 0; their ``k(t)`` grows like ``e^(t/2)``, which is why the horizon is short.
Each model's MLP width is chosen so its parameter count, with its ``model_options`` applied, is
closest to HBNODE's at ``width`` without them.

Training defaults fit a CPU (about ten seconds an epoch on one core): 1024 training windows, 512 test
windows, batch 32, lr 1e-2, 5 epochs. Gradient-norm clipping at 1 is on because the untrained
second-order models start with large errors (their states grow over the horizon): without clipping,
HBNODE stayed near the error of predicting zero for 300 steps; with it, it learned as fast as NODE.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..data.silverbox import read_silverbox
from ..models.family import augmentation, default_interval, field_class, options_for
from ..nets.driven import DrivenNet, DrivenSequenceModel, PastEncoder
from ..nets.sizing import count_built, matched_width
from ..solve import ODEBlock, SolverOptions
from .base import Split, Task
from .sequences import random_subset, spread_subset
from ..errors import ConfigError

TRAIN_SAMPLES = (0, 40_400)
TEST_SAMPLES = (40_650, 127_400)
INPUT_UNIT_V, OUTPUT_UNIT_V = 0.02, 0.05
SUBSET_SEED = 20130612
REFERENCE_MODEL = "hbnode"


class SilverboxTask(Task):
    name = "silverbox"
    description = ("Silverbox electronic circuit: simulate the output voltage from the input over a short "
                   "horizon after a look at the past; RMSE in mV on the following part of the record")
    metric = "rmse_mV"
    metric_goal = "min"
    defaults = {
        "past": 16, "horizon": 16, "stride": 8, "hidden": 8, "width": 32,
        "train_subset": 1024, "test_subset": 512, "epochs": 5, "batch_size": 32, "lr": 1e-2, "grad_clip": 1.0,
        "tol": 1e-3, "threads": 1,
    }
    presets = {
        "tiny": {"train_subset": 64, "test_subset": 64, "epochs": 1, "batch_size": 32},
        "long": {"train_subset": 4096, "test_subset": 1024, "epochs": 20},
    }

    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        settings = _settings(self, settings)
        record = read_silverbox(settings.get("data_dir"), download_missing=bool(settings.get("download", True)))
        train_part = slice(*TRAIN_SAMPLES)
        u = (record.v1 - record.v1[train_part].mean()) / INPUT_UNIT_V
        y = (record.v2 - record.v2[train_part].mean()) / OUTPUT_UNIT_V
        window = settings["past"] + settings["horizon"]
        train_starts = torch.arange(TRAIN_SAMPLES[0], TRAIN_SAMPLES[1] - window + 1, settings["stride"])
        test_starts = torch.arange(TEST_SAMPLES[0], TEST_SAMPLES[1] - window + 1, window)
        train_starts = train_starts[random_subset(len(train_starts), settings.get("train_subset"), "train_subset",
                                                  "Silverbox", seed=SUBSET_SEED)]
        test_starts = test_starts[spread_subset(len(test_starts), settings.get("test_subset"), "test_subset",
                                                "Silverbox")]
        return (_windows(u, y, train_starts, settings).to(device), _windows(u, y, test_starts, settings).to(device))

    def build_model(self, model: str, solver: SolverOptions, settings: dict[str, Any]) -> nn.Module:
        settings = _settings(self, settings)
        # The budget is the reference model's as the task defines it, whatever options a run gives.
        reference = {**settings, "model_options": {}}
        target = count_built(lambda: _assemble(REFERENCE_MODEL, settings["width"], solver, reference))
        width = matched_width(lambda width: count_built(lambda: _assemble(model, width, solver, settings)), target,
                              max_width=4 * settings["width"])
        return _assemble(model, width, solver, settings)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    def metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
        error_mV = (output - target) * (OUTPUT_UNIT_V * 1000.0)
        return error_mV.square().sum(), target.numel()

    def finalize_metric(self, numerator: float, denominator: float) -> float:
        return math.sqrt(numerator / denominator) if denominator else math.nan


def driven_mlp(inputs: int, outputs: int, width: int) -> nn.Sequential:
    """One tanh hidden layer of ``width`` on ``[state, u]``."""
    return nn.Sequential(nn.Linear(inputs + 1, width), nn.Tanh(), nn.Linear(width, outputs))


def _assemble(model: str, width: int, solver: SolverOptions, settings: dict[str, Any]) -> DrivenSequenceModel:
    """``model`` with a ``hidden``-wide ``h`` (ANODE: as many augmented channels) and ``f`` of ``width``."""
    kind, hidden = field_class(model), settings["hidden"]
    options = {**augmentation(model, hidden), **options_for(model, settings.get("model_options", {}))}
    state = kind.state_features(hidden, **options)
    inputs, outputs = kind.f_features(state)
    field = kind(DrivenNet(driven_mlp(inputs, outputs, width)), **options)
    if solver.steer > 0:
        raise ConfigError("--steer draws each training solve's end, but the silverbox model reads its state at every "
                         "sample of the horizon (a trajectory); run it without --steer")
    t0 = default_interval(model)[0]
    ode = ODEBlock(field, t0=t0, t1=t0 + settings["horizon"], options=solver)
    encoder = PastEncoder(2 * settings["past"], hidden, momentum=kind.takes_momentum())
    return DrivenSequenceModel(encoder, ode, nn.Linear(state, 1), settings["past"])


def _windows(u: torch.Tensor, y: torch.Tensor, starts: torch.Tensor, settings: dict[str, Any]) -> Split:
    past, window = settings["past"], settings["past"] + settings["horizon"]
    index = starts.unsqueeze(1) + torch.arange(window)
    inputs = torch.stack([u[index], y[index]], dim=2).float()
    # The future outputs are what the model must predict: zero them so no code path can read them.
    inputs[:, past:, 1] = 0.0
    return Split(inputs, y[index[:, past:]].float())


def _settings(task: Task, settings: dict[str, Any]) -> dict[str, Any]:
    merged = {**task.defaults, **settings}
    for key in ("past", "horizon", "stride", "hidden", "width"):
        if not isinstance(merged[key], int) or merged[key] < 1:
            raise ConfigError(f"silverbox setting {key!r} must be a positive integer, got {merged[key]!r}")
    return merged

