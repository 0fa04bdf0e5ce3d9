"""How fast a failing canary goes back, and how much of the traffic it served: a simulation.

It drives the real rollout provider (`components.providers.lambda_rollout`) on a virtual clock
against moto's Lambda, with the world of `tests/components/providers/lambda_world.py`: the alias
takes `--rate` requests a second; the new version fails every request it serves; CloudWatch
publishes one data point per version per whole minute, visible `--metric-delay` seconds after
the minute ends; the gate polls the alarms every 10 s. The canary step starts at each offset
into a minute in turn (0, 5, ... 55 s), since where in its minute the first bad response falls
decides how long its data point takes. Each failed request is also an ERROR record in the new
version's log stream, which the gate finds `log_delay` (5 s) after it was written; the gate is run
with both signals, as deployed, and with the alarms alone, to show what the records buy.

Prints, per offset and overall: seconds from the first bad response to the alias back on the
old version alone, and the share of the bake window's requests the bad version served. Exits 1
when the worst share exceeds the canary share.
"""

import argparse
import statistics
import sys

import boto3
from moto import mock_aws

from components.providers.lambda_rollout import LambdaRolloutProvider
from components.providers.provider import ProviderError
from tests.components.providers.lambda_world import ALIAS, FUNCTION, REGION, LambdaWorld, VirtualClock, package

START = 1_800_000_000.0 - 1_800_000_000.0 % 60


def one_canary(offset: float, weight: float, rate: float, metric_delay: float, logs: bool) -> tuple[float, float]:
    with mock_aws():
        role = boto3.client("iam", region_name=REGION).create_role(RoleName="fn", AssumeRolePolicyDocument="{}")
        client = boto3.client("lambda", region_name=REGION)
        client.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="main.handler",
            Code={"ZipFile": package("0")},
        )
        world = LambdaWorld(client, VirtualClock(START + offset), rate=rate, metric_delay=metric_delay)
        error_log = {"log_group": f"/aws/lambda/{FUNCTION}", "errors": 1} if logs else None
        provider = LambdaRolloutProvider(client=world.client, clock=world.clock)
        old = world.publish("old")
        base = {
            "region": REGION,
            "function_name": FUNCTION,
            "alias_name": ALIAS,
            "error_log": error_log,
            "checks": [],
            "poll_seconds": 10,
        }
        steps = [{"weight": weight, "bake_seconds": 300}]
        state = provider.create({**base, "version": old, "steps": steps, "alarm_names": world.watch(old)}).outs or {}
        new = world.publish("new")
        world.failing.add(new)
        began = len(world.requests)
        try:
            provider.update("alias", state, {**base, "version": new, "steps": steps, "alarm_names": world.watch(new)})
        except ProviderError:
            pass
        else:
            raise SystemExit("the failing canary was promoted")
        bad = world.served_by(new)
        back_at = world.alias_changes[-1][0]
        window = world.requests[began:]
        return back_at - bad[0].at, len(bad) / len(window)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--weight", type=float, default=0.1, help="the canary's share (prod's: 0.1)")
    parser.add_argument("--rate", type=float, default=5.0, help="requests a second to the alias")
    parser.add_argument("--metric-delay", type=float, default=20.0, help="seconds until a minute's point is visible")
    options = parser.parse_args()
    worst_share = 0.0
    for gate, logs in (("alarms and ERROR records (the gate)", True), ("alarms alone", False)):
        results = []
        for offset in range(0, 60, 5):
            seconds, share = one_canary(offset, options.weight, options.rate, options.metric_delay, logs)
            results.append((seconds, share))
            print(f"{gate}: canary starts {offset:2d} s into a minute: back in {seconds:5.1f} s, served {share:.1%}")
        times = [seconds for seconds, _ in results]
        shares = max(share for _, share in results)
        worst_share = max(worst_share, shares)
        print(
            f"{gate}: first bad response → old version alone: median {statistics.median(times):.1f} s, "
            f"worst {max(times):.1f} s (target < 60 s); bad version's share at most {shares:.1%} "
            f"(canary share {options.weight:.0%})"
        )
    if worst_share > options.weight:
        sys.exit(1)


if __name__ == "__main__":
    main()
