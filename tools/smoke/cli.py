"""`python -m tools.smoke --stack NAME`: one line per check, exit status 1 if any fails.

Every service's `/healthz` at the version this deploy produced; on a stack with an AI worker, a
sign-in and a chat answered from the knowledge base (seeded when empty); on a tenant stack, the
config service read with each of the tenant's API keys."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .ai_worker import AiWorkerSettings, check_ai_worker
from .config_service import check_config_service
from .health import check
from .outcome import Outcome
from .outputs import (
    OutputsError,
    ai_worker_url,
    config_service,
    health_urls,
    read_outputs_file,
    read_stack_outputs,
    service_versions,
)
from .secret_inputs import admin_token, api_keys
from .text import redacted

EXIT_UNHEALTHY = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Every input is checked before the first request: bad input asks nothing.
    try:
        if args.outputs is not None:
            outputs, source = read_outputs_file(args.outputs), str(args.outputs)
        else:
            outputs, source = read_stack_outputs(args.stack), f"stack {args.stack}"
        urls = health_urls(outputs, source)
        versions = service_versions(outputs, source, urls)
        ai_worker = ai_worker_url(outputs, source)
        config = config_service(outputs, source, urls)
        token = admin_token(os.environ) if ai_worker else None
        keys = api_keys(os.environ) if config else None
    except OutputsError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    secrets = [*([token] if token else []), *(keys.values() if keys else [])]
    failed = 0
    total = 0
    for outcome in _outcomes(args, urls, versions, ai_worker, token, config, keys):
        total += 1
        if outcome.ok:
            print(redacted(f"ok    {outcome.service}  {outcome.subject}  {outcome.detail}", secrets))
        else:
            failed += 1
            print(redacted(f"FAIL  {outcome.service}  {outcome.subject}  {outcome.problem}", secrets))
    print(f"{total - failed} of {total} checks passed")
    return EXIT_UNHEALTHY if failed else 0


def _outcomes(
    args: argparse.Namespace,
    urls: dict[str, str],
    versions: dict[str, str],
    ai_worker: str | None,
    token: str | None,
    config: tuple[str, str] | None,
    keys: dict[str, str] | None,
) -> list[Outcome]:
    retries = {"attempts": args.attempts, "retry_delay": args.retry_delay}
    outcomes = []
    for service, url in urls.items():
        health = check(service, url, expected_version=versions[service], timeout=args.timeout, **retries)
        outcomes.append(Outcome(service, url, health.problem, f"version {health.version}"))
    if ai_worker and token:
        settings = AiWorkerSettings(
            timeout=args.timeout, ai_timeout=args.ai_timeout, index_wait=args.index_wait, **retries
        )
        outcomes.extend(check_ai_worker(ai_worker, token, settings))
    if config and keys:
        service, url = config
        outcomes.append(check_config_service(service, url, keys, timeout=args.timeout, **retries))
    return outcomes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.smoke",
        description=(
            "Check GET /healthz of each service in healthUrls, at its version in serviceVersions; the AI "
            "worker's sign-in and chat (SMOKE_ADMIN_TOKEN); a tenant's config service (SMOKE_API_KEYS)."
        ),
    )
    parser.add_argument("--stack", required=True, help="the stack whose outputs to read (pulumi stack output)")
    parser.add_argument(
        "--outputs", type=Path, metavar="FILE", help="read the outputs from FILE (pulumi stack output --json) instead"
    )
    parser.add_argument("--timeout", type=_positive, default=10.0, help="seconds to wait for each answer (10)")
    parser.add_argument(
        "--ai-timeout", type=_positive, default=60.0, help="seconds to wait for a chat answer or a seeding (60)"
    )
    parser.add_argument(
        "--index-wait",
        type=_positive,
        default=120.0,
        help="seconds a just-seeded knowledge base may take to answer (120)",
    )
    parser.add_argument("--attempts", type=_count, default=3, help="tries per check before it fails (3)")
    parser.add_argument("--retry-delay", type=_positive, default=5.0, help="seconds between tries (5)")
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most 300, got {text}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 10, got {text!r}")
    return int(text)
