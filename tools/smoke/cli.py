"""`python -m tools.smoke --stack NAME`: one line per service, exit status 1 if any is unhealthy."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .health import check
from .outputs import OutputsError, health_urls, read_outputs_file, read_stack_outputs, service_versions

EXIT_UNHEALTHY = 1
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.outputs is not None:
            outputs, source = read_outputs_file(args.outputs), str(args.outputs)
        else:
            outputs, source = read_stack_outputs(args.stack), f"stack {args.stack}"
        urls = health_urls(outputs, source)
        versions = service_versions(outputs, source, urls)
    except OutputsError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    unhealthy = 0
    for service, url in urls.items():
        health = check(
            service,
            url,
            expected_version=versions[service],
            timeout=args.timeout,
            attempts=args.attempts,
            retry_delay=args.retry_delay,
        )
        if health.ok:
            print(f"ok    {service}  {url}  version {health.version}")
        else:
            unhealthy += 1
            print(f"FAIL  {service}  {url}  {health.problem}")
    print(f"{len(urls) - unhealthy} of {len(urls)} services healthy")
    return EXIT_UNHEALTHY if unhealthy else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.smoke",
        description="Check GET /healthz of each service in healthUrls, at its version in serviceVersions.",
    )
    parser.add_argument("--stack", required=True, help="the stack whose outputs to read (pulumi stack output)")
    parser.add_argument(
        "--outputs", type=Path, metavar="FILE", help="read the outputs from FILE (pulumi stack output --json) instead"
    )
    parser.add_argument("--timeout", type=_positive, default=10.0, help="seconds to wait for each answer (10)")
    parser.add_argument("--attempts", type=_count, default=3, help="tries per service before it fails (3)")
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
