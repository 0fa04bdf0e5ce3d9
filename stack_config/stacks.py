"""The project's stacks are data: one `Pulumi.<stack>.yaml` per stack, and nothing else lists them.

Which stacks are guarded (their data protected, the policy pack's production guards on, their
deploys approved by a reviewer) is the one setting `orchestra:guardedStacks`, declared with its
value in `Pulumi.yaml` so that every stack, and the policy pack, reads the same list.
"""

from pathlib import Path

STACK_FILE_PREFIX = "Pulumi."
STACK_FILE_SUFFIX = ".yaml"


def stack_names(project_dir: Path) -> list[str]:
    """Every stack of the project, sorted: the `<stack>` of each `Pulumi.<stack>.yaml`."""
    return sorted(
        path.name.removeprefix(STACK_FILE_PREFIX).removesuffix(STACK_FILE_SUFFIX)
        for path in project_dir.glob(f"{STACK_FILE_PREFIX}*{STACK_FILE_SUFFIX}")
    )


def deploy_environment(stack: str) -> str:
    """The GitHub environment whose jobs deploy `stack`, with its deploy role."""
    return stack


def plan_environment(stack: str) -> str:
    """The GitHub environment whose jobs plan `stack` and check its drift, with its read role."""
    return f"{stack}-plan"


def tenants_environment(stack: str) -> str:
    """The GitHub environment whose jobs apply the tenant stacks of `stack`'s environment, with its
    deploy role. It has no reviewers: a reviewed environment asks for an approval per job, and a
    wave's tenants are many jobs; the wave's one gate job runs in `deploy_environment(stack)`."""
    return f"{stack}-tenants"
