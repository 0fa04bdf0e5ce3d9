from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from components.aws import packaging
from components.aws.packaging import LambdaPackage, PackagingError, build_python_package

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ROOT = Path(__file__).resolve().parents[3]
DEP_LOCK = f"dep==1.0 \\\n    --hash=sha256:{'0' * 64}\n"

FIXTURE_FILES: dict[str, bytes] = {
    "__init__.py": b"",
    "app.py": b"def handler(event, context):\n    return {'statusCode': 200}\n",
    "lib/__init__.py": b"",
    "lib/verify.py": b"KEY = 'x'\n",
    "data/commands.json": b'[{"name": "plan"}]\n',
    "tool.sh": b"#!/bin/sh\necho hi\n",
}


def write_fixture(parent: Path) -> Path:
    package = parent / "handlers"
    for relative, content in FIXTURE_FILES.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (package / "tool.sh").chmod(0o755)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (package / "lib" / "stray.pyc").write_bytes(b"\x00bytecode")
    return package


def disturbed_copy(package: Path, parent: Path) -> Path:
    """A copy whose mtimes and group/other mode bits differ from the original."""
    copy = parent / package.name
    shutil.copytree(package, copy)
    for path in sorted(copy.rglob("*")):
        if path.is_file():
            owner_exec = path.stat().st_mode & stat.S_IXUSR
            path.chmod(0o700 if owner_exec else 0o660)
            os.utime(path, (1_000_000_000, 1_000_000_000))
    return copy


def zip_entries(package: LambdaPackage) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(package.path) as archive:
        return archive.infolist()


def test_same_sources_in_different_directories_give_identical_zips(
    tmp_path: Path,
) -> None:
    original = write_fixture(tmp_path / "a")
    copy = disturbed_copy(original, tmp_path / "b")

    first = build_python_package(original, None, build_root=tmp_path / "build-a")
    previous_umask = os.umask(0o077)
    try:
        second = build_python_package(copy, None, build_root=tmp_path / "build-b")
    finally:
        os.umask(previous_umask)

    assert first.path != second.path
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.source_code_hash == second.source_code_hash


def test_hash_is_base64_sha256_of_the_zip_which_is_named_by_it(tmp_path: Path) -> None:
    package = build_python_package(write_fixture(tmp_path), None, build_root=tmp_path / "build")

    digest = hashlib.sha256(package.path.read_bytes()).digest()
    assert package.source_code_hash == base64.b64encode(digest).decode()
    assert package.path == tmp_path / "build" / "packages" / f"{digest.hex()}.zip"


def test_one_byte_source_change_changes_the_hash(tmp_path: Path) -> None:
    source = write_fixture(tmp_path)
    before = build_python_package(source, None, build_root=tmp_path / "build")
    (source / "lib" / "verify.py").write_bytes(b"KEY = 'y'\n")

    after = build_python_package(source, None, build_root=tmp_path / "build")

    assert after.source_code_hash != before.source_code_hash
    assert after.path != before.path and before.path.exists()


def test_an_existing_zip_is_not_rewritten(tmp_path: Path) -> None:
    source = write_fixture(tmp_path)
    first = build_python_package(source, None, build_root=tmp_path / "build")
    os.utime(first.path, (0, 0))

    second = build_python_package(source, None, build_root=tmp_path / "build")

    assert second == first
    assert first.path.stat().st_mtime == 0
    assert sorted(p.name for p in first.path.parent.iterdir()) == [first.path.name, "inputs"]
    assert len(list((first.path.parent / "inputs").iterdir())) == 1


def test_zip_layout_names_timestamps_and_modes(tmp_path: Path) -> None:
    package = build_python_package(write_fixture(tmp_path), None, build_root=tmp_path / "build")

    entries = zip_entries(package)

    assert [entry.filename for entry in entries] == [
        "handlers/__init__.py",
        "handlers/app.py",
        "handlers/data/commands.json",
        "handlers/lib/__init__.py",
        "handlers/lib/verify.py",
        "handlers/tool.sh",
    ]
    modes = {entry.filename: entry.external_attr >> 16 for entry in entries}
    assert modes["handlers/tool.sh"] == stat.S_IFREG | 0o755
    assert {mode for name, mode in modes.items() if name != "handlers/tool.sh"} == {stat.S_IFREG | 0o644}
    for entry in entries:
        assert entry.date_time == FIXED_DATE_TIME
        assert entry.compress_type == zipfile.ZIP_DEFLATED
        assert entry.create_system == 3
    with zipfile.ZipFile(package.path) as archive:
        assert archive.read("handlers/app.py") == FIXTURE_FILES["app.py"]


