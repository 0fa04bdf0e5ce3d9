"""Credentials never travel in the places meant for plain settings: a worker's `plain_text`
bindings, a Lambda function's environment, a GitHub Actions variable.

Unlike the secret-marking policy this needs no marking, only names, so the CLI enforces it too.
A setting counts as a credential by its name (a KEY, TOKEN, SECRET, PASSWORD... part) unless it
only points at one (`..._ARN`, `..._NAME`, `..._PATH`, `..._URL`, `..._ID`) or is public by name.
"""

import re
from collections.abc import Iterator, Mapping, Sequence

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

_CREDENTIAL_WORDS = {"KEY", "KEYS", "TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSPHRASE", "CREDENTIALS"}
_REFERENCE_SUFFIXES = {"ARN", "NAME", "PATH", "URL", "ID"}


def looks_like_credential(name: str) -> bool:
    words = [word for word in re.split(r"[^A-Z0-9]+", name.upper()) if word]
    if not words or words[-1] in _REFERENCE_SUFFIXES or "PUBLIC" in words:
        return False
    return any(word in _CREDENTIAL_WORDS for word in words)


def _plain_settings(args: ResourceValidationArgs) -> Iterator[tuple[str, str]]:
    """(where, name) of each plain setting the resource declares."""
    if args.resource_type == "cloudflare:index/workerVersion:WorkerVersion":
        bindings = args.props.get("bindings") or []
        if isinstance(bindings, Sequence):
            for binding in bindings:
                if isinstance(binding, Mapping) and binding.get("type") == "plain_text":
                    yield "plain_text binding", str(binding.get("name"))
    elif args.resource_type == "aws:lambda/function:Function":
        environment = args.props.get("environment")
        variables = environment.get("variables") if isinstance(environment, Mapping) else None
        for name in variables if isinstance(variables, Mapping) else {}:
            yield "environment variable", str(name)
    elif args.resource_type in (
        "github:index/actionsVariable:ActionsVariable",
        "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
    ):
        yield "Actions variable", str(args.props.get("variableName"))


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for where, name in _plain_settings(args):
        if looks_like_credential(name):
            report_violation(
                f"{where} {name} looks like a credential: use a secret binding, a secret store or an Actions secret",
                None,
            )


NO_CREDENTIALS_IN_PLAIN_SETTINGS = ResourceValidationPolicy(
    name="no-credentials-in-plain-settings",
    description="Worker plain_text bindings, Lambda environment variables and Actions variables carry no credential.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
)
