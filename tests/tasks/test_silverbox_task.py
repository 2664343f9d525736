"""The Silverbox system-identification task: every model trains, sizes match, the metric is in mV."""


import pytest
import torch

from adamnode.data.silverbox import read_silverbox
from adamnode.models.family import MODEL_NAMES
from adamnode.tasks import get_task
from adamnode.solve import SolverOptions
from adamnode.tasks.silverbox import INPUT_UNIT_V, TEST_SAMPLES, TRAIN_SAMPLES

SMALL = {"past": 4, "horizon": 5}


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_runs_forward_and_backward(model):
    task = get_task("silverbox")
    torch.manual_seed(0)
    net = task.build_model(model, SolverOptions(rtol=1e-3, atol=1e-3), SMALL)
    inputs = torch.randn(3, 9, 2)
    output = net(inputs)
    assert output.shape == (3, 5) and torch.isfinite(output).all()
    task.loss(output, torch.zeros(3, 5)).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_future_outputs_are_not_read():
    net = get_task("silverbox").build_model("hbnode", SolverOptions(), SMALL).eval()
    inputs = torch.randn(2, 9, 2)
    leaked = inputs.clone()
    leaked[:, 4:, 1] = 100.0
    with torch.no_grad():
        assert torch.equal(net(inputs), net(leaked))


def test_parameter_counts_are_comparable():
    task = get_task("silverbox")
    counts = {model: task.parameter_count(model) for model in MODEL_NAMES}
    reference = counts["hbnode"]
    assert all(abs(count - reference) <= 0.02 * reference for count in counts.values()), counts


def test_metric_is_the_rmse_of_the_unscaled_prediction_in_millivolts():
    task = get_task("silverbox")
    target = torch.randn(4, 6)
    # 0.02 output units of 50 mV each: 1 mV everywhere.
    numerator, denominator = task.metric_terms(target + 0.02, target)
    assert task.finalize_metric(float(numerator), denominator) == pytest.approx(1.0)
    assert task.metric_goal == "min"


def test_real_split_is_chronological_and_hides_the_future(shared_datasets):
    datasets = shared_datasets
    task = get_task("silverbox")
    settings = {"data_dir": str(datasets), "train_subset": 16, "test_subset": 8}
    train, test = task.load(settings, torch.device("cpu"))
    window = task.defaults["past"] + task.defaults["horizon"]
    assert train.inputs.shape == (16, window, 2) and test.targets.shape == (8, task.defaults["horizon"])
    assert (train.inputs[:, task.defaults["past"]:, 1] == 0).all()
    record = read_silverbox(datasets)
    centred = (record.v1 - record.v1[slice(*TRAIN_SAMPLES)].mean()) / INPUT_UNIT_V
    # The evenly spread test subset starts with the first test window.
    first = centred[TEST_SAMPLES[0]:TEST_SAMPLES[0] + window].float()
    assert torch.allclose(test.inputs[0, :, 0], first)
    # Every training window lies inside the training part (inputs equal some window there).
    starts = [_find(centred[:TRAIN_SAMPLES[1]].float(), row) for row in train.inputs[:, :, 0]]
    assert all(start is not None and start + window <= TRAIN_SAMPLES[1] for start in starts)


def _find(signal: torch.Tensor, row: torch.Tensor) -> int | None:
    windows = signal.unfold(0, len(row), 1)
    matches = torch.nonzero((windows == row).all(dim=1))
    return int(matches[0]) if len(matches) else None


def test_subset_larger_than_the_record_is_refused(shared_datasets):
    datasets = shared_datasets
    with pytest.raises(ValueError, match="more than the .* Silverbox windows"):
        get_task("silverbox").load({"data_dir": str(datasets), "test_subset": 10**6}, torch.device("cpu"))
