"""The GitHub REST calls of the check, through the `gh` CLI (it reads GH_TOKEN and follows the pages)."""

import json
import subprocess
from typing import Any


class GitHubError(Exception):
    """A call failed; one line."""


def paginated(path: str) -> list[dict[str, Any]]:
    # One compact JSON value per line, however many pages GitHub splits the list into.
    lines = _api(path, "--paginate", "--jq", ".[] | tojson").splitlines()
    return [json.loads(line) for line in lines if line]


def permission(repository: str, login: str) -> str:
    return _api(f"repos/{repository}/collaborators/{login}/permission", "--jq", ".permission").strip()


def _api(path: str, *options: str) -> str:
    command = ["gh", "api", path, *options]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)  # noqa: S603
    except FileNotFoundError:
        raise GitHubError("the GitHub CLI (gh) is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitHubError(f"GET {path}: no answer within 60 seconds") from None
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no error message"])[-1]
        raise GitHubError(f"GET {path}: {detail}")
    return result.stdout
