import pulumi
import pytest

from components.github.actions import ActionsSettings, ActionsSettingsArgs
from tools.offline_plan import SECRET, Plan, evaluate


def plan_settings(environment: str | None = None) -> Plan:
    def program() -> None:
        args = ActionsSettingsArgs(
            repository="image-gen",
            # Plain text and an output both arrive; both must leave as secrets.
            secrets={"CLOUDFLARE_API_TOKEN": "plain-token", "IDEOGRAM_API_KEY": pulumi.Output.from_input("plain-key")},
            variables={"CLOUDFLARE_ACCOUNT_ID": "0123abcd"},
            environment=environment,
        )
        ActionsSettings("image-gen-actions", args)

    return evaluate(program)


def test_repository_level_children_and_secret_values() -> None:
    plan = plan_settings()
    component = plan.one("orchestra:github:ActionsSettings", "image-gen-actions")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("github:index/actionsSecret:ActionsSecret", "image-gen-actions-secret-cloudflare_api_token"),
        ("github:index/actionsSecret:ActionsSecret", "image-gen-actions-secret-ideogram_api_key"),
        ("github:index/actionsVariable:ActionsVariable", "image-gen-actions-variable-cloudflare_account_id"),
    ]
    secret = plan.one("github:index/actionsSecret:ActionsSecret", "image-gen-actions-secret-cloudflare_api_token")
    assert secret.inputs == {"repository": "image-gen", "secretName": "CLOUDFLARE_API_TOKEN", "value": SECRET}
    variable = plan.one(
        "github:index/actionsVariable:ActionsVariable", "image-gen-actions-variable-cloudflare_account_id"
    )
    assert variable.inputs == {"repository": "image-gen", "variableName": "CLOUDFLARE_ACCOUNT_ID", "value": "0123abcd"}
    assert "plain-token" not in plan.to_json()
    assert "plain-key" not in plan.to_json()


def test_environment_level_children_use_the_environment_forms() -> None:
    plan = plan_settings(environment="production")
    assert {r.type for r in plan.resources if r.custom} == {
        "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
        "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
    }
    for secret in plan.of_type("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret"):
        assert secret.inputs["environment"] == "production"
        assert secret.inputs["value"] == SECRET
        assert "plaintextValue" not in secret.inputs
    (variable,) = plan.of_type("github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable")
    assert variable.inputs["environment"] == "production"


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"GITHUB_TOKEN": "x"}, "GITHUB_TOKEN"),
        ({"1PASSWORD": "x"}, "1PASSWORD"),
        ({"API-KEY": "x"}, "API-KEY"),
        ({"api_key": "x", "API_KEY": "y"}, "same name"),
    ],
)
def test_names_github_rejects_are_refused(secrets: dict[str, str], message: str) -> None:
    args = ActionsSettingsArgs(repository="image-gen", secrets=secrets)
    with pytest.raises(ValueError, match=message):
        evaluate(lambda: ActionsSettings("image-gen-actions", args))
