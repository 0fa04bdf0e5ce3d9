import pytest

from policy.plain_settings import looks_like_credential

from .plans import messages, resource, violations

POLICY = "no-credentials-in-plain-settings"


@pytest.mark.parametrize(
    "name", ["API_KEY", "DISCORD_BOT_TOKEN", "webhook-secret", "DB_PASSWORD", "AWS_CREDENTIALS", "API_KEYS"]
)
def test_credential_names(name: str) -> None:
    assert looks_like_credential(name)


@pytest.mark.parametrize(
    "name",
    [
        "DISCORD_PUBLIC_KEY_SECRET_ARN",
        "RUNS_TABLE_NAME",
        "KEY_ID",
        "DISCORD_PUBLIC_KEY",
        "EMAIL_API_URL",
        "KEYBOARD",
        "",
    ],
)
def test_names_that_only_point_at_a_credential_or_are_public(name: str) -> None:
    assert not looks_like_credential(name)


def test_a_plain_text_binding_named_like_a_credential_is_a_mandatory_violation() -> None:
    bindings = [
        {"name": "ADMIN_TOKEN", "type": "plain_text", "text": "abc"},
        {"name": "API_KEYS", "type": "secret_text", "text": "[secret]"},
        {"name": "MODE", "type": "plain_text", "text": "strict"},
    ]
    found = violations(resource("cloudflare:index/workerVersion:WorkerVersion", "w", {"bindings": bindings}))
    assert [(v.policy, v.mandatory) for v in found] == [(POLICY, True)]
    assert found[0].message == (
        "plain_text binding ADMIN_TOKEN looks like a credential: "
        "use a secret binding, a secret store or an Actions secret"
    )


def test_lambda_environment_and_actions_variables_are_checked() -> None:
    function = resource(
        "aws:lambda/function:Function",
        "fn",
        {"environment": {"variables": {"GITHUB_TOKEN": "ghp", "WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:…"}}},
    )
    variable = resource("github:index/actionsVariable:ActionsVariable", "v", {"variableName": "DEPLOY_KEY"})
    assert messages(violations(function, variable), POLICY) == [
        "environment variable GITHUB_TOKEN looks like a credential: "
        "use a secret binding, a secret store or an Actions secret",
        "Actions variable DEPLOY_KEY looks like a credential: "
        "use a secret binding, a secret store or an Actions secret",
    ]
