"""What every worker script is deployed with: the JavaScript it imports, bundled into each
worker, the runtime date and flags, and where its errors go.

Worker scripts name modules relative to `MODULES_ROOT`, the `systems/` directory,
so `tenants/image_gen.js` imports `../worker_common/http.js`; the upload bundles
them, with the npm packages they import, into one module of the main module's name.
The compatibility date lives in `runtime.json`, which the worker tests read too,
so they run on the date the workers are deployed with.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi

from components.cloudflare.binding import Binding, plain_text, secret_text

_HERE = Path(__file__).resolve().parent
MODULES_ROOT = _HERE.parent
COMPATIBILITY_DATE: str = json.loads((_HERE / "runtime.json").read_text(encoding="utf-8"))["compatibility_date"]
# What the bundled Sentry SDK needs of the runtime: AsyncLocalStorage and diagnostics_channel.
COMPATIBILITY_FLAGS = ["nodejs_compat"]


@dataclass(frozen=True)
class ErrorTracking:
    """Where a worker reports its unhandled errors (error_tracking.js)."""

    environment: str
    """The stack, every event's environment."""
    dsn: pulumi.Input[str] | None = None
    """The Sentry DSN, a secret; none reports nothing."""

    def bindings(self) -> list[Binding]:
        environment = plain_text("ENVIRONMENT", self.environment)
        return [environment] if self.dsn is None else [environment, secret_text("ERROR_TRACKING_DSN", self.dsn)]
