import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.instances", "validate", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_valid_directory() -> None:
    result = run()
    assert result.returncode == 0
    assert result.stdout.endswith("instance file(s) valid in instances\n")


def test_invalid_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("instance_id: bad\n")
    result = run(str(bad), "--directory", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == f"{bad}: org_id: Field required (and 3 more)\n"
