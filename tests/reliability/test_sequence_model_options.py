"""``--model-option`` reaches the vector field in the sequence tasks (planevibration, walker2d),
as it does in the spheres and image tasks: options that never reached the field passed the suite,
whose model-option tests built spheres and images only."""

import math

import pytest

from adamnode.solve import SolverOptions
from adamnode.tasks import get_task

OPTIONS = {"beta1": 0.5, "learn_betas": False, "gamma": 0.2, "augment_dim": 3}


def field_of(task: str, model: str, options: dict = OPTIONS):
    return get_task(task).build_model(model, SolverOptions(), {"model_options": options}).rnn.field


@pytest.mark.parametrize("task", ["planevibration", "walker2d"])
def test_the_sequence_models_are_built_with_their_options(task):
    adam = field_of(task, "adamnode")
    assert math.isclose(adam.beta1.item(), 0.5, rel_tol=1e-6) and "beta1_logit" in dict(adam.named_buffers())
    hb = field_of(task, "hbnode")
    assert math.isclose(hb.gamma.item(), 0.2, rel_tol=1e-6) and "gamma_logit" in dict(hb.named_parameters())
    assert field_of(task, "anode").augment_dim == 3 != field_of(task, "anode", {}).augment_dim  # hidden // 4
