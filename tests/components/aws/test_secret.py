import pytest

from components.aws.function import Function, FunctionArgs
from components.aws.secret import Secret, SecretArgs, SecretStore
from tools.offline_plan import SECRET, Plan, evaluate

from .policies import grants, statements_of


def plan_secret(store: SecretStore, protect: bool, stack: str = "dev") -> Plan:
    args = SecretArgs(value="plain-text-in", description="webhook key", store=store, protect=protect)
    return evaluate(lambda: Secret("orchestrator-webhook-secret", args), stack=stack)


def test_secrets_manager_children_and_value_is_secret() -> None:
    plan = plan_secret("secretsmanager", protect=False)
    component = plan.one("orchestra:aws:Secret", "orchestrator-webhook-secret")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:secretsmanager/secret:Secret", "orchestrator-webhook-secret"),
        ("aws:secretsmanager/secretVersion:SecretVersion", "orchestrator-webhook-secret-value"),
    ]
    secret = plan.one("aws:secretsmanager/secret:Secret", "orchestrator-webhook-secret")
    assert secret.inputs["name"] == "orchestra-orchestrator-webhook-secret-dev"
    assert secret.inputs["recoveryWindowInDays"] == 0
    assert (secret.protect, secret.retain_on_delete) == (False, False)
    version = plan.one("aws:secretsmanager/secretVersion:SecretVersion", "orchestrator-webhook-secret-value")
    assert version.inputs["secretString"] == SECRET
    assert "plain-text-in" not in plan.to_json()


def test_protected_secret_keeps_a_recovery_window() -> None:
    secret = plan_secret("secretsmanager", protect=True, stack="prod").one(
        "aws:secretsmanager/secret:Secret", "orchestrator-webhook-secret"
    )
    assert (secret.protect, secret.retain_on_delete, secret.inputs["recoveryWindowInDays"]) == (True, True, 30)


@pytest.mark.parametrize("protect", [False, True])
def test_ssm_parameter_is_a_secure_string_under_the_stack_path(protect: bool) -> None:
    plan = plan_secret("ssm", protect=protect)
    component = plan.one("orchestra:aws:Secret", "orchestrator-webhook-secret")
    (parameter,) = plan.children_of(component.urn)
    assert parameter.type == "aws:ssm/parameter:Parameter"
    assert parameter.inputs["name"] == "/orchestra/dev/orchestrator-webhook-secret"
    assert parameter.inputs["type"] == "SecureString"
    assert parameter.inputs["value"] == SECRET
    assert (parameter.protect, parameter.retain_on_delete) == (protect, protect)
    assert "plain-text-in" not in plan.to_json()


@pytest.mark.parametrize(
    ("store", "action", "arn"),
    [
        ("secretsmanager", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:"),
        ("ssm", "ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/"),
    ],
)
def test_link_grants_reading_this_secret_only(tmp_path, store: SecretStore, action: str, arn: str) -> None:
    package = tmp_path / "app"
    package.mkdir()
    (package / "main.py").write_text("def handler(event, context):\n    return None\n")

    def program() -> None:
        secret = Secret("key", SecretArgs(value="v", description="d", store=store))
        Function(
            "reader",
            FunctionArgs(
                package_dir=package, handler="app.main.handler", links=[secret.link_read("KEY")], build_dir=tmp_path
            ),
        )

    plan = evaluate(program)
    granted = grants(statements_of(plan, "reader-policy"))
    (resource,) = granted[action]
    assert resource.startswith(arn)
    assert set(granted) == {action, "logs:CreateLogStream", "logs:PutLogEvents"}
    env = plan.one("aws:lambda/function:Function", "reader").inputs["environment"]["variables"]
    assert env["KEY"] == resource
