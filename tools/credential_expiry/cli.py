"""`python -m tools.credential_expiry check|issues`

check   --stack S --report FILE: checks every credential of the stack (its settings from
        STACK_CONFIG, see credentials.py) and writes the JSON report; exit 0 once it is written,
        whatever it finds: the issues are the alarm.
issues  --report FILE: opens, updates or closes one issue per credential of the report in
        GITHUB_REPOSITORY, with GH_TOKEN, on GITHUB_API_URL; RUN_URL and the README's rotation
        calendar (on GITHUB_SERVER_URL) are linked from each.

The issue command needs only the standard library: the job that may write issues holds no
credential of the stack and installs nothing.
"""

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .issues import IssueError, Repository, reconcile
from .report import LeakError, load

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
DEFAULT_GITHUB_API = "https://api.github.com"


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m tools.credential_expiry", description="The stacks' credentials and their issues."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check the stack's credentials and write the report")
    check.add_argument("--stack", required=True)
    check.add_argument("--report", type=Path, required=True)
    issues = commands.add_parser("issues", help="open, update or close the credentials' issues")
    issues.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args.stack, args.report, environ)
    return _issues(args.report, environ)


def _check(stack: str, report_path: Path, environ: Mapping[str, str]) -> int:
    # Imported here: the stack model needs the program's lock, which the issue job does not install.
    from .credentials import Endpoints, SettingsError, check, held_by, settings
    from .report import render

    try:
        values = settings(environ)
    except SettingsError as error:
        print(f"credential-expiry: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    endpoints = Endpoints(github=environ.get("GITHUB_API_URL", DEFAULT_GITHUB_API))
    now = datetime.now(UTC)
    held = held_by(values, environ)
    findings = [check(stack, credential, values, endpoints, now) for credential in held]
    try:
        text = render(stack, now.isoformat(timespec="seconds"), findings, [c.secret for c in held])
    except LeakError as error:
        print(f"credential-expiry: {error}", file=sys.stderr)
        return EXIT_FAILED
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    for finding in findings:
        expires = f", expires {finding.expires}" if finding.expires else ""
        print(f"{finding.credential}: {finding.status}{expires} ({finding.detail})")
    return 0


def _issues(report_path: Path, environ: Mapping[str, str]) -> int:
    missing = [name for name in ("GITHUB_REPOSITORY", "GH_TOKEN") if not environ.get(name)]
    if missing:
        print(f"credential-expiry: {', '.join(missing)} not set", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        _, findings = load(report_path.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"credential-expiry: {report_path}: cannot be read ({error.strerror})", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, TypeError) as error:
        print(f"credential-expiry: {report_path}: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    repository = Repository(
        environ.get("GITHUB_API_URL", DEFAULT_GITHUB_API), environ["GITHUB_REPOSITORY"], environ["GH_TOKEN"]
    )
    try:
        for line in reconcile(repository, findings, environ.get("RUN_URL", ""), _steps_url(environ)):
            print(line)
    except IssueError as error:
        print(f"credential-expiry: {error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _steps_url(environ: Mapping[str, str]) -> str:
    # An issue's relative link would resolve against the issue, so the README is named in full.
    server = environ.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{server}/{environ['GITHUB_REPOSITORY']}/blob/HEAD/README.md#rotation-calendar"
