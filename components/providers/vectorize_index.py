"""A Cloudflare Vectorize index, managed by a Pulumi dynamic provider over the Vectorize v2 API.

Vectorize fixes an index's name, dimensions, metric and description when it
is created and has no call to change them, so changing any of them replaces
the index (and empties it: the vectors must be loaded again). Its metadata
indexes, which make vector metadata filterable, are created and deleted in
place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

from pulumi import Input, Output, ResourceOptions
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from .cloudflare_api import CLOUDFLARE_API_BASE, call
from .provider import CREDENTIAL_SETTING, ConfiguredProvider, ProviderError, changed, is_known

Metric = Literal["cosine", "euclidean", "dot-product"]
MetadataIndexType = Literal["string", "number", "boolean"]

METRICS: tuple[Metric, ...] = ("cosine", "euclidean", "dot-product")
METADATA_INDEX_TYPES: tuple[MetadataIndexType, ...] = ("string", "number", "boolean")
# Vectorize's documented limits (developers.cloudflare.com/vectorize/platform/limits/).
MAX_DIMENSIONS = 1536
MAX_METADATA_INDEXES = 10
MAX_INDEX_NAME_BYTES = 64

_SET_AT_CREATION = ("account_id", "index_name", "dimensions", "metric", "description")


class VectorizeIndexProvider(ConfiguredProvider):
    """CRUD for one index and its metadata indexes."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [*_check_failures(news), *self.credential_failures(news)])

    def create(self, props: dict[str, Any]) -> CreateResult:
        config = {"dimensions": int(props["dimensions"]), "metric": props["metric"]}
        description = {"description": props["description"]} if props.get("description") else {}
        self._call("POST", props, "", {"name": props["index_name"], **description, "config": config})
        try:
            self._converge_metadata_indexes(props, live=[])
        except ProviderError:
            # A Python dynamic provider cannot record a half-made resource: remove
            # the index so the next attempt does not find its name taken.
            self._call("DELETE", props, _index_path(props))
            raise
        return CreateResult(str(props["index_name"]), _outputs(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed(_set_at_creation(olds), _set_at_creation(news), _SET_AT_CREATION)
        changes = (
            bool(replaces)
            or bool(changed(olds, news, ["api_base", CREDENTIAL_SETTING]))
            or _as_set(olds.get("metadata_indexes")) != _as_set(news.get("metadata_indexes"))
        )
        # Under the same name the old index must go first: names are unique per account.
        return DiffResult(
            changes=changes, replaces=replaces, delete_before_replace=bool(replaces) and "index_name" not in replaces
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._converge_metadata_indexes(news, live=self._live_metadata_indexes(news))
        return UpdateResult(_outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        # Refresh records what Vectorize holds; diff then compares it with the desired index.
        try:
            live = self._call("GET", props, _index_path(props))
        except ProviderError as error:
            if error.status == 404:
                return ReadResult(None, {})  # deleted outside Pulumi: refresh drops it from the state
            raise
        return ReadResult(
            id_,
            {
                **props,
                "index_name": live["name"],
                "dimensions": live["config"]["dimensions"],
                "metric": live["config"]["metric"],
                "description": live.get("description") or None,
                "metadata_indexes": self._live_metadata_indexes(props),
            },
        )

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            self._call("DELETE", props, _index_path(props))
        except ProviderError as error:
            if error.status != 404:  # already gone is what delete wanted
                raise

    def _converge_metadata_indexes(self, props: Mapping[str, Any], live: list[dict[str, str]]) -> None:
        """Deletes the live metadata indexes not desired, then creates the desired ones missing.
        Deleting first lets a property change type, and keeps within the limit of ten."""
        desired = _metadata_indexes(props.get("metadata_indexes"))
        path = _index_path(props)
        for index in live:
            if index not in desired:
                self._call("POST", props, f"{path}/metadata_index/delete", {"propertyName": index["propertyName"]})
        for index in desired:
            if index not in live:
                self._call("POST", props, f"{path}/metadata_index/create", index)

    def _live_metadata_indexes(self, props: Mapping[str, Any]) -> list[dict[str, str]]:
        listing = self._call("GET", props, f"{_index_path(props)}/metadata_index/list") or {}
        return _metadata_indexes(listing.get("metadataIndexes"))

    def _call(self, method: str, props: Mapping[str, Any], subpath: str, body: Any = None) -> Any:
        path = f"/accounts/{props['account_id']}/vectorize/v2/indexes{subpath}"
        return call(method, str(props["api_base"]), path, self.credential(props), body)


class VectorizeIndex(Resource, module="cloudflare", name="VectorizeIndex"):
    """A Vectorize index of `dimensions`-long vectors compared by `metric`, with exactly
    the given metadata indexes (others, made by hand, are removed)."""

    index_name: Output[str]
    dimensions: Output[int]
    metric: Output[str]
    description: Output[str | None]
    metadata_indexes: Output[list[dict[str, str]]]
    """`{"propertyName", "indexType"}` of each metadata index, as Vectorize spells them."""

    def __init__(
        self,
        name: str,
        account_id: Input[str],
        index_name: Input[str],
        dimensions: Input[int],
        metric: Input[Metric],
        credential_setting: str,
        opts: ResourceOptions | None = None,
        *,
        description: Input[str] | None = None,
        metadata_indexes: Sequence[tuple[str, MetadataIndexType]] = (),
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting (`<namespace>:<key>`) holding the API
        token. `metadata_indexes` are `(property_name, type)` pairs. Changing `index_name`,
        `dimensions`, `metric` or `description` replaces the index. `api_base` is
        Cloudflare's API root; tests point it at a local server."""
        super().__init__(
            VectorizeIndexProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "index_name": index_name,
                "dimensions": dimensions,
                "metric": metric,
                "description": description,
                "metadata_indexes": [
                    {"propertyName": property_name, "indexType": index_type}
                    for property_name, index_type in metadata_indexes
                ],
                CREDENTIAL_SETTING: credential_setting,
            },
            opts,
        )


def _index_path(props: Mapping[str, Any]) -> str:
    return "/" + quote(str(props["index_name"]), safe="")


def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "api_base": props["api_base"],
        "account_id": props["account_id"],
        "index_name": props["index_name"],
        "dimensions": int(props["dimensions"]),
        "metric": props["metric"],
        "description": props.get("description") or None,
        "metadata_indexes": _metadata_indexes(props.get("metadata_indexes")),
        CREDENTIAL_SETTING: props[CREDENTIAL_SETTING],
    }


def _set_at_creation(props: Mapping[str, Any]) -> dict[str, Any]:
    # Vectorize may answer an index made without a description with an empty one.
    return {**{key: props.get(key) for key in _SET_AT_CREATION}, "description": props.get("description") or None}


def _metadata_indexes(value: Any) -> list[dict[str, str]]:
    """Only the two fields that define a metadata index, in Vectorize's spelling."""
    return [{"propertyName": index["propertyName"], "indexType": index["indexType"]} for index in value or []]


def _as_set(value: Any) -> set[tuple[str, str]]:
    return {(index["propertyName"], index["indexType"]) for index in _metadata_indexes(value)}


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    # Values still unknown (computed later in a preview) are checked at update.
    failures: list[CheckFailure] = []

    def known(key: str) -> bool:
        return is_known(news.get(key))

    account_id, index_name = news.get("account_id"), news.get("index_name")
    if known("account_id") and not (isinstance(account_id, str) and account_id):
        failures.append(CheckFailure("account_id", "must be a non-empty string"))
    if known("index_name") and not (
        isinstance(index_name, str) and 0 < len(index_name.encode()) <= MAX_INDEX_NAME_BYTES
    ):
        failures.append(CheckFailure("index_name", f"must be a name of 1 to {MAX_INDEX_NAME_BYTES} bytes"))
    dimensions = news.get("dimensions")
    # Pulumi carries every number as a double, so 768 arrives as 768.0.
    if known("dimensions") and not (
        isinstance(dimensions, int | float)
        and not isinstance(dimensions, bool)
        and float(dimensions).is_integer()
        and 1 <= dimensions <= MAX_DIMENSIONS
    ):
        failures.append(CheckFailure("dimensions", f"must be a whole number from 1 to {MAX_DIMENSIONS}"))
    if known("metric") and news.get("metric") not in METRICS:
        failures.append(CheckFailure("metric", f"must be one of {', '.join(METRICS)}"))
    description = news.get("description")
    if known("description") and not (description is None or isinstance(description, str)):
        failures.append(CheckFailure("description", "must be a string"))
    if known("metadata_indexes") and not _valid_metadata_indexes(news.get("metadata_indexes")):
        failures.append(
            CheckFailure(
                "metadata_indexes",
                f"must be at most {MAX_METADATA_INDEXES} distinct property names, each typed "
                + ", ".join(METADATA_INDEX_TYPES),
            )
        )
    return failures


def _valid_metadata_indexes(value: Any) -> bool:
    if not isinstance(value, list) or len(value) > MAX_METADATA_INDEXES:
        return False
    names = [index.get("propertyName") if isinstance(index, dict) else None for index in value]
    return (
        all(isinstance(name, str) and name for name in names)
        and all(index.get("indexType") in METADATA_INDEX_TYPES for index in value)
        and len(set(names)) == len(names)
    )
