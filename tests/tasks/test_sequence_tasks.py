"""The sequence tasks (plane vibration, Walker2d): ODE-RNN models, splits without overlap, the protocol's draws."""

import pytest
import torch

from adamnode.models.family import MODEL_NAMES
from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.tasks import planevibration, walker2d
from adamnode.tasks.planevibration import FORECAST, SAMPLE_TIME
from adamnode.config.settings import resolve_config

TINY = {"window": 5, "hidden": 4, "width": 4}
CHANNELS = {"planevibration": 5, "walker2d": 17}


def random_inputs(task_name: str, batch: int = 3, window: int = 5) -> torch.Tensor:
    times = torch.cumsum(torch.full((batch, window), 1 / 64), dim=1) - 1 / 64
    return torch.cat([times.unsqueeze(2), torch.randn(batch, window, CHANNELS[task_name])], dim=2)


@pytest.mark.parametrize("task_name", ["planevibration", "walker2d"])
@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_runs_forward_and_backward(task_name, model):
    task = get_task(task_name)
    torch.manual_seed(0)
    net = task.build_model(model, SolverOptions(rtol=1e-3, atol=1e-3, gradient="direct"), TINY)
    output = net(random_inputs(task_name))
    extra = FORECAST - 1 if task_name == "planevibration" else 0
    assert output.shape == (3, 5 + extra, CHANNELS[task_name]) and torch.isfinite(output).all()
    task.loss(output, torch.zeros_like(output)).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("task_name", ["planevibration", "walker2d"])
def test_parameter_counts_are_matched(task_name):
    task = get_task(task_name)
    counts = {model: task.parameter_count(model) for model in MODEL_NAMES}
    reference = counts["hbnode"]
    assert all(abs(count - reference) <= 0.02 * reference for count in counts.values()), counts


@pytest.mark.parametrize("task_name", ["planevibration", "walker2d"])
def test_the_defaults_and_every_preset_make_a_valid_run_config(task_name):
    methods = {preset: resolve_config({"task": task_name, "model": "adamnode", "preset": preset}).solver.method
               for preset in (None, *get_task(task_name).presets)}
    assert methods == {None: "rk4", "tiny": "rk4", "adaptive": "dopri5", "paper": "dopri5"}


def test_plane_vibration_parts_are_in_time_order_and_windows_never_cross_them():
    rows, window = 73_728, 64
    bounds = planevibration.part_bounds(rows)
    assert bounds == {"train": (0, 36_864), "validation": (36_864, 55_296), "test": (55_296, 73_728)}
    starts = planevibration.window_starts(rows, window, stride=16)
    span = window + FORECAST
    for name, (begin, end) in bounds.items():
        assert starts[name].min() >= begin and starts[name].max() + span <= end
    # Test windows tile their part: none overlaps another.
    assert bool((starts["test"].diff() >= span).all())


def test_plane_vibration_normalises_by_the_training_part_only():
    generator = torch.Generator().manual_seed(0)
    signals = torch.randn(400, 5, generator=generator, dtype=torch.float64) * 3 + 2
    shifted = signals.clone()
    shifted[300:] += 100.0
    train = slice(0, 200)
    normal, normal_shifted = planevibration.normalised(signals), planevibration.normalised(shifted)
    torch.testing.assert_close(normal[train].mean(0), torch.zeros(5, dtype=torch.float64))
    torch.testing.assert_close(normal[train].std(0), torch.ones(5, dtype=torch.float64))
    # Changing the test part changes nothing before it.
    torch.testing.assert_close(normal_shifted[:300], normal[:300])


def test_plane_vibration_windows_pair_each_sample_with_the_next_and_the_forecast():
    signals = torch.arange(200.0).unsqueeze(1).repeat(1, 5)
    split = planevibration.windows(signals, torch.tensor([0, 50]), window=6)
    assert split.inputs.shape == (2, 6, 6) and split.targets.shape == (2, 6 + FORECAST - 1, 5)
    torch.testing.assert_close(split.inputs[1, :, 0], SAMPLE_TIME * torch.arange(6.0))
    torch.testing.assert_close(split.inputs[1, :, 1], 50 + torch.arange(6.0))
    torch.testing.assert_close(split.targets[1, :, 0], 51 + torch.arange(6.0 + FORECAST - 1))


def test_plane_vibration_loss_weights_next_step_and_forecast_and_the_metrics_read_each_part():
    task = get_task("planevibration")
    window = 5
    target = torch.zeros(2, window + FORECAST - 1, 5)
    output = torch.zeros_like(target)
    output[:, :window - 1] = 1.0   # next-step errors inside the window only
    output[:, window:] = 2.0       # forecast errors after the window's last prediction
    next_step = (window - 1) / window
    forecast = 4.0 * (FORECAST - 1) / FORECAST
    assert float(task.loss(output, target)) == pytest.approx(0.1 * next_step + forecast)
    numerator, denominator = task.metric_terms(output, target)
    assert float(numerator) / denominator == pytest.approx(next_step)
    [(numerator, denominator)] = task.extra_metric_terms(output, target)
    assert task.extra_metrics == ("forecast_mse",) and float(numerator) / denominator == pytest.approx(forecast)


def test_walker2d_splits_by_file_without_overlap():
    files = walker2d.split_files(400)
    assert {name: len(indices) for name, indices in files.items()} == {"test": 60, "validation": 40, "train": 300}
    assert sorted(files["test"] + files["validation"] + files["train"]) == list(range(400))
    assert files == walker2d.split_files(400)


def test_walker2d_keeps_nine_in_ten_steps_and_records_their_gaps():
    rollout = torch.arange(1000.0).unsqueeze(1).repeat(1, 17)
    states, times = walker2d.kept_steps(rollout, index=7)
    assert 0.87 < len(states) / 1000 < 0.93
    # The time of a kept step is its step number / 64, so gaps are whole steps over 64.
    torch.testing.assert_close(times * 64, states[:, 0].double())
    assert bool((times.diff() > 0).all()) and bool((times.diff() * 64 >= 1).all()) and times.diff().max() * 64 >= 2


def test_walker2d_windows_pair_each_state_with_the_next_kept_one():
    rollout = torch.arange(300.0).unsqueeze(1).repeat(1, 17)
    split = walker2d.windows([rollout], [3], {"window": 8, "stride": 4})
    states, times = walker2d.kept_steps(rollout, 3)
    assert split.inputs.shape[1:] == (8, 18) and len(split) == (len(states) - 8 - 1) // 4 + 1
    second = split.inputs[1]
    torch.testing.assert_close(second[:, 1:], states[4:12].float())
    torch.testing.assert_close(second[:, 0], (times[4:12] - times[4]).float())
    torch.testing.assert_close(split.targets[1], states[5:13].float())


def test_plane_vibration_names_its_channels_in_the_files_column_order():
    task = get_task("planevibration")
    assert task.channel_names == ("Force", "Voltage", "Acceleration1", "Acceleration2", "Acceleration3")
    assert len(task.channel_names) == task.channels
    assert get_task("walker2d").channel_names == ()
