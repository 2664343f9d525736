"""Two gloo ranks in spawned processes, for the tests that check gradients under DDP."""

import time

import torch.multiprocessing as mp


def run_two_ranks(target, *args, seconds: float = 300) -> None:
    """``target(rank, *args)`` in two spawned processes; fails if they do not finish in ``seconds``.

    Generous by default: two spawned ranks import torch first, which on a busy 2-core machine once took
    over 120 s. A rank left waiting in a collective is what the deadline catches.
    """
    context = mp.start_processes(target, args=args, nprocs=2, join=False, start_method="spawn")
    deadline = time.monotonic() + seconds
    while not context.join(timeout=1):
        assert time.monotonic() < deadline, "a rank waited for the other: a collective was left unmatched"
