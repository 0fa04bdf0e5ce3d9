"""How fast a failing worker canary goes back, and how much of the traffic it served: a simulation.

It drives the real rollout provider (`components.providers.worker_rollout`), through its HTTP
client, against the local Cloudflare of `tests/components/providers/fake_worker_traffic.py` on a
virtual clock: the script takes `--rate` requests a second, split by the deployment serving at
each moment; the new version answers `/healthz` but fails every user request; the analytics
show a request `--analytics-delay` seconds after it was served (each delay given is run in turn).
The gate is the one the stacks deploy: `workerCanaryPercent` of the traffic, judged every
10 s, rolled back past 2% errors over at least 20 requests.

Prints, per analytics delay: seconds from the first bad response to every request back on the
old version, and the share of all requests of that time the bad version served. Exits 1 when
any share exceeds the canary share.
"""

import argparse
import datetime
import sys
from dataclasses import dataclass

from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.cloudflare.worker import MAX_ERROR_RATE, MIN_REQUESTS, POLL_SECONDS
from components.providers.provider import ProviderError
from components.providers.worker_rollout import WorkerRolloutProvider
from tests.components.cloudflare.support import ACCOUNT_ID, SETTING, TOKEN
from tests.components.dynamic_provider_support import PROJECT, serving
from tests.components.providers.fake_worker_traffic import FakeWorkerTraffic

SCRIPT = "orchestra-ai-worker-prod"
OLD = "0a1b2c3d-0000-4000-8000-000000000001"
NEW = "0a1b2c3d-0000-4000-8000-000000000002"
START = datetime.datetime(2027, 1, 4, 9, 0, tzinfo=datetime.UTC)
TARGET_SECONDS = 60.0


@dataclass
class VirtualClock:
    current: datetime.datetime

    def now(self) -> datetime.datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += datetime.timedelta(seconds=seconds)


def one_canary(rate: float, share: int, bake_minutes: float, delay: float) -> tuple[float, float]:
    clock = VirtualClock(START)
    fake = FakeWorkerTraffic(requests_per_second=rate, clock=clock, analytics_delay_seconds=delay)
    fake.upload(SCRIPT, OLD)
    fake.deploy_now(SCRIPT, [{"version_id": OLD, "percentage": 100}])
    fake.upload(SCRIPT, NEW, error_rate=1.0)
    with serving(fake.server):
        provider = WorkerRolloutProvider()
        provider.configure(ConfigureRequest(Config(raw_config={SETTING: TOKEN}, project_name=PROJECT)))
        provider.clock = clock
        props = {
            "api_base": f"{fake.base_url}/client/v4",
            "account_id": ACCOUNT_ID,
            "script_name": SCRIPT,
            "credential_setting": SETTING,
            "health_url": f"{fake.base_url}/workers/{SCRIPT}/healthz",
            "all_at_once_reason": "",
            "canary_percentage": share,
            "bake_seconds": bake_minutes * 60,
            "poll_seconds": POLL_SECONDS,
            "max_error_rate": MAX_ERROR_RATE,
            "min_requests": MIN_REQUESTS,
        }
        old = {**props, "version_id": OLD, "versions": [{"version_id": OLD, "percentage": 100}]}
        try:
            provider.update(SCRIPT, old, {**props, "version_id": NEW, "versions": None})
        except ProviderError:
            pass
        else:
            raise SystemExit("the failing canary was promoted")
    _, canary, rollback = fake.scripts[SCRIPT].history
    served = fake.served(SCRIPT, canary.at, rollback.at)
    total = sum(requests for requests, _ in served.values())
    return (rollback.at - canary.at).total_seconds(), served.get(NEW, (0, 0))[0] / total if total else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests a second to the script (default 20)")
    parser.add_argument("--share", type=int, default=10, help="the canary's percentage (default 10, prod's)")
    parser.add_argument("--bake-minutes", type=float, default=5.0, help="the bake window (default 5, prod's)")
    parser.add_argument(
        "--analytics-delay", type=float, nargs="+", default=[0.0, 30.0, 60.0], help="seconds (default 0 30 60)"
    )
    args = parser.parse_args()

    print(
        f"canary {args.share}% for {args.bake_minutes:g} min at {args.rate:g} req/s; gate every {POLL_SECONDS:g} s, "
        f"rollback past {MAX_ERROR_RATE:.0%} errors over at least {MIN_REQUESTS} requests"
    )
    print(f"{'analytics delay':>16}  {'back on old (s)':>16}  {'bad share':>10}  target < {TARGET_SECONDS:g} s")
    worst_share = 0.0
    for delay in args.analytics_delay:
        seconds, share = one_canary(args.rate, args.share, args.bake_minutes, delay)
        worst_share = max(worst_share, share)
        verdict = "met" if seconds < TARGET_SECONDS else "not met"
        print(f"{delay:>15g}s  {seconds:>16.0f}  {share:>10.1%}  {verdict}")
    print(f"worst share of requests on the bad version: {worst_share:.1%} (canary share {args.share}%)")
    return 1 if worst_share > args.share / 100 + 1e-9 else 0


if __name__ == "__main__":
    sys.exit(main())
