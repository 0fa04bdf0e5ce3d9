"""Tenant instances as data: one validated file per instance in `instances/`.

Adding a tenant is a reviewed change to that directory; the preview of the
pull request shows exactly the resources its file creates.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator

from stack_config.data_file import load_data_file
from stack_config.model import EnvironmentKind

Wave = Literal["canary"] | int
"""When a fleet run deploys the instance: `canary` first, then the numbered waves in order."""

# Instance ids end up in worker names (`config-service-<id>`, at most 63 characters) and bucket names.
INSTANCE_ID_PATTERN = r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$"
_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_BUCKET_PATTERN = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"


class InstanceError(pulumi.RunError):
    """A bad instance file; like a bad stack setting, it stops the program with one line."""


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int = Field(ge=1, le=100_000, description="Requests per minute.")
    tpm: int = Field(ge=1, le=100_000_000, description="Tokens per minute.")


class Instance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_id: str = Field(pattern=INSTANCE_ID_PATTERN, description="The tenant instance's id, also its file name.")
    org_id: str = Field(pattern=INSTANCE_ID_PATTERN, description="The organisation the instance belongs to.")
    environment: EnvironmentKind = Field(description="The stacks of this kind of environment deploy the instance.")
    rate_limits: dict[str, RateLimit] = Field(
        min_length=1, description="Per model: requests and tokens per minute the instance may use."
    )
    r2_bucket: str | None = Field(
        default=None,
        pattern=_BUCKET_PATTERN,
        description="A bucket of its own for generated images; without it, the stack's shared bucket.",
    )
    dedicated_rate_limiter: bool = Field(
        default=False, description="Its own rate-limiter worker instead of the stack's shared one."
    )
    api_keys: list[str] = Field(
        min_length=1,
        description="Names of the API keys generated for the instance; clients present any of them.",
    )
    wave: Wave | None = Field(
        default=None,
        description="The fleet run's wave: `canary`, or a number from 1; without it, the last wave.",
    )

    @field_validator("wave", mode="before")
    @classmethod
    def _wave(cls, wave: Any) -> Any:
        # Checked before the union is tried, so a bad value gets one message instead of one per member.
        if wave is None or wave == "canary" or (type(wave) is int and wave >= 1):
            return wave
        raise ValueError(f"must be canary or a whole number from 1, got {wave!r}")

    @field_validator("rate_limits")
    @classmethod
    def _model_names(cls, limits: dict[str, RateLimit]) -> dict[str, RateLimit]:
        bad = [name for name in limits if not _matches(_NAME_PATTERN, name)]
        if bad:
            raise ValueError(f"model names must match {_NAME_PATTERN}: {', '.join(bad)}")
        return limits

    @field_validator("api_keys")
    @classmethod
    def _key_names(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("API key names must be unique")
        bad = [name for name in names if not _matches(r"^[a-z][a-z0-9-]{0,31}$", name)]
        if bad:
            raise ValueError(f"API key names must be lowercase words joined by hyphens: {', '.join(bad)}")
        return names


def load_instances(directory: Path) -> list[Instance]:
    """Every instance file of the directory, validated one by one and then against each other."""
    return [instance for _, instance in _load_files(directory)]


def _load_files(directory: Path) -> list[tuple[Path, Instance]]:
    files = sorted(path for path in directory.glob("*") if path.suffix in (".yaml", ".yml", ".json"))
    entries = [(path, load_instance(path)) for path in files]
    _check_unique(entries)
    return entries


def load_instance(path: Path) -> Instance:
    instance = load_data_file(path, Instance, InstanceError)
    if instance.instance_id != path.stem:
        raise InstanceError(
            f"{path}: instance_id: must match the file name {path.stem!r} (got {instance.instance_id!r})"
        )
    return instance


def load_stack_instance(directory: Path, stack: str) -> Instance:
    """The instance file a tenant stack is named after: only that one is read, whatever the fleet's size."""
    for suffix in (".yaml", ".yml", ".json"):
        path = directory / f"{stack}{suffix}"
        if path.is_file():
            return load_instance(path)
    raise InstanceError(f"{directory / stack}.yaml: no such instance file; a tenant stack is named after its file")


def _check_unique(entries: Iterable[tuple[Path, Instance]]) -> None:
    seen_buckets: dict[str, Path] = {}
    seen_ids: dict[str, Path] = {}
    for path, instance in entries:
        if instance.instance_id in seen_ids:
            other = seen_ids[instance.instance_id]
            raise InstanceError(f"{path}: instance_id: {instance.instance_id!r} is already declared by {other}")
        seen_ids[instance.instance_id] = path
        if instance.r2_bucket is not None:
            if instance.r2_bucket in seen_buckets:
                other = seen_buckets[instance.r2_bucket]
                raise InstanceError(f"{path}: r2_bucket: {instance.r2_bucket!r} is already used by {other}")
            seen_buckets[instance.r2_bucket] = path


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None
