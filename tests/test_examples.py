"""The examples run: each one's main() on a few steps (the README links them)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_moons_trains_every_model_it_is_asked_for(capsys):
    example("moons").main(["--models", "node,adamnode,anode", "--steps", "3"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| node") or
            line.startswith("| adamnode") or line.startswith("| anode")]
    assert len(rows) == 3


@pytest.mark.parametrize("solver", ["adamnode", "torchdiffeq"])
def test_spiral_logs_a_finite_loss(solver):
    losses = example("spiral").main(["--solver", solver, "--niters", "4", "--log-every", "2", "--data-size", "60"])
    assert len(losses) == 2 and all(0 < loss < 10 for loss in losses)


def test_mnist_trains_and_tests(mnist_dir):
    accuracy = example("mnist").main(["--data-dir", str(mnist_dir.parent), "--train-size", "64", "--test-size", "64",
                                      "--threads", "1"])
    assert 0.0 <= accuracy <= 1.0
