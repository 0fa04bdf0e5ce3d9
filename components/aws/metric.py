"""CloudWatch metrics as values, so alarms and dashboards are built from the resources themselves."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi

Statistic = Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount", "p99"]
"""`p99`: the 99th percentile, an extended statistic in CloudWatch's terms."""


@dataclass(frozen=True)
class CloudWatchMetric:
    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    label: str
    """What a human reads on the dashboard and in alarm descriptions."""
    statistic: Statistic = "Sum"
    period_seconds: int = 300
