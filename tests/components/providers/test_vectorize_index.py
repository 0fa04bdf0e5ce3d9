from __future__ import annotations

import base64
import pickletools
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.providers.cloudflare_api import CLOUDFLARE_API_BASE
from components.providers.provider import ProviderError
from components.providers.vectorize_index import VectorizeIndex, VectorizeIndexProvider
from tests.components.cloudflare.support import (
    ACCOUNT_ID,
    SETTING,
    TOKEN,
    FakeCloudflare,
    RecordedRequest,
    Reply,
    failure,
)
from tests.components.dynamic_provider_support import RecordingMonitor, configured, credentials_sent, hosted

INDEX = "orchestra-knowledge-dev"
INDEXES_PATH = f"/client/v4/accounts/{ACCOUNT_ID}/vectorize/v2/indexes"
INDEX_PATH = f"{INDEXES_PATH}/{INDEX}"
METADATA = [
    {"propertyName": "source", "indexType": "string"},
    {"propertyName": "chunk", "indexType": "number"},
]
INPUTS: dict[str, Any] = {
    "api_base": CLOUDFLARE_API_BASE,
    "account_id": ACCOUNT_ID,
    "index_name": INDEX,
    "dimensions": 768,
    "metric": "cosine",
    "description": "Knowledge base for /api/chat",
    "metadata_indexes": METADATA,
    "credential_setting": SETTING,
}

ROTATED = "cf-rotated-api-token"
URN = "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:VectorizeIndex::knowledge"


def index_provider(token: str = TOKEN) -> VectorizeIndexProvider:
    return configured(VectorizeIndexProvider(), {SETTING: token})


def props(cloudflare: FakeCloudflare, **overrides: Any) -> dict[str, Any]:
    return {**INPUTS, "api_base": cloudflare.api_base, **overrides}


def assert_request(request: RecordedRequest, method: str, path: str, body: Any = None) -> None:
    assert (request.method, request.path) == (method, path)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    if body is None:
        assert request.body == b""
    else:
        assert request.headers["content-type"] == "application/json"
        assert request.json() == body


def test_create_makes_the_index_then_its_metadata_indexes(cloudflare: FakeCloudflare) -> None:
    # Pulumi carries every number as a double.
    inputs = props(cloudflare, dimensions=768.0)

    result = index_provider().create(inputs)

    create, *metadata = cloudflare.requests
    assert_request(
        create,
        "POST",
        INDEXES_PATH,
        {"name": INDEX, "description": INPUTS["description"], "config": {"dimensions": 768, "metric": "cosine"}},
    )
    assert b"768.0" not in create.body
    assert len(metadata) == len(METADATA)
    for request, index in zip(metadata, METADATA, strict=True):
        assert_request(request, "POST", f"{INDEX_PATH}/metadata_index/create", index)
    assert cloudflare.indexes[INDEX]["config"] == {"dimensions": 768, "metric": "cosine"}
    assert result.id == INDEX
    assert result.outs == {**inputs, "dimensions": 768}


def test_create_without_a_description_sends_none(cloudflare: FakeCloudflare) -> None:
    result = index_provider().create(props(cloudflare, description=None, metadata_indexes=[]))

    [create] = cloudflare.requests
    assert_request(create, "POST", INDEXES_PATH, {"name": INDEX, "config": {"dimensions": 768, "metric": "cosine"}})
    assert (result.outs or {})["description"] is None


