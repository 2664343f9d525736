"""Walker2d kinematics, irregularly sampled: predict the next state of a MuJoCo walker from the states so far.

The published protocol (ODE-LSTM, Lechner and Hasani 2020, reused by the heavy-ball paper; the
data folder's README): the 400 rollouts are shuffled with a fixed seed and split by file into
15 % test, 10 % validation (held out: the harness has no validation pass) and 75 % training, so no
rollout is in two splits. Each step of a rollout is kept with probability 0.9 and the time since
the previous kept step is recorded; sequences are windows of 64 kept steps taken every 16 kept
steps. Input: the states at the 64 kept steps with their times; target: the state at the next kept
step after each (``[batch, 64, 17]``). Times are in simulator steps divided by 64 (SPEC 3b), so a
gap is 1/64 or, after a dropped step, 2/64 or more: here the per-sample gaps matter. The draws use
this module's seeds, not the reference's (which are not published with the data); every model and
seed sees the same split, the same kept steps and the same windows.

Models: ODE-RNNs (``tasks.sequences``); the states are not normalised (the protocol's MSE is on
the raw state channels). Metric ``mse``: MSE of the next-state predictions over the test windows.

Defaults fit ``compare --seeds 3`` (8 models x 3 seeds) into about 30 minutes on one CPU core:
every window, 3 epochs, batch 256, each gap solved with one rk4 step (as for plane vibration:
dopri5 at tol 1e-3 took two steps on every gap, at five times the cost; preset ``adaptive`` is
the defaults with it). Preset ``paper`` is the heavy-ball paper's setting (SPEC 3b: hidden 24, batch 256, lr 1e-3,
500 epochs, dopri5 at tolerance 1e-7 with the adjoint; its rise to lr 3e-3 at epoch 50 is not
reproduced, the harness only decays the rate in steps).
"""

from __future__ import annotations

from typing import Any

import torch

from ..data.walker2d import ROLLOUTS, read_walker2d
from .base import Split
from .sequences import PAPER_SETTINGS, SequenceTask, random_subset, spread_subset

SPLIT_SEED = 20200605
KEEP_SEED = 20201206
KEEP_PROBABILITY = 0.9
TIME_UNIT_STEPS = 64
SPLITS = (("test", 0.15), ("validation", 0.10), ("train", 0.75))


class Walker2dTask(SequenceTask):
    name = "walker2d"
    description = ("Walker2d kinematics with 10 % of the steps dropped: ODE-RNNs predict the next state from "
                   "64 irregularly timed states; test MSE on held-out rollouts")
    channels = 17
    defaults = {**SequenceTask.defaults, "hidden": 24, "batch_size": 256}
    presets = {**SequenceTask.presets, "paper": {**PAPER_SETTINGS, "batch_size": 256}}

    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        settings = self.settings(settings)
        rollouts = read_walker2d(settings.get("data_dir"))
        files = split_files(len(rollouts))
        train = windows([rollouts[i] for i in files["train"]], files["train"], settings)
        test = windows([rollouts[i] for i in files["test"]], files["test"], settings)
        train = train.batch(random_subset(len(train), settings.get("train_subset"), "train_subset", self.name))
        test = test.batch(spread_subset(len(test), settings.get("test_subset"), "test_subset", self.name))
        return Split(*train).to(device), Split(*test).to(device)


def split_files(count: int = ROLLOUTS) -> dict[str, list[int]]:
    """The rollout indices of each split: a fixed shuffle cut 15 : 10 : 75 (test, validation, train)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(SPLIT_SEED)).tolist()
    sizes = [round(fraction * count) for _, fraction in SPLITS[:-1]]
    cuts = [0, sizes[0], sizes[0] + sizes[1], count]
    return {name: sorted(order[cuts[i]:cuts[i + 1]]) for i, (name, _) in enumerate(SPLITS)}


def kept_steps(rollout: torch.Tensor, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept states, their times in steps / 64): each step kept with probability 0.9, drawn per file."""
    generator = torch.Generator().manual_seed(KEEP_SEED + index)
    keep = torch.rand(len(rollout), generator=generator) < KEEP_PROBABILITY
    steps = keep.nonzero().squeeze(1)
    return rollout[steps], steps.double() / TIME_UNIT_STEPS


def windows(rollouts: list[torch.Tensor], indices: list[int], settings: dict[str, Any]) -> Split:
    """Windows of ``window + 1`` kept steps every ``stride`` kept steps of each rollout.

    Inputs ``[n, window, 1 + 17]``: the time (from the window's first step), then the state;
    targets ``[n, window, 17]``: the state at the next kept step.
    """
    window, stride = settings["window"], settings["stride"]
    inputs, targets = [], []
    for rollout, index in zip(rollouts, indices):
        states, times = kept_steps(rollout, index)
        starts = torch.arange(0, len(states) - window, stride)
        span = starts.unsqueeze(1) + torch.arange(window + 1)
        relative = times[span] - times[span[:, :1]]
        inputs.append(torch.cat([relative[:, :window, None], states[span[:, :window]]], dim=2))
        targets.append(states[span[:, 1:]])
    return Split(torch.cat(inputs).float(), torch.cat(targets).float())
