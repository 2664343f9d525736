"""Vector fields of the momentum neural-ODE family; each writes its ODE in its docstring."""

from .adam import AdamNODE
from .base import VectorField
from .first_order import ANODE, NODE, augment
from .nesterov import GNesterovNODE, NesterovNODE, nesterov_scale
from .second_order import GHBNODE, HBNODE, SONODE

__all__ = [
    "ANODE", "AdamNODE", "GHBNODE", "GNesterovNODE", "HBNODE", "NODE", "NesterovNODE", "SONODE",
    "VectorField", "augment", "nesterov_scale",
]
