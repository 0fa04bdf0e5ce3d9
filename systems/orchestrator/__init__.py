"""The orchestrator on AWS: Discord and GitHub webhooks → Lambda → a DynamoDB table of runs."""

from .system import Orchestrator, OrchestratorArgs

__all__ = ["Orchestrator", "OrchestratorArgs"]
