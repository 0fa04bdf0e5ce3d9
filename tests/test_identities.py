"""Identities of every shipped stack: logical names follow their parents, physical names end with
the stack, and the URNs are the ones committed in `urns/`."""

from pathlib import Path

from systems.tenants.instances import load_instances
from systems.tenants.scripts import TENANT_SERVICES
from tests.stacks import ROOT, SHIPPED_TENANTS, TENANTS_DIR
from tools.offline_plan import Plan
from tools.offline_plan.urns import REGENERATE, TENANT_REGENERATE, urn_lines, urns_file

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
    "cloudflare:index/worker:Worker": "name",
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
    "cloudflare:index/workerVersion:WorkerVersion",
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
    "github:index/actionsSecret:ActionsSecret",
    "github:index/actionsVariable:ActionsVariable",
    "github:index/repositoryEnvironment:RepositoryEnvironment",
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    "github:index/repositoryFile:RepositoryFile",
    "github:index/repositoryRuleset:RepositoryRuleset",
    "github:index/repositoryWebhook:RepositoryWebhook",
    # The alias `live` of a function, which carries the stack in its name.
    "pulumi-python:dynamic/aws:LambdaRollout",
    "pulumi-python:dynamic/cloudflare:D1Migrations",
    "pulumi-python:dynamic/cloudflare:D1Row",
    "pulumi-python:dynamic/cloudflare:DurableObjectMigrations",
    "pulumi-python:dynamic/cloudflare:WorkerRollout",
    "pulumi-python:dynamic/discord:SlashCommands",
    "pulumi:providers:cloudflare",
    "pulumi:pulumi:StackReference",
    "pulumi:providers:github",
    "random:index/randomPassword:RandomPassword",
}


def public_names(instance_id: str, project_dir: Path = ROOT) -> set[str]:
    """The names an instance file fixes, which outside parties know: its workers' and its bucket.
    Only the instance's own stack declares them; the platform stack knows no public name."""
    [instance] = [i for i in load_instances(project_dir / "instances") if i.instance_id == instance_id]
    workers = {service.public_name(instance.instance_id) for service in TENANT_SERVICES}
    return workers | ({instance.r2_bucket} if instance.r2_bucket else set())


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


def assert_physical_names_end_with_the_stack(plan: Plan, public: set[str], stack: str | None = None) -> None:
    """`stack`: the stack the names end with, when not the plan's own (a tenant stack's platform stack)."""
    stack = stack or plan.stack
    custom_types = {resource.type for resource in plan.resources if resource.custom}
    assert custom_types - set(PHYSICAL_NAMES) - set(PATH_NAMES) - UNNAMED == set(), "classify each new type above"
    paths = [resource.inputs[PATH_NAMES[resource.type]] for resource in plan.resources if resource.type in PATH_NAMES]
    assert [path for path in paths if not path.startswith(f"/{plan.project}/{plan.stack}/")] == []
    named = {
        resource.inputs[PHYSICAL_NAMES[resource.type]] for resource in plan.resources if resource.type in PHYSICAL_NAMES
    }
    assert public <= named
    assert sorted(name for name in named - public if not name.endswith(f"-{stack}")) == []


def test_every_child_is_named_from_its_parent(shipped_plan: Plan) -> None:
    assert_children_are_named_from_their_parents(shipped_plan)


def test_every_physical_name_ends_with_the_stack(shipped_plan: Plan) -> None:
    assert_physical_names_end_with_the_stack(shipped_plan, set())


def test_the_urns_are_the_committed_ones(shipped_plan: Plan) -> None:
    """A renamed, retyped or re-parented resource is replaced on a deployed stack unless it gets an
    `alias`: the committed list makes each such change part of the reviewed diff."""
    assert_urns_are_committed(shipped_plan, ROOT, REGENERATE.format(stack=shipped_plan.stack))


def test_every_child_of_a_tenant_stack_is_named_from_its_parent(shipped_tenant_plan: Plan) -> None:
    assert_children_are_named_from_their_parents(shipped_tenant_plan)


def test_a_tenant_stacks_physical_names_end_with_its_platform_stack(shipped_tenant_plan: Plan) -> None:
    platform = SHIPPED_TENANTS[shipped_tenant_plan.stack]
    assert_physical_names_end_with_the_stack(
        shipped_tenant_plan, public_names(shipped_tenant_plan.stack), stack=platform
    )


def test_a_tenant_stacks_urns_are_the_committed_ones(shipped_tenant_plan: Plan) -> None:
    stack = shipped_tenant_plan.stack
    platform = SHIPPED_TENANTS[stack]
    assert_urns_are_committed(
        shipped_tenant_plan,
        TENANTS_DIR,
        TENANT_REGENERATE.format(platform=platform, stack=stack),
    )


def assert_urns_are_committed(plan: Plan, project_dir: Path, regenerate: str) -> None:
    path = urns_file(project_dir, plan.stack)
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    assert urn_lines(plan) == committed, (
        f"the identities of {plan.stack} changed: regenerate {path.relative_to(ROOT)} with "
        f"`{regenerate}` and commit it with the change; on a stack "
        "already deployed, give each renamed resource an alias to its old URN"
    )
