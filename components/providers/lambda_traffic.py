"""What a Lambda version served through an alias over a window, as CloudWatch has it.

Lambda publishes the metrics of an invocation through an alias under the dimensions
`FunctionName`, `Resource` (`<function>:<alias>`) and `ExecutedVersion` (the version the alias's
weights picked), so one version's share of the alias is told apart from the other's. Its points
are whole minutes and reach CloudWatch a minute or more after the minute ends: a window runs from
the minute it started in to the minute it ended in, that one left out (so one step's window ends
where the next one's begins), and what a read returns is what CloudWatch had at that moment.

One `GetMetricData` call reads the three figures (`GetMetricStatistics` takes one metric a call),
each as a single point over the whole window.
"""

from __future__ import annotations

import datetime
from typing import Any

from .rollout_gate import Traffic

_MINUTE = 60
_FIGURES = (("requests", "Invocations", "Sum"), ("errors", "Errors", "Sum"), ("p99", "Duration", "p99"))


def minute_window(started: float, ended: float) -> tuple[int, int]:
    """[started, ended) in Unix seconds as whole minutes: each end rounded down, a minute at the least."""
    start, end = (int(moment // _MINUTE) * _MINUTE for moment in (started, ended))
    return start, max(end, start + _MINUTE)


def served(cloudwatch: Any, function: str, alias: str, version: str, started: float, ended: float) -> Traffic:
    """Invocations, errors and p99 duration of `version` through `alias` between the two times."""
    start, end = minute_window(started, ended)
    dimensions = [
        {"Name": "FunctionName", "Value": function},
        {"Name": "Resource", "Value": f"{function}:{alias}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": figure,
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": dimensions},
                    "Period": end - start,
                    "Stat": stat,
                },
            }
            for figure, metric, stat in _FIGURES
        ],
        StartTime=datetime.datetime.fromtimestamp(start, datetime.UTC),
        EndTime=datetime.datetime.fromtimestamp(end, datetime.UTC),
    )
    values = {result["Id"]: [float(v) for v in result.get("Values", [])] for result in answer["MetricDataResults"]}
    # One point per figure is asked for; should CloudWatch split the window, the counts add up and
    # the slowest percentile stands for the whole.
    p99 = values.get("p99") or []
    return Traffic(
        int(sum(values.get("requests", []))),
        int(sum(values.get("errors", []))),
        max(p99) if p99 else None,
        latency="duration",
    )
