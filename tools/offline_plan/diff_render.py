"""A plan diff as text for terminals, or as Markdown for a pull-request comment."""

from .diff import ABSENT, PlanDiff, ValueChange
from .plan import PlannedResource
from .render import describe, format_value, key_inputs, markers

VALUE_WIDTH = 80
COLLAPSE_AFTER_ROWS = 20
"""Diffs with more table rows fold into `<details>`, so a big one does not bury the pull request's conversation."""


def render_text(diff: PlanDiff) -> str:
    title = f"Plan diff for {_stacks(diff)}"
    if not diff.has_changes:
        return f"{title}: no changes ({diff.unchanged} resources unchanged)\n"
    lines = [f"{title}: {diff.counts} ({diff.unchanged} unchanged)"]
    if diff.added:
        lines += ["", "Added:", *(f"  + {describe(resource)}" for resource in diff.added)]
    if diff.removed:
        lines += ["", "Removed:", *(f"  - {describe(resource)}" for resource in diff.removed)]
    if diff.changed:
        lines += ["", "Changed:"]
        for change in diff.changed:
            lines.append(f"  ~ {change.resource.name} ({change.resource.type})")
            lines.extend(f"      {_text_change(value_change)}" for value_change in change.changes)
    if diff.outputs:
        lines += ["", "Outputs:", *(f"  {_text_change(value_change)}" for value_change in diff.outputs)]
    return "\n".join(lines) + "\n"


def render_markdown(diff: PlanDiff) -> str:
    heading = f"### Offline plan diff: `{_stacks(diff)}`"
    if not diff.has_changes:
        return f"{heading}\n\nNo changes ({diff.unchanged} resources unchanged).\n"
    outputs_note = f" · {len(diff.outputs)} output changes" if diff.outputs else ""
    summary = f"**{diff.counts}** · {diff.unchanged} unchanged{outputs_note}"
    body: list[str] = []
    if diff.added:
        body += _resource_table("Added", diff.added)
    if diff.removed:
        body += _resource_table("Removed", diff.removed)
    if diff.changed:
        body += [f"#### Changed ({len(diff.changed)})", ""]
        for change in diff.changed:
            body += [f"**{_code(change.resource.name)}** {_code(change.resource.type)}", ""]
            body += _change_table("Property", change.changes)
    if diff.outputs:
        body += ["#### Outputs", "", *_change_table("Output", diff.outputs)]
    rows = len(diff.added) + len(diff.removed) + sum(len(c.changes) for c in diff.changed) + len(diff.outputs)
    if rows > COLLAPSE_AFTER_ROWS:
        body = ["<details><summary>Show all changes</summary>", "", *body, "</details>", ""]
    return "\n".join([heading, "", summary, "", *body]).rstrip("\n") + "\n"


def _stacks(diff: PlanDiff) -> str:
    if diff.old_stack_name == diff.new_stack_name:
        return diff.new_stack_name
    return f"{diff.old_stack_name} → {diff.new_stack_name}"


def _text_change(change: ValueChange) -> str:
    if change.old is ABSENT:
        return f"+ {change.path}: {format_value(change.new, VALUE_WIDTH)}"
    if change.new is ABSENT:
        return f"- {change.path}: {format_value(change.old, VALUE_WIDTH)}"
    return f"{change.path}: {format_value(change.old, VALUE_WIDTH)} → {format_value(change.new, VALUE_WIDTH)}"


def _resource_table(title: str, resources: tuple[PlannedResource, ...]) -> list[str]:
    rows = [
        f"| {_code(resource.name)} | {_code(resource.type)} | "
        f"{' '.join(_code(item) for item in [*markers(resource), *key_inputs(resource)])} |"
        for resource in resources
    ]
    return [f"#### {title} ({len(resources)})", "", "| Resource | Type | Details |", "|---|---|---|", *rows, ""]


def _change_table(what: str, changes: tuple[ValueChange, ...]) -> list[str]:
    rows = [f"| {_code(change.path)} | {_cell(change.old)} | {_cell(change.new)} |" for change in changes]
    return [f"| {what} | Old | New |", "|---|---|---|", *rows, ""]


def _cell(value: object) -> str:
    return "—" if value is ABSENT else _code(format_value(value, VALUE_WIDTH))


def _code(text: str) -> str:
    if not text:
        return "(empty)"
    # A pipe would end the table cell even inside a code span; a backtick would end the span.
    escaped = text.replace("|", "\\|")
    fence = "``" if "`" in escaped else "`"
    padding = " " if fence == "``" else ""
    return f"{fence}{padding}{escaped}{padding}{fence}"
