"""Credentials stay Pulumi secrets: every input that carries one is marked secret, so it is
encrypted in the state and never printed by a preview.

Only the offline plan can see the markings: pulumi-policy hands a Python policy run by the CLI
every value already decrypted and unmarked (pulumi/pulumi-policy#241). There the policy says it
is not applicable rather than guess; the offline plan runs it on every pull request, forks too.
"""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
)

MARKINGS_VISIBLE = "secretMarkingsVisible"
"""Policy setting: true where the caller passes secret values as `pulumi_policy.Secret`."""

# Per resource type, the inputs that carry a credential (`a.b` is a nested key).
SECRET_INPUTS: Mapping[str, tuple[str, ...]] = {
    "aws:secretsmanager/secretVersion:SecretVersion": ("secretString", "secretBinary"),
    "github:index/actionsSecret:ActionsSecret": ("value", "plaintextValue", "encryptedValue", "valueEncrypted"),
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": (
        "value",
        "plaintextValue",
        "encryptedValue",
        "valueEncrypted",
    ),
    "github:index/repositoryWebhook:RepositoryWebhook": ("configuration.secret",),
    "pulumi:providers:cloudflare": ("apiToken", "apiKey", "apiUserServiceKey"),
    "pulumi:providers:github": ("token",),
}
# The dynamic resources take no credential: each names the stack setting its provider reads the
# credential from (`credential_setting`), so none is an input, and none is in the state.
_SSM_PARAMETER = "aws:ssm/parameter:Parameter"
_WORKER_VERSION = "cloudflare:index/workerVersion:WorkerVersion"


def _lookup(props: Mapping[str, Any], path: str) -> Iterator[Any]:
    value: Any = props
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return
        value = value[key]
    yield value


def _secret_inputs(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    for path in SECRET_INPUTS.get(args.resource_type, ()):
        for value in _lookup(args.props, path):
            yield path, value
    if args.resource_type == _SSM_PARAMETER and args.props.get("type") == "SecureString":
        yield from (("value", value) for value in _lookup(args.props, "value"))
    if args.resource_type == _WORKER_VERSION:
        bindings = args.props.get("bindings") or []
        if isinstance(bindings, Sequence):
            for index, binding in enumerate(bindings):
                if isinstance(binding, Mapping) and binding.get("type") == "secret_text" and "text" in binding:
                    yield f"bindings[{index}].text ({binding.get('name')})", binding["text"]


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    inputs = [(path, value) for path, value in _secret_inputs(args) if value is not None]
    if inputs and not args.get_config().get(MARKINGS_VISIBLE):
        args.not_applicable("pulumi-policy gives Python policies secrets unmarked; the offline plan checks them")
    for path, value in inputs:
        if not isinstance(value, Secret):
            report_violation(f"{path} carries a credential in plain text: pass it as a Pulumi secret", None)


SECRET_INPUTS_ARE_SECRET = ResourceValidationPolicy(
    name="secret-inputs-marked-secret",
    description="Every input that carries a credential is a Pulumi secret.",
    validate=_validate,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(properties={MARKINGS_VISIBLE: {"type": "boolean", "default": False}}),
)
