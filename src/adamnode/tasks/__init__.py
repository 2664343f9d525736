"""Tasks by name. Each lives in its own module, imported only when asked for."""

from __future__ import annotations

import importlib

from .base import Split, Task
from ..errors import ConfigError

_TASK_CLASSES = {
    "spheres": "adamnode.tasks.spheres:SpheresTask",
    "mnist": "adamnode.tasks.images:MNISTTask",
    "cifar10": "adamnode.tasks.images:CIFAR10Task",
    "silverbox": "adamnode.tasks.silverbox:SilverboxTask",
    "planevibration": "adamnode.tasks.planevibration:PlaneVibrationTask",
    "walker2d": "adamnode.tasks.walker2d:Walker2dTask",
}
TASK_NAMES = tuple(_TASK_CLASSES)
DEFAULT_TASK = "spheres"


def get_task(name: str) -> Task:
    """A fresh instance of the task called ``name``."""
    key = str(name).lower()
    if key not in _TASK_CLASSES:
        raise ConfigError(f"unknown task {name!r}; choose from {', '.join(TASK_NAMES)}")
    module, cls = _TASK_CLASSES[key].split(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["DEFAULT_TASK", "Split", "TASK_NAMES", "Task", "get_task"]
