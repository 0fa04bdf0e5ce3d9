"""`Pulumi.yaml` declares the same settings as the typed model, so `pulumi config` tells the truth."""

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import SecretStr
from pydantic_core import PydanticUndefined

from stack_config import StackConfig

PROJECT = yaml.safe_load(Path("Pulumi.yaml").read_text())
DECLARED: dict[str, dict[str, Any]] = PROJECT["config"]


def pulumi_type(annotation: object) -> str:
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation in (str, SecretStr) or get_origin(annotation) is Literal:
        return "string"
    if get_origin(annotation) is list:
        return "array"
    raise AssertionError(f"no Pulumi config type for {annotation}")


def test_project_runs_python_in_the_virtualenv() -> None:
    assert PROJECT["name"] == "orchestra"
    assert PROJECT["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_every_setting_is_declared_and_nothing_else() -> None:
    assert set(DECLARED) == {field.alias for field in StackConfig.model_fields.values()}


def test_declarations_match_the_model() -> None:
    for field in StackConfig.model_fields.values():
        declared = DECLARED[str(field.alias)]
        assert declared["type"] == pulumi_type(field.annotation), field.alias
        assert declared["description"] == field.description, field.alias
        # The CLI refuses a secret setting with a default (pulumi/pulumi#21865): an optional secret is
        # declared without `secret: true`, and set with `pulumi config set --secret`.
        optional_secret = field.annotation is SecretStr and field.default is not PydanticUndefined
        assert declared.get("secret", False) is (field.annotation is SecretStr and not optional_secret), field.alias
        if field.default is PydanticUndefined:
            assert "default" not in declared, field.alias
        elif optional_secret:
            assert declared["default"] == field.default.get_secret_value() == "", field.alias
        else:
            assert declared["default"] == field.default, field.alias


def test_choices_are_named_in_the_description() -> None:
    for field in StackConfig.model_fields.values():
        if get_origin(field.annotation) is Literal:
            assert all(choice in (field.description or "") for choice in get_args(field.annotation)), field.alias


def test_lists_declare_their_items() -> None:
    for field in StackConfig.model_fields.values():
        if get_origin(field.annotation) is list:
            assert DECLARED[str(field.alias)]["items"] == {"type": "string"}, field.alias


def test_the_guarded_stacks_are_set_once_for_every_stack() -> None:
    """In `Pulumi.yaml` only, so a stack file cannot take its own stack off the list."""
    assert DECLARED["guardedStacks"]["default"] == ["prod"]
    for path in sorted(Path().glob("Pulumi.*.yaml")):
        settings = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
        assert "orchestra:guardedStacks" not in settings, path.name
