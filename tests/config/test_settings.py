"""Settings: the order of precedence, the TOML file, and the checks on every value."""

from __future__ import annotations

import pytest
import torch

from adamnode import NODE, ODEBlock
from adamnode.solve import SolverOptions
from adamnode.tasks import TASK_NAMES, get_task

from adamnode.tasks.base import Task
from adamnode.config import settings as config_module
from adamnode.config.settings import (SOLVER_KEYS, TrainConfig, config_from_settings, load_config_file,
                                      resolve_config)
from adamnode.errors import ConfigError


class LayeredTask(Task):
    """A task whose defaults and preset each set different keys, to see which layer wins."""

    name = "layered"
    defaults = {"lr": 0.1, "epochs": 3, "width": 4}
    presets = {"wide": {"epochs": 4, "batch_size": 8, "width": 5}}

    def load(self, settings, device):
        raise NotImplementedError

    def build_model(self, model, block, settings):
        raise NotImplementedError


@pytest.fixture
def layered(monkeypatch):
    monkeypatch.setattr(config_module, "get_task", lambda name: LayeredTask())


def write(tmp_path, text: str):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_each_layer_overrides_the_one_below(layered, tmp_path):
    file_values = load_config_file(write(tmp_path, 'preset = "wide"\nbatch-size = 16\nwidth = 6\ntol = 0.01\n'))
    config = resolve_config({"tol": 0.02, "model": "node"}, file_values)
    assert config.solver.step_budget == 10_000 and config.grad_clip is None  # built-in defaults
    assert config.lr == 0.1  # the task's default over the built-in 1e-3
    assert config.epochs == 4  # the preset over the task's default
    assert config.batch_size == 16  # the file over the preset
    assert config.solver.rtol == config.solver.atol == 0.02  # the command line over the file
    assert config.task_options == {"width": 6} and config.settings()["width"] == 6


def test_unknown_key_in_the_file_lists_the_valid_ones(layered, tmp_path):
    with pytest.raises(ConfigError) as error:
        resolve_config({}, load_config_file(write(tmp_path, "learning_rate = 0.1\n")))
    message = str(error.value)
    assert "learning_rate" in message and "batch_size" in message and "width" in message


@pytest.mark.parametrize("text, expected", [
    ('lr = "fast"', "--lr must be a finite number"),
    ("lr = 1e300", "--lr must be a finite number within float32's range"),
    ("kinetic = 1e39", "--kinetic must be a finite number within float32's range"),
    ("epochs = true", "--epochs must be an integer"),
    ("epochs = 2.5", "--epochs must be an integer"),
    ("width = 1.5", "task setting 'width' must be an integer"),
    ('device = "tpu"', "unknown device 'tpu'"),
    ('method = "rk5"', "unknown method 'rk5'"),
    ("seed = -1", "--seed must be an integer from 0 to 4294967295"),
    ("seed = 4294967296", "--seed must be an integer from 0 to 4294967295"),
    ("lr_decay = 1.5", "--lr-decay must lie in (0, 1]"),
])
def test_wrong_values_in_the_file_are_named(layered, tmp_path, text, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace("]", r"\]")):
        resolve_config({}, load_config_file(write(tmp_path, text + "\n")))


def test_integers_are_accepted_where_numbers_are_expected():
    assert TrainConfig(lr=1).lr == 1.0 and isinstance(TrainConfig(lr=1).lr, float)


