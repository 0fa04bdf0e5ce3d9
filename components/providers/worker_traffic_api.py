"""Cloudflare's side of a worker's rollout: its deployments, its analytics per version, and
`/healthz` of one version reached directly."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from components.http_session import TIMEOUT_SECONDS, ApiError, send

from .cloudflare_api import call
from .provider import ProviderError
from .rollout_gate import Health, Traffic

VERSION_OVERRIDE_HEADER = "Cloudflare-Workers-Version-Overrides"

# Requests and errors per version of one script: the Workers analytics dataset Cloudflare's
# dashboard splits a gradual deployment's traffic with.
_TRAFFIC_QUERY = """
query WorkerVersionTraffic($accountTag: string!, $scriptName: string!, $since: Time!, $until: Time!) {
  viewer {
    accounts(filter: {accountTag: $accountTag}) {
      workersInvocationsAdaptive(
        limit: 100
        filter: {scriptName: $scriptName, datetime_geq: $since, datetime_leq: $until}
      ) {
        sum { requests errors }
        quantiles { wallTimeP99 }
        dimensions { scriptVersion }
      }
    }
  }
}
"""


class CloudflareTraffic:
    """`TrafficApi` over Cloudflare's v4 REST API and its GraphQL analytics API."""

    def __init__(
        self, api_base: str, account_id: str, script_name: str, api_token: str, health_url: str | None
    ) -> None:
        self.api_base = api_base
        self.account_id = account_id
        self.script_name = script_name
        self.api_token = api_token
        self.health_url = health_url

    @property
    def _deployments(self) -> str:
        return f"/accounts/{self.account_id}/workers/scripts/{quote(self.script_name, safe='')}/deployments"

    def deployed(self) -> list[dict[str, object]]:
        """The first deployment Cloudflare lists is the one serving traffic."""
        result = call("GET", self.api_base, self._deployments, self.api_token) or {}
        deployments = result.get("deployments") or []
        if not deployments:
            return []
        return [
            {"version_id": str(entry["version_id"]), "percentage": _percentage(entry["percentage"])}
            for entry in deployments[0].get("versions") or []
        ]

    def deploy(self, versions: list[dict[str, object]], message: str) -> None:
        body = {"strategy": "percentage", "versions": versions, "annotations": {"workers/message": message[:100]}}
        call("POST", self.api_base, self._deployments, self.api_token, body)

    def traffic(self, since: datetime.datetime, until: datetime.datetime) -> Mapping[str, Traffic]:
        variables = {
            "accountTag": self.account_id,
            "scriptName": self.script_name,
            "since": _timestamp(since),
            "until": _timestamp(until),
        }
        url = self.api_base.rstrip("/") + "/graphql"
        try:
            response = send(
                "POST",
                url,
                headers={"Authorization": f"Bearer {self.api_token}"},
                # A query changes nothing: asking again is safe.
                retry_methods=frozenset({"POST"}),
                json_body={"query": _TRAFFIC_QUERY, "variables": variables},
            )
        except ApiError as error:
            raise ProviderError(str(error)) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not response.ok or not isinstance(answer, dict) or answer.get("errors"):
            detail = json.dumps(answer.get("errors"))[:300] if isinstance(answer, dict) else response.text[:200]
            raise ProviderError(
                f"Cloudflare analytics for {self.script_name} failed: HTTP {response.status_code}: {detail}"
            )
        return _per_version(answer)

    def health(self, version_id: str) -> Health:
        if self.health_url is None:
            return Health(True, "no URL serves this worker: traffic alone is watched")
        # One request per attempt, without the API client's retries: the gate paces the attempts.
        try:
            response = requests.get(
                self.health_url,
                headers={VERSION_OVERRIDE_HEADER: f'{self.script_name}="{version_id}"'},
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            return Health(False, f"GET {self.health_url} got no answer: {type(error).__name__}")
        if response.status_code != 200:
            return Health(False, f"HTTP {response.status_code}: {response.text[:200]!r}")
        return Health(True, "HTTP 200")


def _per_version(answer: dict[str, Any]) -> dict[str, Traffic]:
    accounts = ((answer.get("data") or {}).get("viewer") or {}).get("accounts") or []
    totals: dict[str, Traffic] = {}
    for account in accounts:
        for row in account.get("workersInvocationsAdaptive") or []:
            version = str((row.get("dimensions") or {}).get("scriptVersion") or "")
            sums = row.get("sum") or {}
            seen = totals.get(version, Traffic(0, 0))
            totals[version] = Traffic(
                seen.requests + int(sums.get("requests") or 0),
                seen.errors + int(sums.get("errors") or 0),
                _slowest(seen.p99_ms, (row.get("quantiles") or {}).get("wallTimeP99")),
            )
    return totals


def _slowest(known: float | None, wall_time_us: Any) -> float | None:
    """Wall time is in microseconds; of several rows' percentiles, the highest stands for them all."""
    if not isinstance(wall_time_us, int | float):
        return known
    milliseconds = float(wall_time_us) / 1000
    return milliseconds if known is None else max(known, milliseconds)


def _percentage(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
