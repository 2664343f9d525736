"""The Silverbox initialisation test: does an untrained model's state blow up under a real input?

Setup (SPEC section 3; the deviations from the reference code are the fixes SPEC section 5 asks for):

- Recording: V1 (input u) and V2 (output y) of ``SNLS80mV.csv``, each centred on its whole-record
  mean and multiplied by 100; the first 1000 samples. Time unit: one sample. ``u(t)`` is the
  recording linearly interpolated between samples (the reference clamps it to one sample).
- Every model's ``f`` is one ``nn.Linear`` on ``[state f sees, u(t)]`` (``h`` for most; ``[h, u]``
  for SONODE; ``h = k(t) x`` for the Nesterov models), with PyTorch's default initialisation; the
  models' own scalars keep their library defaults (gamma, xi, beta1, beta2, softplus s(v)).
- ``h`` has ``hidden`` entries (default 1, a scalar like the recorded output). ``h0 = [y(0), c...]``:
  the first entry is the first output sample, every other entry of the state (further ``h``
  entries, ANODE's augmentation, m, SONODE's velocity) comes from random constants, a
  ``Linear(1, k, bias=False)`` applied to 1; AdamNODE's ``v0 = m0**2``. ANODE augments ``h`` by
  ``hidden`` entries; since they start random too, ANODE is NODE on a larger state.
- Nesterov models are singular at ``t = 0``: their clock runs from 1 (``t_model = t + 1``) while the
  input stays aligned with the samples, and ``x0 = y(0) / k(1)`` so that their ``h0`` is ``y(0)`` too.
- Each (model, initialisation) draws its weights from its own seed, derived from ``seed``, the model
  name and the initialisation index, so a model's numbers do not depend on which others run.
- Solve: dopri5, ``rtol = atol = tol``, float64, outputs at ``t = 0..horizon``. Reported per model
  and time: log10 of the mean over initialisations of ``|h(t)|`` (what a readout sees) and of
  ``|z(t)|`` (the whole state, which the reference plots). A solve that fails (overflow, step-size
  underflow, step budget) is recorded with its time and reason; its norms after the last reached
  sample are NaN, and so is the mean over initialisations from there on.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..models.family import augmentation, check_model_name, default_interval, field_class
from ..models.nesterov import nesterov_scale
from ..nets.driven import DrivenNet, InputSignal
from ..solve import ODEBlock, SolverError
from ..errors import ConfigError

FIRST_SAMPLES = 1000
SCALE = 100.0
DEFAULT_HORIZON = 63
DEFAULT_INITS = 10
DEFAULT_TOL = 1e-7
DEFAULT_SEED = 0
DEFAULT_HIDDEN = 1
DEFAULT_STEP_BUDGET = 2_000


def prepare_recording(v1: torch.Tensor, v2: torch.Tensor, samples: int = FIRST_SAMPLES) -> tuple[np.ndarray, np.ndarray]:
    """``(u, y)``: both columns centred on the whole record's mean, times 100, first ``samples``."""
    u = (v1 - v1.mean()) * SCALE
    y = (v2 - v2.mean()) * SCALE
    return u[:samples].double().numpy(), y[:samples].double().numpy()


@dataclass
class Failure:
    init: int
    t: float
    reason: str


@dataclass
class ModelCurves:
    """One model's curves on ``t = 0..horizon``: per-initialisation norms and their means."""

    model: str
    norm_h: np.ndarray  # [inits, times]
    norm_state: np.ndarray
    failures: list[Failure] = field(default_factory=list)

    @property
    def log10_mean_h(self) -> np.ndarray:
        return _log10_mean(self.norm_h)

    @property
    def log10_mean_state(self) -> np.ndarray:
        return _log10_mean(self.norm_state)

    @property
    def solved(self) -> np.ndarray:
        """How many initialisations reached each time."""
        return np.isfinite(self.norm_state).sum(axis=0)


def _log10_mean(norms: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(norms.mean(axis=0))


@dataclass
class StabilityResult:
    times: np.ndarray
    output: np.ndarray  # the recorded (scaled) output on the same times, for scale
    curves: list[ModelCurves]
    settings: dict


def check_horizon(horizon: int, samples: int) -> None:
    if not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon (--horizon) must be a positive whole number of samples, got {horizon!r}")
    if horizon > samples - 1:
        raise ConfigError(f"horizon {horizon} is longer than the record: t = 0..{horizon} needs {horizon + 1} "
                         f"samples, the test uses {samples}; choose --horizon {samples - 1} or less")


def check_settings(models, inits: int, horizon: int, tol: float, hidden: int, step_budget: int,
                   samples: int = FIRST_SAMPLES, seed: int = DEFAULT_SEED) -> list[str]:
    """The canonical model names; ``ValueError`` naming the first bad setting."""
    check_horizon(horizon, samples)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed (--seed) must be a non-negative whole number, got {seed!r}")
    for name, value in (("inits", inits), ("hidden", hidden), ("step_budget", step_budget)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} (--{name.replace('_', '-')}) must be a positive whole number, got {value!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ConfigError(f"tol (--tol) must be a positive number, got {tol!r}")
    try:
        models = [check_model_name(name) for name in models]
    except ValueError as error:
        raise ConfigError(f"{error} (--models)") from None
    if not models:
        raise ConfigError("choose at least one model (--models)")
    return models


def initialisation_seed(seed: int, model: str, init: int) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(model.encode()), init]).generate_state(1)[0])


