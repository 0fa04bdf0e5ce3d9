"""Compose a stack's configuration the way the Pulumi CLI hands it to the program.

The CLI merges `Pulumi.yaml` (project-level declarations and defaults) with
`Pulumi.<stack>.yaml` (fully-qualified values), passes every value as a string
(lists and objects as JSON text) and names the keys that are secret. Offline
there is no way to decrypt `secure:` values, so secrets nobody can read here get
a recognisable placeholder that is still marked secret: the program runs
exactly as it would, and the placeholder never shows in a plan.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stack_config.data_file import safe_load

PLACEHOLDER_PREFIX = "offline-plan-placeholder:"
"""Every placeholder starts with this, so a secret that escapes its secret marking can be recognised."""


class ConfigCompositionError(Exception):
    """The project or stack file is malformed, or a declared setting has no value; the CLI would refuse to run."""


@dataclass(frozen=True)
class ProjectConfigKey:
    """One `config:` declaration of `Pulumi.yaml`, under its fully-qualified key."""

    key: str
    type: str | None
    default: Any
    has_default: bool
    secret: bool


@dataclass(frozen=True)
class Project:
    name: str
    main: str
    declarations: tuple[ProjectConfigKey, ...]


@dataclass(frozen=True)
class ComposedConfig:
    """What the program receives: `pulumi.runtime.set_all_config(values, secret_keys)`."""

    values: Mapping[str, str]
    secret_keys: frozenset[str]


def placeholder(key: str) -> str:
    return f"{PLACEHOLDER_PREFIX}{key}"


def load_project(project_dir: Path) -> Project:
    document = _read_yaml(project_dir / "Pulumi.yaml")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigCompositionError(f"{project_dir / 'Pulumi.yaml'}: `name` is missing")
    main = document.get("main", ".")
    declarations = tuple(_declaration(name, key, spec) for key, spec in (document.get("config") or {}).items())
    return Project(name=name, main=str(main), declarations=declarations)


def compose_config(project: Project, project_dir: Path, stack: str) -> ComposedConfig:
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    stack_values = (_read_yaml(stack_file) if stack_file.exists() else {}).get("config") or {}
    for key in stack_values:
        if ":" not in key:
            raise ConfigCompositionError(
                f"{stack_file.name}: configuration key '{key}' must be of the form <namespace>:<name>"
            )

    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    declared = {declaration.key: declaration for declaration in project.declarations}

    for declaration in project.declarations:
        if declaration.key in stack_values:
            continue
        if declaration.has_default:
            values[declaration.key] = _as_cli_string(declaration.default)
        elif declaration.secret:
            values[declaration.key] = placeholder(declaration.key)
        else:
            raise ConfigCompositionError(f"Stack '{stack}' is missing configuration value '{declaration.key}'")
        if declaration.secret:
            secret_keys.add(declaration.key)

    for key, raw in stack_values.items():
        value, encrypted = _without_secure_values(key, raw)
        declaration = declared.get(key)
        if declaration is not None:
            _check_type(stack, declaration, value)
        values[key] = _as_cli_string(value)
        if encrypted or (declaration is not None and declaration.secret):
            secret_keys.add(key)

    return ComposedConfig(values=dict(sorted(values.items())), secret_keys=frozenset(secret_keys))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigCompositionError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigCompositionError(f"{path}: not valid YAML ({_first_line(str(error))})") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigCompositionError(f"{path}: expected a mapping at the top level")
    return document


def _declaration(project_name: str, key: str, spec: Any) -> ProjectConfigKey:
    # Unqualified keys belong to the project; `aws:region`-style keys set another namespace.
    full_key = key if ":" in key else f"{project_name}:{key}"
    if not isinstance(spec, dict):
        # Shorthand `key: value` declares only a default.
        return ProjectConfigKey(full_key, type=None, default=spec, has_default=True, secret=False)
    # Project keys declare `default:`; other namespaces can only be given a `value:`.
    value_field = "default" if "default" in spec else "value"
    return ProjectConfigKey(
        full_key,
        type=spec.get("type"),
        default=spec.get(value_field),
        has_default=value_field in spec,
        secret=bool(spec.get("secret", False)),
    )


def _without_secure_values(key: str, value: Any) -> tuple[Any, bool]:
    """Replace every `{secure: ...}` (at the top or nested in an object) by a placeholder naming its path."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return placeholder(key), True
        encrypted_anywhere = False
        replaced: dict[str, Any] = {}
        for name, item in value.items():
            replaced[name], encrypted = _without_secure_values(f"{key}.{name}", item)
            encrypted_anywhere = encrypted_anywhere or encrypted
        return replaced, encrypted_anywhere
    if isinstance(value, list):
        pairs = [_without_secure_values(f"{key}[{index}]", item) for index, item in enumerate(value)]
        return [item for item, _ in pairs], any(encrypted for _, encrypted in pairs)
    return value, False


def _as_cli_string(value: Any) -> str:
    # The CLI keeps strings as they are and hands everything else over as JSON text
    # (`30` → "30", `true` → "true", lists and objects as JSON documents).
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _check_type(stack: str, declaration: ProjectConfigKey, value: Any) -> None:
    expected = declaration.type
    if expected is None or (isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX)):
        return
    valid = {
        "string": lambda: isinstance(value, str | int | float | bool),
        "integer": lambda: (isinstance(value, int) and not isinstance(value, bool)) or _is_int_text(value),
        "boolean": lambda: isinstance(value, bool) or value in ("true", "false"),
        "array": lambda: isinstance(value, list),
        "object": lambda: isinstance(value, dict),
    }.get(expected, lambda: True)()
    if not valid:
        raise ConfigCompositionError(
            f"Stack '{stack}' with configuration key '{declaration.key}' must be of type '{expected}'"
        )


def _is_int_text(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip("-").isdigit()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
