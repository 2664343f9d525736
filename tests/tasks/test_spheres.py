"""The spheres task: its data, its equal parameter budgets, and the separation it exists to show."""

from __future__ import annotations

import pytest
import torch

from adamnode.tasks import get_task
from adamnode.config.settings import resolve_config
from adamnode.training.trainer import Trainer
from adamnode.store import RunFolder

TASK = get_task("spheres")


def settings(**changes):
    return resolve_config({}, changes).settings()


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_points_lie_in_the_ball_or_the_shell_half_and_half(dim):
    train, test = TASK.load(settings(dim=dim, n_train=401, n_test=50), torch.device("cpu"))
    radius = train.inputs.norm(dim=1)
    assert train.inputs.shape == (401, dim) and test.inputs.shape == (50, dim)
    assert int((train.targets == 0).sum()) == 200
    assert bool((radius[train.targets == 0] <= 0.5).all())
    shell = radius[train.targets == 1]
    assert bool((shell >= 1.0).all() and (shell <= 1.5).all())


def test_data_follow_the_seed():
    first, _ = TASK.load(settings(seed=3), torch.device("cpu"))
    again, _ = TASK.load(settings(seed=3), torch.device("cpu"))
    other, _ = TASK.load(settings(seed=4), torch.device("cpu"))
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.inputs, other.inputs)


def test_uniform_in_volume_in_two_dimensions():
    # In the plane the area inside radius r of the ball of radius 0.5 is (r / 0.5)**2 of the whole.
    train, _ = TASK.load(settings(dim=2, n_train=20000, n_test=2), torch.device("cpu"))
    ball = train.inputs[train.targets == 0].norm(dim=1)
    assert float((ball < 0.25).float().mean()) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("dim", [1, 2])
def test_every_model_has_the_same_parameter_budget_within_three_percent(dim):
    counts = {model: TASK.parameter_count(model, settings(dim=dim)) for model in TASK.models}
    reference = counts["node"]
    assert all(abs(count - reference) <= 0.03 * reference for count in counts.values()), counts


def test_models_map_points_to_two_logits():
    x = torch.randn(5, 1)
    for model in TASK.models:
        assert TASK.build_model(model, resolve_config({}).solver, settings())(x).shape == (5, 2)


def best_threshold_accuracy(x: torch.Tensor, labels: torch.Tensor) -> float:
    """The best accuracy of any rule "class a below a threshold, class b above" on 1-D points.

    A 1-D ODE flow is increasing and a linear readout of a 1-D state is a threshold, so this bounds
    NODE's accuracy on these points whatever its weights.
    """
    ordered = labels[x.flatten().argsort()]
    zeros_left = torch.cat([torch.zeros(1), (ordered == 0).cumsum(0).float()])
    ones_left = torch.cat([torch.zeros(1), (ordered == 1).cumsum(0).float()])
    ones_right = ones_left[-1] - ones_left
    zeros_right = zeros_left[-1] - zeros_left
    correct = torch.maximum(zeros_left + ones_right, ones_left + zeros_right)
    return float(correct.max()) / len(labels)


def trained_accuracy(model: str, run_dir) -> tuple[float, float]:
    """(train accuracy after training, the threshold bound on the same points)."""
    run_dir.mkdir()
    config = resolve_config({"model": model, "epochs": 10, "batch_size": 32, "seed": 0}, {"n_train": 256, "n_test": 32})
    trainer = Trainer(config, TASK, RunFolder(run_dir), torch.device("cpu"), show_progress=False)
    trainer.fit()
    totals = trainer.evaluate(trainer.train_split)
    bound = best_threshold_accuracy(trainer.train_split.inputs, trainer.train_split.targets)
    return totals.metric_numerator / totals.metric_denominator, bound


def test_node_stays_under_the_threshold_bound_while_anode_and_hbnode_separate(tmp_path):
    node, bound = trained_accuracy("node", tmp_path / "node")
    assert bound < 0.8, "the data must leave NODE well short of 100%"
    assert node <= bound + 1e-9
    for model in ("anode", "hbnode"):
        accuracy, _ = trained_accuracy(model, tmp_path / model)
        assert accuracy >= bound + 0.15, f"{model} reached only {accuracy:.3f} (NODE's bound {bound:.3f})"
