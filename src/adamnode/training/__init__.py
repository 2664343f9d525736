"""The training harness: typed settings, the trainer, checkpoints and run folders."""

from .config import TrainConfig, load_config_file, resolve_config
from ..errors import CheckpointError, ConfigError, Diverged, Interrupted, RunError
from .run import train_run
from .trainer import Trainer

__all__ = ["CheckpointError", "ConfigError", "Diverged", "Interrupted", "RunError", "TrainConfig", "Trainer",
           "load_config_file", "resolve_config", "train_run"]