def test_missing_package_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="does not exist"):
        build_python_package(tmp_path / "nope", None, build_root=tmp_path / "build")


class FakePip:
    """Stands in for `pip install --target`, writing what pip would."""

    def __init__(self, *, fail: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.fail = fail

    def __call__(self, command: Sequence[str], **_: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        target = Path(command[command.index("--target") + 1])
        (target / "dep").mkdir()
        (target / "dep" / "__init__.py").write_text("VERSION = 1\n")
        if self.fail:
            return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")
        dist_info = target / "dep-1.0.dist-info"
        dist_info.mkdir()
        for name in (
            "METADATA",
            "WHEEL",
            "INSTALLER",
            "REQUESTED",
            "RECORD",
            "direct_url.json",
        ):
            (dist_info / name).write_text(f"{name} written by {target}\n")
        (target / "bin").mkdir()
        (target / "bin" / "dep-cli").write_text(f"#!{target}/python\n")
        return subprocess.CompletedProcess(command, 0, "", "")


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    pip = FakePip()
    monkeypatch.setattr(packaging.subprocess, "run", pip)
    return pip


def test_pip_is_asked_for_the_lambda_platform(tmp_path: Path, fake_pip: FakePip) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)

    build_python_package(
        write_fixture(tmp_path),
        requirements,
        architecture="x86_64",
        build_root=tmp_path / "b",
    )

    [command] = fake_pip.commands
    assert command[1:4] == ["-m", "pip", "install"]
    for option, value in [
        ("--platform", "manylinux2014_x86_64"),
        ("--implementation", "cp"),
        ("--python-version", "3.12"),
        ("-r", str(requirements)),
    ]:
        assert command[command.index(option) + 1] == value
    assert {"--no-compile", "--only-binary=:all:", "--require-hashes", "--no-deps"} <= set(command)


def test_dependencies_are_installed_once_and_volatile_files_dropped(tmp_path: Path, fake_pip: FakePip) -> None:
    source = write_fixture(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)
    build_root = tmp_path / "build"

    first = build_python_package(source, requirements, build_root=build_root)
    (source / "app.py").write_text("changed = True\n")
    second = build_python_package(source, requirements, build_root=build_root)

    assert len(fake_pip.commands) == 1
    assert second.source_code_hash != first.source_code_hash
    names = [entry.filename for entry in zip_entries(second)]
    assert [name for name in names if not name.startswith("handlers/")] == [
        "dep-1.0.dist-info/METADATA",
        "dep-1.0.dist-info/WHEEL",
        "dep/__init__.py",
    ]
    [cache_entry] = (build_root / "dependencies").iterdir()
    assert not cache_entry.name.startswith("."), "a staging directory was left behind"


@pytest.mark.parametrize(
    "change",
    [
        {"requirements": DEP_LOCK.replace("1.0", "2.0")},
        {"architecture": "x86_64"},
        {"python_version": "3.13"},
    ],
)
def test_dependency_cache_key_covers_requirements_platform_and_python(
    tmp_path: Path, fake_pip: FakePip, change: dict[str, str]
) -> None:
    source = write_fixture(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)
    build_python_package(source, requirements, build_root=tmp_path / "build")

    requirements.write_text(change.get("requirements", DEP_LOCK))
    options: dict[str, Any] = {k: v for k, v in change.items() if k != "requirements"}
    build_python_package(source, requirements, build_root=tmp_path / "build", **options)

    assert len(fake_pip.commands) == 2


def test_failed_install_leaves_no_cache_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = FakePip(fail=True)
    monkeypatch.setattr(packaging.subprocess, "run", failing)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)
    build_root = tmp_path / "build"

    with pytest.raises(PackagingError, match=r"(?s)exit 1.*No matching distribution"):
        build_python_package(write_fixture(tmp_path), requirements, build_root=build_root)

    assert list((build_root / "dependencies").iterdir()) == []


@pytest.mark.parametrize("line", ["-r base.txt", "--constraint c.txt", "-e ./local"])
def test_requirements_that_pull_in_other_files_are_rejected(tmp_path: Path, line: str) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{DEP_LOCK}{line}\n")

    with pytest.raises(PackagingError, match="list pinned requirements directly"):
        build_python_package(write_fixture(tmp_path), requirements, build_root=tmp_path / "b")


