"""Equal parameter budgets: pinned counts, and width matching that returns a model's own width.

Comparisons of models with the same budget hold only if the matching is right; a matcher off by one
width moves every model, the reference included, so the budgets stay within a few percent of each
other and only absolute counts and self-matching notice.
"""

import pytest
import torch

from adamnode.models.family import MODEL_NAMES
from adamnode.nets.sizing import count_parameters, matched_width
from adamnode.solve import SolverOptions
from adamnode.tasks import get_task, silverbox, spheres

#: How each task builds a model at a given width, for matching a model against its own count.
ASSEMBLERS = {"spheres": spheres._assemble, "silverbox": silverbox._assemble}

# `adamnode info --task spheres` (the README's table) and `adamnode info --task silverbox`.
COUNTS = {
    "spheres": {"node": 1189, "anode": 1186, "sonode": 1223, "hbnode": 1192, "ghbnode": 1193, "adamnode": 1193,
                "nesterovnode": 1191, "gnesterovnode": 1192},
    "silverbox": {"node": 1127, "anode": 1113, "sonode": 1117, "hbnode": 1122, "ghbnode": 1123, "adamnode": 1123,
                  "nesterovnode": 1121, "gnesterovnode": 1122},
}


def test_reference_counts_by_hand():
    # Spheres NODE, width 32 on 1-D points: f = Linear(1 + t, 32), Linear(32, 32), Linear(32, 1);
    # readout Linear(1, 2); no momentum encoder.
    assert COUNTS["spheres"]["node"] == (2 * 32 + 32) + (32 * 32 + 32) + (32 + 1) + (1 * 2 + 2)
    # Silverbox HBNODE, width 32, hidden 8, past 16: f = Linear(8 + u, 32), Linear(32, 8); gamma;
    # h0 and m0 = Linear(2 * 16, 8) each; readout Linear(8, 1).
    assert COUNTS["silverbox"]["hbnode"] == (9 * 32 + 32) + (32 * 8 + 8) + 1 + 2 * (32 * 8 + 8) + (8 + 1)


@pytest.mark.parametrize("task_name", sorted(COUNTS))
def test_parameter_counts_are_pinned(task_name):
    task = get_task(task_name)
    assert {model: task.parameter_count(model) for model in MODEL_NAMES} == COUNTS[task_name]


def width_of(net) -> int:
    """The hidden width of ``f``, a Sequential inside both tasks' ``f`` (TimeMLP, DrivenNet)."""
    return net.block.field.f.net[0].out_features


@pytest.mark.parametrize("width", [8, 32])
@pytest.mark.parametrize("task_name", sorted(ASSEMBLERS))
def test_matching_a_model_against_its_own_count_returns_its_width(task_name, width):
    task = get_task(task_name)
    settings, solver = {**task.defaults, "width": width}, SolverOptions()
    for model in MODEL_NAMES:
        net = task.build_model(model, solver, settings)
        def count_at(w, model=model):
            return count_parameters(ASSEMBLERS[task_name](model, w, solver, settings))
        assert matched_width(count_at, count_parameters(net), max_width=4 * width) == width_of(net), model
    reference = "node" if task_name == "spheres" else silverbox.REFERENCE_MODEL
    assert width_of(task.build_model(reference, solver, settings)) == width


@pytest.mark.parametrize("target, expected", [(1, 1), (10, 3), (13, 3), (14, 4), (99, 10), (10_000, 10)])
def test_matched_width_picks_the_closest_count(target, expected):
    # count(w) = w^2 + 1: 2, 5, 10, 17, ...; 13 lies nearer 10 (w = 3), 14 nearer 17 (w = 4).
    assert matched_width(lambda w: w * w + 1, target, max_width=10) == expected


def test_matched_width_takes_the_smaller_width_on_a_tie():
    assert matched_width(lambda w: 2 * w, 5, max_width=10) == 2


@pytest.mark.parametrize("task_name", sorted(ASSEMBLERS))
def test_finding_the_width_leaves_the_random_state_alone(task_name):
    """A model's initial weights depend on the seed and its architecture, not on the candidates counted."""
    task, solver = get_task(task_name), SolverOptions()
    settings = dict(task.defaults)
    torch.manual_seed(3)
    built = task.build_model("hbnode", solver, settings)
    torch.manual_seed(3)
    direct = ASSEMBLERS[task_name]("hbnode", width_of(built), solver, {**settings, "model_options": {}})
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), direct.state_dict().values()))
