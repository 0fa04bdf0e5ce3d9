"""AWS access for GitHub Actions through OIDC: no long-lived keys anywhere.

`GitHubOidc` is the account's identity provider for `token.actions.githubusercontent.com`
(audience `sts.amazonaws.com`). No thumbprints are given: for GitHub, IAM validates the
certificate against its own trusted CAs and ignores any configured thumbprint, and the
provider no longer requires the list.

`GitHubActionsRole` is a role only that provider can assume, and only for a token whose `aud`
is `sts.amazonaws.com` and whose `sub` is exactly one of the subjects given (`StringEquals`, no
wildcard, so a fork, another repository or another environment never matches). GitHub writes
the repository into `sub` in one of two formats, and the role lists the one the repository
sends (`GitHubRepository`): the legacy `repo:<owner>/<name>:…`, or, for repositories created or
renamed since 2026-07-15, `repo:<owner>@<owner id>/<name>@<repository id>:…`, whose ids never
change when a name is reused. Every such role lives under the IAM path `/github-actions/`,
which no deployment pattern matches: a role that deploys can never rewrite itself or another
CI role.

What a role may do is given separately: exact statements, managed policies, or the deployment
access of one stack (`deploy_access`). The OIDC provider and these roles are declared by the
bootstrap project (`bootstrap/`), which an administrator applies: no deploy role can change its
own trust or permissions.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..naming import IAM_ROLE, resolve_name
from .deploy_access import CI_ROLE_PATH, AccountScope, DeploymentAccess, deployment_statements
from .link import PolicyStatement, policy_document

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"

_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_REPOSITORY_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
# GitHub's default `sub` claims, minus the repository: an environment, a branch or tag, or any pull request.
_SUBJECT = re.compile(r"pull_request|environment:[^*?\s]+|ref:refs/(heads|tags)/[^*?\s]+")


@dataclass(frozen=True)
class GitHubOidcArgs:
    create_provider: bool = True
    """An account holds one provider per URL. False where it already exists (created by hand or by
    another program): its ARN, which IAM derives from the URL, is used instead."""


class GitHubOidc(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubOidcArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:GitHubOidc", name, None, opts)
        if args.create_provider:
            provider = aws.iam.OpenIdConnectProvider(
                name,
                url=GITHUB_OIDC_URL,
                client_id_lists=[STS_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.arn = provider.arn
        else:
            lookup = pulumi.InvokeOutputOptions(parent=self)
            self.arn = pulumi.Output.format(
                "arn:{0}:iam::{1}:oidc-provider/{2}",
                aws.get_partition_output(opts=lookup).partition,
                aws.get_caller_identity_output(opts=lookup).account_id,
                GITHUB_OIDC_HOST,
            )
        self.register_outputs({"arn": self.arn})


@dataclass(frozen=True)
class GitHubRepository:
    """A repository as GitHub writes it into the `sub` claim of its Actions' OIDC tokens."""

    owner: str
    name: str
    """Exactly as GitHub spells them: IAM compares the subject case-sensitively."""
    owner_id: int | None = None
    repository_id: int | None = None
    """Both given: the id-embedded format (`repo:<owner>@<owner id>/<name>@<repository id>:…`)
    GitHub uses for repositories created or renamed since 2026-07-15. Both None: the legacy
    `repo:<owner>/<name>:…`. Which one a repository sends is shown in its OIDC settings."""

    def check(self) -> None:
        if not _OWNER.fullmatch(self.owner) or not _REPOSITORY_NAME.fullmatch(self.name):
            raise ValueError(f"repository must be <owner>/<name> as GitHub spells them, got {self.owner}/{self.name}")
        ids = (self.owner_id, self.repository_id)
        if (None in ids and ids != (None, None)) or any(i is not None and i < 1 for i in ids):
            raise ValueError("owner_id and repository_id: both positive ids (id-embedded format), or neither")

    def subject(self, claim: str) -> str:
        """The whole `sub` of a token for `claim` (`environment:prod`, `pull_request`...)."""
        if self.owner_id is None:
            return f"repo:{self.owner}/{self.name}:{claim}"
        return f"repo:{self.owner}@{self.owner_id}/{self.name}@{self.repository_id}:{claim}"


@dataclass(frozen=True)
class GitHubActionsRoleArgs:
    provider_arn: pulumi.Input[str]
    """The `GitHubOidc` provider's ARN."""
    role_name: str
    """The role's name under `CI_ROLE_PATH`, which the workflows' `AWS_ROLE_ARN` is computed from."""
    repository: GitHubRepository
    subjects: Sequence[str]
    """What of that repository may assume the role: `environment:<name>`, `ref:refs/heads/<branch>`,
    `ref:refs/tags/<tag>` or `pull_request`. Exact values; wildcards are refused."""
    statements: Sequence[PolicyStatement] = ()
    deployment: DeploymentAccess | None = None
    managed_policy_arns: Sequence[str] = ()
    description: str = ""
    max_session_hours: int = 1
    """How long the credentials last (1-12); a job that runs longer must assume the role again."""


class GitHubActionsRole(pulumi.ComponentResource):
    role: aws.iam.Role
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubActionsRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:GitHubActionsRole", name, None, opts)
        try:
            args.repository.check()
        except ValueError as error:
            raise ValueError(f"role {name}: {error}") from None
        bad = [subject for subject in args.subjects if not _SUBJECT.fullmatch(subject)]
        if not args.subjects or bad or len(set(args.subjects)) != len(args.subjects):
            raise ValueError(
                f"role {name}: subjects must be distinct exact environment:, ref:refs/heads/, ref:refs/tags/ "
                f"or pull_request values; refused: {bad}"
            )
        if not args.statements and args.deployment is None and not args.managed_policy_arns:
            raise ValueError(f"role {name}: grants nothing; give statements, deployment access or managed policies")
        if not 1 <= args.max_session_hours <= 12:
            raise ValueError(f"role {name}: max session must be 1-12 hours")
        child = pulumi.ResourceOptions(parent=self)

        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {"Federated": args.provider_arn},
                    "Condition": {
                        "StringEquals": {
                            f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                            f"{GITHUB_OIDC_HOST}:sub": [args.repository.subject(s) for s in args.subjects],
                        }
                    },
                }
            ],
        }
        self.role = aws.iam.Role(
            name,
            name=resolve_name(name, args.role_name, IAM_ROLE),
            path=CI_ROLE_PATH,
            description=args.description or f"GitHub Actions of {args.repository.owner}/{args.repository.name}",
            assume_role_policy=pulumi.Output.json_dumps(trust),
            max_session_duration=args.max_session_hours * 3600,
            opts=child,
        )
        statements = list(args.statements)
        if args.deployment is not None:
            statements += deployment_statements(args.deployment, AccountScope.current(self))
        if statements:
            # A fixed name, so a check can fetch the policy from AWS (`tools.ci_access`).
            aws.iam.RolePolicy(
                f"{name}-policy", name="access", role=self.role.id, policy=policy_document(statements), opts=child
            )
        for index, policy_arn in enumerate(args.managed_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-managed-{index}", role=self.role.name, policy_arn=policy_arn, opts=child
            )
        self.arn = self.role.arn
        self.name = self.role.name
        self.register_outputs({"arn": self.arn, "name": self.name})
