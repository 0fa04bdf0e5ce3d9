"""What a policy may know about the stack it checks: the stack's configuration.

The CLI hands a policy pack the stack's configuration (`PULUMI_CONFIG`), and pulumi-policy
sets it as the runtime's configuration before each validation; the offline plan does the same.
"""

import pulumi

PRODUCTION = "prod"
"""`orchestra:environment` of production stacks (see `stack_config.model`)."""


def is_production() -> bool:
    return pulumi.Config().get("environment") == PRODUCTION
