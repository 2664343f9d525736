"""Data parallelism under torchrun: the process group, the wrapped model, batch shards and sums.

Every rank holds the whole split and draws the same seeded permutation, so a global batch is the
same slice of it everywhere and each rank computes its own contiguous part. Whatever decides
whether a run goes on (a NaN loss, a failed solve, a stop request) is summed over the ranks
before anyone acts on it, so all ranks take the same branch and none waits forever in a
collective the others left. Without torchrun every function here is the single-process identity
and torch.distributed is never touched.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.distributed as dist
from torch import nn

from ..solve import SolverError
from ..errors import ConfigError


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    # Before the group exists (argument checks, output folders) torchrun's RANK already tells.
    return dist.get_rank() if active() else int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def local_device(device: torch.device) -> torch.device:
    """The GPU of this rank's node-local index under torchrun; other devices as given."""
    if not launched() or device.type != "cuda":
        return device
    index, count = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"torchrun started local rank {index} but this node has {count} GPU(s); "
                          f"use --nproc_per_node {count} or fewer")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


@contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join torchrun's process group for the duration; an enclosing one is shared, not replaced."""
    if active() or not launched():
        yield
        return
    # NCCL finds this rank's GPU as the current device, which resolve_device has set.
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
        # Tear down only once every rank is done: a rank that destroys the group while another
        # is still inside a collective can abort the process ("terminate called without an
        # active exception", seen with gloo).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped in DDP when several ranks train, else ``model`` itself."""
    if world_size() == 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def shard(index: torch.Tensor) -> tuple[torch.Tensor, int]:
    """This rank's part of the global batch ``index`` and how many examples it counts for.

    Parts differ in size by at most one. A rank left without examples (a batch smaller than the
    world) borrows the first one and counts for zero: it must still run the forward and backward
    whose collectives the other ranks wait in.
    """
    if world_size() == 1:
        return index, len(index)
    part = torch.tensor_split(index, world_size())[rank()]
    return (part, len(part)) if len(part) else (index[:1], 0)


def stripe(items: Sequence) -> Sequence:
    """Every ``world_size``-th item starting at this rank's: whole batches dealt out to the ranks."""
    return items[rank()::world_size()]


def all_sum(values: Sequence, device: torch.device) -> list:
    """``values`` (numbers or one-element tensors) summed over the ranks, as Python numbers.

    One collective for all of them, in float64 so that counts stay exact. A single process gets
    its values back unchanged (tensors read with ``item()``).
    """
    if world_size() == 1:
        return [value.item() if isinstance(value, torch.Tensor) else value for value in values]
    tensor = torch.stack([torch.as_tensor(value, dtype=torch.float64, device=device).reshape(()) for value in values])
    dist.all_reduce(tensor)
    return tensor.tolist()


def on_main(action: Callable[[], None]) -> None:
    """Run ``action`` on rank 0 only and raise its error, if any, on every rank."""
    error = None
    if rank() == 0:
        try:
            action()
        except Exception as raised:  # whatever it is, the other ranks must learn of it and stop too
            error = raised
    if world_size() > 1:
        box = [error]
        dist.broadcast_object_list(box, src=0)
        error = box[0]
    if error is not None:
        raise error


def shared_failure(own: SolverError | None) -> SolverError:
    """The solver failure of the lowest failing rank, for every rank to raise once any failed."""
    if world_size() == 1:
        return own
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, own)
    failing, error = next((r, e) for r, e in enumerate(gathered) if e is not None)
    return error.with_reason(f"{error.reason} (on rank {failing})")


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
