"""Data files of the project (instance files, the delivery file): YAML or JSON read into a model,
with the first problem reported as one line naming the file and field."""

from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
# libyaml's parser when PyYAML was built with it (the wheels are): the same safe loading, several
# times faster, which a fleet run reading every instance file and each plan reading Pulumi.yaml feel.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, with libyaml's parser when there is one."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def load_data_file(path: Path, model: type[Model], error: type[pulumi.RunError]) -> Model:
    """`path` validated as `model`; anything wrong raises `error` with one line."""
    try:
        document = safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as problem:
        raise error(f"{path}: not a readable YAML or JSON file ({problem.__class__.__name__})") from None
    if not isinstance(document, dict):
        raise error(f"{path}: expected a mapping of fields")
    try:
        return model.model_validate(document)
    except ValidationError as problem:
        detail = problem.errors()[0]
        field = ".".join(str(part) for part in detail["loc"]) or "(file)"
        more = f" (and {problem.error_count() - 1} more)" if problem.error_count() > 1 else ""
        raise error(f"{path}: {field}: {detail['msg'].removeprefix('Value error, ')}{more}") from None
