"""Where a run executes: its device, whether this process reports, and the software versions.

What depends on the process's rank is asked of ``distributed`` (and, for who writes and reports,
of the store's ``is_main_process``); nowhere else.
"""

from __future__ import annotations

import os
import platform
import sys

import torch

from ..errors import ConfigError
from ..store import is_main_process
from .distributed import local_device


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


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def usable_threads(requested: int) -> int:
    """``requested`` CPU threads, capped at the available cores with a one-line warning."""
    cores = available_cores()
    if requested <= cores:
        return requested
    if is_main_process():
        print(f"adamnode: warning: --threads {requested} is more than the {cores} CPU core(s) available; "
              f"using {cores}", file=sys.stderr)
    return cores