def build_initialisation(model: str, init: int, seed: int, y0: float, hidden: int = DEFAULT_HIDDEN):
    """``(field, z0, t0)`` of one untrained model, float64; its ``f`` reads the input from ``args``."""
    model = check_model_name(model)
    kind, t0 = field_class(model), default_interval(model)[0]
    options = augmentation(model, hidden)
    state_width = kind.state_features(hidden, **options)
    momentum = kind.takes_momentum()
    extra = state_width - 1 + (hidden if momentum else 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(initialisation_seed(seed, model, init))
        constants = (nn.Linear(1, extra, bias=False).double()(torch.ones(1, dtype=torch.float64)).detach()
                     if extra else torch.zeros(0, dtype=torch.float64))
        f_inputs, f_outputs = kind.f_features(state_width)
        linear = nn.Linear(f_inputs + 1, f_outputs).double()
    vector_field = kind(DrivenNet(linear), **options).double()
    h0 = torch.cat([torch.tensor([y0], dtype=torch.float64), constants[: state_width - 1]]).unsqueeze(0)
    if vector_field.needs_positive_time:
        h0 = h0 / nesterov_scale(torch.tensor(t0, dtype=torch.float64))
    if not momentum:
        return vector_field, h0.unsqueeze(1), t0
    m0 = constants[state_width - 1 :].unsqueeze(0)
    return vector_field, vector_field.initial_state(h0, m0), t0


def run_stability(u: np.ndarray, y: np.ndarray, models, inits: int = DEFAULT_INITS,
                  horizon: int = DEFAULT_HORIZON, tol: float = DEFAULT_TOL, seed: int = DEFAULT_SEED,
                  hidden: int = DEFAULT_HIDDEN, step_budget: int = DEFAULT_STEP_BUDGET) -> StabilityResult:
    """Integrate every model ``inits`` times from ``t = 0`` to ``horizon`` under the input ``u``."""
    models = check_settings(models, inits, horizon, tol, hidden, step_budget, len(u), seed)
    samples = torch.as_tensor(np.asarray(u[: horizon + 1]), dtype=torch.float64).view(1, -1, 1)
    curves = [_model_curves(model, samples, float(y[0]), inits, horizon, tol, seed, hidden, step_budget)
              for model in models]
    settings = dict(models=models, inits=inits, horizon=horizon, tol=tol, seed=seed, hidden=hidden,
                    step_budget=step_budget)
    return StabilityResult(np.arange(horizon + 1, dtype=float), np.asarray(y[: horizon + 1], dtype=float),
                           curves, settings)


def _model_curves(model, samples, y0, inits, horizon, tol, seed, hidden, step_budget) -> ModelCurves:
    norm_h = np.full((inits, horizon + 1), np.nan)
    norm_state = np.full((inits, horizon + 1), np.nan)
    failures = []
    for init in range(inits):
        vector_field, z0, t0 = build_initialisation(model, init, seed, y0, hidden)
        # No warm start: _solve's retry after a failure must take the failed solve's steps again.
        block = ODEBlock(vector_field, t0=t0, t1=t0 + horizon, method="dopri5", rtol=tol, atol=tol,
                         gradient="direct", seminorm=False, warm_start=False, step_budget=step_budget)
        times = t0 + torch.arange(horizon + 1, dtype=torch.float64)
        with torch.no_grad():
            path, failure = _solve(block, z0, times, InputSignal.of(samples, start=t0))
        if failure is not None:
            failures.append(Failure(init, failure.t - t0, failure.reason))
        for k in range(len(path)):
            norm_h[init, k] = vector_field.hidden(path[k], times[k]).norm().item()
            norm_state[init, k] = path[k].norm().item()
    return ModelCurves(model, norm_h, norm_state, failures)


def _solve(block: ODEBlock, z0: torch.Tensor, times: torch.Tensor, signal: InputSignal):
    """The path on ``times``, or the part before the failure and the ``SolverError``."""
    try:
        return block(z0, times, args=signal), None
    except SolverError as error:
        failure = error
    # dopri5 takes the same steps whatever the output times, up to the last one, so a solve that ends
    # at the last sample before the failure retraces the path; it can still meet the failure when
    # that sample lies inside the failing step, hence the retreat.
    reached = int(np.searchsorted(times.numpy(), failure.t, side="right")) if math.isfinite(failure.t) else 1
    for end in range(min(reached, len(times)), 1, -1):
        try:
            return block(z0, times[:end], args=signal), failure
        except SolverError:
            continue
    return z0.unsqueeze(0), failure
