"""Files of one commit, read from the repository without checking it out."""

import subprocess
from pathlib import Path


class GitError(Exception):
    """git could not read the commit; one line."""


class GitTree:
    def __init__(self, repository: Path, commit: str) -> None:
        self._repository = repository
        self.commit = commit
        self.paths = frozenset(self._git("ls-tree", "-r", "-z", "--name-only", commit).split("\0")) - {""}

    def read(self, path: str) -> str:
        return self._git("show", f"{self.commit}:{path}")

    def python_sources(self, directory: str) -> dict[str, str]:
        return {
            path: self.read(path)
            for path in sorted(self.paths)
            if path.startswith(f"{directory}/") and path.endswith(".py")
        }

    def _git(self, *args: str) -> str:
        # git from PATH, as every tool of this repository runs it; the arguments are never a shell line.
        command = ["git", *args]
        result = subprocess.run(command, cwd=self._repository, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise GitError(f"git {args[0]} {self.commit}: {reason}")
        return result.stdout
