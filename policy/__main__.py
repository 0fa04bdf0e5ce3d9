"""What the Pulumi CLI runs for `--policy-pack policy`: serve the pack to the engine.

The CLI starts this file from the pack's directory (`python -m pulumi.policy`); the pack reuses
the project's own modules (the list of stateful types), so the project root goes on the path.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import DEFAULT_ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(PACK_NAME, POLICIES, enforcement_level=DEFAULT_ENFORCEMENT)
