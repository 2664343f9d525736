"""Training runs: one run's trainer, checkpoints and metrics (``run``, ``trainer``), and comparisons of
many runs on this machine's processes or a Ray cluster (``comparison``)."""

from .run import train_run
from .trainer import Trainer

__all__ = ["Trainer", "train_run"]
