"""The bootstrap project's CI access, checked against what each stack of the program declares:
each role may make exactly the calls its stack's resources need, on that stack's resources only,
and no role a deploy role creates can get more than its stack's functions need."""

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from policy_sentry.querying.actions import get_action_data

from components.aws.deploy_access import BOUNDED_ROLE_WRITES, CI_ACCESS_CHECK_ACTIONS, STACK_TAG
from components.aws.resource_actions import LAMBDA_ROLLOUT_TYPE, RESOURCE_ACTIONS, SECRET_VALUE_READS
from components.aws.star_only_actions import STAR_ONLY_ACTIONS
from systems.ci_access.system import PROGRAM_AWS_RESOURCE_TYPES
from tests.project_copy import copy_project
from tools.offline_plan import Plan, check_policies, compose_config, evaluate_project, load_project

from .iam_evaluator import allowed

ROOT = Path(__file__).resolve().parents[3]
BOOTSTRAP = ROOT / "bootstrap"
STACKS = ("dev", "prod")
ACCOUNT, REGION = "123456789012", "us-east-1"
API_ID = "a1b2c3d4e5"
BOUNDARY = "arn:aws:iam::123456789012:policy/github-actions/orchestra-function-boundary-{}"


@functools.cache
def program(stack: str) -> Plan:
    return evaluate_project(ROOT, stack)


@functools.cache
def bootstrap(stack: str) -> Plan:
    return evaluate_project(BOOTSTRAP, stack)


def policy(stack: str, kind: str) -> dict[str, Any]:
    return json.loads(bootstrap(stack).one("aws:iam/rolePolicy:RolePolicy", f"ci-{kind}-role-policy").inputs["policy"])


def other(stack: str) -> str:
    return "prod" if stack == "dev" else "dev"


def is_aws(resource_type: str) -> bool:
    """AWS resources, and the dynamic ones that call AWS with the deploy's credentials."""
    return resource_type.startswith("aws:") or resource_type == LAMBDA_ROLLOUT_TYPE


def test_the_program_declares_exactly_the_resource_types_the_roles_are_made_for() -> None:
    for stack in STACKS:
        declared = {r.type for r in program(stack).resources if r.custom and is_aws(r.type)}
        assert declared == set(PROGRAM_AWS_RESOURCE_TYPES), stack


def test_every_action_in_the_table_is_an_iam_action_and_every_star_grant_is_star_only() -> None:
    for resource_type, actions in RESOURCE_ACTIONS.items():
        for action, target in actions.all:
            service, name = action.split(":")
            assert get_action_data(service, name).get(service), (resource_type, action)
            assert (target == "star") == (action in STAR_ONLY_ACTIONS and action != "lambda:CreateEventSourceMapping")


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("kind", ["deploy", "read"])
def test_each_role_grants_what_its_stacks_resources_need_and_nothing_else(stack: str, kind: str) -> None:
    types = {r.type for r in program(stack).resources if is_aws(r.type)}
    needed = {
        action
        for resource_type in types
        for action, _ in (
            RESOURCE_ACTIONS[resource_type].all if kind == "deploy" else RESOURCE_ACTIONS[resource_type].read
        )
    }
    statements = policy(stack, kind)["Statement"]
    granted = {action for s in statements if s["Effect"] == "Allow" for action in s["Action"]}
    # A read role also reads its own stack's CI access, for the plan job's check.
    assert granted == needed | (set(CI_ACCESS_CHECK_ACTIONS) if kind == "read" else set())
    # Refreshing a SecretVersion reads its value: the read roles' drift checks need it.
    assert SECRET_VALUE_READS & granted == {"secretsmanager:GetSecretValue"}
    for statement in statements:
        if statement["Resource"] == ["*"] and statement["Effect"] == "Allow":
            assert set(statement["Action"]) <= set(STAR_ONLY_ACTIONS), statement
    unconditioned_star = {a for s in statements if s["Resource"] == ["*"] and "Condition" not in s for a in s["Action"]}
    assert "lambda:CreateEventSourceMapping" not in unconditioned_star


