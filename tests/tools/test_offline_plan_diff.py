from dataclasses import replace
from typing import Any

from tools.offline_plan import Plan, PlannedResource, diff_plans
from tools.offline_plan.diff_render import render_markdown, render_text

STACK_URN = "urn:pulumi:dev::app::pulumi:pulumi:Stack::app-dev"


def resource(type_: str, name: str, inputs: dict[str, Any], protect: bool = False) -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:dev::app::{type_}::{name}",
        type=type_,
        name=name,
        parent=STACK_URN,
        custom=True,
        protect=protect,
        retain_on_delete=protect,
        delete_before_replace=False,
        provider=None,
        dependencies=(),
        inputs=inputs,
    )


def plan(*resources: PlannedResource, outputs: dict[str, Any]) -> Plan:
    return Plan(project="app", stack="dev", stack_urn=STACK_URN, resources=resources, outputs=outputs)


KEPT = resource("aws:sns/topic:Topic", "alarms", {"name": "alarms"})
TABLE = "aws:dynamodb/table:Table"
OLD = plan(
    KEPT,
    resource(
        TABLE,
        "runs",
        {
            "name": "runs",
            "billingMode": "PROVISIONED",
            "tags": {"team": "core", "legacy": "yes"},
            "ttl": {"enabled": True},
            "attributes": ["id"],
        },
    ),
    resource("aws:sqs/queue:Queue", "jobs", {"name": "jobs"}),
    outputs={"url": "https://old.test/", "retired": 1, "token": "[secret]"},
)
NEW = plan(
    KEPT,
    resource(
        TABLE,
        "runs",
        {
            "name": "runs",
            "billingMode": "PAY_PER_REQUEST",
            "tags": {"team": "core", "cost.center": "42"},
            "ttl": {"enabled": 1},
            "attributes": ["id", "sk"],
        },
        protect=True,
    ),
    resource("aws:lambda/function:Function", "handler", {"name": "handler", "runtime": "python3.12"}),
    outputs={"url": "https://new.test/", "token": "[secret]", "region": "us-east-1"},
)


def test_the_diff_finds_added_removed_and_changed_resources_by_urn() -> None:
    diff = diff_plans(OLD, NEW)

    assert [r.name for r in diff.added] == ["handler"]
    assert [r.name for r in diff.removed] == ["jobs"]
    assert [c.resource.name for c in diff.changed] == ["runs"]
    assert diff.unchanged == 1
    assert diff.counts == "+1 ~1 -1"


def test_the_text_diff_lists_each_change_with_its_path() -> None:
    assert render_text(diff_plans(OLD, NEW)) == (
        "Plan diff for app-dev: +1 ~1 -1 (1 unchanged)\n"
        "\n"
        "Added:\n"
        "  + handler (aws:lambda/function:Function) name=handler runtime=python3.12\n"
        "\n"
        "Removed:\n"
        "  - jobs (aws:sqs/queue:Queue) name=jobs\n"
        "\n"
        "Changed:\n"
        "  ~ runs (aws:dynamodb/table:Table)\n"
        "      + attributes[1]: sk\n"
        "      billingMode: PROVISIONED → PAY_PER_REQUEST\n"
        '      + tags["cost.center"]: 42\n'
        "      - tags.legacy: yes\n"
        "      ttl.enabled: true → 1\n"
        "      [protect]: false → true\n"
        "      [retain_on_delete]: false → true\n"
        "\n"
        "Outputs:\n"
        "  + region: us-east-1\n"
        "  - retired: 1\n"
        "  url: https://old.test/ → https://new.test/\n"
    )


