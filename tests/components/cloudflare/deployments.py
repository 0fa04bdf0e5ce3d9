"""Successive `pulumi up`s and `pulumi preview`s of a program, against the fake Cloudflare API.

Pulumi's mocks answer every registration at once; here they stand in for the
engine and the Cloudflare provider instead, keeping state between runs:
- a dynamic resource goes through its own provider as the engine drives it
  (configured with the stack's settings; check; then create, or diff and
  update when it changed) with the state the previous run left;
- the worker's deployment (`WorkerRollout`, tested with its own fake in
  tests/components/providers) is answered as a plan answers it: these runs are
  about what each upload carries;
- a worker version is uploaded to the fake API, with the metadata the Cloudflare
  provider builds from its inputs, migrations included, when it is new or any
  of its inputs differs from the last run's (the provider's diff of
  `migrations` is a plain comparison: the attribute is optional, not computed),
  so the fake's checks apply to what the program really declares;
- a preview takes the same decisions and changes nothing, and `changes` lists
  what it would create or update.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import dill
import requests
from pulumi.runtime import MockResourceArgs, rpc

import tools.offline_plan.runner
from tests.components.dynamic_provider_support import configured
from tools.offline_plan import Plan, evaluate
from tools.offline_plan.mock_outputs import OfflineMocks

from .support import ACCOUNT_ID, SETTING, TOKEN, FakeCloudflare

WORKER_TYPE = "cloudflare:index/worker:Worker"
VERSION_TYPE = "cloudflare:index/workerVersion:WorkerVersion"
ROLLOUT_TYPE = "pulumi-python:dynamic/cloudflare:WorkerRollout"


class DeploymentFailed(Exception):
    """The fake API refused an upload."""


class Deployments:
    """Runs a program again and again as `pulumi up` would, with Cloudflare answered by `cloudflare`."""

    def __init__(self, cloudflare: FakeCloudflare, monkeypatch: Any) -> None:
        self.cloudflare = cloudflare
        self.settings = {SETTING: TOKEN}
        self.state: dict[str, dict[str, Any]] = {}
        self.scripts: dict[str, dict[str, Any]] = {}
        self.script_names: dict[str, str] = {}
        """The script name of each worker, by the id its versions name it by."""
        self.previewing = False
        self.steps: list[tuple[str, str]] = []
        """`(operation, name)` of each step the last run took, or the last preview would take."""
        deployments = self

        class DeployingMocks(OfflineMocks):
            def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
                if args.typ.startswith("pulumi-python:dynamic") and args.typ != ROLLOUT_TYPE:
                    return deployments.dynamic(args)
                resource_id, state = super().new_resource(args)
                if args.typ == WORKER_TYPE:
                    deployments.script_names[resource_id] = str(args.inputs["name"])
                if args.typ == VERSION_TYPE:
                    deployments.script(args.name, plain(args.inputs))
                return resource_id, state

        monkeypatch.setattr(tools.offline_plan.runner, "OfflineMocks", DeployingMocks)

    def up(self, program: Callable[[], None]) -> Plan:
        self.steps, self.previewing = [], False
        return evaluate(program)

    def preview(self, program: Callable[[], None]) -> list[tuple[str, str]]:
        """The steps `pulumi preview` would show; nothing is created, updated or uploaded."""
        self.steps, self.previewing = [], True
        evaluate(program)
        return self.steps

    def dynamic(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # Cloudflare, for these runs, is the fake.
        news = {**plain(args.inputs), "api_base": self.cloudflare.api_base}
        # The provider this program registered, unpickled and configured as the provider host does.
        provider = configured(dill.loads(base64.b64decode(news["__provider"])), self.settings)  # noqa: S301
        olds = self.state.get(args.name)
        checked = provider.check(olds or {}, news)
        assert not checked.failures, [(failure.property, failure.reason) for failure in checked.failures]
        if olds is None:
            self.steps.append(("create", args.name))
            if self.previewing:
                return args.name, checked.inputs
            created = provider.create(checked.inputs)
            self.state[args.name] = {"__id": created.id, **(created.outs or {})}
        elif provider.diff(olds["__id"], olds, checked.inputs).changes:
            self.steps.append(("update", args.name))
            if self.previewing:
                return olds["__id"], checked.inputs
            updated = provider.update(olds["__id"], olds, checked.inputs)
            self.state[args.name] = {"__id": olds["__id"], **(updated.outs or {})}
        outs = dict(self.state[args.name])
        return outs.pop("__id"), outs

    def script(self, name: str, inputs: dict[str, Any]) -> None:
        previous = self.scripts.get(name)
        if previous == inputs:
            return
        self.steps.append(("create" if previous is None else "update", name))
        if not self.previewing:
            self.upload(self.script_names[inputs["workerId"]], inputs)
            self.scripts[name] = inputs

    def upload(self, script_name: str, inputs: Mapping[str, Any]) -> None:
        """The multipart upload the provider sends for a version of `script_name`: metadata in
        Cloudflare's spelling, then the modules."""
        metadata = {
            key: snake_case(inputs[name])
            for key, name in (("main_module", "mainModule"), ("bindings", "bindings"), ("migrations", "migrations"))
            if name in inputs
        }
        response = requests.put(
            f"{self.cloudflare.api_base}/accounts/{ACCOUNT_ID}/workers/scripts/{script_name}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            files={
                "metadata": (None, json.dumps(metadata), "application/json"),
                inputs["mainModule"]: (inputs["mainModule"], b"export default {};", "application/javascript+module"),
            },
            timeout=10,
        )
        if not response.json()["success"]:
            raise DeploymentFailed(json.dumps(response.json()["errors"]))


def plain(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as a provider that takes no secrets receives them: secret values unwrapped."""
    return {key: rpc.unwrap_rpc_secret(value) for key, value in inputs.items()}


def snake_case(value: Any) -> Any:
    """The SDK's camelCase names as the upload metadata spells them (`newSqliteClasses` → `new_sqlite_classes`)."""
    if isinstance(value, Mapping):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): snake_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case(item) for item in value]
    return value
