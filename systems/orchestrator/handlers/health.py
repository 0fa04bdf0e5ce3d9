"""``/healthz``: whether this deployment can reach what it needs, and which version it runs.

200 ``{"status": "ok", "version", "checks"}`` when every check passes, 503 with
``"status": "failing"`` and each failing check's short error otherwise; any method but
GET is a 405. No authentication: nothing here is secret, and each check costs one read.
"""

import logging
import os

from . import contract, http_api
from .http_api import Event, HttpError, Response
from .run_store import runs_table

# A key no run can have (run ids start with "run-"): reading it proves the table answers.
PROBE_KEY = "healthz"

logger = logging.getLogger(__name__)


def _handle(event: Event) -> Response:
    method = event.get("requestContext", {}).get("http", {}).get("method")
    if method != "GET":
        raise HttpError(405, "only GET is allowed on /healthz")
    checks = {"runs_table": _runs_table()}
    healthy = all(result == "ok" for result in checks.values())
    return http_api.json_response(
        200 if healthy else 503,
        {"status": "ok" if healthy else "failing", "version": os.environ[contract.VERSION], "checks": checks},
    )


handler = http_api.endpoint(_handle)


def _runs_table() -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        runs_table().get_item(Key={contract.RUN_ID: PROBE_KEY})
    except ClientError as error:
        logger.warning("runs table check failed: %s", error)
        return str(error.response["Error"]["Code"])
    except BotoCoreError as error:
        logger.warning("runs table check failed: %s", error)
        return type(error).__name__
    return "ok"
