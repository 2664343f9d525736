"""Equal parameter budgets: pinned counts, and width matching that returns a model's own width.

Comparisons of models with the same budget hold only if the matching is right; a matcher off by one
width moves every model, the reference included, so the budgets stay within a few percent of each
other and only absolute counts and self-matching notice.
"""

import pytest

from adamnode.models.family import MODEL_NAMES
from adamnode.tasks import BlockOptions, get_task, silverbox, spheres

MATCHERS = {"spheres": spheres.matched_width, "silverbox": silverbox.matched_width}

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
@pytest.mark.parametrize("task_name", sorted(MATCHERS))
def test_matching_a_model_against_its_own_count_returns_its_width(task_name, width):
    task = get_task(task_name)
    settings, block = {**task.defaults, "width": width}, BlockOptions()
    for model in MODEL_NAMES:
        net = task.build_model(model, block, settings)
        count = sum(p.numel() for p in net.parameters() if p.requires_grad)
        assert MATCHERS[task_name](model, count, block, settings) == width_of(net), model
    reference = "node" if task_name == "spheres" else silverbox.REFERENCE_MODEL
    assert width_of(task.build_model(reference, block, settings)) == width
