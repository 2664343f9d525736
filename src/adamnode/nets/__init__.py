"""Networks around the vector fields: the classifier/regressor shell and task-specific pieces."""

from .ode_model import ODEModel
from .sequence import ODERNN, GapScaled, TimedSequenceModel

__all__ = ["GapScaled", "ODEModel", "ODERNN", "TimedSequenceModel"]
