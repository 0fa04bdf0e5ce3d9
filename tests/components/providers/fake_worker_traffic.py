"""A local stand-in for Cloudflare's worker deployments, its Workers analytics GraphQL API, and the
worker itself behind the version-override header.

It holds the rules Cloudflare holds: a deployment has one or two versions, of the percentage
strategy, whose percentages sum to 100, each an uploaded version of that script. Traffic is
simulated from the deployment history: `requests_per_second` arrive, split by the shares of the
deployment serving at each moment, and each version fails the share of them its `error_rate` says;
the analytics answer sums exactly that over the window asked.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from typing import Any

from components.providers.rollout_gate import Clock, WallClock
from tests.components.cloudflare.support import ACCOUNT_ID, TOKEN, failure, success
from tests.components.dynamic_provider_support import FakeApi, RecordedRequest, Reply

_DEPLOYMENTS = re.compile(rf"/client/v4/accounts/{ACCOUNT_ID}/workers/scripts/([^/]+)/deployments")
_HEALTH = re.compile(r"/workers/([^/]+)/healthz")
_OVERRIDE = re.compile(r'^([a-z0-9-]+)="([0-9a-f-]+)"$')


@dataclass
class Version:
    error_rate: float = 0.0
    healthy: bool = True
    wall_time_ms: float = 12.0
    """Every request's wall time: the analytics' 99th percentile of it."""


@dataclass
class Deployed:
    at: datetime.datetime
    versions: list[dict[str, Any]]


@dataclass
class FakeScript:
    versions: dict[str, Version] = field(default_factory=dict)
    history: list[Deployed] = field(default_factory=list)


class FakeWorkerTraffic(FakeApi):
    def __init__(
        self, requests_per_second: float = 100.0, clock: Clock | None = None, analytics_delay_seconds: float = 0.0
    ) -> None:
        super().__init__()
        self.requests_per_second = requests_per_second
        self.clock = clock or WallClock()
        self.analytics_delay = datetime.timedelta(seconds=analytics_delay_seconds)
        """How long a request takes to show in the analytics: a window's answer stops that long ago."""
        self.scripts: dict[str, FakeScript] = {}

    def upload(
        self, script: str, version_id: str, error_rate: float = 0.0, healthy: bool = True, wall_time_ms: float = 12.0
    ) -> None:
        self.scripts.setdefault(script, FakeScript()).versions[version_id] = Version(error_rate, healthy, wall_time_ms)

    def deploy_now(self, script: str, versions: list[dict[str, Any]]) -> None:
        self.scripts[script].history.append(Deployed(self.clock.now(), versions))

    def live(self, script: str) -> list[dict[str, Any]]:
        history = self.scripts[script].history
        return history[-1].versions if history else []

    def answer(self, request: RecordedRequest) -> Reply:
        health = _HEALTH.fullmatch(request.path)
        if health and request.method == "GET":
            return self.health(health.group(1), request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(403, failure(10000, "Authentication error"))
        deployments = _DEPLOYMENTS.fullmatch(request.path)
        if deployments and deployments.group(1) in self.scripts:
            script = deployments.group(1)
            if request.method == "GET":
                return Reply(200, success({"deployments": self.listed(script)}))
            if request.method == "POST":
                return self.create_deployment(script, request.json())
        if request.path == "/client/v4/graphql" and request.method == "POST":
            return self.graphql(request.json())
        return Reply(404, failure(10007, "Not found"))

    def listed(self, script: str) -> list[dict[str, Any]]:
        """Newest first, as Cloudflare lists them: the first one serves traffic."""
        return [
            {"id": f"deployment-{index}", "strategy": "percentage", "versions": deployed.versions}
            for index, deployed in reversed(list(enumerate(self.scripts[script].history)))
        ]

    def create_deployment(self, script: str, body: dict[str, Any]) -> Reply:
        versions = body.get("versions")
        if body.get("strategy") != "percentage" or not isinstance(versions, list):
            return Reply(400, failure(10021, "strategy must be percentage, with versions"))
        if not 1 <= len(versions) <= 2:
            return Reply(400, failure(10022, "A deployment has one or two versions"))
        ids = [entry.get("version_id") for entry in versions]
        unknown = [id_ for id_ in ids if id_ not in self.scripts[script].versions]
        if unknown or len(set(ids)) != len(ids):
            return Reply(400, failure(10023, f"No such version, or a version twice: {ids}"))
        if sum(float(entry.get("percentage", 0)) for entry in versions) != 100:
            return Reply(400, failure(10024, "Percentages must sum to 100"))
        self.deploy_now(
            script, [{"version_id": entry["version_id"], "percentage": entry["percentage"]} for entry in versions]
        )
        return Reply(200, success({"id": f"deployment-{len(self.scripts[script].history)}"}))

    def health(self, script: str, request: RecordedRequest) -> Reply:
        override = _OVERRIDE.fullmatch(request.headers.get("cloudflare-workers-version-overrides", ""))
        if not override or override.group(1) != script:
            return Reply(400, {"error": "expected the version-override header for this script"})
        version = self.scripts[script].versions.get(override.group(2))
        if version is None:
            return Reply(400, {"error": "no such version"})
        return Reply(200, {"ok": True}) if version.healthy else Reply(503, {"ok": False, "failed": ["db"]})

    def graphql(self, body: dict[str, Any]) -> Reply:
        variables = body.get("variables") or {}
        query = body.get("query") or ""
        if any(field not in query for field in ("workersInvocationsAdaptive", "scriptVersion", "wallTimeP99")):
            return Reply(200, {"data": None, "errors": [{"message": "unknown query"}]})
        if variables.get("accountTag") != ACCOUNT_ID or variables.get("scriptName") not in self.scripts:
            return Reply(200, {"data": {"viewer": {"accounts": []}}, "errors": None})
        since = _parse(variables["since"])
        until = min(_parse(variables["until"]), self.clock.now() - self.analytics_delay)
        served = self.served(variables["scriptName"], since, until)
        versions = self.scripts[variables["scriptName"]].versions
        rows = [
            {
                "sum": {"requests": requests, "errors": errors},
                # In microseconds, as Cloudflare gives it.
                "quantiles": {"wallTimeP99": versions[version].wall_time_ms * 1000},
                "dimensions": {"scriptVersion": version},
            }
            for version, (requests, errors) in sorted(served.items())
        ]
        return Reply(200, {"data": {"viewer": {"accounts": [{"workersInvocationsAdaptive": rows}]}}, "errors": None})

    def served(self, script: str, since: datetime.datetime, until: datetime.datetime) -> dict[str, tuple[int, int]]:
        """Requests and errors per version between `since` and `until`, from the deployment history."""
        fake = self.scripts[script]
        totals: dict[str, list[float]] = {}
        for index, deployed in enumerate(fake.history):
            end = fake.history[index + 1].at if index + 1 < len(fake.history) else self.clock.now()
            start, stop = max(deployed.at, since), min(end, until + datetime.timedelta(seconds=1))
            seconds = (stop - start).total_seconds()
            if seconds <= 0:
                continue
            for entry in deployed.versions:
                requests = self.requests_per_second * seconds * float(entry["percentage"]) / 100
                total = totals.setdefault(entry["version_id"], [0.0, 0.0])
                total[0] += requests
                total[1] += requests * fake.versions[entry["version_id"]].error_rate
        return {version: (int(requests), int(errors)) for version, (requests, errors) in totals.items()}

    def deployment_bodies(self) -> list[Any]:
        return [
            json.loads(request.body)
            for request in self.requests
            if request.method == "POST" and "deployments" in request.path
        ]


def _parse(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
