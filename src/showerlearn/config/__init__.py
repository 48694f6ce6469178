"""Experiment configuration: pydantic schemas, YAML loading, command-line overrides and the
error messages that name the offending key and suggest the right one.

May import: showerlearn.registry, showerlearn.io, pydantic, pydantic_core, PyYAML.
"""

from showerlearn.config.errors import ConfigError
from showerlearn.config.loader import apply_overrides, dump_config, flatten_config, load_config, resolve_config
from showerlearn.config.schema import Component, ExperimentConfig, HeadConfig, TaskConfig, TrainerConfig

__all__ = [
    "Component",
    "ConfigError",
    "ExperimentConfig",
    "HeadConfig",
    "TaskConfig",
    "TrainerConfig",
    "apply_overrides",
    "dump_config",
    "flatten_config",
    "load_config",
    "resolve_config",
]
