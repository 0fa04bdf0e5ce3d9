"""A Lambda alias that moves to each new version in steps, gated by the new version's alarms.

This resource owns the alias: it creates it, and on each new version (the function publishes one
per change, so its `version` output is what changes) its update runs the shift inside
`pulumi up`:
1. the pre-traffic checks invoke the new version directly, before any user request reaches it;
2. each step routes a share of the alias's requests to the new version (`AdditionalVersionWeights`)
   and bakes, polling the new version's alarms and its log streams' ERROR records (seconds old,
   where Lambda's metrics come in whole minutes);
3. then the alias points at the new version alone, and the provider's info line says what the
   version served in each step (`lambda_traffic`: invocations, errors, p99 duration).
An alarm in ALARM, or a failed check, puts the alias back on the old version alone and fails the
update, with what the version served in that step, so `pulumi up` fails and the state keeps the
old version: the next `pulumi up` finds the function's version still differing and runs the shift
again, with whatever version it then has. The figures only inform: when CloudWatch cannot be read,
the line says so and the rollout goes on as the gate decides.

Refresh reads the alias (`GetAlias`), so a version promoted or aborted by hand is what the state
holds afterwards, and a shift interrupted half-way (routing left on) shows as a change the next
update clears: it always starts from the alias as it is, never from the state.

AWS credentials are the deploy's own, from the environment the Pulumi CLI runs in (the same
that the AWS provider uses); this resource stores none.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pulumi import Input, Output, ResourceOptions, log
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from .lambda_traffic import served
from .provider import ProviderError, changed, is_known

_IDENTITY = ("region", "function_name", "alias_name")
_SETTINGS = ("steps", "alarm_names", "error_log", "checks", "poll_seconds")
# Lambda names a log stream `<UTC date>/[<version>]<environment id>`. In the JSON log format the
# handlers log at `level` ERROR; the runtime writes an unhandled error with `level`, or `log_level`
# before awslambdaric 4.0.4 (aws-lambda-python-runtime-interface-client#202).
_ERROR_RECORDS = '{ $.level = "ERROR" || $.log_level = "ERROR" }'
NOW_PLACEHOLDER = "{now}"
"""In a check's event, replaced by the current Unix time when the check runs (signed timestamps)."""


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


ClientFactory = Callable[[str, str], Any]
"""(service, region) → a boto3 client."""


def boto3_client(service: str, region: str) -> Any:
    import boto3  # imported when a deploy runs a rollout, not when the program is evaluated

    return boto3.client(service, region_name=region)