def test_dependency_named_like_the_package_is_an_error(tmp_path: Path, fake_pip: FakePip) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)
    package = tmp_path / "dep"
    package.mkdir()
    (package / "app.py").write_text("")

    with pytest.raises(PackagingError, match="collides with package dep"):
        build_python_package(package, requirements, build_root=tmp_path / "build")


def test_real_pip_install_of_a_lock_is_deterministic_across_fresh_build_roots(
    tmp_path: Path,
) -> None:
    # The Discord function's lock: cffi ships a compiled extension per platform
    # and a console script (bin/, whose shebang names the local interpreter), so
    # this exercises the hash-checked install for Lambda's platform and the
    # pruning of what pip writes per install.
    requirements = ROOT / "systems" / "orchestrator" / "requirements" / "discord.txt"
    source = write_fixture(tmp_path)

    first = build_python_package(source, requirements, build_root=tmp_path / "build-a")
    second = build_python_package(source, requirements, build_root=tmp_path / "build-b")

    assert first.path.read_bytes() == second.path.read_bytes()
    names = [entry.filename for entry in zip_entries(first)]
    assert "_cffi_backend.cpython-312-aarch64-linux-gnu.so" in names
    assert "pycparser/c_parser.py" in names
    assert "nacl/signing.py" in names
    assert not [name for name in names if name.startswith("bin/")]
    assert not [
        name for name in names if name.rsplit("/", 1)[-1] in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")
    ]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("dep==1.0\n", "dep==1.0"),
        (f"{DEP_LOCK}other>=2 --hash=sha256:{'1' * 64}\n", "other>=2"),
        (f"# a comment\n{DEP_LOCK}loose==3.0\n", "loose==3.0"),
    ],
)
def test_requirements_that_are_not_a_lock_are_rejected_before_pip(
    tmp_path: Path, fake_pip: FakePip, content: str, named: str
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(content)

    with pytest.raises(PackagingError, match=rf"'{re.escape(named)}' is not an exact == pin with a --hash"):
        build_python_package(write_fixture(tmp_path), requirements, build_root=tmp_path / "b")

    assert fake_pip.commands == []


class ZipWrites:
    """Counts the zips written, passing each write on to the real one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = packaging._write_zip

        def counted(*args: Any) -> LambdaPackage:
            self.count += 1
            return real(*args)

        monkeypatch.setattr(packaging, "_write_zip", counted)


def test_a_package_whose_inputs_were_zipped_before_is_not_zipped_again(
    tmp_path: Path, fake_pip: FakePip, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_fixture(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(DEP_LOCK)
    writes = ZipWrites(monkeypatch)

    first = build_python_package(source, requirements, build_root=tmp_path / "build")
    again = [build_python_package(source, requirements, build_root=tmp_path / "build") for _ in range(3)]

    assert writes.count == 1
    assert again == [first] * 3
    assert first.size == first.path.stat().st_size > 0


@pytest.mark.parametrize(
    "change",
    [
        lambda package: (package / "lib" / "verify.py").write_bytes(b"KEY = 'y'\n"),
        lambda package: (package / "app.py").chmod(0o755),
        lambda package: (package / "lib" / "verify.py").rename(package / "lib" / "check.py"),
        lambda package: (package / "extra.py").write_bytes(b""),
    ],
    ids=["content", "executable bit", "name", "new file"],
)
def test_what_the_zip_holds_is_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Path], object]
) -> None:
    source = write_fixture(tmp_path)
    before = build_python_package(source, None, build_root=tmp_path / "build")
    writes = ZipWrites(monkeypatch)
    change(source)

    after = build_python_package(source, None, build_root=tmp_path / "build")

    assert writes.count == 1
    assert after.source_code_hash != before.source_code_hash
    fresh = build_python_package(disturbed_copy(source, tmp_path / "copy"), None, build_root=tmp_path / "fresh")
    assert after.source_code_hash == fresh.source_code_hash


def test_a_zip_removed_from_the_cache_is_built_again(tmp_path: Path) -> None:
    source = write_fixture(tmp_path)
    first = build_python_package(source, None, build_root=tmp_path / "build")
    content = first.path.read_bytes()
    first.path.unlink()

    second = build_python_package(source, None, build_root=tmp_path / "build")

    assert second == first
    assert second.path.read_bytes() == content
