"""The runs table: recording queued runs exactly once, and reading them back.

Schema (built by the infrastructure): hash key ``run_id``; TTL on ``expires_at``;
GSI ``recent_runs`` keyed by ``run_month`` (``YYYY-MM``) and ``created_at`` (ISO-8601 UTC).
"""

import functools
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

Source = Literal["discord", "github"]

RECENT_RUNS_INDEX = "recent_runs"
DEFAULT_TTL_DAYS = 90


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    source: str
    repository: str
    issue: int
    requested_by: str
    created_at: str


def run_id_for(source: Source, request_key: str) -> str:
    """A run id that is the same every time the same request arrives, so retries collide.

    ``request_key`` is the GitHub delivery id or the Discord interaction id. Hashing gives
    ids of one short, safe shape; 64 bits make a collision between different requests
    negligible at this table's scale.
    """
    digest = hashlib.sha256(f"{source}:{request_key}".encode()).hexdigest()
    return f"{source}-{digest[:16]}"


class RunStore:
    def __init__(self, table: Any, ttl_days: int) -> None:
        self._table = table
        self._ttl = timedelta(days=ttl_days)

    @classmethod
    def from_environment(cls) -> "RunStore":
        """The store named by ``RUNS_TABLE_NAME``, keeping runs for ``RUN_TTL_DAYS`` (default 90)."""
        ttl_setting = os.environ.get("RUN_TTL_DAYS", str(DEFAULT_TTL_DAYS))
        if not ttl_setting.isdecimal() or int(ttl_setting) < 1:
            raise ValueError(f"RUN_TTL_DAYS must be a whole number of days >= 1, got {ttl_setting!r}")
        return cls(_dynamodb().Table(os.environ["RUNS_TABLE_NAME"]), int(ttl_setting))

    def create_run(
        self,
        *,
        run_id: str,
        source: Source,
        repository: str,
        issue: int,
        requested_by: str,
        now: datetime,
        delivery_id: str | None = None,
    ) -> bool:
        """Record a queued run; False, writing nothing, if ``run_id`` is already recorded."""
        item: dict[str, Any] = {
            "run_id": run_id,
            "run_month": _month(now),
            "created_at": _timestamp(now),
            "expires_at": int((now + self._ttl).timestamp()),
            "status": "queued",
            "source": source,
            "repository": repository,
            "issue": issue,
            "requested_by": requested_by,
        }
        if delivery_id is not None:
            item["delivery_id"] = delivery_id
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(run_id)")
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get_run(self, run_id: str) -> Run | None:
        item = self._table.get_item(Key={"run_id": run_id}).get("Item")
        return None if item is None else _run(item)

    def recent_runs(self, now: datetime, limit: int = 5) -> list[Run]:
        """The newest runs, newest first, from this month and, if it has too few, the previous one."""
        runs: list[Run] = []
        this_month = now.astimezone(UTC).replace(day=1)
        for month in (this_month, this_month - timedelta(days=1)):
            response = self._table.query(
                IndexName=RECENT_RUNS_INDEX,
                KeyConditionExpression=Key("run_month").eq(_month(month)),
                ScanIndexForward=False,
                Limit=limit - len(runs),
            )
            runs.extend(_run(item) for item in response["Items"])
            if len(runs) == limit:
                break
        return runs


@functools.cache
def _dynamodb() -> Any:
    # One resource for the container's life: creating one costs tens of ms.
    return boto3.resource("dynamodb")


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _timestamp(moment: datetime) -> str:
    # One fixed width and zone, so that string order in the index is time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _run(item: dict[str, Any]) -> Run:
    return Run(
        run_id=item["run_id"],
        status=item["status"],
        source=item["source"],
        repository=item["repository"],
        # DynamoDB numbers come back as Decimal.
        issue=int(item["issue"]),
        requested_by=item["requested_by"],
        created_at=item["created_at"],
    )
