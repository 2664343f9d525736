"""Penalties that ride in the solve (RNODE's kinetic and Jacobian terms) and STEER's random end time.

RNODE (Finlay et al., ICML 2020) adds to the loss the integrals along the solve of

    r_K' = mean over the batch of ||dz/dt||^2              (summed over every component and feature)
    r_J' = mean over the batch of ||eps^T d(dz/dt)/dz||^2  (eps: one Gaussian probe per sample)

the second one Hutchinson's estimate of the Jacobian's squared Frobenius norm. Both are integrated
alongside the state: the solver sees one flat tensor ``y = [z.flatten(), r_K, r_J]`` and
``Augmented`` returns ``[dz.flatten(), r_K', r_J']``. One tensor (rather than a tuple) keeps every
other path of the block unchanged: the sync-free fixed-step loop, the adjoint's cold retry, the
step callbacks. torchdiffeq's own tuple support would flatten into the same layout.

Error control: ``state_norm`` measures the error of the ``z`` part only (FFJORD's and RNODE's code
do the same by giving the penalty states tolerances of 1e20). The penalty is a quadrature of the
state's own derivative along the steps the state needs; measuring it too would let the
bookkeeping choose the steps (``r_K`` grows with the number of features, so its absolute error at
``atol`` would dominate), and the NFE a penalty is meant to cut would rise because of it. With the
``z``-only norm the regularised solve takes the unregularised solve's steps for the same weights.
The adjoint's norm is built by torchdiffeq from this one (``max(state_norm(y), state_norm(a_y))``
with the seminorm, plus the parameter part without): the ``r`` part of the adjoint is constant
(nothing depends on ``r``), so leaving it out loses nothing.

STEER (Ghosh et al., NeurIPS 2020): ``draw_end`` picks each training solve's end uniformly from
``[t1 - b, t1 + b]`` with torch's global generator, so a seeded run draws the same ends again.
"""

from __future__ import annotations

import torch

from .dynamics import Dynamics

#: Entries the penalty integrals add to the flat state: r_K, r_J.
EXTRA = 2
_CALLBACKS = ("callback_step", "callback_accept_step", "callback_reject_step", "callback_step_adjoint",
              "callback_accept_step_adjoint", "callback_reject_step_adjoint")


class Regulariser:
    """The penalty integrals of one solve: its weights, its probe and the flat augmented layout."""

    def __init__(self, kinetic: float, jacobian: float, z0: torch.Tensor):
        self.kinetic, self.jacobian = kinetic, jacobian
        self.shape = z0.shape
        # One probe per sample, drawn once per solve (a cold redo of the solve reuses it).
        self.probe = torch.randn_like(z0) if jacobian > 0 else None

    def augment(self, z0: torch.Tensor) -> torch.Tensor:
        """The flat initial state ``[z0.flatten(), 0, 0]``."""
        return torch.cat([z0.reshape(-1), z0.new_zeros(EXTRA)])

    def wrap(self, dynamics: Dynamics) -> "Augmented":
        return Augmented(dynamics, self)

    @staticmethod
    def state_norm(y: torch.Tensor) -> torch.Tensor:
        """torchdiffeq's RMS norm over the ``z`` part of a flat augmented state (``r`` left out)."""
        return y[:-EXTRA].abs().pow(2).mean().sqrt()

    def split(self, path: torch.Tensor, endpoint_only: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(the state's path in its own shape, the penalty ``kinetic r_K + jacobian r_J`` at the end)."""
        z = path[:, :-EXTRA].reshape(len(path), *self.shape)
        r_kinetic, r_jacobian = path[-1, -EXTRA:].unbind()
        penalty = self.kinetic * r_kinetic + self.jacobian * r_jacobian
        return (z[-1] if endpoint_only else z), penalty


class Augmented:
    """``(t, y) -> dy/dt`` for the flat augmented state: the field's derivative and ``(r_K', r_J')``.

    Calls the ``Dynamics`` once per evaluation, so the NFE counts, warm-start recording and failure
    diagnosis stay the ``Dynamics``' own; its torchdiffeq callbacks are exposed here unchanged.

    The Jacobian term needs ``eps^T d(dz/dt)/dz`` (one vector-Jacobian product per evaluation). It
    is built with ``create_graph`` whenever grad is enabled outside: in direct backprop and in the
    adjoint's backward evaluations, which differentiate it again; in the adjoint's forward solve
    (grad disabled) the product is taken and its graph dropped.
    """

    def __init__(self, dynamics: Dynamics, regulariser: Regulariser):
        self.dynamics, self.regulariser = dynamics, regulariser
        for name in _CALLBACKS:
            if hasattr(dynamics, name):
                setattr(self, name, getattr(dynamics, name))

    def __call__(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        reg = self.regulariser
        z = y[:-EXTRA].view(reg.shape)
        if reg.probe is not None:
            keep_graph = torch.is_grad_enabled()
            with torch.enable_grad():
                # Differentiated where it stands when its history is kept (direct backprop, the
                # adjoint's backward); otherwise (the adjoint's forward solve, z0 itself) made a leaf.
                # The adjoint's forward runs under no_grad, where a view of its y0 still reports
                # requires_grad: it is detached there too.
                z = z if keep_graph and z.requires_grad else z.detach().requires_grad_(True)
                dz = self.dynamics(t, z)
                product = _vjp(dz, z, reg.probe, keep_graph)
            if not keep_graph:
                dz = dz.detach()
            jacobian = _batch_mean_square(product)
        else:
            dz = self.dynamics(t, z)
            jacobian = dz.new_zeros(())
        kinetic = _batch_mean_square(dz) if reg.kinetic > 0 else dz.new_zeros(())
        return torch.cat([dz.reshape(-1), torch.stack([kinetic, jacobian]).to(dz.dtype)])


def _vjp(out: torch.Tensor, z: torch.Tensor, probe: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``probe^T d out / d z``; zero where ``out`` does not depend on ``z``."""
    if not out.requires_grad:
        return torch.zeros_like(z)
    (product,) = torch.autograd.grad(out, z, probe, create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(z) if product is None else product


def _batch_mean_square(x: torch.Tensor) -> torch.Tensor:
    """Mean over dim 0 of the squared norm of each sample (every other dim summed)."""
    return x.reshape(len(x), -1).pow(2).sum(1).mean()


def draw_end(t1: float, half_width: float) -> float:
    """STEER's end time: uniform on ``[t1 - b, t1 + b]``, from torch's global (CPU) generator."""
    return t1 + half_width * (2.0 * float(torch.rand((), dtype=torch.float64)) - 1.0)
