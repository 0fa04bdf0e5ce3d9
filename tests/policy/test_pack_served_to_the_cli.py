"""The pack as the Pulumi CLI runs it: `python -m pulumi.policy` started in `policy/`, with the
stack's configuration in `PULUMI_CONFIG`, answering the engine's analyzer calls over gRPC."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.pack import POLICIES

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
TABLE = "aws:dynamodb/table:Table"
SECRET_SIGNATURE = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def serve(environment: str) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PULUMI_CONFIG": json.dumps({"orchestra:environment": environment}),
        "PULUMI_PROJECT": "orchestra",
        "PULUMI_STACK": environment,
        "PULUMI_DRY_RUN": "true",
    }
    # As the CLI starts it: unbuffered (the port is the first line out), the engine's address, the pack's directory.
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."],
        cwd=POLICY_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.communicate(timeout=30)


@pytest.fixture(scope="module")
def prod() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    yield from serve("prod")


@pytest.fixture(scope="module")
def dev() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    yield from serve("dev")


def request(type_: str, name: str, properties: dict[str, Any], protect: bool = False) -> analyzer_pb2.AnalyzeRequest:
    props = struct_pb2.Struct()
    props.update(properties)
    return analyzer_pb2.AnalyzeRequest(
        type=type_,
        name=name,
        urn=f"urn:pulumi:prod::orchestra::{type_}::{name}",
        properties=props,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=protect),
    )


def test_the_pack_announces_every_policy_with_its_enforcement(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = prod.GetAnalyzerInfo(empty_pb2.Empty())
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert info.name == "orchestra"
    assert levels == {
        "stateful-resources-protected-in-prod": analyzer_pb2.MANDATORY,
        "iam-no-wildcards": analyzer_pb2.MANDATORY,
        "secret-inputs-marked-secret": analyzer_pb2.MANDATORY,
        "no-credentials-in-plain-settings": analyzer_pb2.MANDATORY,
        "lambda-log-retention": analyzer_pb2.ADVISORY,
        "workers-dev-off-in-prod-when-routed": analyzer_pb2.MANDATORY,
    }
    assert set(levels) == {policy.name for policy in POLICIES}


def test_an_unprotected_table_in_prod_is_a_mandatory_violation(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    table = {"name": "orchestra-runs-prod", "deletionProtectionEnabled": True}
    response = prod.Analyze(request(TABLE, "runs", table))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("stateful-resources-protected-in-prod", analyzer_pb2.MANDATORY)
    ]
    assert prod.Analyze(request(TABLE, "runs", table, protect=True)).diagnostics == []


def test_the_stack_configuration_decides_what_production_is(dev: analyzer_pb2_grpc.AnalyzerStub) -> None:
    assert dev.Analyze(request(TABLE, "runs", {"name": "orchestra-runs-dev"})).diagnostics == []


def test_a_wildcard_action_is_caught(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    response = prod.Analyze(request("aws:iam/rolePolicy:RolePolicy", "p", {"policy": document}))
    assert [d.policyName for d in response.diagnostics] == ["iam-no-wildcards"]


def test_secret_markings_are_not_guessed_where_pulumi_policy_hides_them(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    secret = {**SECRET_SIGNATURE, "value": "decrypted"}
    response = prod.Analyze(request("aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretString": secret}))
    assert response.diagnostics == []
    assert [n.policy_name for n in response.not_applicable] == ["secret-inputs-marked-secret"]
    # Only where there is a credential to check.
    table = {"name": "runs", "deletionProtectionEnabled": True}
    assert prod.Analyze(request(TABLE, "runs", table, protect=True)).not_applicable == []


def test_a_credential_in_a_plain_setting_is_caught_by_name(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    environment = {"variables": {"DISCORD_BOT_TOKEN": "decrypted", "RUNS_TABLE_NAME": "runs"}}
    response = prod.Analyze(request("aws:lambda/function:Function", "fn", {"environment": environment}))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("no-credentials-in-plain-settings", analyzer_pb2.MANDATORY)
    ]


def test_stack_policies_run_over_the_whole_stack(prod: analyzer_pb2_grpc.AnalyzerStub) -> None:
    props = struct_pb2.Struct()
    props.update({"name": "/aws/lambda/fn"})
    group = analyzer_pb2.AnalyzerResource(
        type="aws:cloudwatch/logGroup:LogGroup",
        name="fn-logs",
        urn="urn:pulumi:prod::orchestra::g::fn",
        properties=props,
    )
    response = prod.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[group]))
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [
        ("lambda-log-retention", analyzer_pb2.ADVISORY)
    ]


def test_no_module_of_the_pack_shadows_the_standard_library() -> None:
    # The CLI runs the pack with its directory first on sys.path: a `secrets.py` there would
    # replace the standard library's for every library the pack imports.
    modules = {path.stem for path in POLICY_DIR.glob("*.py")}
    assert modules & set(sys.stdlib_module_names) == set()
