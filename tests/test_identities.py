"""Identities of every shipped stack: logical names follow their parents, physical names end with
the stack, and the URNs are the ones committed in `urns/`."""

from pathlib import Path

from systems.tenants.instances import load_instances
from systems.tenants.scripts import TENANT_SERVICES
from tests.stacks import ROOT, setting
from tools.offline_plan import Plan
from tools.offline_plan.urns import REGENERATE, urn_lines, urns_file

# Per resource type, the input holding the physical name the naming rule makes for it.
PHYSICAL_NAMES = {
    "aws:apigatewayv2/api:Api": "name",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:dynamodb/table:Table": "name",
    "aws:iam/role:Role": "name",
    "aws:lambda/function:Function": "name",
    "aws:secretsmanager/secret:Secret": "name",
    "aws:sns/topic:Topic": "name",
    "aws:sqs/queue:Queue": "name",
    "cloudflare:index/accountToken:AccountToken": "name",
    "cloudflare:index/d1Database:D1Database": "name",
    "cloudflare:index/r2Bucket:R2Bucket": "name",
    "cloudflare:index/workersKvNamespace:WorkersKvNamespace": "title",
    "cloudflare:index/workersScript:WorkersScript": "scriptName",
    "pulumi-python:dynamic/cloudflare:VectorizeIndex": "index_name",
}
# SSM parameters are paths, `/<project>/<stack>/<name>`: the stack is their second segment.
PATH_NAMES = {"aws:ssm/parameter:Parameter": "name"}
# Types that name nothing of their own: they point at a named resource, or are named by GitHub's
# settings in the delivery file, or get their identity from the cloud.
UNNAMED = {
    "aws:apigatewayv2/integration:Integration",
    "aws:apigatewayv2/route:Route",
    "aws:apigatewayv2/stage:Stage",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    "aws:lambda/permission:Permission",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsVariable:ActionsVariable",
    "github:index/repositoryEnvironment:RepositoryEnvironment",
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    "github:index/repositoryFile:RepositoryFile",
    "github:index/repositoryRuleset:RepositoryRuleset",
    "github:index/repositoryWebhook:RepositoryWebhook",
    "pulumi-python:dynamic/cloudflare:D1Migrations",
    "pulumi-python:dynamic/cloudflare:D1Row",
    "pulumi-python:dynamic/cloudflare:DurableObjectMigrations",
    "pulumi-python:dynamic/discord:SlashCommands",
    "pulumi:providers:cloudflare",
    "pulumi:providers:github",
    "random:index/randomPassword:RandomPassword",
}


def public_names(stack: str, project_dir: Path = ROOT) -> set[str]:
    """The names an instance file fixes, which outside parties know: its workers' and its bucket."""
    environment = setting(stack, "environment", project_dir)
    instances = [i for i in load_instances(project_dir / "instances") if i.environment == environment]
    workers = {service.public_name(i.instance_id) for i in instances for service in TENANT_SERVICES}
    return workers | {i.r2_bucket for i in instances if i.r2_bucket}


def assert_children_are_named_from_their_parents(plan: Plan) -> None:
    names = {resource.urn: resource.name for resource in plan.resources}
    strays = [
        f"{resource.name} under {names[resource.parent]}"
        for resource in plan.resources
        if resource.parent in names
        and resource.name != names[resource.parent]
        and not resource.name.startswith(f"{names[resource.parent]}-")
    ]
    assert strays == []


def assert_physical_names_end_with_the_stack(plan: Plan, public: set[str]) -> None:
    custom_types = {resource.type for resource in plan.resources if resource.custom}
    assert custom_types - set(PHYSICAL_NAMES) - set(PATH_NAMES) - UNNAMED == set(), "classify each new type above"
    paths = [resource.inputs[PATH_NAMES[resource.type]] for resource in plan.resources if resource.type in PATH_NAMES]
    assert [path for path in paths if not path.startswith(f"/{plan.project}/{plan.stack}/")] == []
    named = {
        resource.inputs[PHYSICAL_NAMES[resource.type]] for resource in plan.resources if resource.type in PHYSICAL_NAMES
    }
    assert public <= named
    assert sorted(name for name in named - public if not name.endswith(f"-{plan.stack}")) == []


def test_every_child_is_named_from_its_parent(shipped_plan: Plan) -> None:
    assert_children_are_named_from_their_parents(shipped_plan)


def test_every_physical_name_ends_with_the_stack(shipped_plan: Plan) -> None:
    assert_physical_names_end_with_the_stack(shipped_plan, public_names(shipped_plan.stack))


def test_the_urns_are_the_committed_ones(shipped_plan: Plan) -> None:
    """A renamed, retyped or re-parented resource is replaced on a deployed stack unless it gets an
    `alias`: the committed list makes each such change part of the reviewed diff."""
    path = urns_file(ROOT, shipped_plan.stack)
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    assert urn_lines(shipped_plan) == committed, (
        f"the identities of {shipped_plan.stack} changed: regenerate {path.relative_to(ROOT)} with "
        f"`{REGENERATE.format(stack=shipped_plan.stack)}` and commit it with the change; on a stack "
        "already deployed, give each renamed resource an alias to its old URN"
    )
