"""`python -m tools.ci_access check --stack <stack> --live DIR`: are the stack's CI roles what
`bootstrap/` at this commit declares?

The plan job runs it before saving a plan, so a change to the CI roles (or a new resource type
they must grant) that an administrator has not applied yet stops the deploy there, with one
line saying how to apply it, instead of failing the approved apply part-way with AccessDenied.
DIR holds the documents as AWS holds them, fetched with the stack's read role:
`deploy.json` and `read.json` (`aws iam get-role-policy --role-name <role> --policy-name
access --query PolicyDocument`) and `boundary.json` (the default version's `Document` of the
functions' boundary policy). Exit status 0 when all three match, 1 when any differs, 2 when DIR
cannot be read. `python -m tools.ci_access names --stack <stack>` prints the names the plan job
fetches them by (`deploy-role=`, `read-role=`, `boundary-policy=` with its IAM path).
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from components.aws.deploy_access import CI_ROLE_PATH, ci_role_name, function_boundary_name
from tools.offline_plan import Plan, evaluate_project

BOOTSTRAP = Path(__file__).resolve().parents[2] / "bootstrap"
DOCUMENTS = {
    "deploy": ("aws:iam/rolePolicy:RolePolicy", "ci-deploy-role-policy"),
    "read": ("aws:iam/rolePolicy:RolePolicy", "ci-read-role-policy"),
    "boundary": ("aws:iam/policy:Policy", "ci-functions-boundary"),
}
# The account in an ARN (`arn:<partition>:<service>:<region>:<account>:…`): the offline plan's is made up.
_ACCOUNT = re.compile(r"(arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:)[0-9]{12}(:)")


def normalised(document: Any) -> Any:
    """The document with its accounts blanked and single values as one-element lists, as IAM
    allows either spelling."""
    text = _ACCOUNT.sub(r"\1<account>\2", json.dumps(document, sort_keys=True))
    parsed = json.loads(text)
    for statement in parsed.get("Statement", []):
        for key in ("Action", "Resource"):
            if isinstance(statement.get(key), str):
                statement[key] = [statement[key]]
        statement["Action"] = sorted(statement.get("Action", []))
    return parsed


def expected_documents(plan: Plan) -> dict[str, Any]:
    return {kind: json.loads(plan.one(type_, name).inputs["policy"]) for kind, (type_, name) in DOCUMENTS.items()}


def differing(stack: str, live: dict[str, Any]) -> list[str]:
    expected = expected_documents(evaluate_project(BOOTSTRAP, stack))
    return [kind for kind in DOCUMENTS if normalised(expected[kind]) != normalised(live[kind])]


def document_names(stack: str) -> dict[str, str]:
    """Where AWS holds the three documents of `stack`: its bootstrap stack's `namePrefix` decides."""
    stack_file = BOOTSTRAP / f"Pulumi.{stack}.yaml"
    settings = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {} if stack_file.exists() else {}
    prefix = settings.get("orchestra-bootstrap:namePrefix") or "orchestra"
    return {
        "deploy-role": ci_role_name(prefix, stack, "deploy"),
        "read-role": ci_role_name(prefix, stack, "read"),
        "boundary-policy": f"{CI_ROLE_PATH}{function_boundary_name(prefix, stack)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.ci_access", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="compare a stack's CI roles with bootstrap/")
    check.add_argument("--stack", required=True)
    check.add_argument("--live", type=Path, required=True, help="directory of the documents AWS holds")
    names = commands.add_parser("names", help="print where AWS holds the stack's CI documents")
    names.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    if args.command == "names":
        for key, value in document_names(args.stack).items():
            print(f"{key}={value}")
        return 0
    try:
        live = {kind: json.loads((args.live / f"{kind}.json").read_text()) for kind in DOCUMENTS}
    except (OSError, ValueError) as error:
        print(f"{args.live}: cannot read the CI roles' documents ({error})", file=sys.stderr)
        return 2
    changed = differing(args.stack, live)
    if changed:
        print(
            f"the CI access of {args.stack} differs from bootstrap/ at this commit ({', '.join(changed)}): "
            f"an administrator applies it first (cd bootstrap && pulumi up --stack {args.stack}), then re-run",
            file=sys.stderr,
        )
        return 1
    print(f"the CI access of {args.stack} is what bootstrap/ declares")
    return 0


if __name__ == "__main__":
    sys.exit(main())
