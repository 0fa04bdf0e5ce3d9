"""A Lambda function under steady traffic, on a virtual clock, for the rollout provider.

Versions and the alias live in moto's Lambda; on top of it, this world enforces what Lambda
enforces and moto does not (routing: one additional version, published, not the primary, weight
0-1; never with `$LATEST`), answers direct invocations per version, and sends the alias
`rate` requests a second, each to the version the alias's weights pick, recording which version
served it, whether it failed and how long it ran. CloudWatch is modelled as Lambda feeds it: one
data point per version per whole minute, visible `metric_delay` seconds after the minute ends, an
alarm on a version's errors that goes into ALARM when such a point reaches its threshold, and
`GetMetricData` answering the version's invocations, errors and duration percentile under the
dimensions Lambda publishes for an alias's invocations, its requests and answers checked against
botocore's model of the API. Each failed request is also an ERROR record in its version's log
stream, which filtering finds `log_delay` seconds after it was written.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

FUNCTION = "orchestra-orchestrator-discord-dev"
ALIAS = "live"
REGION = "us-east-1"


def package(marker: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", f"VERSION = {marker!r}\n")
    return buffer.getvalue()


@dataclass
class Request:
    at: float
    version: str
    failed: bool
    duration_ms: float


@dataclass
class VirtualClock:
    now_seconds: float
    on_advance: Callable[[float, float], None] = lambda _start, _end: None

    def now(self) -> float:
        return self.now_seconds

    def sleep(self, seconds: float) -> None:
        start = self.now_seconds
        self.now_seconds += seconds
        self.on_advance(start, self.now_seconds)


@dataclass
class GateAlarm:
    name: str
    version: str
    threshold: float
    state: str = "OK"
    updated: float = 0.0
    reason: str = ""


@dataclass
class LambdaWorld:
    moto_lambda: Any
    clock: VirtualClock
    rate: float = 2.0
    """Requests a second to the alias."""
    metric_delay: float = 20.0
    log_delay: float = 5.0
    """Seconds until a logged record can be filtered."""
    failing: set[str] = field(default_factory=set)
    """Versions whose user requests fail."""
    check_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What a direct invocation of each version answers; by default a 401 refusal."""
    durations_ms: dict[str, list[float]] = field(default_factory=dict)
    """Each version's request durations, taken in turn; 20 ms when not set."""
    alarms: dict[str, GateAlarm] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    alias_changes: list[tuple[float, str, dict[str, float]]] = field(default_factory=list)
    _credit: float = 0.0
    _served: dict[str, int] = field(default_factory=dict)
    _next_minute: int = 0
    """The first whole minute no alarm has evaluated yet."""

    def __post_init__(self) -> None:
        self.clock.on_advance = self._advance
        self._next_minute = int(self.clock.now() // 60)
        self.exceptions = self.moto_lambda.exceptions

    # The rollout provider's client factory.
    def client(self, service: str, region: str) -> Any:
        assert region == REGION
        views = {"lambda": lambda: self, "cloudwatch": lambda: CloudWatchView(self), "logs": lambda: LogsView(self)}
        return views[service]()

    def publish(self, marker: str) -> str:
        self.moto_lambda.update_function_code(FunctionName=FUNCTION, ZipFile=package(marker))
        return self.moto_lambda.publish_version(FunctionName=FUNCTION)["Version"]

    def watch(self, version: str, threshold: float = 1) -> list[str]:
        """The gate alarms of `version`, as the program declares them before its rollout runs."""
        self.alarms = {
            name: GateAlarm(name, version, threshold, updated=self.clock.now())
            for name in (f"discord-gate-errors-{version}",)
        }
        return list(self.alarms)

    def get_alias(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetAlias", kwargs))
        return self.moto_lambda.get_alias(**kwargs)

    def create_alias(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("CreateAlias", kwargs))
        self._enforce(kwargs["FunctionVersion"], (kwargs.get("RoutingConfig") or {}).get("AdditionalVersionWeights"))
        answer = self.moto_lambda.create_alias(**kwargs)
        self.alias_changes.append((self.clock.now(), kwargs["FunctionVersion"], {}))
        return answer

    def update_alias(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("UpdateAlias", kwargs))
        weights = (kwargs.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        self._enforce(kwargs["FunctionVersion"], weights)
        answer = self.moto_lambda.update_alias(**kwargs)
        self.alias_changes.append((self.clock.now(), kwargs["FunctionVersion"], dict(weights)))
        return answer

    def delete_alias(self, **kwargs: Any) -> None:
        self.calls.append(("DeleteAlias", kwargs))
        self.moto_lambda.delete_alias(**kwargs)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("Invoke", {key: kwargs[key] for key in ("FunctionName", "Qualifier")}))
        version = kwargs["Qualifier"]
        self._require_version(version)
        answer = self.check_answers.get(version, {"statusCode": 401, "body": '{"error": "invalid request signature"}'})
        error = {"FunctionError": "Unhandled"} if "errorType" in answer else {}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode()), **error}

    def served_by(self, version: str) -> list[Request]:
        return [request for request in self.requests if request.version == version]

    def _enforce(self, primary: str, weights: Mapping[str, float] | None) -> None:
        self._require_version(primary)
        if not weights:
            return
        if primary == "$LATEST":
            self._refuse("$LATEST cannot take part in weighted routing")
        if len(weights) > 1:
            self._refuse("an alias routes to at most one additional version")
        for version, weight in weights.items():
            self._require_version(version)
            if version == primary:
                self._refuse("the additional version must differ from the alias's version")
            if not 0.0 <= weight <= 1.0:
                self._refuse(f"weight {weight} is outside 0.0-1.0")

    def _require_version(self, version: str) -> None:
        versions = {v["Version"] for v in self.moto_lambda.list_versions_by_function(FunctionName=FUNCTION)["Versions"]}
        if version not in versions:
            self._refuse(f"version {version} of {FUNCTION} does not exist")

    @staticmethod
    def _refuse(message: str) -> None:
        raise ClientError({"Error": {"Code": "InvalidParameterValueException", "Message": message}}, "UpdateAlias")

    def _advance(self, start: float, end: float) -> None:
        alias = self.moto_lambda.get_alias(FunctionName=FUNCTION, Name=ALIAS)
        primary = alias["FunctionVersion"]
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        step = 1 / self.rate
        at = start
        while at < end:
            version = primary
            for extra, weight in weights.items():
                self._credit += weight
                if self._credit >= 1 - 1e-9:  # 0.1 ten times is 0.9999999999999999
                    self._credit -= 1
                    version = extra
            durations = self.durations_ms.get(version, [20.0])
            count = self._served.get(version, 0)
            self._served[version] = count + 1
            self.requests.append(Request(at, version, version in self.failing, durations[count % len(durations)]))
            at += step
        self._evaluate_alarms(end)

    def _evaluate_alarms(self, now: float) -> None:
        """Each whole minute's data point, once visible, is what each alarm evaluates."""
        visible = int((now - self.metric_delay) // 60)
        for closed in range(self._next_minute, visible):
            self._next_minute = closed + 1
            visible_at = (closed + 1) * 60 + self.metric_delay
            for alarm in self.alarms.values():
                errors = sum(
                    1
                    for r in self.requests
                    if r.version == alarm.version and r.failed and closed * 60 <= r.at < (closed + 1) * 60
                )
                state = "ALARM" if errors >= alarm.threshold else "OK"
                if state != alarm.state:
                    alarm.state, alarm.updated = state, visible_at
                    alarm.reason = f"{errors} errors in the minute from {closed * 60:.0f} s"


_CLOUDWATCH = botocore.session.get_session().get_service_model("cloudwatch").operation_model("GetMetricData")


def _percentile(values: list[float], percent: float) -> float:
    ranked = sorted(values)
    return ranked[max(0, math.ceil(percent / 100 * len(ranked)) - 1)]


class CloudWatchView:
    def __init__(self, world: LambdaWorld) -> None:
        self._world = world

    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
        self._world.calls.append(("DescribeAlarms", {"AlarmNames": AlarmNames}))
        return {
            "MetricAlarms": [
                {
                    "AlarmName": alarm.name,
                    "StateValue": alarm.state,
                    "StateReason": alarm.reason,
                    "StateUpdatedTimestamp": datetime.fromtimestamp(alarm.updated, UTC),
                }
                for name in AlarmNames
                if (alarm := self._world.alarms.get(name))
            ]
        }

    def get_metric_data(self, **query: Any) -> dict[str, Any]:
        world = self._world
        validate_parameters(query, _CLOUDWATCH.input_shape)
        world.calls.append(("GetMetricData", query))
        start, end = query["StartTime"].timestamp(), query["EndTime"].timestamp()
        # CloudWatch would round a window that is not whole minutes; the rollout asks for whole ones.
        assert start % 60 == 0 and end % 60 == 0 and start < end, (start, end)
        # A minute's point exists once it has reached CloudWatch.
        visible_until = ((world.clock.now() - world.metric_delay) // 60) * 60
        answer = {"MetricDataResults": [self._series(q, start, end, visible_until) for q in query["MetricDataQueries"]]}
        validate_parameters(answer, _CLOUDWATCH.output_shape)
        return answer

    def _series(self, query: Mapping[str, Any], start: float, end: float, visible_until: float) -> dict[str, Any]:
        stat = query["MetricStat"]
        metric, period = stat["Metric"], int(stat["Period"])
        assert period % 60 == 0, period
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        # What Lambda publishes for the invocations through the alias, per version that served them.
        version = dimensions.get("ExecutedVersion", "")
        published = metric["Namespace"] == "AWS/Lambda" and dimensions == {
            "FunctionName": FUNCTION,
            "Resource": f"{FUNCTION}:{ALIAS}",
            "ExecutedVersion": version,
        }
        timestamps: list[datetime] = []
        values: list[float] = []
        for since in range(int(start), int(end), period):
            served = [
                r
                for r in self._world.served_by(version)
                if published and since <= r.at < min(since + period, visible_until)
            ]
            if served:
                timestamps.append(datetime.fromtimestamp(since, UTC))
                values.append(_statistic(metric["MetricName"], stat["Stat"], served))
        return {
            "Id": query["Id"],
            "Label": metric["MetricName"],
            "Timestamps": timestamps,
            "Values": values,
            "StatusCode": "Complete",
        }


def _statistic(metric: str, stat: str, served: list[Request]) -> float:
    if (metric, stat) == ("Invocations", "Sum"):
        return float(len(served))
    if (metric, stat) == ("Errors", "Sum"):
        return float(sum(r.failed for r in served))
    if metric == "Duration" and stat.startswith("p"):
        return _percentile([r.duration_ms for r in served], float(stat[1:]))
    raise AssertionError(f"{metric} {stat} is not modelled")


class LogsView:
    def __init__(self, world: LambdaWorld) -> None:
        self._world = world

    def filter_log_events(self, **query: Any) -> dict[str, Any]:
        world = self._world
        world.calls.append(("FilterLogEvents", query))
        assert query["logGroupName"] == f"/aws/lambda/{FUNCTION}"
        assert query["filterPattern"] == '{ $.level = "ERROR" || $.log_level = "ERROR" }'
        day, _, version = query["logStreamNamePrefix"].partition("/[")
        assert day == datetime.fromtimestamp(world.clock.now(), UTC).strftime("%Y/%m/%d")
        version = version.removesuffix("]")
        events = [
            {"timestamp": int(r.at * 1000), "message": '{"level": "ERROR"}'}
            for r in world.served_by(version)
            if r.failed and r.at * 1000 >= query["startTime"] and r.at + world.log_delay <= world.clock.now()
        ]
        return {"events": events[: query["limit"]]}
