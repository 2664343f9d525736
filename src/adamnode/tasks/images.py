"""The paper's image benchmarks as tasks: MNIST and CIFAR-10 classification.

``presets["paper"]`` holds the authors' settings (SPEC section 3). ``defaults`` are ours, chosen so
a run fits a CPU, and differ from the paper: 1 epoch instead of 10, tolerance 1e-3 instead of 1e-4
(MNIST) / 1e-5 (CIFAR-10), seminorm on (usually fewer backward steps), and on
MNIST batch 64 with lr 1e-3 instead of batch 32 with lr 5e-5 (which learns too little in one epoch).
Use ``--preset paper`` to reproduce the paper.

``train_subset`` / ``test_subset`` pick a fixed subset of that size: the first images of one
permutation drawn from a constant seed, independent of the run's seed and model, so every model and
seed sees the same images and a smaller subset lies inside a larger one.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..data.cifar import read_cifar10
from ..data.mnist import read_mnist
from ..models.family import options_for
from ..nets.images import CIFAR10, MNIST, ImageDataset, image_classifier
from ..nets.ode_model import ODEModel
from ..solve import SolverOptions
from .base import Split, Task
from ..errors import ConfigError

SUBSET_SEED = 20220714


def fixed_subset(total: int, size: int | None, what: str) -> torch.Tensor | None:
    """Sorted indices of the fixed subset of ``size`` among ``total`` images (None: all of them)."""
    if not size:
        return None
    if not isinstance(size, int) or size < 0 or size > total:
        raise ConfigError(f"{what} must be an integer between 1 and {total} (0 or None: all), got {size!r}")
    generator = torch.Generator().manual_seed(SUBSET_SEED)
    return torch.randperm(total, generator=generator)[:size].sort().values


class ImageTask(Task):
    """Classification of a whole image set held on the training device as float ``[0, 1]``."""

    dataset: ImageDataset
    reader: Callable[..., tuple[torch.Tensor, torch.Tensor]]

    def load(self, settings: dict[str, Any], device: torch.device) -> tuple[Split, Split]:
        return (self._split("train", settings.get("train_subset"), settings, device),
                self._split("test", settings.get("test_subset"), settings, device))

    def _split(self, split: str, size: int | None, settings: dict[str, Any], device: torch.device) -> Split:
        images, labels = self.reader(split, settings.get("data_dir"), download_missing=settings.get("download", True))
        index = fixed_subset(len(labels), size, f"{split}_subset")
        if index is not None:
            images, labels = images[index], labels[index]
        # Move the uint8 bytes, convert on the device: a quarter of the transfer.
        inputs = images.to(device).float().div_(255.0)
        return Split(inputs, labels.to(device=device, copy=True))

    def build_model(self, model: str, solver: SolverOptions, settings: dict[str, Any]) -> ODEModel:
        return image_classifier(self.dataset, model, solver, options_for(model, settings.get("model_options", {})))


class MNISTTask(ImageTask):
    name = "mnist"
    description = "MNIST digits (28x28, 60k/10k), the AdamNODE paper's conv ODE classifiers"
    dataset = MNIST
    reader = staticmethod(read_mnist)
    defaults = {"batch_size": 64, "lr": 1e-3, "epochs": 1, "tol": 1e-3, "grad_clip": 10.0, "seed": 7,
                "method": "dopri5", "gradient": "adjoint", "seminorm": True}
    presets = {"paper": {"batch_size": 32, "lr": 5e-5, "epochs": 10, "tol": 1e-4, "grad_clip": 10.0,
                         "seed": 7, "lr_decay": 1.0, "method": "dopri5", "gradient": "adjoint", "seminorm": False,
                         "warm_start": False}}


class CIFAR10Task(ImageTask):
    name = "cifar10"
    description = "CIFAR-10 (32x32x3, 50k/10k), the AdamNODE paper's conv ODE classifiers"
    dataset = CIFAR10
    reader = staticmethod(read_cifar10)
    defaults = {"batch_size": 64, "lr": 1e-3, "lr_decay": 0.95, "lr_decay_every": 1000, "epochs": 1,
                "tol": 1e-3, "grad_clip": 1.0, "seed": 7, "method": "dopri5", "gradient": "adjoint", "seminorm": True}
    presets = {"paper": {"batch_size": 64, "lr": 1e-3, "lr_decay": 0.95, "lr_decay_every": 1000, "epochs": 10,
                         "tol": 1e-5, "grad_clip": 1.0, "method": "dopri5", "gradient": "adjoint", "seminorm": False,
                         "warm_start": False}}
