"""A worker's gradual rollout: the new version takes its share, the gate watches it, then all or nothing.

The gate judges the new version by what it serves: its `/healthz` reached
directly (the version-override header, before and apart from user traffic)
and its requests and errors in the Workers analytics over the bake window.
It looks every `poll_seconds`, so a version that fails is rolled back at the
first look that shows it, not at the end of the window. A rollback puts
every request back on the previous version in one deployment and raises
`RolloutFailed` with the figure that failed.

The clock and the API are arguments, so the same code runs inside `pulumi up`
(the wall clock, Cloudflare's API) and in the benchmark (a virtual clock and
simulated traffic).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

HEALTH_ATTEMPTS = 3
"""A version just uploaded can take a few seconds to be served everywhere."""


@dataclass(frozen=True)
class Traffic:
    requests: int
    errors: int
    p99_ms: float | None = None
    """The 99th percentile of the requests' latency; None when the figures give none."""
    latency: str = "wall time"
    """What the latency measures: a worker's wall time, a Lambda's duration."""

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def figures(self) -> str:
        """What the version served, as the deploy's summary shows it."""
        latency = "" if self.p99_ms is None else f", p99 {self.latency} {self.p99_ms:.0f} ms"
        return f"{self.requests} requests, {self.errors} errors ({self.error_rate:.1%}){latency}"


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    """What the probe saw: the status and, when it failed, why."""


class Clock(Protocol):
    def now(self) -> datetime.datetime:
        """The current UTC time, which the analytics are filtered by."""
        ...

    def sleep(self, seconds: float) -> None: ...


class TrafficApi(Protocol):
    """What the rollout asks of Cloudflare."""

    def deployed(self) -> list[dict[str, object]]:
        """The versions of the deployment serving traffic now, `[{version_id, percentage}]`; [] for none."""
        ...

    def deploy(self, versions: list[dict[str, object]], message: str) -> None:
        """A new deployment of these versions, whose percentages sum to 100."""
        ...

    def traffic(self, since: datetime.datetime, until: datetime.datetime) -> Mapping[str, Traffic]:
        """Requests and errors per version id in the window."""
        ...

    def health(self, version_id: str) -> Health:
        """`/healthz` of that version, reached directly."""
        ...


class WallClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class RolloutFailed(Exception):
    """The gate refused the new version; every request is back on the previous one."""


@dataclass(frozen=True)
class Plan:
    version_id: str
    canary_percentage: int
    """The new version's share while the gate watches it; 100 deploys it at once."""
    bake_seconds: float
    poll_seconds: float
    max_error_rate: float
    """The highest share of the new version's requests that may fail; above it, the rollback."""
    min_requests: int
    """Requests the new version must have served before its error rate is judged; fewer is no verdict yet."""
    all_at_once_reason: str = ""
    """Why this version cannot be deployed gradually; empty when it can."""
    script: str = ""


def only(version_id: str) -> list[dict[str, object]]:
    return [{"version_id": version_id, "percentage": 100}]


def previous_version(deployed: list[dict[str, object]], version_id: str) -> str | None:
    """The version serving most of the traffic now, unless it is the new one."""
    others = [entry for entry in deployed if entry.get("version_id") != version_id]
    if not others:
        return None
    return str(max(others, key=lambda entry: float(str(entry.get("percentage", 0))))["version_id"])


def roll_out(plan: Plan, api: TrafficApi, clock: Clock) -> str:
    """Deploys `plan.version_id` to all traffic, through its canary share and the gate when it can be;
    returns how it went, one line. Raises `RolloutFailed` after a rollback."""
    deployed = api.deployed()
    previous = previous_version(deployed, plan.version_id)
    if deployed == only(plan.version_id):
        return f"worker {plan.script}: version {plan.version_id} already serves all traffic"
    if previous is None or plan.canary_percentage >= 100 or plan.all_at_once_reason:
        why = plan.all_at_once_reason or ("no version serves traffic yet" if previous is None else "no canary set")
        api.deploy(only(plan.version_id), f"all at once: {why}")
        return f"worker {plan.script}: version {plan.version_id} deployed at once ({why})"
    split = [
        {"version_id": plan.version_id, "percentage": plan.canary_percentage},
        {"version_id": previous, "percentage": 100 - plan.canary_percentage},
    ]
    api.deploy(split, f"canary {plan.canary_percentage}% for {plan.bake_seconds:g} s")
    started = clock.now()
    failure = _failed_health(plan, api, clock)
    seen = None
    if failure is None:
        failure, seen = _failed_traffic(plan, api, clock, started)
    if failure:
        api.deploy(only(previous), f"rolled back: {failure}")
        raise RolloutFailed(
            f"worker {plan.script}: version {plan.version_id} rolled back to {previous}, all traffic: {failure}"
        )
    api.deploy(only(plan.version_id), "promoted: the gate passed")
    served = f": {seen.figures()}" if seen is not None else ""
    return (
        f"worker {plan.script}: version {plan.version_id} promoted after {plan.canary_percentage}% "
        f"for {plan.bake_seconds:g} s{served}"
    )


def _failed_health(plan: Plan, api: TrafficApi, clock: Clock) -> str | None:
    health = api.health(plan.version_id)
    for _ in range(HEALTH_ATTEMPTS - 1):
        if health.ok:
            return None
        clock.sleep(plan.poll_seconds)
        health = api.health(plan.version_id)
    return None if health.ok else f"/healthz of the new version failed {HEALTH_ATTEMPTS} times: {health.detail}"


def _failed_traffic(
    plan: Plan, api: TrafficApi, clock: Clock, started: datetime.datetime
) -> tuple[str | None, Traffic]:
    """Looks every `poll_seconds` until the window ends; the first look over the limit fails it.
    Returns why it failed (None when it passed) and what the version had served by the last look."""
    deadline = started + datetime.timedelta(seconds=plan.bake_seconds)
    while True:
        now = min(clock.now(), deadline)
        seen = api.traffic(started, now).get(plan.version_id, Traffic(0, 0))
        if seen.requests >= plan.min_requests and seen.error_rate > plan.max_error_rate:
            latency = "" if seen.p99_ms is None else f"; p99 {seen.latency} {seen.p99_ms:.0f} ms"
            return (
                f"{seen.errors} errors in {seen.requests} requests ({seen.error_rate:.1%}) within "
                f"{(now - started).total_seconds():.0f} s, above the {plan.max_error_rate:.1%} allowed{latency}"
            ), seen
        if now >= deadline:
            return None, seen
        clock.sleep(max(0.0, min(plan.poll_seconds, (deadline - clock.now()).total_seconds())))
