"""``ODERNN``: a recurrent network whose state follows a vector field of the family between observations.

The ODE-RNN of Rubanova, Chen and Duvenaud (NeurIPS 2019), with the momentum fields as the heavy-ball
paper (Xia et al., NeurIPS 2021) uses them on irregular time series: the state evolves by an
``ODEBlock`` over each gap between observations and a recurrent cell folds each observation into it.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from ..models.base import VectorField
from ..solve import ODEBlock, SolverOptions


class GapScaled(VectorField):
    """The field ``F`` on the unit clock of one gap: ``dz/dtau = gap * F(t0 + tau, z)``, ``tau`` in [0, 1].

    ``gap`` (``args``, one per sample) is the time between two observations, so a solve over
    ``[t0, t0 + 1]`` takes every sample of a batch across its own gap at once. For a field that does
    not read the time this is exactly the ODE over ``[s, s + gap]``; a field that does (Nesterov's
    ``k(t)``, an ``f`` given ``t``) sees the phase ``t0 + tau`` of the gap, not the absolute time.
    A gap of 0 leaves the state unchanged. Components, layout and ``hidden`` are those of ``F``.
    """

    def __init__(self, field: VectorField):
        if not isinstance(field, VectorField):
            raise ValueError(f"field must be an adamnode VectorField (e.g. HBNODE(f)), got {type(field).__name__}")
        super().__init__(field)
        self.components = field.components
        self.needs_positive_time = field.needs_positive_time

    def forward(self, t: torch.Tensor, z: torch.Tensor, gaps: torch.Tensor) -> torch.Tensor:
        return gaps.view(-1, *([1] * (z.dim() - 1))) * self.call_f(t, z, z)

    def hidden(self, z: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        return self.f.hidden(z, t)


class ODERNN(nn.Module):
    """A batch of (irregularly) observed sequences in, a prediction after every observation out.

    Equations, for one sequence with observations ``x_k`` at times ``s_k``::

        z(s_0) = 0                                   (every component: h, m, v, ...)
        z(s_k-) = z(s_{k-1}+) + integral of F over [s_{k-1}, s_k]      (ODEBlock, per-sample gap)
        h(s_k+) = cell(x_k, h(s_k-)),  other components unchanged
        y_k = readout(hidden(z(s_k+)))

    ``h`` is the field's first component as it is stored (Nesterov models: ``x``, whose
    ``h = k(t) x`` the readout sees at the block's ``t1``, a fixed multiple). The momentum ``m`` (and
    AdamNODE's ``v``) pass through an update unchanged: the observation corrects where the state is,
    not the trend it carries, as a heavy-ball step restarted from a corrected point keeps its
    velocity, and ``v`` stays the running second moment the field keeps non-negative (a learned
    additive update could drive ``s(v)`` to its floor). The heavy-ball paper's reference code adds a
    learned residual of (observation, h, m) to the whole state instead (SPEC 3b); here the cell can
    still steer ``m`` through ``h``, on which ``m'`` depends.

    Each gap is one batched solve on ``[t0, t0 + 1]`` of ``GapScaled(field)`` with the samples' gaps
    as ``args``, so samples with different times need no loop over the batch. Warm starts are off
    for this block (``options.warm_start`` is overridden): consecutive solves see different gaps
    and a fresh state after each update, so a step remembered from the last solve is no estimate
    for the next. Regularisers and STEER are refused (the block's penalty and drawn end belong to
    one solve, not to a sequence of them).

    Args:
        field: a vector field of the family around ``f(t, h)`` (``HBNODE(f)``, ``AdamNODE(f)``, ...).
        observation_features: channels of one observation.
        hidden_features: width of ``h`` (ANODE: including its augmented channels).
        readout: maps ``hidden`` ``[batch, hidden_features]`` to a prediction.
        cell: ``cell(x, h) -> h``; default ``nn.GRUCell(observation_features, hidden_features)``.
        options: the solver's ``SolverOptions`` (default ``SolverOptions()``).
        t0: start of the unit clock (default 0; 1 for fields singular at 0).

    ``forward(observations, times, mask=None)`` returns ``[batch, steps, *out]``; ``scan`` also
    returns the final state for ``extrapolate``. ``observations`` is ``[batch, steps, features]``
    (or a list of equally long ``[steps, features]`` tensors), ``times`` ``[steps]`` or
    ``[batch, steps]``, strictly increasing over each sequence's observed steps; ``mask``
    ``[batch, steps]`` (bool) marks them for sequences of different lengths (a prefix of each row;
    padded entries may hold anything, their outputs are 0). ``sequence_nfe`` is the number of field
    evaluations of the last ``scan`` (forward solves over the whole sequence; ``block.stats`` has
    the rest).
    """

    def __init__(self, field: VectorField, observation_features: int, hidden_features: int, readout: nn.Module,
                 cell: nn.Module | None = None, *, options: SolverOptions | None = None, t0: float | None = None):
        super().__init__()
        for name, value in (("observation_features", observation_features), ("hidden_features", hidden_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        options = options or SolverOptions()
        if not isinstance(options, SolverOptions):
            raise ValueError(f"options must be a SolverOptions, got {type(options).__name__}")
        if options.regularised or options.steer > 0:
            raise ValueError("an ODERNN solves once per gap, so kinetic, jacobian and steer (set per solve) do not "
                             "apply; run it without them")
        scaled = GapScaled(field)
        if options.gradient != "direct" and not isinstance(field.f, nn.Module):
            raise ValueError(f"f is a plain callable, so gradient={options.gradient!r} cannot find the tensors it "
                             "depends on: make f an nn.Module, or pass options with gradient='direct'")
        if t0 is None:
            t0 = 1.0 if field.needs_positive_time else 0.0
        self.block = ODEBlock(scaled, t0=t0, t1=t0 + 1.0, options=options.replace(warm_start=False))
        self.cell = cell if cell is not None else nn.GRUCell(observation_features, hidden_features)
        self.readout = readout
        self.observation_features, self.hidden_features = observation_features, hidden_features
        self.sequence_nfe = 0

    @property
    def field(self) -> VectorField:
        """The vector field ``F`` (unscaled)."""
        return self.block.field.f

    def forward(self, observations: torch.Tensor | Sequence[torch.Tensor], times: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.scan(observations, times, mask)[0]

    def scan(self, observations: torch.Tensor | Sequence[torch.Tensor], times: torch.Tensor,
             mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(predictions ``[batch, steps, *out]``, the state after the last observation)."""
        x, times, mask = self._checked(observations, times, mask)
        batch, steps = x.shape[:2]
        before = self.block.stats.totals().nfe_forward
        z = x.new_zeros(batch, self.field.n_components, self.hidden_features)
        # One host read of which steps anyone observes, so all-padded steps skip their solve.
        active = [True] * steps if mask is None else mask.any(0).tolist()
        outputs = []
        for k in range(steps):
            if k > 0 and active[k]:
                gaps = times[:, k] - times[:, k - 1]
                z = self.block(z, args=gaps if mask is None else torch.where(mask[:, k], gaps, 0.0))
            h = z[:, 0]
            updated = self.cell(x[:, k], h)
            if mask is not None:
                updated = torch.where(mask[:, k, None], updated, h)
            z = torch.cat([updated.unsqueeze(1), z[:, 1:]], dim=1)
            outputs.append(self._read(z))
        out = torch.stack(outputs, dim=1)
        if mask is not None:
            out = torch.where(mask.view(*mask.shape, *([1] * (out.dim() - 2))), out, 0.0)
        self.sequence_nfe = self.block.stats.totals().nfe_forward - before
        return out, z

    def extrapolate(self, z: torch.Tensor, gaps: torch.Tensor) -> torch.Tensor:
        """Predictions ``[batch, len, *out]`` at ``len`` later times, evolving ``z`` without observations.

        ``gaps`` (``[len]`` or ``[batch, len]``, positive) are the times between consecutive predictions,
        the first one after the last observation.
        """
        gaps = torch.as_tensor(gaps, dtype=z.dtype, device=z.device)
        gaps = gaps.expand(z.shape[0], -1) if gaps.dim() == 1 else gaps
        if gaps.dim() != 2 or gaps.shape[0] != z.shape[0] or not bool((gaps > 0).all()):
            raise ValueError(f"gaps must be positive times of shape [len] or [batch={z.shape[0]}, len], got shape "
                             f"{tuple(gaps.shape)}")
        outputs = []
        for k in range(gaps.shape[1]):
            z = self.block(z, args=gaps[:, k])
            outputs.append(self._read(z))
        return torch.stack(outputs, dim=1)

    def _read(self, z: torch.Tensor) -> torch.Tensor:
        return self.readout(self.field.hidden(z, self.block.t1))

    def _checked(self, observations: Any, times: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        if isinstance(observations, (list, tuple)):
            lengths = sorted({len(sequence) for sequence in observations})
            if len(lengths) > 1:
                raise ValueError(f"the sequences have different lengths ({lengths[0]} to {lengths[-1]}); pad them to "
                                 "one length and pass mask=[batch, steps] marking the observed steps")
            observations = torch.stack(list(observations))
        x = observations
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() != 3 \
                or x.shape[2] != self.observation_features or x.shape[1] < 1:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"observations must be a floating tensor [batch, steps >= 1, "
                             f"{self.observation_features}], got {shape}")
        batch, steps = x.shape[:2]
        times = torch.as_tensor(times, dtype=x.dtype, device=x.device)
        times = times.expand(batch, -1) if times.dim() == 1 else times
        if times.shape != (batch, steps):
            raise ValueError(f"times must have shape [{steps}] or [{batch}, {steps}] like the observations, "
                             f"got {tuple(times.shape)}")
        observed = torch.ones(batch, steps, dtype=torch.bool, device=x.device)
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (batch, steps):
                raise ValueError(f"mask must be a bool tensor [{batch}, {steps}] marking the observed steps")
            if not bool(mask[:, 0].all()) or bool((mask[:, 1:] & ~mask[:, :-1]).any()):
                raise ValueError("mask must mark a non-empty prefix of each sequence (its observed steps), "
                                 "padding only at the end")
            observed = mask
        if not bool(torch.isfinite(x).all(dim=2).logical_or(~observed).all()):
            sample, step = (~torch.isfinite(x).all(dim=2) & observed).nonzero()[0].tolist()
            raise ValueError(f"observations hold NaN or Inf (sample {sample}, step {step}); clean or mask them")
        if not bool((torch.isfinite(times) | ~observed).all()):
            raise ValueError("times hold NaN or Inf at observed steps; give every observation a finite time")
        increasing = (times[:, 1:] > times[:, :-1]) | ~observed[:, 1:]
        if not bool(increasing.all()):
            sample, step = (~increasing).nonzero()[0].tolist()
            raise ValueError(f"times must increase strictly over each sequence's observed steps (sample {sample}: "
                             f"step {step + 1} at {float(times[sample, step + 1]):g} is not after step {step} at "
                             f"{float(times[sample, step]):g})")
        if mask is not None:
            # Padded entries may hold NaN; zeros keep them out of the cell and of its gradients.
            x = torch.where(mask[..., None], x, 0.0)
            times = torch.where(mask, times, 0.0)
        return x, times, mask


