"""The Discord handler must answer within Discord's 3 seconds even on a cold start, so what it
imports at load time is kept light; `benchmarks/handler_import.py` measures the time itself."""

import json
import subprocess
import sys
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[4] / "systems" / "orchestrator"
HEAVY = ("boto3", "botocore", "urllib3", "jwt", "cryptography", "sentry_sdk")


def modules_loaded_by(module: str) -> set[str]:
    probe = f"import sys, json; import {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=PACKAGE_ROOT, capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(result.stdout)}


def test_the_endpoints_load_no_sdk_until_a_request_needs_it() -> None:
    for module in ("handlers.discord_interactions", "handlers.github_webhook", "handlers.health"):
        assert modules_loaded_by(module).isdisjoint(HEAVY), module
