"""The MNIST and CIFAR-10 tasks: registry, presets, fixed subsets on the real MNIST, model building."""

import pytest
import torch

from adamnode.data.mnist import read_mnist
from adamnode.models.family import MODEL_NAMES
from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.tasks.images import CIFAR10Task, MNISTTask, fixed_subset

CPU = torch.device("cpu")


def test_registry_and_interface():
    mnist, cifar = get_task("mnist"), get_task("CIFAR10")
    assert isinstance(mnist, MNISTTask) and isinstance(cifar, CIFAR10Task)
    assert (mnist.name, cifar.name) == ("mnist", "cifar10")
    assert mnist.metric == cifar.metric == "accuracy" and mnist.models == MODEL_NAMES


def test_paper_presets_are_the_authors_settings():
    assert get_task("mnist").presets["paper"] == {
        "batch_size": 32, "lr": 5e-5, "epochs": 10, "tol": 1e-4, "grad_clip": 10.0, "seed": 7, "lr_decay": 1.0,
        "method": "dopri5", "gradient": "adjoint", "seminorm": False, "warm_start": False}
    assert get_task("cifar10").presets["paper"] == {
        "batch_size": 64, "lr": 1e-3, "lr_decay": 0.95, "lr_decay_every": 1000, "epochs": 10, "tol": 1e-5,
        "grad_clip": 1.0, "method": "dopri5", "gradient": "adjoint", "seminorm": False, "warm_start": False}


def test_subsets_are_fixed_nested_and_independent_of_the_seed(mnist_dir):
    task = get_task("mnist")
    settings = {"data_dir": str(mnist_dir), "train_subset": 50, "test_subset": 20, "seed": 1}
    small_train, small_test = task.load(settings, CPU)
    large_train, _ = task.load({"data_dir": str(mnist_dir), "train_subset": 200, "seed": 2}, CPU)
    assert small_train.inputs.shape == (50, 1, 28, 28) and len(small_test) == 20
    assert small_train.inputs.dtype == torch.float32 and small_train.targets.dtype == torch.int64
    assert 0.0 <= float(small_train.inputs.min()) and float(small_train.inputs.max()) <= 1.0
    again, _ = task.load({"data_dir": str(mnist_dir), "train_subset": 50, "seed": 99}, CPU)
    assert torch.equal(again.inputs, small_train.inputs) and torch.equal(again.targets, small_train.targets)
    index_small, index_large = fixed_subset(60_000, 50, "train_subset"), fixed_subset(60_000, 200, "train_subset")
    assert set(index_small.tolist()) <= set(index_large.tolist())
    images, labels = read_mnist("train", mnist_dir, download_missing=False)
    assert torch.equal(small_train.targets, labels[index_small])
    torch.testing.assert_close(small_train.inputs, images[index_small].float() / 255)
    assert len(large_train) == 200


def test_subset_size_is_checked():
    assert fixed_subset(100, None, "train_subset") is None and fixed_subset(100, 0, "train_subset") is None
    assert fixed_subset(100, 100, "train_subset").tolist() == list(range(100))
    with pytest.raises(ValueError, match="train_subset must be an integer between 1 and 100"):
        fixed_subset(100, 101, "train_subset")
    with pytest.raises(ValueError, match="test_subset must be"):
        fixed_subset(100, -5, "test_subset")


def test_pixels_are_scaled_to_the_unit_interval(small_mnist):
    train, test = get_task("mnist").load({"data_dir": str(small_mnist.folder), "download": False}, CPU)
    for split, loaded in (("train", train), ("test", test)):
        assert loaded.inputs.dtype == torch.float32
        assert torch.equal(loaded.inputs, small_mnist.images[split].unsqueeze(1).float() / 255)
        assert torch.equal(loaded.targets, small_mnist.labels[split])
    assert (float(train.inputs.min()), float(train.inputs.max())) == (0.0, 1.0)


def test_whole_test_split_loads_once_as_float(mnist_dir):
    _, test = get_task("mnist").load({"data_dir": str(mnist_dir), "train_subset": 10}, CPU)
    assert test.inputs.shape == (10_000, 1, 28, 28)
    assert float(test.inputs.mean()) == pytest.approx(0.1325, abs=1e-4)


@pytest.mark.parametrize("task_name", ["mnist", "cifar10"])
def test_build_model_uses_the_solver_options_and_interval(task_name):
    task = get_task(task_name)
    block = SolverOptions(rtol=1e-5, atol=1e-5, gradient="direct", seminorm=False)
    net = task.build_model("nesterovnode", block, {})
    assert (net.block.t0, net.block.t1) == (1.0, 2.0)
    assert net.block.options.rtol == net.block.options.atol == 1e-5 and net.block.options.gradient == "direct"
    adam = task.build_model("adamnode", SolverOptions(method="rk4", step_size=0.25, gradient="direct"), {})
    assert (adam.block.t0, adam.block.t1, adam.block.options.method, adam.block.options.step_size) == (0.0, 1.0, "rk4", 0.25)
    assert task.parameter_count("adamnode") == {"mnist": 85_931, "cifar10": 173_261}[task_name]


def test_a_training_step_on_real_images(mnist_dir):
    task = get_task("mnist")
    train, _ = task.load({"data_dir": str(mnist_dir), "train_subset": 4, "test_subset": 4}, CPU)
    net = task.build_model("adamnode", SolverOptions(method="euler", step_size=0.5, gradient="direct", seminorm=False), {})
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    inputs, targets = train.batch(torch.tensor([0, 3]))
    loss = task.loss(net(inputs), targets)
    loss.backward()
    optimizer.step()
    correct, total = task.metric_terms(net(inputs), targets)
    assert torch.isfinite(loss) and total == 2 and 0 <= int(correct) <= 2
