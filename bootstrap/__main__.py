"""One bootstrap stack: the CI access of the Orchestra stack of the same name (see `systems.ci_access`).

An administrator applies it (`pulumi up` in this directory, stack `dev` or `prod`) before that
stack's first deploy and whenever the CI roles or the boundary change; CI never does.
"""

import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent
sys.path.insert(0, str(PROJECT.parent))

import pulumi  # noqa: E402

from components.aws.github_oidc import GitHubRepository  # noqa: E402
from stack_config.data_file import load_data_file  # noqa: E402
from stack_config.stacks import deploy_environment, plan_environment, stack_names, tenants_environment  # noqa: E402
from systems.ci_access.system import PROGRAM_AWS_RESOURCE_TYPES, CiAccess, CiAccessArgs  # noqa: E402
from systems.delivery.spec import DeliveryFileError, DeliverySpec, StackDeliverySpec  # noqa: E402

config = pulumi.Config()
stack = pulumi.get_stack()
delivery_file = (PROJECT / (config.get("deliveryFile") or "../delivery.yaml")).resolve()
spec = load_data_file(delivery_file, DeliverySpec, DeliveryFileError)
if stack not in stack_names(PROJECT.parent):
    raise pulumi.RunError(f"no Pulumi.{stack}.yaml beside bootstrap/: no Orchestra stack {stack!r} to give CI access")
stack_spec = spec.stacks.get(stack, StackDeliverySpec())
extra_types = config.get_object("extraResourceTypes") or []
if not isinstance(extra_types, list) or not all(isinstance(t, str) for t in extra_types):
    raise pulumi.RunError("orchestra-bootstrap:extraResourceTypes: expected a list of Pulumi type tokens")
readers = [plan_environment(stack)] + [spec.preview_environment] * (stack == spec.preview_stack)

try:
    access = CiAccess(
        "ci",
        CiAccessArgs(
            name_prefix=config.get("namePrefix") or "orchestra",
            stack=stack,
            repository=GitHubRepository(
                spec.owner,
                spec.deploying_repository,
                owner_id=spec.oidc_subject.owner_id,
                repository_id=spec.oidc_subject.repository_id,
            ),
            deploy_environments=[deploy_environment(stack), tenants_environment(stack)],
            read_environments=readers,
            resource_types=[*PROGRAM_AWS_RESOURCE_TYPES, *extra_types],
            create_oidc_provider=config.get_bool("createOidcProvider") is not False,
            state_bucket=stack_spec.state_bucket,
            state_kms_key_arn=stack_spec.state_kms_key_arn,
        ),
    )
except ValueError as error:
    raise pulumi.RunError(str(error)) from None

pulumi.export("deployRoleArn", access.deploy_role_arn)
pulumi.export("readRoleArn", access.read_role_arn)
pulumi.export("functionsBoundaryArn", access.functions_boundary_arn)
pulumi.export("oidcProviderArn", access.oidc_provider_arn)
