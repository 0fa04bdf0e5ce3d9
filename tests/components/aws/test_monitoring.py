import json

import pytest

from components.aws.metric import CloudWatchMetric, Statistic
from components.aws.monitoring import AlarmRule, Monitoring, MonitoringArgs, WatchedFunction
from tools.offline_plan import Plan, evaluate

ERRORS = CloudWatchMetric("AWS/Lambda", "Errors", {"FunctionName": "orchestra-fn-dev"}, "fn errors")
DURATION = CloudWatchMetric(
    "AWS/Lambda", "Duration", {"FunctionName": "orchestra-fn-dev"}, "fn duration", statistic="Average"
)


class LambdaMetrics:
    """A function's metrics as the Function building block gives them, without building one."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    def _metric(self, name: str, statistic: Statistic = "Sum") -> CloudWatchMetric:
        label = f"{self.function_name} {name.lower()}"
        return CloudWatchMetric("AWS/Lambda", name, {"FunctionName": self.function_name}, label, statistic)

    def metric_errors(self) -> CloudWatchMetric:
        return self._metric("Errors")

    def metric_throttles(self) -> CloudWatchMetric:
        return self._metric("Throttles")

    def metric_invocations(self) -> CloudWatchMetric:
        return self._metric("Invocations")

    def metric_duration(self) -> CloudWatchMetric:
        return self._metric("Duration", "Average")


def plan_monitoring(
    email: str | None = None,
    alarms: tuple[AlarmRule, ...] = (AlarmRule("fn-errors", ERRORS, 3),),
    functions: dict[str, WatchedFunction] | None = None,
) -> Plan:
    args = MonitoringArgs(
        functions=functions or {},
        function_errors=2,
        alarms=alarms,
        dashboard_metrics=[DURATION],
        notification_email=email,
    )
    return evaluate(lambda: Monitoring("watch", args))


def test_children_without_email() -> None:
    plan = plan_monitoring()
    component = plan.one("orchestra:aws:Monitoring", "watch")
    assert sorted((r.type, r.name) for r in plan.children_of(component.urn)) == [
        ("aws:cloudwatch/dashboard:Dashboard", "watch-dashboard"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "watch-fn-errors"),
        ("aws:sns/topic:Topic", "watch-alarms"),
    ]


def test_alarm_watches_the_metric_and_notifies_the_topic() -> None:
    plan = plan_monitoring()
    topic_arn = "arn:aws:sns:us-east-1:123456789012:orchestra-watch-alarms-dev"
    assert plan.one("aws:sns/topic:Topic", "watch-alarms").inputs["name"] == "orchestra-watch-alarms-dev"
    alarm = plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "watch-fn-errors").inputs
    assert alarm == {
        "name": "orchestra-watch-fn-errors-dev",
        "alarmDescription": "fn errors reached 3 in 5 minutes",
        "namespace": "AWS/Lambda",
        "metricName": "Errors",
        "dimensions": {"FunctionName": "orchestra-fn-dev"},
        "statistic": "Sum",
        "period": 300,
        "evaluationPeriods": 1,
        "threshold": 3,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "treatMissingData": "notBreaching",
        "alarmActions": [topic_arn],
        "okActions": [topic_arn],
    }


def test_dashboard_graphs_alarmed_and_extra_metrics() -> None:
    body = json.loads(
        plan_monitoring().one("aws:cloudwatch/dashboard:Dashboard", "watch-dashboard").inputs["dashboardBody"]
    )
    assert [(w["properties"]["title"], w["x"], w["y"]) for w in body["widgets"]] == [
        ("fn errors", 0, 0),
        ("fn duration", 12, 0),
    ]
    duration = body["widgets"][1]["properties"]
    assert duration["metrics"] == [["AWS/Lambda", "Duration", "FunctionName", "orchestra-fn-dev"]]
    assert (duration["stat"], duration["region"]) == ("Average", "us-east-1")


def test_email_subscription_when_configured() -> None:
    plan = plan_monitoring(email="ops@example.com")
    subscription = plan.one("aws:sns/topicSubscription:TopicSubscription", "watch-alarms-email").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@example.com")


def test_alarm_ids_must_be_unique() -> None:
    with pytest.raises(ValueError, match="two alarms share an id"):
        plan_monitoring(alarms=(AlarmRule("x", ERRORS, 1), AlarmRule("x", DURATION, 1)))


def test_every_function_is_alarmed_and_graphed_alike() -> None:
    plan = plan_monitoring(alarms=(), functions={"api": LambdaMetrics("api-dev"), "jobs": LambdaMetrics("jobs-dev")})
    alarms = {r.name: r.inputs for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert {name: (a["metricName"], a["dimensions"]["FunctionName"], a["threshold"]) for name, a in alarms.items()} == {
        "watch-api-errors": ("Errors", "api-dev", 2),
        "watch-api-throttles": ("Throttles", "api-dev", 1),
        "watch-jobs-errors": ("Errors", "jobs-dev", 2),
        "watch-jobs-throttles": ("Throttles", "jobs-dev", 1),
    }
    body = json.loads(plan.one("aws:cloudwatch/dashboard:Dashboard", "watch-dashboard").inputs["dashboardBody"])
    assert [w["properties"]["title"] for w in body["widgets"]] == [
        "api-dev errors",
        "api-dev throttles",
        "jobs-dev errors",
        "jobs-dev throttles",
        "api-dev invocations",
        "api-dev duration",
        "jobs-dev invocations",
        "jobs-dev duration",
        "fn duration",
    ]


def test_a_function_alarm_and_another_may_not_share_an_id() -> None:
    with pytest.raises(ValueError, match="two alarms share an id"):
        plan_monitoring(functions={"fn": LambdaMetrics("fn-dev")})
