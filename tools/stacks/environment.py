"""Which environment a stack is (`orchestra:environment` in its `Pulumi.<stack>.yaml`): the instance
files of that environment are the tenant stacks that read it."""

from pathlib import Path
from typing import get_args

import yaml

from stack_config.model import EnvironmentKind

from .stacks import StacksError

_SETTING = "orchestra:environment"


def stack_environment(project: Path, stack: str) -> str:
    path = project / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise StacksError(f"{path}: cannot be read ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise StacksError(f"{path}: not YAML ({str(error).splitlines()[0]})") from error
    config = document.get("config") if isinstance(document, dict) else None
    value = config.get(_SETTING) if isinstance(config, dict) else None
    kinds = get_args(EnvironmentKind)
    if value is None:
        raise StacksError(f"{path}: {_SETTING} is not set; it must be one of {', '.join(kinds)}")
    if value not in kinds:
        raise StacksError(f"{path}: {_SETTING} must be one of {', '.join(kinds)}, got {str(value)[:40]!r}")
    return str(value)
