"""Where a run executes: its device, whether this process reports, and the software versions.

What depends on the process's rank is asked of ``distributed`` here and in the trainer's step,
evaluation and stop checks; nowhere else.
"""

from __future__ import annotations

import platform

import torch

from .distributed import local_device, rank
from .errors import ConfigError


def is_main_process() -> bool:
    """Whether this process writes files and prints progress (rank 0 under data parallelism)."""
    return rank() == 0


def resolve_device(name: str) -> torch.device:
    """The device ``name`` means for this process: under torchrun, the GPU of its local rank."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
    return local_device(torch.device(name))


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def versions() -> dict[str, str]:
    import torchdiffeq

    from .. import __version__

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchdiffeq": getattr(torchdiffeq, "__version__", "unknown"), "adamnode": __version__}
