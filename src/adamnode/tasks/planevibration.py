"""Plane vibration (the F-16 ground vibration test): predict the next sample of all five channels, and 30 more.

Data: ``F16Data_FullMSine_Level1.csv`` (73,728 samples at 400 Hz of Force, Voltage and three
Accelerations). Each channel is centred and scaled by the mean and standard deviation of the
training part only. The record is cut in time order into training (first half), validation (third
quarter, held out: the harness has no validation pass, and the test part stays the last quarter)
and test (last quarter) parts, 2 : 1 : 1; every window lies inside one part, so no test sample is
in a training window.

Examples: a window of ``window`` (64) samples, ``SAMPLE_TIME`` = 1/64 time units apart, read by an ``ODERNN``
(``tasks.sequences``); after each sample it predicts the next one, all five channels as the
heavy-ball paper does (the Force and Voltage are the shaker's own multisine, so predicting them
is part of the paper's task and keeps the models comparable with it). After the window the state
evolves without observations for a 30-sample forecast: the prediction after the last sample and
29 more, one sample apart. Output and target: ``[batch, window + 29, 5]``. Training windows start
every ``stride`` samples of the training part (a fixed random subset of ``train_subset`` of them);
test windows tile the test part without overlap (``test_subset`` of them, evenly spaced).

Loss (the reference's, less its reconstruction term, which needs a second readout):
``0.1 * next-step MSE + forecast MSE``. Metric ``mse``: the next-step MSE over the window on the
test part (normalised units); ``forecast_mse`` (recorded as ``test_forecast_mse``): the MSE of the
30-sample forecast on the test part.

Defaults fit ``compare --seeds 3`` (8 models x 3 seeds) into about 30 minutes on one CPU core:
every window, 3 epochs, batch 64. They solve each gap with one rk4 step (4 evaluations): dopri5 at
tol 1e-3 took two steps (14 evaluations) on every gap of every model, with the same loss to four
digits and five times the cost, so the adaptive solver bought nothing at this budget but fewer
training steps. Preset ``adaptive`` is the defaults with dopri5 at tol 1e-3; preset ``paper`` the
heavy-ball paper's setting (SPEC 3b: hidden 20, batch 64, lr 1e-3 then 1e-4 from epoch 50, 500
epochs, dopri5 at tolerance 1e-7 with the adjoint; days on a CPU).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.f16 import CHANNELS, read_f16
from .base import Split
from .sequences import PAPER_SETTINGS, SequenceTask, random_subset, spread_subset
from ..errors import ConfigError

FORECAST = 30
#: Time units per sample. At one unit per sample the untrained heavy-ball models' state grew to 1e29
#: over a window (weak damping, a ReLU ``f``); at 1/64 a window spans one unit, like the other
#: tasks' solves, and Walker2d's gaps are divided by 64 too (SPEC 3b).
SAMPLE_TIME = 1 / 64
PARTS = (0.0, 0.5, 0.75, 1.0)
NEXT_STEP_WEIGHT = 0.1


class PlaneVibrationTask(SequenceTask):
    name = "planevibration"
    description = ("F-16 ground vibration test: ODE-RNNs predict the next sample of force, voltage and three "
                   "accelerations over 64-sample windows, then forecast 30 samples; next-step MSE on the last quarter")
    extra_metrics = ("forecast_mse",)
    channels = len(CHANNELS)
    channel_names = CHANNELS
    forecast = FORECAST - 1
    gap = SAMPLE_TIME
    defaults = {**SequenceTask.defaults, "hidden": 20, "batch_size": 64}
    presets = {
        **SequenceTask.presets,
        # 2,299 training windows in batches of 64: 36 steps an epoch, so lr 1e-4 from epoch 50 on.
        "paper": {**PAPER_SETTINGS, "batch_size": 64, "lr_decay": 0.1, "lr_decay_every": 50 * 36},
    }

    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        settings = self.settings(settings)
        signals = normalised(read_f16(settings.get("data_dir")).signals)
        starts = window_starts(len(signals), settings["window"], settings["stride"])
        train = starts["train"][random_subset(len(starts["train"]), settings.get("train_subset"), "train_subset",
                                              self.name)]
        test = starts["test"][spread_subset(len(starts["test"]), settings.get("test_subset"), "test_subset", self.name)]
        window = settings["window"]
        return windows(signals, train, window).to(device), windows(signals, test, window).to(device)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        window = output.shape[1] - self.forecast
        mse = nn.functional.mse_loss
        return NEXT_STEP_WEIGHT * mse(output[:, :window], target[:, :window]) + \
            mse(output[:, window - 1:], target[:, window - 1:])

    def metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
        window = output.shape[1] - self.forecast
        return super().metric_terms(output[:, :window], target[:, :window])

    def extra_metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> list[tuple[torch.Tensor, int]]:
        window = output.shape[1] - self.forecast
        return [super().metric_terms(output[:, window - 1:], target[:, window - 1:])]


def part_bounds(rows: int) -> dict[str, tuple[int, int]]:
    """The sample ranges ``[start, end)`` of the training, validation and test parts, 2 : 1 : 1 in time order."""
    cuts = [round(fraction * rows) for fraction in PARTS]
    return {name: (cuts[i], cuts[i + 1]) for i, name in enumerate(("train", "validation", "test"))}


def window_starts(rows: int, window: int, stride: int) -> dict[str, torch.Tensor]:
    """First samples of the windows (``window + 30`` samples each) of every part; each lies inside its part.

    Training and validation windows start every ``stride`` samples; test windows tile their part.
    """
    span = window + FORECAST
    starts = {}
    for name, (begin, end) in part_bounds(rows).items():
        step = span if name == "test" else stride
        starts[name] = torch.arange(begin, end - span + 1, step)
        if not len(starts[name]):
            raise ConfigError(f"the {name} part ({end - begin} samples) is shorter than one window of {span}")
    return starts


def normalised(signals: torch.Tensor) -> torch.Tensor:
    """Each channel centred and scaled by the training part's mean and standard deviation only."""
    begin, end = part_bounds(len(signals))["train"]
    train = signals[begin:end]
    return (signals - train.mean(0)) / train.std(0)


def windows(signals: torch.Tensor, starts: torch.Tensor, window: int) -> Split:
    """Inputs ``[n, window, 1 + 5]`` (time, then the samples) and targets ``[n, window + 29, 5]`` (the next ones)."""
    index = starts.unsqueeze(1) + torch.arange(window + FORECAST)
    samples = signals[index].float()
    times = (SAMPLE_TIME * torch.arange(window, dtype=torch.float32)).view(1, window, 1).expand(len(starts), -1, -1)
    return Split(torch.cat([times, samples[:, :window]], dim=2), samples[:, 1:])
