import boto3
import pytest

from systems.orchestrator.handlers.secret_values import read_secret, ssm_parameter_name
from tests.systems.orchestrator.handlers.support import REGION, FrozenClock

ACCOUNT = "123456789012"


def test_reads_a_secrets_manager_secret(aws: None) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="orchestra/key", SecretString="from-secrets-manager")["ARN"]
    assert read_secret(arn) == "from-secrets-manager"


@pytest.mark.parametrize("name", ["/orchestra/dev/webhook-secret", "flat-name"])
def test_reads_an_ssm_securestring_parameter(aws: None, name: str) -> None:
    boto3.client("ssm").put_parameter(Name=name, Value=f"value of {name}", Type="SecureString")
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.removeprefix('/')}"
    assert read_secret(arn) == f"value of {name}"


def test_ssm_parameter_names_are_recovered_from_the_arn() -> None:
    assert ssm_parameter_name("parameter/orchestra/dev/key") == "/orchestra/dev/key"
    assert ssm_parameter_name("parameter/flat-name") == "flat-name"


def test_a_binary_secret_is_refused(aws: None) -> None:
    arn = boto3.client("secretsmanager").create_secret(Name="binary", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(ValueError, match="holds binary data"):
        read_secret(arn)


@pytest.mark.parametrize(
    "arn",
    ["not-an-arn", "arn:aws:s3:::bucket", f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/runbook"],
)
def test_other_arns_are_refused(arn: str) -> None:
    with pytest.raises(ValueError, match="not a Secrets Manager secret or SSM parameter ARN"):
        read_secret(arn)


def test_a_value_is_cached_for_five_minutes(aws: None, frozen_clock: FrozenClock) -> None:
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="rotating", SecretString="first")["ARN"]
    assert read_secret(arn) == "first"
    client.put_secret_value(SecretId=arn, SecretString="second")

    frozen_clock.advance(299)
    assert read_secret(arn) == "first"

    frozen_clock.advance(1)
    assert read_secret(arn) == "second"