class TimedSequenceModel(nn.Module):
    """An ``ODERNN`` on inputs that carry their times: ``[batch, steps, 1 + features]``, channel 0 the time.

    Returns the ODERNN's prediction after every observation, followed, with ``forecast > 0``, by
    ``forecast`` further predictions from the state evolved ``gap`` at a time without observations
    (``[batch, steps + forecast, *out]``). The tasks' training splits hold whole tensors, so the
    times travel in the input rather than beside it.
    """

    def __init__(self, rnn: ODERNN, forecast: int = 0, gap: float = 1.0):
        super().__init__()
        if isinstance(forecast, bool) or not isinstance(forecast, int) or forecast < 0:
            raise ValueError(f"forecast must be a non-negative int, got {forecast!r}")
        if not gap > 0:
            raise ValueError(f"gap must be positive, got {gap!r}")
        self.rnn, self.forecast, self.gap = rnn, forecast, float(gap)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.dim() != 3 or inputs.shape[2] != 1 + self.rnn.observation_features:
            raise ValueError(f"inputs must be [batch, steps, 1 + {self.rnn.observation_features}] (time first), "
                             f"got {tuple(inputs.shape)}")
        outputs, state = self.rnn.scan(inputs[..., 1:], inputs[..., 0])
        if not self.forecast:
            return outputs
        gaps = torch.full((self.forecast,), self.gap, dtype=inputs.dtype, device=inputs.device)
        return torch.cat([outputs, self.rnn.extrapolate(state, gaps)], dim=1)
