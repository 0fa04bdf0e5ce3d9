import importlib
import inspect
import pkgutil

import pulumi.dynamic
import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.policy import _NotApplicableError

import components
from policy.secret_inputs import SECRET_INPUTS, SECRET_INPUTS_ARE_SECRET
from tools.offline_plan import SECRET

from .plans import messages, resource, violations

POLICY = "secret-inputs-marked-secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SCRIPT = "cloudflare:index/workerVersion:WorkerVersion"


def test_a_credential_in_plain_text_is_a_mandatory_violation() -> None:
    found = violations(resource(VERSION, "key-value", {"secretId": "s", "secretString": "hunter2"}))
    assert [(v.policy, v.mandatory) for v in found] == [(POLICY, True)]
    assert found[0].message == "secretString carries a credential in plain text: pass it as a Pulumi secret"
    assert "hunter2" not in found[0].message


def test_a_credential_marked_secret_passes() -> None:
    assert violations(resource(VERSION, "key-value", {"secretId": "s", "secretString": SECRET})) == []


def test_worker_secret_bindings_must_be_secret_and_plain_bindings_need_not() -> None:
    bindings = [
        {"name": "MODE", "type": "plain_text", "text": "strict"},
        {"name": "API_KEY", "type": "secret_text", "text": SECRET},
        {"name": "ADMIN_TOKEN", "type": "secret_text", "text": "plain"},
    ]
    found = violations(resource(SCRIPT, "worker", {"bindings": bindings}))
    assert messages(found, POLICY) == [
        "bindings[2].text (ADMIN_TOKEN) carries a credential in plain text: pass it as a Pulumi secret"
    ]


@pytest.mark.parametrize(
    ("type_", "inputs", "path"),
    [
        ("aws:ssm/parameter:Parameter", {"type": "SecureString", "value": "v"}, "value"),
        ("github:index/actionsSecret:ActionsSecret", {"secretName": "T", "value": "v"}, "value"),
        ("github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret", {"plaintextValue": "v"}, "plaintextValue"),
        (
            "github:index/repositoryWebhook:RepositoryWebhook",
            {"configuration": {"secret": "v"}},
            "configuration.secret",
        ),
        ("pulumi:providers:cloudflare", {"apiToken": "v"}, "apiToken"),
    ],
)
def test_each_listed_credential_input_is_checked(type_: str, inputs: dict[str, object], path: str) -> None:
    assert messages(violations(resource(type_, "r", inputs)), POLICY) == [
        f"{path} carries a credential in plain text: pass it as a Pulumi secret"
    ]


def test_a_plain_ssm_string_is_not_a_credential() -> None:
    found = violations(resource("aws:ssm/parameter:Parameter", "p", {"type": "String", "value": "v"}))
    assert messages(found, POLICY) == []


def test_where_markings_are_invisible_the_policy_says_it_cannot_apply() -> None:
    # What the CLI gives a Python policy: the secret's value, unmarked, and no setting.
    args = ResourceValidationArgs(
        VERSION,
        {"secretString": "decrypted-by-the-engine"},
        "urn:pulumi:prod::orchestra::aws:secretsmanager/secretVersion:SecretVersion::v",
        "v",
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []),
        None,
    )
    reported: list[str] = []
    with pytest.raises(_NotApplicableError):
        SECRET_INPUTS_ARE_SECRET.validate(args, lambda message, urn=None: reported.append(message))
    assert reported == []


# How a parameter carrying a credential would be named (`bot_token`, `api_key`...).
CREDENTIAL_ENDINGS = ("token", "secret", "password", "api_key", "credential")


def dynamic_resources() -> dict[str, list[str]]:
    """Each dynamic resource of `components`: its type and the parameters it takes."""
    found = {}
    for module in pkgutil.walk_packages(components.__path__, "components."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, pulumi.dynamic.Resource) and cls is not pulumi.dynamic.Resource:
                found[f"pulumi-python:{cls._resource_type_name}"] = list(inspect.signature(cls.__init__).parameters)
    return found


def test_no_dynamic_resource_takes_a_credential_only_the_setting_that_holds_one() -> None:
    resources = dynamic_resources()

    assert sorted(resources) == [
        "pulumi-python:dynamic/aws:LambdaRollout",
        "pulumi-python:dynamic/cloudflare:D1Migrations",
        "pulumi-python:dynamic/cloudflare:D1Row",
        "pulumi-python:dynamic/cloudflare:DurableObjectMigrations",
        "pulumi-python:dynamic/cloudflare:VectorizeIndex",
        "pulumi-python:dynamic/cloudflare:WorkerRollout",
        "pulumi-python:dynamic/discord:SlashCommands",
    ]
    for type_, parameters in resources.items():
        # The Lambda rollout calls AWS with the deploy's own credentials, as the AWS provider does.
        assert ("credential_setting" in parameters) is (type_ != "pulumi-python:dynamic/aws:LambdaRollout"), type_
        named = [name for name in parameters if name != "credential_setting"]
        assert [name for name in named if name.endswith(CREDENTIAL_ENDINGS)] == []
    # Nothing to mark secret, so nothing listed.
    assert not any(type_.startswith("pulumi-python:") for type_ in SECRET_INPUTS)
