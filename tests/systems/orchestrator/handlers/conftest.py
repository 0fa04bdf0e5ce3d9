"""Real AWS APIs through moto, a real Ed25519 key pair, real HMACs, and a frozen clock."""

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws
from nacl.signing import SigningKey

from systems.orchestrator.handlers import clock, discord_interactions, github_webhook, secret_values
from tests.systems.orchestrator.handlers.support import REGION, START, WEBHOOK_PARAMETER, FrozenClock

TABLE_NAME = "orchestra-runs-test"
WEBHOOK_SECRET = "webhook-secret-for-tests"

Reply = tuple[int, Any]
DiscordRequest = Callable[..., dict[str, Any]]
GitHubRequest = Callable[..., dict[str, Any]]


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    frozen = FrozenClock(START)
    monkeypatch.setattr(clock, "now", lambda: frozen.now)
    return frozen


@pytest.fixture(autouse=True)
def empty_secret_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cache lives as long as the process; each test starts as a fresh container would.
    monkeypatch.setattr(secret_values, "_cache", {})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "RUN_TTL_DAYS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def runs_table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The runs table with exactly the schema the infrastructure declares."""
    dynamodb: Any = boto3.resource("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "run_id", "AttributeType": "S"},
            {"AttributeName": "run_month", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "recent_runs",
                "KeySchema": [
                    {"AttributeName": "run_month", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.meta.client.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    monkeypatch.setenv("RUNS_TABLE_NAME", TABLE_NAME)
    return table


@pytest.fixture
def count_runs(runs_table: Any) -> Callable[[], int]:
    return lambda: runs_table.scan(Select="COUNT")["Count"]


def _reply(response: Mapping[str, Any]) -> Reply:
    assert response["headers"] == {"content-type": "application/json"}
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def call_discord() -> Callable[[Mapping[str, Any]], Reply]:
    """Invokes the Discord handler as Lambda would; returns the status and the decoded JSON body."""
    return lambda event: _reply(discord_interactions.handler(event, None))


@pytest.fixture
def call_github() -> Callable[[Mapping[str, Any]], Reply]:
    """Invokes the GitHub handler as Lambda would; returns the status and the decoded JSON body."""
    return lambda event: _reply(github_webhook.handler(event, None))


@pytest.fixture
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def discord_public_key_secret(aws: None, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch) -> str:
    """The application's public key in Secrets Manager, as the infrastructure stores it."""
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="orchestra-test-discord-public-key",
        SecretString=signing_key.verify_key.encode().hex(),
    )["ARN"]
    monkeypatch.setenv("DISCORD_PUBLIC_KEY_SECRET_ARN", arn)
    return arn


@pytest.fixture
def discord_request(
    runs_table: Any,
    discord_public_key_secret: str,
    signing_key: SigningKey,
    frozen_clock: FrozenClock,
) -> DiscordRequest:
    """Builds an HTTP API event signed the way Discord signs it, at the frozen time by default."""

    def build(
        payload: Mapping[str, Any] | bytes,
        *,
        key: SigningKey | None = None,
        timestamp: int | None = None,
    ) -> dict[str, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        signed_at = str(int(frozen_clock.now.timestamp()) if timestamp is None else timestamp)
        signature = (key or signing_key).sign(signed_at.encode() + body).signature.hex()
        return {
            "version": "2.0",
            "headers": {
                "content-type": "application/json",
                "x-signature-ed25519": signature,
                "x-signature-timestamp": signed_at,
            },
            "body": body.decode(),
            "isBase64Encoded": False,
        }

    return build


@pytest.fixture
def github_webhook_secret(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The webhook secret as an SSM SecureString parameter, as the infrastructure may store it."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=WEBHOOK_PARAMETER, Value=WEBHOOK_SECRET, Type="SecureString"
    )
    arn = f"arn:aws:ssm:{REGION}:123456789012:parameter{WEBHOOK_PARAMETER}"
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET_ARN", arn)
    return arn


@pytest.fixture
def github_request(runs_table: Any, github_webhook_secret: str, frozen_clock: FrozenClock) -> GitHubRequest:
    """Builds an HTTP API event signed the way GitHub signs a webhook delivery."""

    def build(
        event_name: str,
        payload: Mapping[str, Any] | bytes,
        *,
        delivery_id: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        secret: str = WEBHOOK_SECRET,
    ) -> dict[str, Any]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "version": "2.0",
            "headers": {
                "content-type": "application/json",
                "x-github-event": event_name,
                "x-github-delivery": delivery_id,
                "x-hub-signature-256": f"sha256={digest}",
            },
            "body": body.decode(),
            "isBase64Encoded": False,
        }

    return build
