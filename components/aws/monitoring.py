"""Alarms on metrics, an SNS topic they notify, and one dashboard of the same metrics."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pulumi
import pulumi_aws as aws

from ..naming import CLOUDWATCH_ALARM, CLOUDWATCH_DASHBOARD, SNS_TOPIC, physical_name
from .metric import CloudWatchMetric


@dataclass(frozen=True)
class AlarmRule:
    id: str
    """Part of the alarm's logical and physical names: `<monitoring name>-<id>`."""
    metric: CloudWatchMetric
    threshold: float
    comparison: Literal["GreaterThanOrEqualToThreshold", "GreaterThanThreshold"] = "GreaterThanOrEqualToThreshold"
    evaluation_periods: int = 1


class WatchedFunction(Protocol):
    """What monitoring reads of a function (``Function`` has it)."""

    def metric_errors(self) -> CloudWatchMetric: ...
    def metric_throttles(self) -> CloudWatchMetric: ...
    def metric_invocations(self) -> CloudWatchMetric: ...
    def metric_duration(self) -> CloudWatchMetric: ...


@dataclass(frozen=True)
class MonitoringArgs:
    functions: Mapping[str, WatchedFunction] = field(default_factory=dict)
    """Functions by id, each watched alike: alarms `<id>-errors` and `<id>-throttles` (at any
    throttle: a throttled request was refused), and its invocations and duration graphed."""
    function_errors: float = 1
    """Errors of one function within a period that raise its `<id>-errors` alarm."""
    alarms: Sequence[AlarmRule] = ()
    """Alarms on anything else, after the functions'."""
    dashboard_metrics: Sequence[CloudWatchMetric] = ()
    """Shown on the dashboard beside the alarmed metrics, without an alarm of their own."""
    notification_email: str | None = None
    """Subscribed to the topic; AWS emails a confirmation link before anything is delivered."""


class Monitoring(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: list[aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        rules = [rule for key, function in args.functions.items() for rule in _function_alarms(key, function, args)]
        rules += args.alarms
        if len({rule.id for rule in rules}) != len(rules):
            raise ValueError(f"monitoring {name}: two alarms share an id")

        self.topic = aws.sns.Topic(f"{name}-alarms", name=physical_name(f"{name}-alarms", SNS_TOPIC), opts=child)
        if args.notification_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.notification_email,
                opts=child,
            )
        self.alarms = [declare_alarm(f"{name}-{rule.id}", rule, [self.topic.arn], child) for rule in rules]
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        graphed = [metric for f in args.functions.values() for metric in (f.metric_invocations(), f.metric_duration())]
        metrics = [rule.metric for rule in rules] + graphed + list(args.dashboard_metrics)
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=physical_name(name, CLOUDWATCH_DASHBOARD),
            dashboard_body=pulumi.Output.json_dumps({"widgets": _widgets(metrics, region)}),
            opts=child,
        )
        self.register_outputs({"topic_arn": self.topic.arn, "dashboard_name": self.dashboard.dashboard_name})


def declare_alarm(
    name: str, rule: AlarmRule, actions: Sequence[pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> aws.cloudwatch.MetricAlarm:
    """The alarm `name` (also its physical name's stem) on `rule`, notifying `actions` both ways."""
    metric = rule.metric
    percentile = metric.statistic.startswith("p")
    minutes = metric.period_seconds // 60
    period = "1 minute" if minutes == 1 else f"{minutes} minutes"
    return aws.cloudwatch.MetricAlarm(
        name,
        name=physical_name(name, CLOUDWATCH_ALARM),
        alarm_description=f"{metric.label} reached {rule.threshold:g} in {period}",
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=metric.dimensions,
        statistic=None if percentile else metric.statistic,
        extended_statistic=metric.statistic if percentile else None,
        period=metric.period_seconds,
        evaluation_periods=rule.evaluation_periods,
        threshold=rule.threshold,
        comparison_operator=rule.comparison,
        # No traffic is not an incident: an idle function or table has no data points at all.
        treat_missing_data="notBreaching",
        alarm_actions=list(actions),
        ok_actions=list(actions),
        opts=opts,
    )


def _function_alarms(key: str, function: WatchedFunction, args: MonitoringArgs) -> list[AlarmRule]:
    return [
        AlarmRule(f"{key}-errors", function.metric_errors(), args.function_errors),
        AlarmRule(f"{key}-throttles", function.metric_throttles(), 1),
    ]


_WIDGET_WIDTH = 12
_WIDGET_HEIGHT = 6


def _widgets(metrics: Sequence[CloudWatchMetric], region: pulumi.Input[str]) -> list[dict[str, object]]:
    """Two metric graphs a row, in the order given."""
    widgets: list[dict[str, object]] = []
    for position, metric in enumerate(metrics):
        dimensions = [part for key, value in sorted(metric.dimensions.items()) for part in (key, value)]
        widgets.append(
            {
                "type": "metric",
                "x": (position % 2) * _WIDGET_WIDTH,
                "y": (position // 2) * _WIDGET_HEIGHT,
                "width": _WIDGET_WIDTH,
                "height": _WIDGET_HEIGHT,
                "properties": {
                    "title": metric.label,
                    "metrics": [[metric.namespace, metric.name, *dimensions]],
                    "stat": metric.statistic,
                    "period": metric.period_seconds,
                    "region": region,
                    "view": "timeSeries",
                },
            }
        )
    return widgets
