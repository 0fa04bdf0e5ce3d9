from __future__ import annotations

import base64
import pickletools
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.cloudflare.cloudflare_api import CLOUDFLARE_API_BASE, CloudflareApiError
from components.cloudflare.vectorize_index import VectorizeIndex, VectorizeIndexProvider
from tests.components.cloudflare.support import (
    ACCOUNT_ID,
    TOKEN,
    FakeCloudflare,
    RecordedRequest,
    Reply,
    failure,
)
from tests.components.dynamic_provider_support import HostedProvider, RecordingMonitor, provider_host, rotate

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
    "api_token": TOKEN,
}

ROTATED = "cf-rotated-api-token"


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

    result = VectorizeIndexProvider().create(inputs)

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
    result = VectorizeIndexProvider().create(props(cloudflare, description=None, metadata_indexes=[]))

    [create] = cloudflare.requests
    assert_request(create, "POST", INDEXES_PATH, {"name": INDEX, "config": {"dimensions": 768, "metric": "cosine"}})
    assert (result.outs or {})["description"] is None


def test_a_failed_metadata_index_removes_the_new_index_so_a_retry_starts_clean(cloudflare: FakeCloudflare) -> None:
    cloudflare.scripted.extend([None, Reply(400, failure(3001, "vectorize.metadata_index.invalid"))])

    with pytest.raises(CloudflareApiError, match=r"\[3001\] vectorize.metadata_index.invalid"):
        VectorizeIndexProvider().create(props(cloudflare))

    assert_request(cloudflare.requests[-1], "DELETE", INDEX_PATH)
    assert cloudflare.indexes == {}
    assert VectorizeIndexProvider().create(props(cloudflare)).id == INDEX


def test_read_returns_the_live_configuration(cloudflare: FakeCloudflare) -> None:
    provider = VectorizeIndexProvider()
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
    provider = VectorizeIndexProvider()
    outs = provider.create(props(cloudflare)).outs or {}
    del cloudflare.indexes[INDEX]

    read = provider.read(INDEX, outs)

    assert (read.id, read.outs) == (None, {})


def test_update_converges_the_metadata_indexes(cloudflare: FakeCloudflare) -> None:
    provider = VectorizeIndexProvider()
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
    provider = VectorizeIndexProvider()
    outs = provider.create(props(cloudflare)).outs or {}

    provider.delete(INDEX, outs)

    assert_request(cloudflare.requests[-1], "DELETE", INDEX_PATH)
    assert cloudflare.indexes == {}


def test_delete_of_an_index_that_is_gone_succeeds(cloudflare: FakeCloudflare) -> None:
    VectorizeIndexProvider().delete(INDEX, props(cloudflare))

    assert len(cloudflare.requests) == 1


def test_rate_limits_and_server_errors_are_retried(cloudflare: FakeCloudflare, sleeps: list[float]) -> None:
    cloudflare.scripted.extend(
        [
            Reply(429, failure(971, "Please wait and consider throttling your request speed"), {"Retry-After": "2"}),
            Reply(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}),
        ]
    )

    result = VectorizeIndexProvider().create(props(cloudflare, metadata_indexes=[]))

    assert [request.method for request in cloudflare.requests] == ["POST"] * 3
    assert_request(cloudflare.requests[2], "POST", INDEXES_PATH, cloudflare.requests[0].json())
    # Retry-After as Cloudflare asked, then exponential backoff.
    assert sleeps == [2, 1.0]
    assert result.id == INDEX


def test_an_api_error_shows_cloudflares_message_never_the_token(cloudflare: FakeCloudflare) -> None:
    VectorizeIndexProvider().create(props(cloudflare))

    with pytest.raises(CloudflareApiError) as failed:
        VectorizeIndexProvider().create(props(cloudflare))

    message = str(failed.value)
    assert message == f"Cloudflare POST {INDEXES_PATH.removeprefix('/client/v4')} failed: " + (
        "HTTP 409 Conflict: [3002] vectorize.index.duplicate_name"
    )
    assert failed.value.status == 409
    assert TOKEN not in repr(failed.value.args)