def test_unreadable_or_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config_file(write(tmp_path, "epochs = = 3\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "absent.toml")


def test_fixed_step_methods_need_a_step_size_and_adaptive_ones_refuse_it():
    with pytest.raises(ConfigError, match="needs a positive step_size"):
        config_from_settings({"method": "rk4"})
    with pytest.raises(ConfigError, match="adapts its steps"):
        config_from_settings({"step_size": 0.1})
    assert config_from_settings({"method": "rk4", "step_size": 0.25, "seminorm": False}).solver.step_size == 0.25


def test_the_config_carries_one_solver_options():
    solver = config_from_settings({"tol": 1e-5, "gradient": "direct", "step_budget": 7, "warm_start": False}).solver
    assert solver == SolverOptions(rtol=1e-5, atol=1e-5, gradient="direct", step_budget=7, warm_start=False)


def test_the_regularisers_reach_the_solver_options_and_negative_weights_are_refused():
    solver = config_from_settings({"kinetic": 0.01, "jacobian": 0.02, "steer": 0.5}).solver
    assert (solver.kinetic, solver.jacobian, solver.steer) == (0.01, 0.02, 0.5)
    for name in ("kinetic", "jacobian", "steer"):
        with pytest.raises(ConfigError, match=f"{name} must be non-negative, got -1.0"):
            config_from_settings({name: -1.0})


def test_a_combination_the_block_refuses_is_refused_by_the_config_with_the_same_message():
    with pytest.raises(ValueError) as refused_by_block:
        ODEBlock(NODE(torch.nn.Linear(1, 1)), method="rk4", step_size=0.25, gradient="adjoint")
    with pytest.raises(ConfigError) as refused_by_config:
        config_from_settings({"method": "rk4", "step_size": 0.25, "gradient": "adjoint"})
    assert str(refused_by_config.value) == str(refused_by_block.value)
    assert "seminorm=False" in str(refused_by_config.value)


def test_the_default_tolerance_is_the_solvers_and_every_task_states_its_own():
    assert TrainConfig().settings()["tol"] == SolverOptions().rtol == SolverOptions().atol
    for name in TASK_NAMES:
        assert "tol" in get_task(name).defaults, name


def test_the_real_spheres_defaults_reach_the_settings():
    settings = resolve_config({"model": "hbnode", "preset": "tiny"}).settings()
    assert settings["lr"] == 0.01 and settings["n_train"] == 64 and settings["dim"] == 1


def test_keys_a_command_reads_itself_are_accepted_but_kept_out_of_the_settings():
    config = resolve_config({}, {"models": ["node"], "epochs": 3}, command_keys=("models",))
    assert config.epochs == 3 and "models" not in config.settings()
    with pytest.raises(ConfigError, match="unknown key"):
        resolve_config({}, {"models": ["node"]})


def test_saved_settings_with_a_key_this_version_does_not_know_are_refused():
    saved = TrainConfig(model="hbnode").settings()
    assert config_from_settings(saved) == TrainConfig(model="hbnode")
    with pytest.raises(ConfigError, match="hold solver_max_steps, which this version of adamnode does not know"):
        config_from_settings({**saved, "solver_max_steps": 500})


def test_the_solver_settings_are_solver_options_fields_with_one_tol():
    names = [name for name in SolverOptions.__dataclass_fields__ if name not in ("rtol", "atol", "check_finite")]
    assert SOLVER_KEYS == ("method", "tol", *names[1:])
    assert [key for key in TrainConfig().settings() if key in SOLVER_KEYS] == list(SOLVER_KEYS)


def test_the_config_holds_a_solver_options_and_saves_it_flat():
    solver = SolverOptions(rtol=1e-5, atol=1e-5, gradient="direct", kinetic=0.5)
    config = TrainConfig(model="node", solver=solver)
    assert config.solver is solver
    saved = config.settings()
    assert (saved["tol"], saved["gradient"], saved["kinetic"]) == (1e-5, "direct", 0.5) and "rtol" not in saved
    assert config_from_settings(saved) == config


def test_a_solver_the_flat_settings_cannot_hold_is_refused():
    for solver in (SolverOptions(rtol=1e-4, atol=1e-6), SolverOptions(check_finite=False)):
        with pytest.raises(ConfigError, match="one tolerance, tol"):
            TrainConfig(solver=solver)


def test_old_settings_with_adjoint_are_read_as_the_gradient_path():
    saved = {key: value for key, value in TrainConfig(model="node").settings().items() if key != "gradient"}
    assert config_from_settings({**saved, "adjoint": True}).solver.gradient == "adjoint"
    assert config_from_settings({**saved, "adjoint": False}).solver.gradient == "direct"
