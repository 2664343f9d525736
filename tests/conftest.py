"""Fixtures shared across test folders."""

import hashlib
import os
import struct
from pathlib import Path
from types import SimpleNamespace

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


def idx_bytes(magic: int, array: torch.Tensor) -> bytes:
    """``array`` (uint8) as an IDX file: big-endian magic number and sizes, then the bytes."""
    return struct.pack(f">I{array.dim()}I", magic, *array.shape) + array.numpy().tobytes()


@pytest.fixture
def small_mnist(tmp_path, monkeypatch):
    """A tiny MNIST written by the test (3 training, 2 test images), registered with its own sizes and MD5s.

    For the checks that must not depend on the real files being present. Every pixel value 0..255
    occurs, so scaling shows. Gives ``folder``, ``files`` (stem -> raw bytes), ``images`` and
    ``labels`` (split -> the tensors written).
    """
    from adamnode.data import mnist

    folder = tmp_path / "mnist"
    folder.mkdir()
    small = SimpleNamespace(folder=folder, files={}, images={}, labels={})
    for offset, (split, count) in enumerate((("train", 3), ("test", 2))):
        image_stem, label_stem, _ = mnist.SPLITS[split]
        pixels = torch.arange(count * 28 * 28) * 7 + offset
        small.images[split] = (pixels % 256).to(torch.uint8).reshape(count, 28, 28)
        small.labels[split] = (torch.arange(count) * 3 + offset) % 10
        small.files[image_stem] = idx_bytes(mnist.IMAGE_MAGIC, small.images[split])
        small.files[label_stem] = idx_bytes(mnist.LABEL_MAGIC, small.labels[split].to(torch.uint8))
        monkeypatch.setitem(mnist.SPLITS, split, (image_stem, label_stem, count))
    for stem, content in small.files.items():
        (folder / stem).write_bytes(content)
        monkeypatch.setitem(mnist.MD5, stem, hashlib.md5(content).hexdigest())
    return small


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
