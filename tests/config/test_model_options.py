"""Model options (``--model-option KEY=VALUE``, ``[model_options]``): parsing, checks, precedence,
and the models they build, at matched parameter budgets."""

from __future__ import annotations

import math

import pytest

from adamnode.models.family import options_for
from adamnode.nets.images import MNIST, image_classifier
from adamnode.nets.sizing import count_parameters
from adamnode.solve import SolverOptions
from adamnode.tasks import get_task
from adamnode.tasks.spheres import _assemble
from adamnode.config.settings import config_from_settings, load_config_file, resolve_config
from adamnode.errors import ConfigError
from adamnode.config.model_options import describe, parse_pairs, resolve


def adam_options(**given):
    return resolve_config({"model": "adamnode", "model_options": given}).model_options


def test_text_values_become_the_constructors_types():
    options = adam_options(beta1="0.5", beta2="1e-1", learn_betas="False", v_activation="sigmoid", eps="0")
    assert options == {"beta1": 0.5, "beta2": 0.1, "learn_betas": False, "v_activation": "sigmoid", "eps": 0.0}
    assert type(options["eps"]) is float and options["learn_betas"] is False
    # ANODE's augment_dim has no default: its type comes from the annotation.
    assert resolve_config({"model": "anode", "model_options": {"augment_dim": "3"}}).model_options == {"augment_dim": 3}
    # Typed values (a TOML file's) pass through; an integer is a number.
    assert resolve({"eps": 0, "learn_betas": True}, ["adamnode"]) == {"eps": 0.0, "learn_betas": True}


@pytest.mark.parametrize("given, expected", [
    ({"beta1": "1.5"}, "beta1 must lie strictly between 0 and 1, got 1.5"),
    ({"beta2": "0"}, "beta2 must lie strictly between 0 and 1"),
    ({"learn_betas": "maybe"}, "learn_betas must be true or false, got 'maybe'"),
    ({"beta1": "fast"}, "beta1 must be a finite number, got 'fast'"),
    ({"beta1": "inf"}, "beta1 must be a finite number"),
    ({"v_activation": "relu"}, "unknown v_activation 'relu'"),
    ({"beta1": True}, "beta1 must be a finite number, got True"),
])
def test_bad_values_are_one_line_errors_naming_the_key_and_listing_the_valid_keys(given, expected):
    with pytest.raises(ConfigError) as error:
        adam_options(**given)
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert "valid keys for adamnode: beta1, beta2, eps, learn_betas, v_activation" in message


def test_an_integer_option_refuses_fractions_and_what_the_constructor_refuses():
    for value, expected in (("2.5", "augment_dim must be an integer, got '2.5'"), ("0", "augment_dim must be a positive")):
        with pytest.raises(ConfigError, match=expected):
            resolve_config({"model": "anode", "model_options": {"augment_dim": value}})


def test_unknown_keys_and_keys_the_run_s_model_does_not_take_are_refused():
    with pytest.raises(ConfigError, match=r"unknown model option\(s\) beta3; valid keys for adamnode: beta1, "):
        adam_options(beta3="0.5")
    with pytest.raises(ConfigError, match="unknown model option.s. beta1; valid keys for hbnode: gamma, learn_gamma$"):
        resolve_config({"model": "hbnode", "model_options": {"beta1": "0.5"}})
    # Without a model yet (compare's base settings) any model of the task may take it.
    assert resolve_config({"model_options": {"gamma": "0.2"}}).model_options == {"gamma": 0.2}
    with pytest.raises(ConfigError, match="valid keys for node, sonode: none"):
        resolve({"gamma": "0.2"}, ["node", "sonode"])


def test_pairs_from_the_command_line():
    assert parse_pairs(["beta1=0.5", "learn-betas = false", "v_activation=x=y"]) == {
        "beta1": "0.5", "learn_betas": "false", "v_activation": "x=y"}
    for bad, expected in ((["beta1"], "takes KEY=VALUE"), (["=1"], "takes KEY=VALUE"),
                          (["beta1=0.1", "beta1=0.2"], "beta1 is given twice")):
        with pytest.raises(ConfigError, match=expected):
            parse_pairs(bad)


