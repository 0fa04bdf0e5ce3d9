"""A GitHub owner (organisation or user): the one provider every GitHub block is created with."""

from dataclasses import dataclass

import pulumi
import pulumi_github as github


@dataclass(frozen=True)
class GitHubOwnerArgs:
    owner: str
    """The organisation or user whose repositories are managed."""
    token: pulumi.Input[str] | None = None
    """Wrapped as a Pulumi secret. None: the provider reads `GITHUB_TOKEN` from the environment,
    which is how the workflows hand it over."""


class GitHubOwner(pulumi.ComponentResource):
    """An explicit `github.Provider` for one owner. Blocks get it through `provider=owner.provider`,
    so the owner whose repositories are changed is the one named here, never whatever
    `GITHUB_OWNER` or the token happen to point at."""

    provider: github.Provider
    owner: str

    def __init__(self, name: str, args: GitHubOwnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:github:Owner", name, None, opts)
        if not args.owner:
            raise ValueError(f"GitHub owner {name}: owner is empty")
        self.owner = args.owner
        token = pulumi.Output.secret(args.token) if args.token is not None else None
        self.provider = github.Provider(name, owner=args.owner, token=token, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"owner": self.owner})