def test_a_failed_metadata_index_removes_the_new_index_so_a_retry_starts_clean(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripted.extend([None, Reply(400, failure(3001, "vectorize.metadata_index.invalid"))])

    with pytest.raises(ProviderError, match=r"\[3001\] vectorize.metadata_index.invalid"):
        index_provider().create(props(cloudflare))

    assert_request(cloudflare.requests[-1], "DELETE", INDEX_PATH)
    assert cloudflare.indexes == {}
    assert index_provider().create(props(cloudflare)).id == INDEX


def test_read_returns_the_live_configuration(cloudflare: FakeCloudflare) -> None:
    provider = index_provider()
    outs = provider.create(props(cloudflare, description=None)).outs or {}
    cloudflare.metadata_indexes[INDEX].append({"indexType": "boolean", "propertyName": "added_by_hand"})
    cloudflare.requests.clear()

    read = provider.read(INDEX, outs)

    assert_request(cloudflare.requests[0], "GET", INDEX_PATH)
    assert_request(cloudflare.requests[1], "GET", f"{INDEX_PATH}/metadata_index/list")
    assert read.id == INDEX
    assert read.outs == {
        **outs,
        # Vectorize answers "" for no description; that is no change.
        "description": None,
        "metadata_indexes": [*METADATA, {"propertyName": "added_by_hand", "indexType": "boolean"}],
    }
    diff = provider.diff(INDEX, read.outs or {}, props(cloudflare, description=None))
    assert (diff.changes, diff.replaces) == (True, [])


def test_read_of_an_index_deleted_by_hand_drops_it_from_the_state(cloudflare: FakeCloudflare) -> None:
    provider = index_provider()
    outs = provider.create(props(cloudflare)).outs or {}
    del cloudflare.indexes[INDEX]

    read = provider.read(INDEX, outs)

    assert (read.id, read.outs) == (None, {})


def test_update_converges_the_metadata_indexes(cloudflare: FakeCloudflare) -> None:
    provider = index_provider()
    outs = provider.create(props(cloudflare)).outs or {}
    wanted = [
        {"propertyName": "source", "indexType": "string"},
        {"propertyName": "chunk", "indexType": "string"},
        {"propertyName": "tenant", "indexType": "string"},
    ]
    cloudflare.requests.clear()

    result = provider.update(INDEX, outs, props(cloudflare, metadata_indexes=wanted))

    list_, delete, *creates = cloudflare.requests
    assert_request(list_, "GET", f"{INDEX_PATH}/metadata_index/list")
    assert_request(delete, "POST", f"{INDEX_PATH}/metadata_index/delete", {"propertyName": "chunk"})
    assert len(creates) == 2
    assert_request(creates[0], "POST", f"{INDEX_PATH}/metadata_index/create", wanted[1])
    assert_request(creates[1], "POST", f"{INDEX_PATH}/metadata_index/create", wanted[2])
    assert sorted(cloudflare.metadata_indexes[INDEX], key=str) == sorted(wanted, key=str)
    assert (result.outs or {})["metadata_indexes"] == wanted


def test_delete_deletes_the_index(cloudflare: FakeCloudflare) -> None:
    provider = index_provider()
    outs = provider.create(props(cloudflare)).outs or {}

    provider.delete(INDEX, outs)

    assert_request(cloudflare.requests[-1], "DELETE", INDEX_PATH)
    assert cloudflare.indexes == {}


def test_delete_of_an_index_that_is_gone_succeeds(cloudflare: FakeCloudflare) -> None:
    index_provider().delete(INDEX, props(cloudflare))

    assert len(cloudflare.requests) == 1


def test_rate_limits_and_server_errors_are_retried(cloudflare: FakeCloudflare, sleeps: list[float]) -> None:
    cloudflare.scripted.extend(
        [
            Reply(429, failure(971, "Please wait and consider throttling your request speed"), {"Retry-After": "2"}),
            Reply(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}),
        ]
    )

    result = index_provider().create(props(cloudflare, metadata_indexes=[]))

    assert [request.method for request in cloudflare.requests] == ["POST"] * 3
    assert_request(cloudflare.requests[2], "POST", INDEXES_PATH, cloudflare.requests[0].json())
    # Retry-After as Cloudflare asked, then exponential backoff.
    assert sleeps == [2, 1.0]
    assert result.id == INDEX


def test_an_api_error_shows_cloudflares_message_never_the_token(cloudflare: FakeCloudflare) -> None:
    index_provider().create(props(cloudflare))

    with pytest.raises(ProviderError) as failed:
        index_provider().create(props(cloudflare))

    message = str(failed.value)
    assert message == f"Cloudflare POST {INDEXES_PATH.removeprefix('/client/v4')} failed: " + (
        "HTTP 409 Conflict: [3002] vectorize.index.duplicate_name"
    )
    assert failed.value.status == 409
    assert TOKEN not in repr(failed.value.args)


def test_a_refused_token_fails_at_once(cloudflare: FakeCloudflare) -> None:
    with pytest.raises(ProviderError, match=r"HTTP 403 Forbidden: \[10000\] Authentication error"):
        index_provider("revoked-token").read(INDEX, props(cloudflare))

    assert len(cloudflare.requests) == 1


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        pytest.param({}, False, [], id="unchanged"),
        pytest.param({"credential_setting": "orchestra:other"}, True, [], id="setting-is-an-update"),
        pytest.param({"dimensions": 768.0}, False, [], id="dimensions-as-double"),
        pytest.param({"metadata_indexes": METADATA[::-1]}, False, [], id="metadata-reordered"),
        pytest.param(
            {"metadata_indexes": [*METADATA, {"propertyName": "t", "indexType": "string"}]},
            True,
            [],
            id="metadata-added",
        ),
        pytest.param({"metadata_indexes": METADATA[:1]}, True, [], id="metadata-removed"),
        pytest.param({"api_base": "http://127.0.0.1:1/client/v4"}, True, [], id="api-base"),
        pytest.param({"dimensions": 1024}, True, ["dimensions"], id="dimensions"),
        pytest.param({"metric": "dot-product"}, True, ["metric"], id="metric"),
        pytest.param({"description": "Docs"}, True, ["description"], id="description"),
        pytest.param({"index_name": "other"}, True, ["index_name"], id="name"),
        pytest.param({"account_id": "0" * 32}, True, ["account_id"], id="account"),
        pytest.param({"dimensions": Unknown()}, True, ["dimensions"], id="unknown-dimensions"),
    ],
)
def test_diff(change: dict[str, Any], changes: bool, replaces: list[str]) -> None:
    result = index_provider().diff(INDEX, INPUTS, {**INPUTS, **change})

    assert (result.changes, result.replaces) == (changes, replaces)


