"""Every naming rule of the program: logical names, and physical names `<project>-<logical name>-<stack>`.

Logical names are built from the parent component's name (`orchestrator-runs`),
with `fragment()` turning outside names (a repository, a route, a secret) into
their parts, so physical names read as `orchestra-orchestrator-runs-dev`. Each
service's length and character rules are declared once here; a name that would
break them is shortened with a stable hash rather than rejected by the cloud
halfway through a deployment, and keeps `-<stack>` last: the deploy roles'
grants match `*-<stack>`.
"""

import hashlib
import re
from contextvars import ContextVar
from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class NameRule:
    service: str
    max_length: int
    allowed: str
    """A regular expression of the characters the service accepts."""
    lowercase: bool = False


LAMBDA_FUNCTION = NameRule("Lambda function", 64, r"[A-Za-z0-9_-]")
IAM_ROLE = NameRule("IAM role", 64, r"[A-Za-z0-9+=,.@_-]")
DYNAMODB_TABLE = NameRule("DynamoDB table", 255, r"[A-Za-z0-9_.-]")
SECRETS_MANAGER_SECRET = NameRule("Secrets Manager secret", 512, r"[A-Za-z0-9/_+=.@-]")
HTTP_API = NameRule("API Gateway HTTP API", 128, r"[A-Za-z0-9_ .-]")
SNS_TOPIC = NameRule("SNS topic", 256, r"[A-Za-z0-9_-]")
SQS_QUEUE = NameRule("SQS queue", 80, r"[A-Za-z0-9_-]")
CLOUDWATCH_ALARM = NameRule("CloudWatch alarm", 255, r"[A-Za-z0-9_ .-]")
CLOUDWATCH_DASHBOARD = NameRule("CloudWatch dashboard", 255, r"[A-Za-z0-9_-]")
# Cloudflare: the Workers, D1, KV, R2 and Vectorize schemas of the v4 API, and the products' limits pages.
# A worker name is also its workers.dev DNS label, hence lowercase and 63 characters.
WORKER_SCRIPT = NameRule("Worker script", 63, r"[a-z0-9-]", lowercase=True)
# The API allows `[A-Za-z0-9_-]` and documents no maximum; 63 keeps D1 names as short as the others.
D1_DATABASE = NameRule("D1 database", 63, r"[A-Za-z0-9_-]")
KV_NAMESPACE_TITLE = NameRule("KV namespace title", 512, r"[ -~]")
R2_BUCKET = NameRule("R2 bucket", 63, r"[a-z0-9-]", lowercase=True)
VECTORIZE_INDEX = NameRule("Vectorize index", 64, r"[a-z0-9_-]", lowercase=True)
CLOUDFLARE_TOKEN_NAME = NameRule("Cloudflare API token", 120, r"[ -~]")

_HASH_LENGTH = 8

# A tenant stack names its resources as the platform stack it belongs to would (`orchestra-...-prod`),
# so its names are the ones they had when the platform stack declared every tenant.
_NAMED_AS: ContextVar[tuple[str, str] | None] = ContextVar("named_as", default=None)


def name_as(project: str, stack: str) -> None:
    """Physical names made from here on in this program are `<project>-<logical name>-<stack>`."""
    _NAMED_AS.set((project, stack))


def _project_and_stack() -> tuple[str, str]:
    return _NAMED_AS.get() or (pulumi.get_project(), pulumi.get_stack())


def fragment(text: str) -> str:
    """`CLOUDFLARE_API_TOKEN` → `cloudflare-api-token`, `POST /github/webhook` → `post-github-webhook`:
    an outside name as part of a logical name, stable and readable."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def physical_name(logical_name: str, rule: NameRule) -> str:
    """`<project>-<logical_name>-<stack>`, within the service's rules. A name too long is cut in
    its middle, `<project>-<logical name, cut>-<hash of the whole>-<stack>`, so it still ends
    with the stack."""
    project, stack = _project_and_stack()
    name = f"{project}-{logical_name}-{stack}"
    if rule.lowercase:
        name, stack = name.lower(), stack.lower()
    bad = _rejected_characters(name, rule)
    if bad:
        raise ValueError(f"{rule.service} name {name!r} has characters the service rejects: {bad!r}")
    if len(name) <= rule.max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    suffix = f"-{digest}-{stack}"
    kept = rule.max_length - len(suffix)
    if kept < 1:
        raise ValueError(f"{rule.service} name {name!r}: the stack name leaves no room within {rule.max_length}")
    return f"{name[: len(name) - len(stack) - 1][:kept].rstrip('-')}{suffix}"


def resolve_name(logical_name: str, explicit: str | None, rule: NameRule) -> str:
    """`physical_name`, unless a name is chosen by hand (one an outside party already relies on).
    A chosen name is used exactly as written: checked against the service's rules, never
    lowercased or shortened."""
    if explicit is None:
        return physical_name(logical_name, rule)
    if not explicit or _rejected_characters(explicit, rule) or (rule.lowercase and explicit != explicit.lower()):
        allowed = f"{rule.allowed}{' (lowercase)' if rule.lowercase else ''}"
        raise ValueError(f"{rule.service} name {explicit!r} must be made of {allowed}")
    if len(explicit) > rule.max_length:
        raise ValueError(f"{rule.service} name {explicit!r} is longer than {rule.max_length} characters")
    return explicit


def _rejected_characters(name: str, rule: NameRule) -> str:
    return "".join(sorted(set(re.sub(rule.allowed, "", name))))


def parameter_path(logical_name: str) -> str:
    """An SSM parameter path, `/<project>/<stack>/<logical_name>`: hierarchies group a stack's parameters."""
    path = f"/{pulumi.get_project()}/{pulumi.get_stack()}/{logical_name}"
    if len(path) > 1011 or re.search(r"[^A-Za-z0-9/_.-]", path):
        raise ValueError(f"SSM parameter path {path!r} is too long or has characters SSM rejects")
    return path


def stack_name_pattern(project: str, stack: str) -> str:
    """The IAM pattern every `physical_name` of `stack` matches: `<project>-*-<stack>`."""
    return f"{project}-*-{stack}"
