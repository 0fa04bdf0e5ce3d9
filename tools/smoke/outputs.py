"""Where the services to check come from: the stack outputs `healthUrls` (service name → URL) and
`serviceVersions` (service name → the version this deploy gave it); a platform stack's
`aiWorkerUrl`, and a tenant stack's `services` (its config service's URL)."""

import ipaddress
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HEALTH_URLS = "healthUrls"
SERVICE_VERSIONS = "serviceVersions"
AI_WORKER_URL = "aiWorkerUrl"
TENANT_SERVICES = "services"
CONFIG_SERVICE_URL = "configServiceUrl"
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class OutputsError(Exception):
    """The stack's outputs cannot be read, or are not what the contract says; one line."""


def read_stack_outputs(stack: str) -> Any:
    # No --show-secrets: the secrets the checks need come masked through the environment
    # (secret_inputs.py), and no other secret enters the process.
    command = ["pulumi", "stack", "output", "--json", "--stack", stack]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError as error:
        raise OutputsError("the Pulumi CLI (pulumi) is not installed or not on PATH") from error
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise OutputsError(f"pulumi stack output --stack {stack} failed: {reason}")
    return _parse(result.stdout, f"pulumi stack output --stack {stack}")


def read_outputs_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise OutputsError(f"{path}: cannot be read ({error.strerror})") from error
    return _parse(text, str(path))


def health_urls(outputs: Any, source: str) -> dict[str, str]:
    """The `healthUrls` output, checked: names are plain words, URLs are https (http only for this machine)."""
    if not isinstance(outputs, Mapping) or HEALTH_URLS not in outputs:
        raise OutputsError(f"{source}: the stack has no {HEALTH_URLS} output")
    urls = outputs[HEALTH_URLS]
    if not isinstance(urls, Mapping) or not urls:
        raise OutputsError(f"{source}: {HEALTH_URLS} must be a non-empty object of service name to URL")
    checked: dict[str, str] = {}
    for name, url in urls.items():
        if not _SERVICE_NAME.fullmatch(name):
            raise OutputsError(f"{source}: {HEALTH_URLS} has a service name that is not letters, digits, - _ .")
        if not isinstance(url, str) or not _acceptable(url):
            raise OutputsError(f"{source}: {HEALTH_URLS}.{name} must be an https:// URL, got {json.dumps(url)[:80]}")
        checked[name] = url
    return dict(sorted(checked.items()))


def service_versions(outputs: Any, source: str, services: Mapping[str, str]) -> dict[str, str]:
    """The `serviceVersions` output, checked: one non-empty version for each service to check."""
    versions = outputs.get(SERVICE_VERSIONS) if isinstance(outputs, Mapping) else None
    if not isinstance(versions, Mapping):
        raise OutputsError(f"{source}: the stack has no {SERVICE_VERSIONS} output of service name to version")
    checked: dict[str, str] = {}
    for service in services:
        version = versions.get(service)
        if not isinstance(version, str) or not version.strip():
            raise OutputsError(f"{source}: {SERVICE_VERSIONS} gives no version for {service}")
        checked[service] = version
    return checked


def _parse(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise OutputsError(f"{source}: not JSON ({error})") from error


def _acceptable(url: str) -> bool:
    # Printed as is on the result line: nothing that could break it.
    if any(char.isspace() or not char.isprintable() for char in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if not host or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    # Plain http only to this machine (a local run of a worker or the tests), never across a network.
    return parts.scheme == "http" and (host == "localhost" or _is_loopback(host))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ai_worker_url(outputs: Any, source: str) -> str | None:
    """The `aiWorkerUrl` output (a platform stack's); None when the stack serves no AI worker."""
    url = outputs.get(AI_WORKER_URL) if isinstance(outputs, Mapping) else None
    if url is None:
        return None
    if not isinstance(url, str) or not _acceptable(url):
        raise OutputsError(f"{source}: {AI_WORKER_URL} must be an https:// URL, got {json.dumps(url)[:80]}")
    return url.rstrip("/")


def config_service(outputs: Any, source: str, health: Mapping[str, str]) -> tuple[str, str] | None:
    """A tenant stack's config service: its name (its `healthUrls` entry) and URL; None for a
    stack without one."""
    services = outputs.get(TENANT_SERVICES) if isinstance(outputs, Mapping) else None
    if services is None:
        return None
    url = services.get(CONFIG_SERVICE_URL) if isinstance(services, Mapping) else None
    if not isinstance(url, str) or not _acceptable(url):
        raise OutputsError(f"{source}: {TENANT_SERVICES}.{CONFIG_SERVICE_URL} must be an https:// URL")
    url = url.rstrip("/")
    names = [name for name, health_url in health.items() if health_url == f"{url}/healthz"]
    if not names:
        raise OutputsError(f"{source}: {HEALTH_URLS} has no entry for {TENANT_SERVICES}.{CONFIG_SERVICE_URL}")
    return names[0], url
