"""Secret values named by ARN, read at run time and cached per container for a short while.

The infrastructure may keep a secret in Secrets Manager or as an SSM SecureString
parameter; the ARN says which. The cache expires so a rotated secret is picked up
without a redeploy.
"""

import functools
from typing import Any

from . import clock

CACHE_SECONDS = 300

# ARN -> (value, epoch seconds when it was read)
_cache: dict[str, tuple[str, float]] = {}


def read_secret(arn: str) -> str:
    now = clock.now().timestamp()
    cached = _cache.get(arn)
    if cached is not None and now - cached[1] < CACHE_SECONDS:
        return cached[0]
    value = _fetch(arn)
    _cache[arn] = (value, now)
    return value


def cached_values() -> list[str]:
    """Every secret this container holds, longest first: what a report must not quote."""
    return sorted((value for value, _ in _cache.values() if value), key=len, reverse=True)


def forget(arn: str) -> None:
    """Drop a cached value the service it unlocks has refused, so the next read fetches the rotated one."""
    _cache.pop(arn, None)


def ssm_parameter_name(resource: str) -> str:
    """The parameter name in the ``parameter/...`` part of an SSM ARN.

    The ARN drops a hierarchical name's leading slash (``/a/b`` -> ``parameter/a/b``)
    but keeps a flat name as is (``a`` -> ``parameter/a``); hierarchical names must
    start with a slash, so a remaining slash tells the two apart.
    """
    name = resource.removeprefix("parameter/")
    return f"/{name}" if "/" in name else name


def _fetch(arn: str) -> str:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, region, resource = parts[2], parts[3], parts[5]
        if service == "secretsmanager":
            value = _client(service, region).get_secret_value(SecretId=arn).get("SecretString")
            if value is None:
                raise ValueError(f"secret {arn} holds binary data, not a string")
            return value
        if service == "ssm" and resource.startswith("parameter/"):
            response = _client(service, region).get_parameter(Name=ssm_parameter_name(resource), WithDecryption=True)
            return response["Parameter"]["Value"]
    raise ValueError(f"not a Secrets Manager secret or SSM parameter ARN: {arn!r}")


@functools.cache
def _client(service: str, region: str) -> Any:
    # Imported on first use, for the Discord handler's start-up time (see run_store._dynamodb).
    # One client per service and region for the container's life: creating one costs tens of ms.
    import boto3

    return boto3.client(service, region_name=region)
