"""The stack's typed configuration: one model, validated before any resource exists."""

from .loader import ConfigError, load_stack_config, secret_output, setting_key
from .model import StackConfig

__all__ = ["ConfigError", "StackConfig", "load_stack_config", "secret_output", "setting_key"]
