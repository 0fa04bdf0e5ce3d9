"""What a policy may know about the stack it checks: its name and its configuration.

The CLI hands a policy pack the stack's configuration (`PULUMI_CONFIG`), and pulumi-policy
sets it as the runtime's configuration before each validation; the offline plan does the same.
"""

import pulumi

PRODUCTION = "prod"
"""`orchestra:environment` of production stacks (see `stack_config.model`)."""


def is_production() -> bool:
    # The stack's name counts too: a change that relabels the `prod` stack's environment must not
    # switch its guards off.
    return pulumi.Config().get("environment") == PRODUCTION or pulumi.get_stack() == PRODUCTION
