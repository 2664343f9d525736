"""What a run measures per epoch and how it is accumulated; the columns of ``metrics.csv``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from torch import nn

from ..solve import ODEBlock


def metric_columns(metric: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The ``metrics.csv`` header of a task with headline metric ``metric`` and further test metrics ``extra``."""
    return ["epoch", "steps", "train_loss", f"train_{metric}", "test_loss", f"test_{metric}",
            *(f"test_{name}" for name in extra), "nfe_forward", "nfe_backward", "test_nfe_forward", "seconds",
            "test_seconds", "lr", "penalty"]


def ode_blocks(model: nn.Module) -> list[ODEBlock]:
    return [module for module in model.modules() if isinstance(module, ODEBlock)]


class EvaluationCounter:
    """Vector-field evaluations made by a model's ODEBlocks between two readings.

    Reads the blocks' running totals (counted on the CPU), so counting never waits for a GPU; the
    difference covers every solve of every block, forward and adjoint.
    """

    def __init__(self, model: nn.Module):
        self.blocks = ode_blocks(model)
        self.last = self._totals()

    def _totals(self) -> tuple[int, int]:
        totals = [block.stats.totals() for block in self.blocks]
        return sum(t.nfe_forward for t in totals), sum(t.nfe_backward for t in totals)

    def since_last(self) -> tuple[int, int]:
        """(forward, backward) evaluations since the previous call."""
        now = self._totals()
        delta = (now[0] - self.last[0], now[1] - self.last[1])
        self.last = now
        return delta


@dataclass
class Totals:
    """Sums over the batches of an epoch so far; checkpointed so an epoch can resume midway."""

    samples: int = 0
    steps: int = 0
    loss_sum: float = 0.0
    metric_numerator: float = 0.0
    metric_denominator: float = 0.0
    # Floats: under torchrun a step's count is the mean over the ranks.
    nfe_forward: float = 0
    nfe_backward: float = 0
    seconds: float = 0.0
    # Sum over the batches of the solve penalties added to the loss (kept out of ``loss_sum``).
    penalty_sum: float = 0.0
    # Numerator and denominator of each of the task's extra metrics, in turn (test evaluations only).
    extra_sums: list[float] = field(default_factory=list)

    def add(self, batch_size: int, loss: float, numerator: float, denominator: float,
            nfe_forward: float, nfe_backward: float) -> None:
        self.samples += batch_size
        self.steps += 1
        self.loss_sum += loss * batch_size
        self.metric_numerator += numerator
        self.metric_denominator += denominator
        self.nfe_forward += nfe_forward
        self.nfe_backward += nfe_backward

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.samples if self.samples else math.nan

    @property
    def mean_penalty(self) -> float:
        """The penalty per batch (it is a batch mean already)."""
        return self.penalty_sum / self.steps if self.steps else math.nan

    def per_step(self, count: float) -> float:
        return count / self.steps if self.steps else math.nan

    def as_dict(self) -> dict:
        return asdict(self)
