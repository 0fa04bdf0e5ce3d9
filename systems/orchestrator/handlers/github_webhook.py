"""GitHub webhook endpoint: verifies every delivery and records a run when an issue is labelled ``ready``.

Runs are keyed by the ``X-GitHub-Delivery`` id, so a redelivery of the same
event finds its run already recorded and is answered as a duplicate.
"""

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from . import clock, http_api
from .http_api import Event, HttpError, Response
from .run_store import RunStore, run_id_for
from .secret_values import read_secret

READY_LABEL = "ready"

_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")

logger = logging.getLogger(__name__)


def _handle(event: Event) -> Response:
    headers = http_api.headers(event)
    body = http_api.raw_body(event)
    _verify(headers, body)
    delivery_id = headers.get("x-github-delivery")
    event_name = headers.get("x-github-event")
    if not delivery_id:
        raise HttpError(400, "missing x-github-delivery header")
    if not event_name:
        raise HttpError(400, "missing x-github-event header")
    payload = http_api.json_object(body)
    if event_name == "ping":
        return http_api.json_response(200, {"ok": True})
    if event_name == "issues":
        return _issues(payload, delivery_id)
    raise HttpError(400, f"unsupported event: {event_name}")


handler = http_api.endpoint(_handle)


def _verify(headers: Mapping[str, str], body: bytes) -> None:
    header = headers.get("x-hub-signature-256")
    if header is None:
        raise HttpError(401, "missing x-hub-signature-256 header")
    match = _SIGNATURE.fullmatch(header)
    if match is None:
        raise HttpError(401, "x-hub-signature-256 must be sha256=<64 hex characters>")
    secret = read_secret(os.environ["GITHUB_WEBHOOK_SECRET_ARN"]).encode()
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, bytes.fromhex(match[1])):
        raise HttpError(401, "invalid request signature")


def _issues(payload: Mapping[str, Any], delivery_id: str) -> Response:
    action = payload.get("action")
    label = http_api.object_at(payload, "label").get("name")
    if action != "labeled" or label != READY_LABEL:
        return http_api.json_response(
            202, {"ignored": True, "reason": f"only issues labeled {READY_LABEL!r} start a run"}
        )
    repository = http_api.object_at(payload, "repository").get("full_name")
    issue = http_api.object_at(payload, "issue").get("number")
    sender = http_api.object_at(payload, "sender").get("login")
    if not isinstance(repository, str) or not isinstance(sender, str):
        raise HttpError(400, "issues payload lacks repository.full_name or sender.login")
    if not isinstance(issue, int) or isinstance(issue, bool):
        raise HttpError(400, "issues payload lacks issue.number")
    run_id = run_id_for("github", delivery_id)
    created = RunStore.from_environment().create_run(
        run_id=run_id,
        source="github",
        repository=repository,
        issue=issue,
        requested_by=sender,
        now=clock.now(),
        delivery_id=delivery_id,
    )
    if created:
        logger.info("queued run %s for %s#%d (delivery %s)", run_id, repository, issue, delivery_id)
    return http_api.json_response(201 if created else 200, {"run_id": run_id, "duplicate": not created})
