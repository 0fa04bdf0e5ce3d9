"""The policies of the pack, in one list for the CLI's pack and the offline plan alike."""

from pulumi_policy import EnforcementLevel, Policy

from .iam import IAM_LEAST_PRIVILEGE
from .log_retention import LOG_RETENTION
from .plain_settings import NO_CREDENTIALS_IN_PLAIN_SETTINGS
from .protection import STATEFUL_RESOURCES_PROTECTED
from .secret_inputs import SECRET_INPUTS_ARE_SECRET
from .workers import WORKERS_DEV_OFF_WHEN_ROUTED

PACK_NAME = "orchestra"
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
"""For a policy that sets no level of its own."""

POLICIES: list[Policy] = [
    STATEFUL_RESOURCES_PROTECTED,
    IAM_LEAST_PRIVILEGE,
    SECRET_INPUTS_ARE_SECRET,
    NO_CREDENTIALS_IN_PLAIN_SETTINGS,
    LOG_RETENTION,
    WORKERS_DEV_OFF_WHEN_ROUTED,
]