class LambdaRolloutProvider(ResourceProvider):
    def __init__(self, client: ClientFactory = boto3_client, clock: Clock | None = None) -> None:
        self._client = client
        self._clock = clock or SystemClock()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, _check_failures(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = changed(olds, news, _IDENTITY)
        interrupted = bool(olds.get("additional_version_weights"))
        updates = changed(olds, news, ("version", *_SETTINGS))
        return DiffResult(changes=bool(replaces or updates or interrupted), replaces=replaces)

    def create(self, props: dict[str, Any]) -> CreateResult:
        live = self._alias(props)
        if live is None:
            # A first deploy: there is no old version to share traffic with, only the checks.
            self._run_checks(props)
            self._lambda(props).create_alias(
                FunctionName=props["function_name"], Name=props["alias_name"], FunctionVersion=props["version"]
            )
        else:
            self._shift(props, live)
        return CreateResult(f"{props['function_name']}:{props['alias_name']}", _outputs(props, props["version"]))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        live = self._alias(news)
        if live is None:
            raise ProviderError(f"alias {news['alias_name']} of {news['function_name']} is gone; refresh, then up")
        self._shift(news, live)
        return UpdateResult(_outputs(news, news["version"]))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = self._alias(props)
        if live is None:
            return ReadResult(None, {})
        weights = (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return ReadResult(id_, {**_outputs(props, live["FunctionVersion"]), "additional_version_weights": weights})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        client = self._lambda(props)
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):  # already gone is what delete wanted
            client.delete_alias(FunctionName=props["function_name"], Name=props["alias_name"])

    def _shift(self, props: Mapping[str, Any], live: Mapping[str, Any]) -> None:
        old, new = str(live["FunctionVersion"]), str(props["version"])
        if (live.get("RoutingConfig") or {}).get("AdditionalVersionWeights"):
            # A shift that stopped half-way (the CLI killed mid-bake): the old version takes it all back.
            self._route(props, old, {})
        if old == new:
            return
        self._run_checks(props)
        # Each step's window: its figures are read once traffic has moved on, so a slow read never
        # holds the new version at a step's share nor delays a rollback.
        baked: list[tuple[float, float, float, float]] = []
        for step in props.get("steps") or []:
            weight, seconds = float(step["weight"]), float(step["bake_seconds"])
            started = self._clock.now()
            self._route(props, old, {new: weight})
            firing = self._bake(props, started, seconds)
            if firing:
                self._route(props, old, {})
                served_text, read = self._figures(props, started, self._clock.now())
                raise ProviderError(
                    f"{props['function_name']} version {new} rolled back to {old} at {weight:.0%} of traffic: "
                    + "; ".join(firing)
                    + f"; what it served in that step: {served_text}"
                    + (" (as CloudWatch had them at the rollback)" if read else "")
                )
            baked.append((weight, seconds, started, self._clock.now()))
        self._route(props, new, {})
        if baked:
            figures = [(f"{w:.0%} for {s:g} s", *self._figures(props, since, until)) for w, s, since, until in baked]
            log.info(
                f"function {props['function_name']}: version {new} promoted after "
                + "; ".join(f"{step}: {served_text}" for step, served_text, _ in figures)
                + (" (as CloudWatch had them at the promotion)" if any(read for *_, read in figures) else "")
            )
        else:
            log.info(f"function {props['function_name']}: version {new} deployed at once (no canary steps)")

    def _bake(self, props: Mapping[str, Any], started: float, seconds: float) -> list[str]:
        """Why the new version fails, at the first poll that shows it; [] when the step passed."""
        poll = float(props["poll_seconds"])
        deadline = started + seconds
        while True:
            firing = self._alarms_firing_since(props, started) + self._errors_logged_since(props, started)
            if firing:
                return firing
            now = self._clock.now()
            if now >= deadline:
                return []
            self._clock.sleep(min(poll, deadline - now))

    def _figures(self, props: Mapping[str, Any], since: float, until: float) -> tuple[str, bool]:
        """What the new version served in the window, and whether CloudWatch could say: a failed
        read never stops nor fails the rollout, whose gate is the alarms and the error records."""
        try:
            traffic = served(
                self._client("cloudwatch", props["region"]),
                props["function_name"],
                props["alias_name"],
                props["version"],
                since,
                until,
            )
        except Exception as error:  # credentials, throttling, the network, an odd answer: any of them
            return f"figures unavailable, CloudWatch could not be read ({type(error).__name__})", False
        return traffic.figures(), True

    def _alarms_firing_since(self, props: Mapping[str, Any], started: float) -> list[str]:
        """Alarms that went into ALARM after the step began: an older ALARM belongs to what the
        alarm watched before its dimensions moved to this version."""
        names = list(props.get("alarm_names") or [])
        if not names:
            return []
        answer = self._client("cloudwatch", props["region"]).describe_alarms(AlarmNames=names)
        return [
            f"{alarm['AlarmName']}: {alarm.get('StateReason', '')}"
            for alarm in answer.get("MetricAlarms", [])
            if alarm["StateValue"] == "ALARM" and alarm["StateUpdatedTimestamp"].timestamp() >= started
        ]

    def _errors_logged_since(self, props: Mapping[str, Any], started: float) -> list[str]:
        """ERROR records of the new version's log streams since the step began, once they reach the threshold."""
        error_log = props.get("error_log")
        if not error_log:
            return []
        logs = self._client("logs", props["region"])
        days = sorted({time.strftime("%Y/%m/%d", time.gmtime(moment)) for moment in (started, self._clock.now())})
        threshold = int(error_log["errors"])
        found = 0
        for day in days:
            query = {
                "logGroupName": error_log["log_group"],
                "logStreamNamePrefix": f"{day}/[{props['version']}]",
                "startTime": int(started * 1000),
                "filterPattern": _ERROR_RECORDS,
                "limit": threshold,
            }
            while found < threshold:
                answer = logs.filter_log_events(**query)
                found += len(answer.get("events", []))
                if not answer.get("nextToken"):
                    break
                query["nextToken"] = answer["nextToken"]
        if found < threshold:
            return []
        return [f"{found} ERROR records in {error_log['log_group']} from version {props['version']}"]

    def _run_checks(self, props: Mapping[str, Any]) -> None:
        client = self._lambda(props)
        for check in props.get("checks") or []:
            event = check["event"].replace(NOW_PLACEHOLDER, str(int(self._clock.now())))
            answer = client.invoke(
                FunctionName=props["function_name"], Qualifier=props["version"], Payload=event.encode()
            )
            problem = _check_problem(check, answer)
            if problem:
                raise ProviderError(
                    f"{props['function_name']} version {props['version']} failed its pre-traffic check "
                    f"{check['name']}: {problem}; the alias stays where it was"
                )

    def _route(self, props: Mapping[str, Any], version: str, weights: Mapping[str, float]) -> None:
        self._lambda(props).update_alias(
            FunctionName=props["function_name"],
            Name=props["alias_name"],
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": dict(weights)},
        )

    def _alias(self, props: Mapping[str, Any]) -> dict[str, Any] | None:
        client = self._lambda(props)
        try:
            return client.get_alias(FunctionName=props["function_name"], Name=props["alias_name"])
        except client.exceptions.ResourceNotFoundException:
            return None

    def _lambda(self, props: Mapping[str, Any]) -> Any:
        return self._client("lambda", props["region"])


def _check_problem(check: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    raw = answer["Payload"].read()
    if answer.get("FunctionError"):
        return f"it raised ({raw[:300].decode(errors='replace')})"
    try:
        payload = json.loads(raw)
    except ValueError:
        return "it answered something that is not JSON"
    expected = check.get("expect") or {}
    for key, value in expected.items():
        if not isinstance(payload, dict) or payload.get(key) != value:
            got = payload.get(key) if isinstance(payload, dict) else payload
            return f"{key} was {got!r}, expected {value!r}"
    expected_body = check.get("expect_body") or {}
    if expected_body:
        try:
            body = json.loads(payload.get("body") or "")
        except ValueError:
            return "its body is not JSON"
        for key, value in expected_body.items():
            if body.get(key) != value:
                return f"body {key} was {body.get(key)!r}, expected {value!r}"
    return None


def _outputs(props: Mapping[str, Any], version: str) -> dict[str, Any]:
    return {
        **{key: props.get(key) for key in (*_IDENTITY, *_SETTINGS)},
        "version": version,
        "additional_version_weights": {},
    }


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    failures: list[CheckFailure] = []
    for key in _IDENTITY:
        value = news.get(key)
        if is_known(value) and not (isinstance(value, str) and value):
            failures.append(CheckFailure(key, "must be a non-empty string"))
    version = news.get("version")
    if is_known(version) and not (isinstance(version, str) and version.isdigit()):
        failures.append(CheckFailure("version", f"must be a published version number, not {version!r}"))
    steps = news.get("steps")
    if is_known(steps) and not _valid_steps(steps):
        failures.append(
            CheckFailure("steps", "must be steps of rising weights between 0 and 1 (exclusive), each baked 0 s or more")
        )
    poll = news.get("poll_seconds")
    if is_known(poll) and not (isinstance(poll, int | float) and poll > 0):
        failures.append(CheckFailure("poll_seconds", "must be a positive number of seconds"))
    return failures


def _valid_steps(steps: Any) -> bool:
    if not isinstance(steps, list):
        return False
    try:
        weights = [float(step["weight"]) for step in steps]
        bakes = [float(step["bake_seconds"]) for step in steps]
    except (KeyError, TypeError, ValueError):
        return False
    rising = all(a < b for a, b in itertools.pairwise(weights))
    return rising and all(0 < w < 1 for w in weights) and all(b >= 0 for b in bakes)


@dataclass(frozen=True)
class PreTrafficCheck:
    """One direct invocation of the new version, and what its answer must hold."""

    name: str
    event: str
    """The event as JSON; `{now}` in it becomes the Unix time the check runs at."""
    expect: Mapping[str, Any]
    """Keys the answer (a JSON object) must have with these values, e.g. `{"statusCode": 401}`."""
    expect_body: Mapping[str, Any] | None = None
    """Keys the answer's `body`, parsed as JSON, must have with these values."""


@dataclass(frozen=True)
class TrafficStep:
    weight: float
    """The share of the alias's requests the new version serves in this step (0-1, exclusive)."""
    bake_seconds: float
    """How long the step lasts while the new version's alarms are watched."""


@dataclass(frozen=True)
class ErrorLog:
    """The function's log group, whose ERROR records from the new version roll it back."""

    log_group: Input[str]
    errors: float
    """ERROR records of the new version within a step that roll it back."""


class LambdaRollout(Resource, module="aws", name="LambdaRollout"):
    """The alias `alias_name` of `function_name`, moved to `version` through `steps` (none: at once)."""

    version: Output[str]
    additional_version_weights: Output[dict[str, float]]

    def __init__(
        self,
        name: str,
        region: Input[str],
        function_name: Input[str],
        alias_name: str,
        version: Input[str],
        steps: Sequence[TrafficStep],
        alarm_names: Sequence[Input[str]],
        checks: Sequence[PreTrafficCheck],
        opts: ResourceOptions | None = None,
        *,
        error_log: ErrorLog | None = None,
        poll_seconds: float = 10,
    ) -> None:
        super().__init__(
            LambdaRolloutProvider(),
            name,
            {
                "region": region,
                "function_name": function_name,
                "alias_name": alias_name,
                "version": version,
                "steps": [{"weight": step.weight, "bake_seconds": step.bake_seconds} for step in steps],
                "alarm_names": list(alarm_names),
                "error_log": {"log_group": error_log.log_group, "errors": error_log.errors} if error_log else None,
                "checks": [
                    {
                        "name": c.name,
                        "event": c.event,
                        "expect": dict(c.expect),
                        "expect_body": dict(c.expect_body or {}),
                    }
                    for c in checks
                ],
                "poll_seconds": poll_seconds,
                "additional_version_weights": None,
            },
            opts,
        )
