"""What the sequence tasks share: ODE-RNN models at matched parameter counts, MSE, window subsets.

Models (SPEC 3b): every model of the family as an ``ODERNN`` whose ``f`` is a 3-layer ReLU MLP of
``width`` on ``h`` (SONODE: on ``[h, u]``), a GRU cell on ``[observation, h]`` and a linear readout
of ``h``. ``h`` is ``hidden`` wide; ANODE adds ``hidden // 4`` augmented channels (at ``hidden``
channels its GRU alone would outgrow the budget of the others). Each model's MLP width is chosen
so its parameter count, with its ``model_options`` applied, is closest to HBNODE's at ``width``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..models.family import field_class, options_for
from ..nets.sequence import ODERNN, TimedSequenceModel
from ..nets.sizing import count_built, matched_width
from ..solve import SolverOptions
from .base import Task
from ..errors import ConfigError

REFERENCE_MODEL = "hbnode"
SUBSET_SEED = 20211206


class StepMLP(nn.Module):
    """``f(t, h)``: three linear layers of ``width`` with ReLU between, on ``h`` alone (autonomous)."""

    def __init__(self, inputs: int, outputs: int, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, outputs))

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


#: The paper's sequence settings (SPEC), each task's ``paper`` preset adds its batch size: 500 epochs
#: of dopri5 at 1e-7 with the adjoint.
PAPER_SETTINGS = {"train_subset": None, "test_subset": None, "epochs": 500, "lr": 1e-3, "method": "dopri5",
                  "step_size": None, "tol": 1e-7, "gradient": "adjoint", "seminorm": False}


class SequenceTask(Task):
    """A task whose examples are time-stamped windows (``TimedSequenceModel`` inputs) and whose metric is MSE.

    Subclasses set ``channels``, ``forecast`` (predictions after the last observation) and their ``gap``,
    and implement ``load``.
    """

    metric = "mse"
    metric_goal = "min"
    channels: int = 1
    #: What each channel is, for plots (empty where the data do not say).
    channel_names: tuple[str, ...] = ()
    forecast: int = 0
    gap: float = 1.0
    #: One rk4 step per gap by default: a fixed budget every model shares, so on these tasks the
    #: models differ in what they learn, not in how many evaluations they are allowed. Each task
    #: adds its ``hidden`` and ``batch_size``.
    defaults: dict[str, Any] = {
        "window": 64, "stride": 16, "width": 24, "train_subset": None, "test_subset": None, "epochs": 3,
        "lr": 1e-2, "grad_clip": 1.0, "tol": 1e-3, "method": "rk4", "step_size": 1.0, "gradient": "direct",
        "seminorm": False, "threads": 1,
    }
    presets: dict[str, dict[str, Any]] = {
        "adaptive": {"method": "dopri5", "step_size": None},
        "tiny": {"window": 8, "hidden": 4, "width": 4, "train_subset": 8, "test_subset": 4, "epochs": 1,
                 "batch_size": 4},
    }

    def build_model(self, model: str, solver: SolverOptions, settings: dict[str, Any]) -> nn.Module:
        settings = self.settings(settings)
        # The budget is the reference model's as the task defines it, whatever options a run gives.
        reference = {**settings, "model_options": {}}
        target = count_built(lambda: self._assemble(REFERENCE_MODEL, settings["width"], solver, reference))
        width = matched_width(lambda width: count_built(lambda: self._assemble(model, width, solver, settings)),
                              target, max_width=4 * settings["width"])
        return self._assemble(model, width, solver, settings)

    def _assemble(self, model: str, width: int, solver: SolverOptions, settings: dict[str, Any]) -> nn.Module:
        kind, hidden = field_class(model), settings["hidden"]
        options = options_for(model, settings.get("model_options", {}))
        if "augment_dim" in kind.option_defaults():
            options = {"augment_dim": max(1, hidden // 4), **options}
        state = kind.state_features(hidden, **options)
        field = kind(StepMLP(*kind.f_features(state), width), **options)
        rnn = ODERNN(field, self.channels, state, nn.Linear(state, self.channels), options=solver)
        return TimedSequenceModel(rnn, forecast=self.forecast, gap=self.gap)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target)

    def metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
        return (output - target).square().sum(), target.numel()

    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The task's defaults under ``settings``, with its integer settings checked."""
        merged = {**self.defaults, **settings}
        for key in ("window", "stride", "hidden", "width"):
            if isinstance(merged[key], bool) or not isinstance(merged[key], int) or merged[key] < 1:
                raise ConfigError(f"{self.name} setting {key!r} must be a positive integer, got {merged[key]!r}")
        return merged


def random_subset(count: int, size: int | None, what: str, task: str, seed: int = SUBSET_SEED) -> torch.Tensor:
    """Indices of a fixed random subset of ``size`` of ``count`` items (all of them for ``None``/0)."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[:_checked_size(size, count, what, task)]


def spread_subset(count: int, size: int | None, what: str, task: str) -> torch.Tensor:
    """Indices of ``size`` of ``count`` items spaced evenly (all of them for ``None``/0)."""
    return torch.linspace(0, count - 1, _checked_size(size, count, what, task)).round().long()


def _checked_size(size: int | None, total: int, what: str, task: str) -> int:
    if not size:
        return total
    if size > total:
        raise ConfigError(f"{what} {size} is more than the {total} {task} windows available; choose at most {total} "
                         "(or shorter windows or a smaller stride)")
    return size
