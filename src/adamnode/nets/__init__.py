"""Networks around the vector fields: the classifier/regressor shell and task-specific pieces."""

from .ode_model import ODEModel

__all__ = ["ODEModel"]
