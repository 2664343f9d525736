"""What a task is: data, a model builder for every model name, a loss and one headline metric.

The trainer knows nothing else about a task, so adding one never touches the trainer.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..models.family import MODEL_NAMES
from ..nets.sizing import count_parameters
from ..solve import SolverOptions
from ..errors import ConfigError


@dataclass
class Split:
    """A whole split as tensors on the training device; batches are drawn by index."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __post_init__(self):
        if len(self.inputs) != len(self.targets):
            raise ConfigError(f"inputs ({len(self.inputs)}) and targets ({len(self.targets)}) differ in length")

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]

    def first(self, count: int | None) -> "Split":
        """The first ``count`` examples (all of them for ``None``)."""
        return self if count is None else Split(self.inputs[:count], self.targets[:count])

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.inputs.to(device), self.targets.to(device))


class Task(ABC):
    """One benchmark. Subclasses set the class attributes and implement the abstract methods.

    ``metric`` is the headline metric's name (``accuracy``, ``rmse_mV``), ``metric_goal`` is ``max``
    or ``min``. ``defaults`` are the task's own training settings (the trainer's apply otherwise);
    ``presets`` map a preset name (``paper``) to settings.
    """

    name: str = ""
    description: str = ""
    metric: str = "accuracy"
    metric_goal: str = "max"
    #: Further test metrics, recorded as ``test_<name>`` beside the headline one (``extra_metric_terms``).
    extra_metrics: tuple[str, ...] = ()
    models: tuple[str, ...] = MODEL_NAMES
    defaults: dict[str, Any] = {}
    presets: dict[str, dict[str, Any]] = {}

    @abstractmethod
    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        """The (train, test) splits on ``device``. ``settings`` is the resolved run configuration;
        the task applies its ``train_subset``/``test_subset`` (it knows which subset is fair)."""

    @abstractmethod
    def build_model(self, model: str, solver: SolverOptions, settings: dict[str, Any]) -> nn.Module:
        """A fresh model named ``model`` whose ODEBlocks solve with ``solver``."""

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(output, target)

    def metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(numerator, denominator) of the metric over a batch; sums over batches are finalised."""
        return (output.argmax(dim=1) == target).sum(), len(target)

    def extra_metric_terms(self, output: torch.Tensor, target: torch.Tensor) -> list[tuple[torch.Tensor, int]]:
        """(numerator, denominator) of each of ``extra_metrics`` over a test batch, finalised like the headline's."""
        return []

    def finalize_metric(self, numerator: float, denominator: float) -> float:
        return numerator / denominator if denominator else math.nan

    def parameter_count(self, model: str, settings: dict[str, Any] | None = None) -> int:
        return count_parameters(self.build_model(model, SolverOptions(), settings or {}))
