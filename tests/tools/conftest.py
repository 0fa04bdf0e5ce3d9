import shutil
from pathlib import Path

import pytest

SHOP_FIXTURE = Path(__file__).parent / "fixtures" / "shop"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A private copy of the fixture project, so a test may edit it and runs leave no bytecode behind."""
    project = tmp_path / "shop"
    shutil.copytree(SHOP_FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project