def test_the_markdown_diff_has_a_heading_a_summary_and_a_table_per_section() -> None:
    assert render_markdown(diff_plans(OLD, NEW)) == (
        "### Offline plan diff: `app-dev`\n"
        "\n"
        "**+1 ~1 -1** · 1 unchanged · 3 output changes\n"
        "\n"
        "#### Added (1)\n"
        "\n"
        "| Resource | Type | Details |\n"
        "|---|---|---|\n"
        "| `handler` | `aws:lambda/function:Function` | `name=handler` `runtime=python3.12` |\n"
        "\n"
        "#### Removed (1)\n"
        "\n"
        "| Resource | Type | Details |\n"
        "|---|---|---|\n"
        "| `jobs` | `aws:sqs/queue:Queue` | `name=jobs` |\n"
        "\n"
        "#### Changed (1)\n"
        "\n"
        "**`runs`** `aws:dynamodb/table:Table`\n"
        "\n"
        "| Property | Old | New |\n"
        "|---|---|---|\n"
        "| `attributes[1]` | — | `sk` |\n"
        "| `billingMode` | `PROVISIONED` | `PAY_PER_REQUEST` |\n"
        '| `tags["cost.center"]` | — | `42` |\n'
        "| `tags.legacy` | `yes` | — |\n"
        "| `ttl.enabled` | `true` | `1` |\n"
        "| `[protect]` | `false` | `true` |\n"
        "| `[retain_on_delete]` | `false` | `true` |\n"
        "\n"
        "#### Outputs\n"
        "\n"
        "| Output | Old | New |\n"
        "|---|---|---|\n"
        "| `region` | — | `us-east-1` |\n"
        "| `retired` | `1` | — |\n"
        "| `url` | `https://old.test/` | `https://new.test/` |\n"
    )


def test_a_long_markdown_diff_folds_into_details() -> None:
    many = plan(*(resource("aws:sns/topic:Topic", f"topic-{index:02}", {}) for index in range(40)), outputs={})

    markdown = render_markdown(diff_plans(plan(outputs={}), many))

    assert markdown.startswith("### Offline plan diff: `app-dev`\n\n**+40 ~0 -0** · 0 unchanged\n\n<details>")
    assert markdown.endswith("| `topic-39` | `aws:sns/topic:Topic` |  |\n\n</details>\n")


def test_markdown_cells_escape_pipes_and_backticks() -> None:
    old = plan(resource("aws:sns/topic:Topic", "t", {"policy": "a|b"}), outputs={})
    new = plan(resource("aws:sns/topic:Topic", "t", {"policy": "`c`"}), outputs={})

    assert "| `policy` | `a\\|b` | `` `c` `` |" in render_markdown(diff_plans(old, new))


def test_dependencies_gained_and_lost_are_named_by_resource() -> None:
    queue_urn = "urn:pulumi:dev::app::aws:sqs/queue:Queue::jobs"
    role_urn = "urn:pulumi:dev::app::app:index:Web$aws:iam/role:Role::web-role"
    old = plan(replace(KEPT, dependencies=(queue_urn,)), outputs={})
    new = plan(replace(KEPT, dependencies=(role_urn,)), outputs={})

    assert render_text(diff_plans(old, new)).endswith(
        "  ~ alarms (aws:sns/topic:Topic)\n"
        "      + [dependencies]: web-role (aws:iam/role:Role)\n"
        "      - [dependencies]: jobs (aws:sqs/queue:Queue)\n"
    )


def test_identical_plans_have_no_changes() -> None:
    diff = diff_plans(OLD, replace(OLD))

    assert not diff.has_changes
    assert render_text(diff) == "Plan diff for app-dev: no changes (3 resources unchanged)\n"
    assert render_markdown(diff) == "### Offline plan diff: `app-dev`\n\nNo changes (3 resources unchanged).\n"


def test_only_changed_outputs_still_count_as_a_change() -> None:
    diff = diff_plans(OLD, replace(OLD, outputs={**OLD.outputs, "url": "https://moved.test/"}))

    assert diff.has_changes
    assert render_text(diff).endswith("Outputs:\n  url: https://old.test/ → https://moved.test/\n")
