"""Offline plan: evaluate the Pulumi program under Pulumi's mocks and report what it declares.

Tests use the same recorder as the command line:

    plan = evaluate(lambda: Orchestrator("orchestrator", args), stack="prod")
    table = plan.one("aws:dynamodb/table:Table", "orchestrator-runs")
    assert table.protect and table.retain_on_delete
"""

from .diff import PlanDiff, diff_plans
from .mock_outputs import ReferencedStack
from .plan import Plan, PlannedResource
from .policies import Violation, check_policies
from .project_config import PLACEHOLDER_PREFIX, ComposedConfig, ConfigCompositionError, compose_config, load_project
from .runner import evaluate, evaluate_project, referenced_stack
from .wire import SECRET

__all__ = [
    "PLACEHOLDER_PREFIX",
    "SECRET",
    "ComposedConfig",
    "ConfigCompositionError",
    "Plan",
    "PlanDiff",
    "PlannedResource",
    "ReferencedStack",
    "Violation",
    "check_policies",
    "compose_config",
    "diff_plans",
    "evaluate",
    "evaluate_project",
    "load_project",
    "referenced_stack",
]
