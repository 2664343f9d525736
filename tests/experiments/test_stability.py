"""The stability test's numbers against independent solutions, its reproducibility and its failures."""

import math

import numpy as np
import pytest
import torch

from adamnode.experiments.stability import build_initialisation, check_horizon, run_stability
from adamnode.experiments.stability_report import CSV_NAME, FIGURE_NAME, TABLE_NAME, write_outputs
from adamnode.models.adam import DEFAULT_BETA1, DEFAULT_BETA2
from reference import rk4

SAMPLES = 40
# A recording-like input with energy near the Silverbox resonance, and an output start away from 0.
U = np.sin(0.7 * np.arange(SAMPLES)) + 0.3 * np.cos(2.1 * np.arange(SAMPLES))
Y = np.full(SAMPLES, 0.8)
HORIZON, INITS, HIDDEN, SEED = 8, 3, 2, 5


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def untrained(model: str, init: int):
    """The weights and initial state the experiment uses, read back as plain float64 tensors."""
    field, z0, _ = build_initialisation(model, init, SEED, float(Y[0]), HIDDEN)
    linear = field.f.net
    weight, bias = linear.weight.detach(), linear.bias.detach()
    assert z0[0, 0, 0].item() == Y[0]
    return weight[:, :HIDDEN], weight[:, HIDDEN], bias, z0[0].detach()


def log10_mean_norms(paths: list[np.ndarray], hidden_rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """From per-initialisation paths [time, components, hidden]: log10 mean |h| and log10 mean |state|."""
    norm_h = np.mean([np.linalg.norm(path[:, hidden_rows].reshape(len(path), -1), axis=1) for path in paths], axis=0)
    norm_state = np.mean([np.linalg.norm(path.reshape(len(path), -1), axis=1) for path in paths], axis=0)
    return np.log10(norm_h), np.log10(norm_state)


def heavy_ball_exact(init: int) -> np.ndarray:
    """Linear HBNODE h' = m, m' = W h + w u(t) + b - gamma m with u piecewise linear: on each sample
    interval the system is linear in [z, s, 1], so one matrix exponential advances it exactly."""
    W, w, b, z0 = untrained("hbnode", init)
    gamma, d = sigmoid(-3.0), HIDDEN
    A = torch.zeros(2 * d + 2, 2 * d + 2, dtype=torch.float64)
    A[:d, d:2 * d] = torch.eye(d, dtype=torch.float64)
    A[d:2 * d, :d] = W
    A[d:2 * d, d:2 * d] = -gamma * torch.eye(d, dtype=torch.float64)
    A[2 * d, 2 * d + 1] = 1.0
    x = torch.cat([z0.reshape(-1), torch.tensor([0.0, 1.0], dtype=torch.float64)])
    states = [z0.numpy()]
    for k in range(HORIZON):
        M = A.clone()
        M[d:2 * d, 2 * d] = w * (U[k + 1] - U[k])
        M[d:2 * d, 2 * d + 1] = w * U[k] + b
        x = torch.linalg.matrix_exp(M) @ torch.cat([x[:2 * d], torch.tensor([0.0, 1.0], dtype=torch.float64)])
        states.append(x[:2 * d].reshape(2, d).numpy())
    return np.stack(states)


def adam_rk4(init: int, substeps: int = 64) -> np.ndarray:
    """AdamNODE with linear f by classical RK4 in float64, steps aligned to the samples."""
    W, w, b, z0 = (t.numpy() for t in untrained("adamnode", init))
    beta1, beta2, eps = DEFAULT_BETA1, DEFAULT_BETA2, 1e-8  # the study runs the library's defaults

    def rhs(t: float, z: np.ndarray) -> np.ndarray:
        h, m, v = z
        k = min(int(t), SAMPLES - 2)
        u = U[k] + (U[k + 1] - U[k]) * (t - k)
        f = W @ h + w * u + b
        return np.stack([-m / (np.sqrt(np.log1p(np.exp(v))) + eps), beta1 * (-f - m), beta2 * (f * f - v)])

    states = [z0.copy()]
    for k in range(HORIZON):
        states.append(rk4(rhs, states[-1], k, k + 1, substeps))
    return np.stack(states)


@pytest.mark.parametrize("model, independent", [("hbnode", heavy_ball_exact), ("adamnode", adam_rk4)])
def test_curves_match_an_independent_solution(model, independent):
    result = run_stability(U, Y, [model], inits=INITS, horizon=HORIZON, tol=1e-10, seed=SEED, hidden=HIDDEN)
    expected_h, expected_state = log10_mean_norms([independent(init) for init in range(INITS)], slice(0, 1))
    curves = result.curves[0]
    np.testing.assert_allclose(curves.log10_mean_h, expected_h, atol=1e-7)
    np.testing.assert_allclose(curves.log10_mean_state, expected_state, atol=1e-7)
    assert not curves.failures and (curves.solved == INITS).all()


def test_every_model_starts_from_the_recorded_output():
    models = ["node", "sonode", "hbnode", "ghbnode", "adamnode", "nesterovnode", "gnesterovnode"]
    result = run_stability(U, Y, models, inits=2, horizon=2, seed=SEED)
    for curves in result.curves:
        assert curves.norm_h[:, 0] == pytest.approx(abs(Y[0]), rel=1e-12), curves.model


def test_reproducible_from_the_seed_and_independent_of_the_other_models():
    run = lambda models, seed: run_stability(U, Y, models, inits=2, horizon=4, seed=seed)  # noqa: E731
    first, again = run(["hbnode", "adamnode"], 1), run(["hbnode", "adamnode"], 1)
    for a, b in zip(first.curves, again.curves):
        assert np.array_equal(a.norm_state, b.norm_state) and np.array_equal(a.norm_h, b.norm_h)
    assert np.array_equal(run(["adamnode"], 1).curves[0].norm_state, first.curves[1].norm_state)
    assert not np.array_equal(run(["hbnode"], 2).curves[0].norm_state, first.curves[0].norm_state)


def test_a_failed_solve_is_recorded_not_raised(tmp_path):
    # A budget of 3 steps cannot reach t = 20: the failure is kept with its time and reason.
    result = run_stability(U, Y, ["hbnode"], inits=2, horizon=20, seed=SEED, step_budget=3)
    curves = result.curves[0]
    assert len(curves.failures) == 2 and all("step_budget=3" in failure.reason for failure in curves.failures)
    assert curves.solved[0] == 2 and curves.solved[-1] == 0
    assert np.isnan(curves.log10_mean_h[-1])
    write_outputs(result, tmp_path)
    assert "2/2, first at t=" in (tmp_path / TABLE_NAME).read_text()


def test_outputs(tmp_path):
    result = run_stability(U, Y, ["hbnode", "adamnode"], inits=2, horizon=3, seed=SEED)
    write_outputs(result, tmp_path)
    rows = (tmp_path / CSV_NAME).read_text().splitlines()
    assert rows[0] == "model,t,log10_mean_norm_h,log10_mean_norm_state,solved_inits"
    assert len(rows) == 1 + 3 * 4 and rows[-1].startswith("recorded_output,3,")
    table = (tmp_path / TABLE_NAME).read_text()
    assert "| hbnode |" in table and "| adamnode |" in table and "HBNODE's mean |h| is 10^" in table
    assert (tmp_path / FIGURE_NAME).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_horizon_longer_than_the_record():
    with pytest.raises(ValueError, match="horizon 40 is longer than the record"):
        run_stability(U, Y, ["hbnode"], horizon=SAMPLES)
    with pytest.raises(ValueError, match="--horizon 999 or less"):
        check_horizon(1000, 1000)
