"""Fixtures shared across test folders."""

import os
from pathlib import Path

import pytest
import torch

# The tests use small tensors, where extra threads only add synchronisation, and OpenMP threads
# spin-waiting on a busy 2-core machine can slow a step tenfold. Subprocesses inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _find_shared_mnist() -> Path | None:
    # The workplace keeps the real data beside the checkout (../shared/datasets/mnist); walk up so the
    # tests also find it from a worktree nested deeper.
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "datasets" / "mnist"
        if all((candidate / name).exists() or (candidate / f"{name}.gz").exists() for name in MNIST_FILES):
            return candidate
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST files (the four IDX files, raw or .gz); the test is skipped where they are absent."""
    folder = _find_shared_mnist()
    if folder is None:
        pytest.skip("real MNIST not found: no shared/datasets/mnist with the four IDX files above the checkout")
    return folder


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The offline datasets folder holding the real Silverbox file; the test is skipped without it."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "shared" / "datasets" / "silverbox" / "SNLS80mV.csv").is_file():
            return folder / "shared" / "datasets"
    pytest.skip("real Silverbox data not found: no shared/datasets/silverbox/SNLS80mV.csv above the checkout")


class _NaNGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite value whose gradient is not."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


@pytest.fixture
def nan_gradient():
    """``x -> x`` whose backward pass yields NaN (to fail only the backward pass)."""
    return _NaNGradient.apply
