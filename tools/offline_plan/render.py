"""The plan as text: the resource tree, the stack's outputs and a one-line summary."""

import json
from typing import Any

from .plan import STACK_TYPE, Plan, PlannedResource

# The inputs worth seeing at a glance, per type; any other type shows its `name` if it has one.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:lambda/function:Function": ("name", "runtime", "handler", "memorySize", "timeout"),
    "aws:dynamodb/table:Table": ("name", "billingMode", "deletionProtectionEnabled"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "metricName", "threshold"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName",),
    "aws:iam/role:Role": ("name",),
    "aws:apigatewayv2/api:Api": ("name", "protocolType"),
    "aws:apigatewayv2/route:Route": ("routeKey",),
    "aws:ssm/parameter:Parameter": ("name", "type"),
    "aws:sns/topic:Topic": ("name",),
    "random:index/randomPassword:RandomPassword": ("length",),
    "cloudflare:index/workersKvNamespace:WorkersKvNamespace": ("title",),
    # A worker's canary, and why it has none when a new version must be deployed at once.
    "pulumi-python:dynamic/cloudflare:WorkerRollout": ("canary_percentage", "bake_seconds", "all_at_once_reason"),
    "github:index/actionsSecret:ActionsSecret": ("repository", "secretName"),
    "github:index/actionsVariable:ActionsVariable": ("repository", "variableName", "value"),
    "github:index/repositoryEnvironment:RepositoryEnvironment": ("repository", "environment"),
}
_DEFAULT_KEY_INPUTS = ("name",)

MAX_VALUE_WIDTH = 60
OUTPUT_WIDTH = 200
"""Outputs are the URLs and names people copy, so they are cut only when absurdly long."""


def format_value(value: Any, width: int = MAX_VALUE_WIDTH) -> str:
    """One line, at most `width` characters: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        text = value.replace("\n", "\\n")
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def render_plan(plan: Plan) -> str:
    lines = [f"{plan.stack_name} ({STACK_TYPE})"]
    lines.extend(_tree(plan, _top_level(plan), prefix=""))
    lines.append("")
    lines.extend(_outputs(plan))
    lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def summary_line(plan: Plan) -> str:
    count = len(plan.resources)
    noun = "resource" if count == 1 else "resources"
    line = f"Plan for {plan.stack_name}: {count} {noun}"
    if not count:
        return line
    by_type = ", ".join(f"{number} {type_}" for type_, number in plan.count_by_type())
    return f"{line} ({by_type})"


def describe(resource: PlannedResource) -> str:
    """`name (type) [protected] key=value ...`: one resource on one line."""
    return " ".join([f"{resource.name} ({resource.type})", *markers(resource), *key_inputs(resource)])


def markers(resource: PlannedResource) -> list[str]:
    shown = []
    if resource.protect:
        shown.append("[protected]")
    if resource.retain_on_delete:
        shown.append("[retain on delete]")
    return shown


def key_inputs(resource: PlannedResource) -> list[str]:
    keys = KEY_INPUTS.get(resource.type, _DEFAULT_KEY_INPUTS)
    # An empty value says nothing at a glance.
    return [f"{key}={format_value(resource.inputs[key])}" for key in keys if resource.inputs.get(key) not in (None, "")]


def _top_level(plan: Plan) -> list[PlannedResource]:
    # Anything whose parent was not recorded still has to appear somewhere: under the stack.
    urns = {resource.urn for resource in plan.resources}
    return [resource for resource in plan.resources if resource.parent not in urns]


def _tree(plan: Plan, siblings: list[PlannedResource], prefix: str) -> list[str]:
    lines: list[str] = []
    ordered = sorted(siblings, key=lambda resource: (resource.name, resource.type))
    for index, resource in enumerate(ordered):
        last = index == len(ordered) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{describe(resource)}")
        lines.extend(_tree(plan, plan.children_of(resource.urn), prefix + ("   " if last else "│  ")))
    return lines


def _outputs(plan: Plan) -> list[str]:
    if not plan.outputs:
        return ["Outputs: none"]
    return ["Outputs:", *(f"  {key}: {format_value(plan.outputs[key], OUTPUT_WIDTH)}" for key in sorted(plan.outputs))]
