"""Real AWS APIs through moto, a real Ed25519 key pair, real HMACs, and a frozen clock."""

import base64
import hashlib
import hmac
import json
import time
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
import urllib3.util.retry
from moto import mock_aws
from nacl.signing import SigningKey

from systems.orchestrator.handlers import (
    clock,
    discord_interactions,
    github_webhook,
    run_store,
    secret_values,
    work_queue,
    worker,
)
from tests.components.dynamic_provider_support import serving
from tests.systems.orchestrator.handlers.fakes import APPLICATION_ID, BOT_TOKEN, GITHUB_TOKEN, FakeDiscord, FakeGitHub
from tests.systems.orchestrator.handlers.support import ACCESS, REGION, START, WEBHOOK_PARAMETER, FrozenClock

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
def fresh_container(monkeypatch: pytest.MonkeyPatch) -> None:
    # Caches live as long as the process; each test starts as a fresh container would.
    monkeypatch.setattr(secret_values, "_cache", {})
    for cached in (run_store._dynamodb, work_queue._sqs, secret_values._client):
        cached.cache_clear()
    monkeypatch.setenv("ORCHESTRATOR_ACCESS", ACCESS)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records urllib3's retry sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", types.SimpleNamespace(sleep=recorded.append, time=time.time))
    return recorded


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
    monkeypatch.setenv("RUN_TTL_DAYS", "90")
    return table


@pytest.fixture
def count_runs(runs_table: Any) -> Callable[[], int]:
    """Items of every kind: runs, open-run pointers and seen marks."""
    return lambda: runs_table.scan(Select="COUNT")["Count"]


class WorkQueue:
    """The work queue in moto, read the way Lambda's poller reads it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: Any = boto3.client("sqs", region_name=REGION)

    def receive(self) -> list[dict[str, Any]]:
        """Every waiting message as a Lambda SQS record; they stay in flight until deleted."""
        records = []
        while True:
            messages = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return records
            records += [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]} for m in messages
            ]

    def bodies(self) -> list[dict[str, Any]]:
        """Every waiting message's body, leaving nothing in the queue."""
        records = self.receive()
        for record in records:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])
        return [json.loads(record["body"]) for record in records]

    def count(self) -> int:
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def work(aws: None, monkeypatch: pytest.MonkeyPatch) -> WorkQueue:
    url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="orchestra-work-test")["QueueUrl"]
    monkeypatch.setenv("WORK_QUEUE_URL", url)
    return WorkQueue(url)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    with serving(fake.server):
        yield fake


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    with serving(fake.server):
        yield fake


def put_secret(name: str, value: str) -> str:
    return boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=value)["ARN"]


@pytest.fixture
def worker_environment(
    runs_table: Any,
    work: WorkQueue,
    fake_github: FakeGitHub,
    fake_discord: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker's environment as the infrastructure sets it, with the APIs pointed at the fakes."""
    monkeypatch.setenv("GITHUB_API_URL", fake_github.base_url)
    monkeypatch.setenv("DISCORD_API_URL", fake_discord.base_url)
    monkeypatch.setenv("DISCORD_APPLICATION_ID", APPLICATION_ID)
    monkeypatch.setenv("EFFECT_LEASE_SECONDS", "60")
    monkeypatch.setenv("CALL_DEADLINE_SECONDS", "30")
    monkeypatch.setenv(
        "GITHUB_CREDENTIALS_SECRET_ARN", put_secret("github-credentials", json.dumps({"token": GITHUB_TOKEN}))
    )
    monkeypatch.setenv("DISCORD_BOT_TOKEN_SECRET_ARN", put_secret("discord-bot-token", BOT_TOKEN))


RunWorker = Callable[[], dict[str, Any]]


@pytest.fixture
def run_worker(worker_environment: None, work: WorkQueue) -> RunWorker:
    """Hands every waiting message to the worker in one batch, deletes those it handled (as
    Lambda does with reported failures), and returns the worker's answer."""

    def run() -> dict[str, Any]:
        records = work.receive()
        answer = worker.handler({"Records": records}, None)
        failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        for record in records:
            if record["messageId"] in failed:
                work.client.change_message_visibility(
                    QueueUrl=work.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
            else:
                work.client.delete_message(QueueUrl=work.url, ReceiptHandle=record["receiptHandle"])
        return answer

    return run


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
    work: "WorkQueue",
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
            **_api_gateway_body(body),
        }

    return build


def _api_gateway_body(body: bytes) -> dict[str, Any]:
    """The body as API Gateway hands it over: text when it is UTF-8, else base64."""
    try:
        return {"body": body.decode(), "isBase64Encoded": False}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "isBase64Encoded": True}


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
def github_request(
    runs_table: Any, work: "WorkQueue", github_webhook_secret: str, frozen_clock: FrozenClock
) -> GitHubRequest:
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
            **_api_gateway_body(body),
        }

    return build
