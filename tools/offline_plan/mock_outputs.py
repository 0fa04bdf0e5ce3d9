"""Plausible, deterministic outputs for resources and invokes that no cloud answers offline.

A resource's state is its inputs plus what the provider would compute, so that
programs reading `.arn`, `.name`, `.invoke_arn`, `.api_endpoint`, `.result`...
get a value of the right shape. Everything derives from the type, the logical
name and the inputs: two runs produce the same plan.
"""

import hashlib
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Facts:
    """What a computed output may be derived from."""

    type: str
    logical_name: str
    physical_name: str
    id: str
    region: str
    account: str
    inputs: Mapping[str, Any]


# ARNs that do not follow `arn:aws:<service>:<region>:<account>:<resource>/<name>`.
_ARN_TEMPLATES: dict[str, str] = {
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{physical_name}",
    "aws:iam/policy:Policy": "arn:aws:iam::{account}:policy/{physical_name}",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "arn:aws:iam::{account}:oidc-provider/{physical_name_without_scheme}"
    ),
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{physical_name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{physical_name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{physical_name}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{physical_name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{physical_name}",
    "aws:cloudwatch/dashboard:Dashboard": "arn:aws:cloudwatch::{account}:dashboard/{physical_name}",
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{physical_name}",
    "aws:ssm/parameter:Parameter": "arn:aws:ssm:{region}:{account}:parameter/{physical_name_without_slash}",
    "aws:apigatewayv2/api:Api": "arn:aws:apigateway:{region}::/apis/{id}",
}

# The input that holds the physical name, where it is not `name`.
_NAME_INPUTS: dict[str, str] = {
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "url",
}


def _lambda_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {
        "invokeArn": f"arn:aws:apigateway:{facts.region}:lambda:path/2015-03-31/functions/{arn}/invocations",
        # A function that publishes has a numbered version: the first one, in a plan.
        "qualifiedArn": f"{arn}:1" if facts.inputs.get("publish") else f"{arn}:$LATEST",
        "version": "1" if facts.inputs.get("publish") else "$LATEST",
    }


def _http_api_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {
        "apiEndpoint": f"https://{facts.id}.execute-api.{facts.region}.amazonaws.com",
        "executionArn": f"arn:aws:execute-api:{facts.region}:{facts.account}:{facts.id}",
    }


def _queue_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {"url": f"https://sqs.{facts.region}.amazonaws.com/{facts.account}/{facts.physical_name}"}


def _random_text_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    length = int(facts.inputs.get("length", 16))
    return {"result": _digest_text(facts, length)}


def _random_id_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    hex_value = _digest_text(facts, 2 * int(facts.inputs.get("byteLength", 8)), alphabet="0123456789abcdef")
    return {"hex": hex_value, "dec": str(int(hex_value, 16)), "b64Url": hex_value, "b64Std": hex_value}


def _random_uuid_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {"result": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{facts.type}/{facts.logical_name}"))}


def _random_integer_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {"result": int(facts.inputs.get("min", 0))}


ComputedOutputs = Callable[[Facts, str], dict[str, Any]]


# Outputs beyond `arn`, `id` and `name` that programs read.
def _account_token_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {"value": _digest_text(facts, 40)}


_COMPUTED: dict[str, ComputedOutputs] = {
    "aws:lambda/function:Function": _lambda_outputs,
    "aws:apigatewayv2/api:Api": _http_api_outputs,
    "aws:sqs/queue:Queue": _queue_outputs,
    "random:index/randomPassword:RandomPassword": _random_text_outputs,
    "random:index/randomString:RandomString": _random_text_outputs,
    "random:index/randomId:RandomId": _random_id_outputs,
    "random:index/randomUuid:RandomUuid": _random_uuid_outputs,
    "random:index/randomInteger:RandomInteger": _random_integer_outputs,
    "cloudflare:index/accountToken:AccountToken": _account_token_outputs,
}


STACK_REFERENCE = "pulumi:pulumi:StackReference"


@dataclass(frozen=True)
class ReferencedStack:
    """What a `pulumi.StackReference` to one stack reads: its outputs, and which of them are secret."""

    outputs: Mapping[str, Any]
    secret_names: frozenset[str] = frozenset()


class MissingStackReferenceError(Exception):
    """The program reads a stack the offline plan was given no outputs for."""


class OfflineMocks(Mocks):
    def __init__(
        self,
        region: str = DEFAULT_REGION,
        account: str = ACCOUNT_ID,
        references: Mapping[str, ReferencedStack] | None = None,
    ) -> None:
        self.region = region
        self.account = account
        self.references = dict(references or {})

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(str(args.inputs.get("name") or args.resource_id))
        if not args.custom:
            return "", {}
        # A mock id says what it is; real ids are random or come from the cloud.
        resource_id = f"{args.name}-id"
        name_input = args.inputs.get(_NAME_INPUTS.get(args.typ, "name"))
        # A secret name stays out of derived outputs, which are not secret.
        physical_name = name_input if isinstance(name_input, str) else args.name
        facts = Facts(
            type=args.typ,
            logical_name=args.name,
            physical_name=physical_name,
            id=resource_id,
            region=str(args.inputs.get("region") or self.region),
            account=self.account,
            inputs=args.inputs,
        )
        state: dict[str, Any] = {"name": physical_name}
        if args.typ.startswith("aws:"):
            arn = _arn(facts)
            state |= {"arn": arn, **_COMPUTED.get(args.typ, _no_outputs)(facts, arn)}
        else:
            state |= _COMPUTED.get(args.typ, _no_outputs)(facts, "")
        return resource_id, state | dict(args.inputs)

    def _stack_reference(self, stack: str) -> tuple[str, dict[str, Any]]:
        # The engine reads a referenced stack's outputs, secrets included, with the names of the
        # secret ones; the SDK marks those secret in the referencing program.
        referenced = self.references.get(stack)
        if referenced is None:
            known = ", ".join(sorted(self.references)) or "none"
            raise MissingStackReferenceError(
                f"the program reads stack {stack}, and the offline plan has no outputs for it (given: {known}); "
                f"pass --reference {stack}=<plan of that stack>.json"
            )
        state = {
            "name": stack,
            "outputs": dict(referenced.outputs),
            "secretOutputNames": sorted(referenced.secret_names),
        }
        return stack, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        region = str(args.args.get("region") or args.args.get("name") or self.region)
        results: dict[str, dict[str, Any]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/offline-plan",
                "id": self.account,
                "userId": "AIDAOFFLINEPLAN",
            },
            "aws:index/getRegion:getRegion": {
                "name": region,
                "region": region,
                "id": region,
                "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "id": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            },
            "github:index/getUser:getUser": _github_account("user", str(args.args.get("username") or "")),
            "github:index/getTeam:getTeam": _github_account("team", str(args.args.get("slug") or "")),
            "cloudflare:index/getAccountApiTokenPermissionGroupsList:getAccountApiTokenPermissionGroupsList": (
                _cloudflare_permission_groups(args.args.get("name"))
            ),
        }
        # No check failures: the mock monitor iterates this list, so it must not be None.
        return results.get(args.token, {}), []


def _arn(facts: Facts) -> str:
    template = _ARN_TEMPLATES.get(facts.type)
    if template is None:
        # `aws:dynamodb/table:Table` → `arn:aws:dynamodb:<region>:<account>:table/<name>`
        service, resource = facts.type.split(":")[1].split("/")
        kind = re.sub(r"(?<!^)(?=[A-Z])", "-", resource).lower()
        return f"arn:aws:{service}:{facts.region}:{facts.account}:{kind}/{facts.physical_name}"
    return template.format(
        account=facts.account,
        region=facts.region,
        id=facts.id,
        physical_name=facts.physical_name,
        physical_name_without_slash=facts.physical_name.lstrip("/"),
        physical_name_without_scheme=facts.physical_name.removeprefix("https://"),
    )


def github_id(kind: str, name: str) -> int:
    """The numeric id the mocks give a GitHub user or team: stable, and distinct per name."""
    return int.from_bytes(hashlib.sha256(f"github-{kind}/{name}".encode()).digest()[:4], "big")


def _github_account(kind: str, name: str) -> dict[str, Any]:
    # The provider returns ids as text; `login`/`username` for users, `slug` for teams.
    account_id = github_id(kind, name)
    names = {"login": name, "username": name} if kind == "user" else {"slug": name}
    return {"id": str(account_id), "nodeId": f"{kind[0].upper()}_{account_id}", "name": name, **names}


# Account permission groups as Cloudflare names them; an account lists several hundred.
_CLOUDFLARE_PERMISSION_GROUPS = (
    "Account API Tokens Read",
    "Account API Tokens Write",
    "Account Settings Read",
    "Account Settings Write",
    "D1 Read",
    "D1 Write",
    "Vectorize Read",
    "Vectorize Write",
    "Workers AI Read",
    "Workers AI Write",
    "Workers KV Storage Read",
    "Workers KV Storage Write",
    "Workers R2 Storage Read",
    "Workers R2 Storage Write",
    "Workers Scripts Read",
    "Workers Scripts Write",
    "Workers Tail Read",
)


def _cloudflare_permission_groups(name: object) -> dict[str, Any]:
    """Every group, each with a stable 32-hex-digit id; with a `name` filter, the group of that name."""
    names = _CLOUDFLARE_PERMISSION_GROUPS if name is None else [str(name)] if name else []
    groups = [
        {
            "id": hashlib.sha256(f"cloudflare-permission-group/{group}".encode()).hexdigest()[:32],
            "name": group,
            "category": "Workers",
            "isSelectable": True,
            "scopes": ["com.cloudflare.api.account"],
        }
        for group in names
    ]
    return {**({"name": name} if name is not None else {}), "results": groups}


def _no_outputs(facts: Facts, arn: str) -> dict[str, Any]:
    return {}


def _digest_text(facts: Facts, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    seed = f"{facts.type}/{facts.logical_name}".encode()
    characters: list[str] = []
    counter = 0
    while len(characters) < length:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        characters.extend(alphabet[byte % len(alphabet)] for byte in block)
        counter += 1
    return "".join(characters[:length])
