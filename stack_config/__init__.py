"""The stack's typed configuration: one model, validated before any resource exists."""

from .loader import ConfigError, is_guarded, load_stack_config, secret_output, setting_key
from .model import StackConfig

__all__ = ["ConfigError", "StackConfig", "is_guarded", "load_stack_config", "secret_output", "setting_key"]