def arn_and_context(plan: Plan, resource_type: str, inputs: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The ARN IAM authorises a call on the resource with, and the request's condition keys."""
    regional = f"{REGION}:{ACCOUNT}"
    tags = {f"aws:ResourceTag/{STACK_TAG}": plan.stack, f"aws:RequestTag/{STACK_TAG}": plan.stack}
    name = inputs.get("dashboardName", inputs.get("name", ""))
    worker = plan.one("aws:lambda/function:Function", "orchestrator-worker").inputs["name"]
    forms: dict[str, tuple[str, dict[str, str]]] = {
        "aws:lambda/function:Function": (f"arn:aws:lambda:{regional}:function:{name}", {}),
        "aws:iam/role:Role": (
            f"arn:aws:iam::{ACCOUNT}:role/{name}",
            {
                "iam:PermissionsBoundary": inputs.get("permissionsBoundary", ""),
                "iam:PassedToService": "lambda.amazonaws.com",
            },
        ),
        "aws:dynamodb/table:Table": (f"arn:aws:dynamodb:{regional}:table/{name}", {}),
        "aws:cloudwatch/logGroup:LogGroup": (f"arn:aws:logs:{regional}:log-group:{name}", {}),
        "aws:cloudwatch/metricAlarm:MetricAlarm": (f"arn:aws:cloudwatch:{regional}:alarm:{name}", {}),
        "aws:cloudwatch/dashboard:Dashboard": (f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}", {}),
        "aws:sns/topic:Topic": (f"arn:aws:sns:{regional}:{name}", {}),
        # Secrets Manager appends six random characters.
        "aws:secretsmanager/secret:Secret": (f"arn:aws:secretsmanager:{regional}:secret:{name}-AbC123", {}),
        "aws:sqs/queue:Queue": (f"arn:aws:sqs:{regional}:{name}", {}),
        "aws:apigatewayv2/api:Api": (
            f"arn:aws:apigateway:{REGION}::/apis/{API_ID}",
            {"apigateway:Resource/ApiName": name, "apigateway:Request/ApiName": name, **tags},
        ),
        "aws:apigatewayv2/stage:Stage": (f"arn:aws:apigateway:{REGION}::/apis/{API_ID}/stages/$default", tags),
        "aws:lambda/eventSourceMapping:EventSourceMapping": (
            f"arn:aws:lambda:{regional}:event-source-mapping:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            {"lambda:FunctionArn": f"arn:aws:lambda:{regional}:function:{worker}", **tags},
        ),
    }
    return forms[resource_type]


# The target that names the resource itself, per type IAM can tell one stack's from another's.
OWN_TARGETS = {
    "aws:lambda/function:Function": "function",
    "aws:iam/role:Role": "role",
    "aws:dynamodb/table:Table": "table",
    "aws:cloudwatch/logGroup:LogGroup": "log-group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarm",
    "aws:cloudwatch/dashboard:Dashboard": "dashboard",
    "aws:sns/topic:Topic": "topic",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:sqs/queue:Queue": "queue",
    "aws:apigatewayv2/api:Api": "http-api",
    "aws:apigatewayv2/stage:Stage": "http-api-stage",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "event-source-mapping",
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("kind", ["deploy", "read"])
def test_a_stacks_roles_reach_each_of_its_resources_and_none_of_the_others(stack: str, kind: str) -> None:
    """Checked on the resources the stacks really declare, with the names, tags and functions
    IAM sees in the requests, so a name outside the pattern or a missing condition fails here."""
    checked = 0
    for owner in STACKS:
        plan = program(owner)
        for resource in plan.resources:
            if resource.type not in OWN_TARGETS:
                continue
            arn, context = arn_and_context(plan, resource.type, resource.inputs)
            calls = RESOURCE_ACTIONS[resource.type].all if kind == "deploy" else RESOURCE_ACTIONS[resource.type].read
            for action, target in calls:
                if target != OWN_TARGETS[resource.type] or (target == "http-api-stage" and action == "apigateway:POST"):
                    continue
                assert allowed(policy(stack, kind), action, arn, context) == (owner == stack), (resource.name, action)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("stack", STACKS)
def test_no_deploy_role_creates_anything_under_the_other_stacks_names(stack: str) -> None:
    deploy = policy(stack, "deploy")
    theirs = other(stack)
    regional = f"{REGION}:{ACCOUNT}"
    their_worker = f"arn:aws:lambda:{regional}:function:orchestra-orchestrator-worker-{theirs}"
    assert not allowed(
        deploy,
        "apigateway:POST",
        f"arn:aws:apigateway:{REGION}::/apis",
        {"apigateway:Request/ApiName": f"orchestra-orchestrator-api-{theirs}"},
    )
    assert allowed(
        deploy,
        "apigateway:POST",
        f"arn:aws:apigateway:{REGION}::/apis",
        {"apigateway:Request/ApiName": f"orchestra-orchestrator-api-{stack}"},
    )
    assert not allowed(deploy, "lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": their_worker})
    assert not allowed(
        deploy,
        "apigateway:POST",
        f"arn:aws:apigateway:{REGION}::/apis/{API_ID}/stages",
        {f"aws:RequestTag/{STACK_TAG}": theirs},
    )
    # Neither a role of the other stack nor a CI role, with any boundary.
    for role in (f"orchestra-orchestrator-worker-role-{theirs}", f"github-actions/orchestra-ci-deploy-{stack}"):
        for boundary in (BOUNDARY.format(stack), BOUNDARY.format(theirs)):
            for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:PassRole"):
                context = {"iam:PermissionsBoundary": boundary, "iam:PassedToService": "lambda.amazonaws.com"}
                assert not allowed(deploy, action, f"arn:aws:iam::{ACCOUNT}:role/{role}", context), (role, action)


@pytest.mark.parametrize("stack", STACKS)
def test_a_role_without_the_stacks_boundary_is_refused(stack: str) -> None:
    deploy = policy(stack, "deploy")
    role = f"arn:aws:iam::{ACCOUNT}:role/orchestra-escalation-{stack}"
    for action in BOUNDED_ROLE_WRITES:
        assert allowed(deploy, action, role, {"iam:PermissionsBoundary": BOUNDARY.format(stack)}), action
        assert not allowed(deploy, action, role, {}), action
        assert not allowed(deploy, action, role, {"iam:PermissionsBoundary": BOUNDARY.format(other(stack))}), action
    # The boundary stays: it cannot be removed, and the policy behind it cannot be changed.
    assert not allowed(
        deploy, "iam:DeleteRolePermissionsBoundary", role, {"iam:PermissionsBoundary": BOUNDARY.format(stack)}
    )
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert not allowed(deploy, action, BOUNDARY.format(stack))
    # A role may be passed to Lambda only.
    function_role = f"arn:aws:iam::{ACCOUNT}:role/orchestra-orchestrator-worker-role-{stack}"
    assert allowed(deploy, "iam:PassRole", function_role, {"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allowed(deploy, "iam:PassRole", function_role, {"iam:PassedToService": "ec2.amazonaws.com"})


@pytest.mark.parametrize("stack", STACKS)
def test_every_function_role_carries_the_boundary_and_needs_nothing_beyond_it(stack: str) -> None:
    plan = program(stack)
    boundary = json.loads(bootstrap(stack).one("aws:iam/policy:Policy", "ci-functions-boundary").inputs["policy"])
    assert bootstrap(stack).one("aws:iam/policy:Policy", "ci-functions-boundary").inputs["path"] == "/github-actions/"
    roles = plan.of_type("aws:iam/role:Role")
    assert len(roles) == 4
    assert {role.inputs["permissionsBoundary"] for role in roles} == {BOUNDARY.format(stack)}
    checked = 0
    for role_policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        for statement in json.loads(role_policy.inputs["policy"])["Statement"]:
            for action in statement["Action"]:
                for resource in statement["Resource"]:
                    # A statement may name a secret by its ARN without the random suffix AWS adds.
                    arn = f"{resource}-AbC123" if ":secret:" in resource else resource
                    assert allowed(boundary, action, arn), (role_policy.name, action, arn)
                    # The same call on the other stack's resource is outside the boundary.
                    theirs = arn.replace(f"-{stack}", f"-{other(stack)}")
                    assert not allowed(boundary, action, theirs), (role_policy.name, action, theirs)
                    checked += 1
    assert checked >= 10


@pytest.mark.parametrize("stack", STACKS)
def test_roles_are_trusted_from_their_environments_only(stack: str) -> None:
    subjects = {
        role.name: json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"][
            "token.actions.githubusercontent.com:sub"
        ]
        for role in bootstrap(stack).of_type("aws:iam/role:Role")
    }
    repository = "repo:example-org/orchestra:environment"
    assert (
        subjects
        == {
            "dev": {
                "ci-deploy-role": [f"{repository}:dev", f"{repository}:dev-tenants"],
                "ci-read-role": [f"{repository}:dev-plan", f"{repository}:preview"],
            },
            "prod": {
                "ci-deploy-role": [f"{repository}:prod", f"{repository}:prod-tenants"],
                "ci-read-role": [f"{repository}:prod-plan"],
            },
        }[stack]
    )
    names = {role.name: role.inputs["name"] for role in bootstrap(stack).of_type("aws:iam/role:Role")}
    assert names == {"ci-deploy-role": f"orchestra-ci-deploy-{stack}", "ci-read-role": f"orchestra-ci-read-{stack}"}


def test_the_role_arns_the_program_writes_are_the_roles_bootstrap_declares() -> None:
    arns = program("prod").outputs["awsRoleArns"]
    for stack in STACKS:
        for kind in ("deploy", "read"):
            name = bootstrap(stack).one("aws:iam/role:Role", f"ci-{kind}-role").inputs["name"]
            assert arns[f"{stack}-{kind}"] == f"arn:aws:iam::{ACCOUNT}:role/github-actions/{name}"


def test_one_account_holds_one_oidc_provider() -> None:
    providers = {
        stack: bootstrap(stack).of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") for stack in STACKS
    }
    assert (len(providers["dev"]), len(providers["prod"])) == (0, 1)


def test_the_name_prefix_is_the_programs_project_name() -> None:
    assert load_project(ROOT).name == "orchestra"
    assert (
        compose_config(load_project(BOOTSTRAP), BOOTSTRAP, "dev").values["orchestra-bootstrap:namePrefix"]
        == "orchestra"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_tag_the_conditions_use_is_on_every_resource_of_the_stack(stack: str) -> None:
    values = compose_config(load_project(ROOT), ROOT, stack).values
    assert json.loads(values["aws:defaultTags"])["tags"][STACK_TAG] == stack


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pack_finds_no_violation_in_the_bootstrap_stacks(stack: str) -> None:
    assert check_policies(bootstrap(stack), compose_config(load_project(BOOTSTRAP), BOOTSTRAP, stack)) == []


@pytest.mark.parametrize(
    ("stack", "settings", "message"),
    [
        ("staging", "", "no Pulumi.staging.yaml beside bootstrap/: no Orchestra stack 'staging' to give CI access"),
        (
            "dev",
            "  orchestra-bootstrap:extraResourceTypes: [aws:s3/bucket:Bucket]\n",
            "deployment access needs resource types the action table lists; unknown: ['aws:s3/bucket:Bucket']",
        ),
    ],
)
def test_a_bad_bootstrap_stack_stops_with_one_line(tmp_path: Path, stack: str, settings: str, message: str) -> None:
    project = copy_project(tmp_path / "orchestra")
    (project / "bootstrap" / f"Pulumi.{stack}.yaml").write_text(f"config:\n  aws:region: us-east-1\n{settings}")
    result = subprocess.run(
        [sys.executable, "-m", "tools.offline_plan", "--stack", stack, "--project-dir", str(project / "bootstrap")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    [line] = result.stderr.splitlines()
    assert line.endswith(message), line


@pytest.mark.parametrize("stack", STACKS)
def test_no_role_reads_another_stacks_ci_access_and_none_writes_any(stack: str) -> None:
    for kind in ("deploy", "read"):
        for owner in STACKS:
            readable = kind == "read" and owner == stack
            for ci_kind in ("deploy", "read"):
                ci_role = f"arn:aws:iam::{ACCOUNT}:role/github-actions/orchestra-ci-{ci_kind}-{owner}"
                assert allowed(policy(stack, kind), "iam:GetRolePolicy", ci_role) == readable, (kind, ci_role)
                for action in ("iam:GetRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"):
                    assert not allowed(policy(stack, kind), action, ci_role), (kind, ci_role, action)
            assert allowed(policy(stack, kind), "iam:GetPolicyVersion", BOUNDARY.format(owner)) == readable


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_may_move_its_own_aliases_and_read_their_gates_only(stack: str) -> None:
    regional = f"{REGION}:{ACCOUNT}"
    for owner in STACKS:
        function = f"arn:aws:lambda:{regional}:function:orchestra-orchestrator-discord-{owner}"
        gate = f"arn:aws:cloudwatch:{regional}:alarm:orchestra-orchestrator-discord-gate-errors-{owner}"
        calls = [
            ("lambda:PublishVersion", function),
            ("lambda:ListVersionsByFunction", function),
            ("lambda:GetAlias", f"{function}:live"),
            ("lambda:CreateAlias", f"{function}:live"),
            ("lambda:UpdateAlias", f"{function}:live"),
            ("lambda:DeleteAlias", f"{function}:live"),
            ("lambda:AddPermission", f"{function}:live"),
            ("lambda:InvokeFunction", f"{function}:7"),
            ("cloudwatch:DescribeAlarms", gate),
            (
                "logs:FilterLogEvents",
                f"arn:aws:logs:{regional}:log-group:/aws/lambda/orchestra-orchestrator-discord-{owner}",
            ),
        ]
        for action, arn in calls:
            assert allowed(policy(stack, "deploy"), action, arn, {}) == (owner == stack), (owner, action)
        # A preview or refresh reads the alias; it never moves it nor invokes a version.
        assert allowed(policy(stack, "read"), "lambda:GetAlias", f"{function}:live", {}) == (owner == stack)
        for action in ("lambda:UpdateAlias", "lambda:InvokeFunction", "lambda:PublishVersion"):
            assert not allowed(policy(stack, "read"), action, f"{function}:live", {}), action
    # What each step's new version served: metrics have no ARN, so only `*` names them.
    assert allowed(policy(stack, "deploy"), "cloudwatch:GetMetricData", "*", {})
    assert not allowed(policy(stack, "read"), "cloudwatch:GetMetricData", "*", {})
