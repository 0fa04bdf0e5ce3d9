"""Load and validate the stack's configuration before any resource is declared."""

import difflib
import json
from collections.abc import Mapping
from typing import Any, get_origin

import pulumi
import pulumi.runtime.config
from pydantic import BaseModel, SecretStr, ValidationError

from .model import StackConfig


class ConfigError(pulumi.RunError):
    """A bad stack setting. `RunError` makes the Pulumi CLI print the message alone, without a traceback."""


def load_stack_config(namespace: str | None = None) -> StackConfig:
    """Read every `<namespace>:*` key the CLI handed the program and validate it as one model."""
    namespace = namespace or pulumi.get_project()
    raw = settings_in(namespace)
    errors = [_unknown_key_error(namespace, key) for key in sorted(raw) if key not in _FIELDS_BY_ALIAS]
    if errors:
        raise ConfigError(_one_line(errors))
    try:
        config = StackConfig.model_validate({key: _decode(key, value) for key, value in raw.items()})
    except ValidationError as error:
        raise ConfigError(_one_line(_describe(namespace, error, raw))) from None
    if is_guarded(config) and not config.protect_stateful_resources:
        raise ConfigError(
            _one_line(
                [
                    f"{namespace}:protectStatefulResources: must be true in {pulumi.get_stack()}, "
                    f"a guarded stack ({namespace}:guardedStacks)"
                ]
            )
        )
    return config


def is_guarded(config: StackConfig) -> bool:
    """Whether the stack being run is one of the guarded stacks."""
    return pulumi.get_stack() in config.guarded_stacks


def setting_key(field: str, namespace: str | None = None) -> str:
    """The key (`<namespace>:<camelCaseName>`) under which the CLI, and the engine in a dynamic
    provider's `configure`, hand over the setting of model field `field`."""
    return f"{namespace or pulumi.get_project()}:{StackConfig.model_fields[field].alias or field}"


def secret_output(value: SecretStr) -> pulumi.Output[str]:
    """A validated secret setting as a Pulumi secret, the only form in which it reaches resources."""
    return pulumi.Output.secret(value.get_secret_value())


_FIELDS_BY_ALIAS = {field.alias or name: field for name, field in StackConfig.model_fields.items()}


def settings_in(namespace: str) -> dict[str, str]:
    """Every `<namespace>:*` setting the CLI handed the program, by its key without the namespace."""
    # The CLI passes configuration in the PULUMI_CONFIG environment bag; Pulumi's mocks set it
    # in the runtime's own map. Keys from both are read so nothing set either way goes unchecked.
    keys = set(pulumi.runtime.get_config_env()) | set(pulumi.runtime.config.CONFIG.get())
    prefix = f"{namespace}:"
    settings: dict[str, str] = {}
    for key in keys:
        if key.startswith(prefix):
            value = pulumi.runtime.get_config(key)
            if value is not None:
                settings[key.removeprefix(prefix)] = value
    return settings


def _decode(key: str, value: Any) -> Any:
    """The CLI hands lists and objects over as JSON text; scalars stay text for pydantic to coerce."""
    annotation = _FIELDS_BY_ALIAS[key].annotation
    structured = get_origin(annotation) in (list, dict, tuple) or (
        isinstance(annotation, type) and issubclass(annotation, BaseModel)
    )
    if structured and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _unknown_key_error(namespace: str, key: str) -> str:
    close = difflib.get_close_matches(key, _FIELDS_BY_ALIAS, n=1)
    hint = (
        f"did you mean {namespace}:{close[0]}?" if close else f"known settings: {', '.join(sorted(_FIELDS_BY_ALIAS))}"
    )
    return f"{namespace}:{key}: unknown setting ({hint})"


def _describe(namespace: str, error: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    messages = []
    for detail in error.errors():
        first, *rest = (str(part) for part in detail["loc"])
        # A default checked against other settings is reported under its field's name.
        field = _FIELDS_BY_ALIAS.get(first) or StackConfig.model_fields.get(first)
        key = ".".join([(field.alias or first) if field else first, *rest])
        setting = f"{namespace}:{key}"
        if detail["type"] == "missing":
            what = field.description if field and field.description else "a value"
            messages.append(f"{setting}: required setting is missing; set it to {what[0].lower()}{what[1:]}")
            continue
        message = detail["msg"].removeprefix("Value error, ")
        shown = "" if field is None or field.annotation is SecretStr or key not in raw else f" (got {raw[key]!r})"
        messages.append(f"{setting}: {message}{shown}")
    return messages


def _one_line(errors: list[str]) -> str:
    return "invalid stack configuration: " + "; ".join(errors)