def test_a_flag_overrides_one_key_of_the_file_s_table_and_keeps_the_others(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('model = "adamnode"\n[model_options]\nbeta1 = 0.1\nbeta2 = 0.5\nlearn_betas = false\n')
    file_values = load_config_file(path)
    config = resolve_config({"model_options": {"beta1": "0.3"}}, file_values)
    assert config.model_options == {"beta1": 0.3, "beta2": 0.5, "learn_betas": False}
    assert resolve_config({}, file_values).model_options == {"beta1": 0.1, "beta2": 0.5, "learn_betas": False}
    path.write_text('model = "adamnode"\nmodel_options = 3\n')
    with pytest.raises(ConfigError, match="--model-option must be a table of KEY = VALUE, got 3"):
        resolve_config({}, load_config_file(path))


def test_the_options_are_settings_that_survive_a_round_trip():
    config = resolve_config({"model": "adamnode", "model_options": {"beta1": "0.5", "learn_betas": "false"}})
    saved = config.settings()
    assert saved["model_options"] == {"beta1": 0.5, "learn_betas": False}
    assert config_from_settings(saved).model_options == config.model_options
    assert config.replace(epochs=3).model_options == config.model_options
    assert describe(config.model_options) == "beta1=0.5, learn_betas=false"
    # Settings saved before model options existed rebuild with none.
    assert config_from_settings({key: value for key, value in saved.items() if key != "model_options"}).model_options == {}


def test_the_spheres_models_are_built_with_their_options_and_only_those():
    task, options = get_task("spheres"), {"beta1": 0.5, "learn_betas": False, "gamma": 0.2}
    adam = task.build_model("adamnode", SolverOptions(), {"model_options": options}).block.field
    assert math.isclose(adam.beta1.item(), 0.5, rel_tol=1e-6) and "beta1_logit" in dict(adam.named_buffers())
    hb = task.build_model("hbnode", SolverOptions(), {"model_options": options}).block.field
    assert math.isclose(hb.gamma.item(), 0.2, rel_tol=1e-6) and "gamma_logit" in dict(hb.named_parameters())
    assert options_for("node", options) == {} and options_for("ghbnode", options) == {"gamma": 0.2}


def test_a_user_augment_dim_overrides_the_spheres_setting_for_anode():
    task = get_task("spheres")
    anode = task.build_model("anode", SolverOptions(), {"model_options": {"augment_dim": 3}})
    assert anode.block.field.augment_dim == 3
    assert task.build_model("anode", SolverOptions(), {}).block.field.augment_dim == 1


def _spheres_adamnode_count(width: int, settings: dict) -> int:
    return count_parameters(_assemble("adamnode", width, SolverOptions(), {**get_task("spheres").defaults, **settings}))


def test_fixed_rates_drop_the_count_by_two_and_the_budget_stays_matched():
    task, fixed = get_task("spheres"), {"model_options": {"learn_betas": False}}
    target = task.parameter_count("node")
    assert task.parameter_count("adamnode") - task.parameter_count("adamnode", fixed) == 2
    width = task.build_model("adamnode", SolverOptions(), fixed).block.field.f.net[0].out_features
    gaps = [abs(_spheres_adamnode_count(w, fixed) - target) for w in (width - 1, width, width + 1)]
    assert gaps[1] == min(gaps)
    # MNIST keeps the reference widths: 85,931 learned, 85,929 fixed.
    assert count_parameters(image_classifier(MNIST, "adamnode", SolverOptions(), {"learn_betas": False})) == 85_929
    assert count_parameters(image_classifier(MNIST, "adamnode", SolverOptions())) == 85_931


def test_an_image_anode_with_another_augment_dim_is_rematched_to_its_budget():
    target = count_parameters(image_classifier(MNIST, "anode", SolverOptions()))
    model = image_classifier(MNIST, "anode", SolverOptions(), {"augment_dim": 3})
    assert model.block.field.augment_dim == 3 and model.readout[1].in_features == 4 * 28 * 28
    hidden = model.block.field.f.conv_in.out_channels
    assert hidden > MNIST.architectures["anode"].hidden  # a smaller readout leaves room for a wider f
    assert abs(count_parameters(model) - target) < 0.01 * target
