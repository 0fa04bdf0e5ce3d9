"""A worker's deployment, owned by the rollout: which versions serve its traffic, and in what share.

Each new version id (a new `cloudflare.WorkerVersion`) is an update of this
resource, and the update is the rollout itself, inside `pulumi up`: the new
version takes its canary share beside the version serving now, the gate
(`rollout_gate`) watches it, and it ends at 100% on the new version or, when
the gate fails, at 100% on the previous one, with the update failing and
naming the figure. A failed update leaves the state as it was, so the next
`pulumi up` sees the new version id again and rolls it out again (or a fixed
one): nothing to undo by hand.

Refresh reads the live deployment into `versions`; a deployment changed
outside the program (a rollback by hand, a `wrangler versions deploy`) then
shows as a change, and the next update deploys the program's version again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi import Input, Output, ResourceOptions, log
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from .cloudflare_api import CLOUDFLARE_API_BASE
from .provider import CREDENTIAL_SETTING, ConfiguredProvider, ProviderError, changed, is_known, non_empty_failures
from .rollout_gate import Clock, Plan, RolloutFailed, WallClock, only, roll_out
from .worker_traffic_api import CloudflareTraffic

_SETTINGS = ("canary_percentage", "bake_seconds", "poll_seconds", "max_error_rate", "min_requests")
_INPUTS = (
    "api_base",
    "account_id",
    "script_name",
    CREDENTIAL_SETTING,
    "version_id",
    "health_url",
    "all_at_once_reason",
    *_SETTINGS,
)


class WorkerRolloutProvider(ConfiguredProvider):
    """Deploys a worker's version through its canary and gate, and reads its live deployment."""

    clock: Clock = WallClock()
    """What the gate waits on; a simulation gives it a virtual one."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [*_check_failures(news), *self.credential_failures(news)])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props["script_name"]), self._rolled_out(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        drifted = is_known(news.get("version_id")) and olds.get("versions") != only(str(news["version_id"]))
        changes = changed(olds, news, _INPUTS)
        return DiffResult(
            changes=bool(changes) or drifted,
            replaces=changed(olds, news, ["account_id", "script_name"]),
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("versions") == only(str(news["version_id"])):
            # The version serves all traffic already: only a setting for the next rollout changed.
            return UpdateResult({**_inputs(news), "versions": olds["versions"]})
        return UpdateResult(self._rolled_out(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "versions": self._api(props).deployed()})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The deployment goes with the worker; there is no deployment to delete on its own."""

    def _rolled_out(self, props: Mapping[str, Any]) -> dict[str, Any]:
        api = self._api(props)
        plan = Plan(
            version_id=str(props["version_id"]),
            canary_percentage=int(props["canary_percentage"]),
            bake_seconds=float(props["bake_seconds"]),
            poll_seconds=float(props["poll_seconds"]),
            max_error_rate=float(props["max_error_rate"]),
            min_requests=int(props["min_requests"]),
            all_at_once_reason=str(props.get("all_at_once_reason") or ""),
            script=str(props["script_name"]),
        )
        try:
            log.info(roll_out(plan, api, self.clock))
        except RolloutFailed as failure:
            raise ProviderError(str(failure)) from None
        return {**_inputs(props), "versions": only(plan.version_id)}

    def _api(self, props: Mapping[str, Any]) -> CloudflareTraffic:
        return CloudflareTraffic(
            str(props["api_base"]),
            str(props["account_id"]),
            str(props["script_name"]),
            self.credential(props),
            str(props["health_url"]) if props.get("health_url") else None,
        )


class WorkerRollout(Resource, module="cloudflare", name="WorkerRollout"):
    """Script `script_name`'s deployment: `version_id` at all traffic, reached through the canary.
    `versions` is the deployment Cloudflare serves, as the last update or refresh found it."""

    versions: Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        *,
        account_id: Input[str],
        script_name: Input[str],
        credential_setting: str,
        version_id: Input[str],
        canary_percentage: int,
        bake_seconds: float,
        poll_seconds: float,
        max_error_rate: float,
        min_requests: int,
        health_url: Input[str] | None = None,
        all_at_once_reason: Input[str] = "",
        opts: ResourceOptions | None = None,
        api_base: Input[str] = CLOUDFLARE_API_BASE,
    ) -> None:
        """`credential_setting` names the stack setting holding the API token. `health_url` is the
        worker's `/healthz`, asked of the new version with the version-override header; without it
        the gate watches traffic alone. A non-empty `all_at_once_reason` deploys at once, and says why.
        `api_base` is Cloudflare's API root (its GraphQL API at `<api_base>/graphql`); tests point it
        at a local server."""
        super().__init__(
            WorkerRolloutProvider(),
            name,
            {
                "api_base": api_base,
                "account_id": account_id,
                "script_name": script_name,
                CREDENTIAL_SETTING: credential_setting,
                "version_id": version_id,
                "health_url": health_url or "",
                "all_at_once_reason": all_at_once_reason,
                "canary_percentage": canary_percentage,
                "bake_seconds": bake_seconds,
                "poll_seconds": poll_seconds,
                "max_error_rate": max_error_rate,
                "min_requests": min_requests,
                "versions": None,
            },
            opts,
        )


def _inputs(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: props.get(key) for key in _INPUTS}


def _check_failures(news: Mapping[str, Any]) -> list[CheckFailure]:
    failures = non_empty_failures(news, ("account_id", "script_name", "version_id"))
    bounds = {
        "canary_percentage": (1, 100),
        "bake_seconds": (0, 86_400),
        "poll_seconds": (0.001, 3_600),
        "max_error_rate": (0, 1),
        "min_requests": (1, 1_000_000_000),
    }
    for key, (low, high) in bounds.items():
        value = news.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            failures.append(CheckFailure(key, f"must be a number from {low} to {high}"))
    return failures
