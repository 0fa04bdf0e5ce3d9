"""What a policy may know about the stack it checks: its name and its configuration.

The CLI hands a policy pack the stack's configuration (`PULUMI_CONFIG`), and pulumi-policy
sets it as the runtime's configuration before each validation; the offline plan does the same.
"""

import pulumi

from stack_config.model import StackConfig

_GUARDED_STACKS = "guardedStacks"


def is_guarded() -> bool:
    """Whether the stack checked is one of `orchestra:guardedStacks` (`stack_config.stacks`): the
    production guards apply to it. Without the setting, the model's default list decides."""
    configured = pulumi.Config().get_object(_GUARDED_STACKS)
    guarded = configured if isinstance(configured, list) else StackConfig.model_fields["guarded_stacks"].default
    return pulumi.get_stack() in guarded