def test_a_refused_token_fails_at_once(cloudflare: FakeCloudflare) -> None:
    with pytest.raises(CloudflareApiError, match=r"HTTP 403 Forbidden: \[10000\] Authentication error"):
        VectorizeIndexProvider().read(INDEX, props(cloudflare, api_token="revoked-token"))

    assert len(cloudflare.requests) == 1


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        pytest.param({}, False, [], id="unchanged"),
        pytest.param({"api_token": "rotated"}, True, [], id="token-only-is-an-update"),
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
    result = VectorizeIndexProvider().diff(INDEX, INPUTS, {**INPUTS, **change})

    assert (result.changes, result.replaces) == (changes, replaces)


def test_a_replacement_under_the_same_name_deletes_the_old_index_first() -> None:
    provider = VectorizeIndexProvider()

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
        ({"api_token": f"{TOKEN} "}, "api_token"),
    ],
)
def test_check_rejects_malformed_inputs_without_echoing_them(override: dict[str, Any], failed_property: str) -> None:
    failures = VectorizeIndexProvider().check({}, {**INPUTS, **override}).failures

    assert [failure.property for failure in failures] == [failed_property]
    assert TOKEN not in failures[0].reason


def test_check_accepts_valid_and_not_yet_known_inputs() -> None:
    provider = VectorizeIndexProvider()
    unknowns = {key: Unknown() for key in INPUTS}

    assert provider.check({}, INPUTS).failures == []
    assert provider.check({}, {**INPUTS, "dimensions": 1536.0, "description": None}).failures == []
    assert provider.check({}, unknowns).failures == []


@pulumi.runtime.test
def test_resource_registers_the_token_as_a_secret(monitor: RecordingMonitor) -> pulumi.Output[Any]:
    resource = VectorizeIndex(
        "knowledge",
        ACCOUNT_ID,
        INDEX,
        768,
        "cosine",
        TOKEN,
        description=INPUTS["description"],
        metadata_indexes=[("source", "string"), ("chunk", "number")],
    )

    def check(_: Any) -> None:
        [request] = [r for r in monitor.registrations if r.name == "knowledge"]
        assert request.type == "pulumi-python:dynamic/cloudflare:VectorizeIndex"
        inputs = rpc.deserialize_properties(request.object)
        assert rpc.is_rpc_secret(inputs["api_token"])
        assert rpc.unwrap_rpc_secret(inputs["api_token"]) == TOKEN
        assert list(request.additionalSecretOutputs) == ["api_token"]
        assert {key: inputs[key] for key in INPUTS if key != "api_token"} == {
            key: value for key, value in INPUTS.items() if key != "api_token"
        }
        # The provider is stored as a reference to its module's class, not as code.
        pickled = base64.b64decode(rpc.unwrap_rpc_secret(inputs["__provider"]))
        names = [arg for op, arg, _ in pickletools.genops(pickled) if op.name == "SHORT_BINUNICODE"]
        assert names == ["components.cloudflare.vectorize_index", "VectorizeIndexProvider"]

    return resource.urn.apply(check)


def test_a_rotated_token_is_stored_by_an_update_and_used_by_delete(cloudflare: FakeCloudflare) -> None:
    cloudflare.tokens.add(ROTATED)
    with provider_host() as stub:
        host = HostedProvider(
            stub,
            VectorizeIndexProvider(),
            "urn:pulumi:dev::orchestra::pulumi-python:dynamic/cloudflare:VectorizeIndex::knowledge",
        )
        id_, state = rotate(host, props(cloudflare), props(cloudflare, api_token=ROTATED))
        cloudflare.tokens.remove(TOKEN)  # revoked once the update stored the new one
        assert state["api_token"] == ROTATED
        host.read(id_, state)
        host.delete(id_, state)

    assert cloudflare.indexes == {}
    delete = cloudflare.requests[-1]
    assert (delete.method, delete.path) == ("DELETE", INDEX_PATH)
    assert delete.headers["authorization"] == f"Bearer {ROTATED}"
