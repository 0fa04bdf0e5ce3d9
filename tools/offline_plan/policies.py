"""Run the policy pack over an offline plan, as the Pulumi CLI runs it over a preview.

Each policy gets pulumi-policy's own argument types, built from the plan the way the
analyzer builds them from the engine's request: props behind pulumi-policy's unknown-checking
proxy, resource options, the provider, and for stack policies the resources linked to their
parents and dependencies. The stack's configuration is set as the runtime's, as pulumi-policy
does before each validation. What a plan does not record is left empty (ignore_changes,
aliases, custom timeouts, property dependencies), and stack policies see the resources'
inputs where the engine would give their outputs.

One difference is deliberate: the plan knows which values are secret, so secrets reach the
policies as `pulumi_policy.Secret` and the secret-marking policy is told it can see them.
"""

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import settings
from pulumi.runtime.config import set_all_config
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from policy.pack import DEFAULT_ENFORCEMENT, POLICIES
from policy.secret_inputs import MARKINGS_VISIBLE, SECRET_INPUTS_ARE_SECRET

from .plan import Plan, PlannedResource
from .project_config import ComposedConfig
from .runner import ORGANIZATION
from .wire import SECRET, UNKNOWN

_POLICY_CONFIG: Mapping[str, Mapping[str, Any]] = {SECRET_INPUTS_ARE_SECRET.name: {MARKINGS_VISIBLE: True}}


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement_level: EnforcementLevel
    message: str
    urn: str | None
    """The resource in violation; None for the stack as a whole."""

    @property
    def mandatory(self) -> bool:
        return self.enforcement_level is EnforcementLevel.MANDATORY


def check_policies(plan: Plan, config: ComposedConfig, policies: Sequence[Policy] = tuple(POLICIES)) -> list[Violation]:
    """Every violation the policies report for `plan`, a stack evaluated with `config`."""
    # A fresh thread in an empty context: the configuration set here is seen by nobody else.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="offline-policies") as executor:
        context = contextvars.Context()
        return executor.submit(context.run, _check, plan, config, policies).result()


def _check(plan: Plan, config: ComposedConfig, policies: Sequence[Policy]) -> list[Violation]:
    settings.configure(
        settings.Settings(project=plan.project, stack=plan.stack, dry_run=False, organization=ORGANIZATION)
    )
    set_all_config(dict(config.values), sorted(config.secret_keys))
    by_urn = {resource.urn: resource for resource in plan.resources}
    violations: list[Violation] = []
    for policy in policies:
        level = policy.enforcement_level or DEFAULT_ENFORCEMENT
        if level is EnforcementLevel.DISABLED:
            continue
        policy_config = dict(_POLICY_CONFIG.get(policy.name, {}))
        if isinstance(policy, ResourceValidationPolicy):
            for resource in plan.resources:
                args = ResourceValidationArgs(
                    resource.type,
                    _props(resource.inputs),
                    resource.urn,
                    resource.name,
                    _options(resource),
                    _provider(resource, by_urn),
                    policy_config,
                )
                report = _Reporter(violations, policy.name, level, resource_urn=resource.urn)
                report.run(policy.validate, args)
        elif isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(_stack_resources(plan, by_urn), policy_config)
            report = _Reporter(violations, policy.name, level, resource_urn=None)
            report.run(policy.validate, args)
    return violations


@dataclass
class _Reporter:
    """pulumi-policy's `report_violation` callback for one policy, plus running the validation as its analyzer does."""

    violations: list[Violation]
    policy: str
    level: EnforcementLevel
    resource_urn: str | None
    """The resource a resource policy validates: as in the CLI, its violations all belong to it."""

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.violations.append(Violation(self.policy, self.level, message, self.resource_urn or urn))

    def run(self, validate: Callable[[Any, ReportViolation], Awaitable[Any] | None], args: Any) -> None:
        try:
            result = validate(args, self)
            if result is not None:
                asyncio.run(_awaited(result))
        except _NotApplicableError:
            return
        except UnknownValueError as error:
            # The CLI reports a policy that met an unknown value as an advisory, not a pass.
            self.violations.append(
                Violation(self.policy, EnforcementLevel.ADVISORY, f"could not run: {error.message}", self.resource_urn)
            )


async def _awaited(result: Awaitable[Any]) -> None:
    await result


def _policy_value(value: Any) -> Any:
    if value == SECRET:
        return Secret(value)
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {key: _policy_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_policy_value(item) for item in value]
    return value


def _props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy({key: _policy_value(value) for key, value in inputs.items()})


def _options(resource: PlannedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=resource.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _provider(resource: PlannedResource, by_urn: Mapping[str, PlannedResource]) -> PolicyProviderResource | None:
    # A provider reference is `<provider urn>::<provider id>`.
    provider = by_urn.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, _props(provider.inputs), provider.urn, provider.name)


def _stack_resources(plan: Plan, by_urn: Mapping[str, PlannedResource]) -> list[PolicyResource]:
    resources = {
        resource.urn: PolicyResource(
            resource.type,
            _props(resource.inputs),
            resource.urn,
            resource.name,
            _options(resource),
            _provider(resource, by_urn),
            None,
            [],
            {},
        )
        for resource in plan.resources
    }
    for resource in plan.resources:
        linked = resources[resource.urn]
        linked.parent = resources.get(resource.parent) if resource.parent else None
        linked.dependencies = [resources[urn] for urn in resource.dependencies if urn in resources]
    return list(resources.values())
