"""A run's settings: typed and validated, with one name each from a flag or a config file down to the
solver (``settings``), and the options of its model's vector field (``model_options``)."""

from .settings import TrainConfig, config_from_settings, load_config_file, resolve_config

__all__ = ["TrainConfig", "config_from_settings", "load_config_file", "resolve_config"]
