"""A copy of the whole project to change in a test, without what is built or installed; the
installed npm packages are linked in, since planning the copy bundles its workers from them."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_NOT_COPIED = (".git", ".venv", "node_modules", "build", "plans", "__pycache__", ".pytest_cache", ".ruff_cache")


def copy_project(destination: Path) -> Path:
    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    (destination / "node_modules").symlink_to((ROOT / "node_modules").resolve(), target_is_directory=True)
    return destination