def test_a_replacement_under_the_same_name_deletes_the_old_index_first() -> None:
    provider = index_provider()

    assert provider.diff(INDEX, INPUTS, {**INPUTS, "dimensions": 1024}).delete_before_replace is True
    assert provider.diff(INDEX, INPUTS, {**INPUTS, "index_name": "other"}).delete_before_replace is False


@pytest.mark.parametrize(
    ("override", "failed_property"),
    [
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": 1537}, "dimensions"),
        ({"dimensions": 768.5}, "dimensions"),
        ({"dimensions": True}, "dimensions"),
        ({"metric": "manhattan"}, "metric"),
        ({"index_name": ""}, "index_name"),
        ({"index_name": "x" * 65}, "index_name"),
        ({"account_id": None}, "account_id"),
        ({"description": 7}, "description"),
        ({"metadata_indexes": [{"propertyName": "source", "indexType": "date"}]}, "metadata_indexes"),
        ({"metadata_indexes": [METADATA[0], {**METADATA[0], "indexType": "number"}]}, "metadata_indexes"),
        (
            {"metadata_indexes": [{"propertyName": f"p{i}", "indexType": "string"} for i in range(11)]},
            "metadata_indexes",
        ),
        ({"credential_setting": "orchestra:unset"}, "credential_setting"),
    ],
)
def test_check_rejects_malformed_inputs_without_echoing_them(override: dict[str, Any], failed_property: str) -> None:
    failures = index_provider().check({}, {**INPUTS, **override}).failures

    assert [failure.property for failure in failures] == [failed_property]
    assert TOKEN not in failures[0].reason


def test_check_accepts_valid_and_not_yet_known_inputs() -> None:
    provider = index_provider()
    unknowns = {key: Unknown() for key in INPUTS}

    assert provider.check({}, INPUTS).failures == []
    assert provider.check({}, {**INPUTS, "dimensions": 1536.0, "description": None}).failures == []
    assert provider.check({}, unknowns).failures == []


@pulumi.runtime.test
def test_resource_registers_the_setting_not_the_token(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    resource = VectorizeIndex(
        "knowledge",
        ACCOUNT_ID,
        INDEX,
        768,
        "cosine",
        SETTING,
        description=INPUTS["description"],
        metadata_indexes=[("source", "string"), ("chunk", "number")],
    )

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "knowledge"]
        assert request.type == "pulumi-python:dynamic/cloudflare:VectorizeIndex"
        inputs = rpc.deserialize_properties(request.object)
        assert list(request.additionalSecretOutputs) == []
        assert {key: inputs[key] for key in INPUTS} == INPUTS
        # The provider is stored as a reference to its module's class, not as code.
        pickled = base64.b64decode(rpc.unwrap_rpc_secret(inputs["__provider"]))
        names = [arg for op, arg, _ in pickletools.genops(pickled) if op.name == "SHORT_BINUNICODE"]
        assert names == ["components.providers.vectorize_index", "VectorizeIndexProvider"]

    return resource.urn.apply(check)


def test_after_a_rotation_every_command_uses_the_configured_token_never_the_first(cloudflare: FakeCloudflare) -> None:
    with hosted(VectorizeIndexProvider(), URN, {SETTING: TOKEN}) as host:
        id_, state = host.create(host.check({}, props(cloudflare)))
    cloudflare.tokens = {ROTATED}  # the first token is revoked; the stack's setting holds the new one
    after_rotation = len(cloudflare.requests)

    with hosted(VectorizeIndexProvider(), URN, {SETTING: ROTATED}) as host:
        refreshed = host.read(id_, state)
        news = host.check(
            refreshed, props(cloudflare, metadata_indexes=[{"propertyName": "source", "indexType": "string"}])
        )
        diff = host.diff(id_, refreshed, news)
        updated = host.update(id_, refreshed, news)
        assert cloudflare.metadata_indexes[INDEX] == [{"indexType": "string", "propertyName": "source"}]
        host.delete(id_, updated)

    assert refreshed["index_name"] == INDEX
    assert list(diff.replaces) == []
    assert cloudflare.indexes == {}
    assert credentials_sent(cloudflare.requests[after_rotation:]) == {f"Bearer {ROTATED}"}


def test_a_rotated_token_alone_is_no_change() -> None:
    assert index_provider(ROTATED).diff(INDEX, INPUTS, INPUTS).changes is False
