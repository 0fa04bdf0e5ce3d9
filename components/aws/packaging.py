"""Deterministic zip packages for Python Lambda functions.

Plain Python, no Pulumi resources: it runs while the program is evaluated and
hands back a zip path plus the hash `aws.lambda_.Function(source_code_hash=...)`
expects. The same sources always give byte-identical zips, so an unchanged
function never shows a diff, whatever the checkout's path, mtimes or umask.

Every preview and update evaluates the program, so a package whose inputs (the
files' content, the lock, the platform and Python version) were zipped before
is found by those inputs and never compressed again.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Architecture = Literal["arm64", "x86_64"]

_PIP_PLATFORMS: dict[Architecture, str] = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}

# Zip has no timestamps before 1980; a fixed one keeps mtimes out of the bytes.
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# zlib's default: level 9 takes three times as long for under 1% fewer bytes.
_COMPRESS_LEVEL = 6

# pip writes these per install, not per wheel: INSTALLER names the installer,
# REQUESTED depends on how the install was asked for, direct_url.json holds
# local paths, and RECORD lists the hashes of bin/ scripts whose shebang names
# the local interpreter. Lambda reads none of them.
_VOLATILE_DIST_INFO_FILES = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")

_INDIRECT_REQUIREMENT_OPTIONS = (
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
)

# Bump when what is kept from an install changes, so old caches are not reused.
_DEPENDENCY_LAYOUT_VERSION = "2"
# Bump when the zip's layout or compression changes, so no zip of the old form is reused.
_ZIP_LAYOUT_VERSION = "2"


class PackagingError(Exception):
    """A Lambda package could not be built."""


@dataclass(frozen=True)
class LambdaPackage:
    """A built zip and the hash that identifies its bytes."""

    path: Path
    source_code_hash: str
    """Base64 of the zip's SHA-256, the form `aws.lambda_.Function` expects."""

    @property
    def content_hash(self) -> str:
        """The same SHA-256 in hex, as services report the version they run."""
        return base64.b64decode(self.source_code_hash).hex()

    @property
    def size(self) -> int:
        """Bytes of the zip, what Lambda's 50 MB upload limit counts."""
        return self.path.stat().st_size


def build_python_package(
    package_dir: Path,
    requirements: Path | None,
    *,
    python_version: str = "3.12",
    architecture: Architecture = "arm64",
    build_root: Path,
) -> LambdaPackage:
    """Zip `package_dir` (under its own name) with its locked requirements installed for Lambda.

    The handler string is then `<package_dir.name>.<module>.<function>`. `requirements`
    is a lock: every package pinned with `==` and its hashes, dependencies
    included (`make lock` writes one); pip installs exactly it, checking each
    wheel's hash. Installed dependencies are cached under `build_root`, keyed by
    the lock's content, the platform and the Python version; zips are written to
    `build_root/packages/<sha256>.zip`, never rewritten once there, and found
    again by their inputs (`build_root/packages/inputs/<key>`).
    """
    if not package_dir.is_dir():
        raise PackagingError(f"package directory {package_dir} does not exist")
    entries = dict(_package_entries(package_dir))
    inputs = hashlib.sha256(_ZIP_LAYOUT_VERSION.encode())
    for arcname in sorted(entries):
        inputs.update(_entry_fingerprint(arcname, entries[arcname]))
    dependencies = None
    if requirements is not None:
        dependencies = _installed_dependencies(requirements, python_version, architecture, build_root / "dependencies")
        inputs.update(b"dependencies\0" + dependencies.name.encode())
    index = build_root / "packages" / "inputs" / inputs.hexdigest()
    built = _already_built(index)
    if built is not None:
        return built
    if dependencies is not None:
        for arcname, path in _walk(dependencies):
            if arcname.split("/", 1)[0] == package_dir.name:
                raise PackagingError(f"{arcname} from {requirements} collides with package {package_dir.name}")
            entries[arcname] = path
    package = _write_zip(entries, build_root / "packages")
    _record(index, package)
    return package


def _entry_fingerprint(arcname: str, path: Path) -> bytes:
    """What of one file ends up in the zip: its name, whether it is executable, and its bytes."""
    executable = b"x" if path.stat().st_mode & stat.S_IXUSR else b"-"
    digest = hashlib.sha256(path.read_bytes()).hexdigest().encode()
    return b"\0".join((arcname.encode(), executable, digest, b""))


def _already_built(index: Path) -> LambdaPackage | None:
    try:
        digest_hex = index.read_text().strip()
    except FileNotFoundError:
        return None
    path = index.parent.parent / f"{digest_hex}.zip"
    if not path.is_file():
        return None
    return LambdaPackage(path, base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii"))


def _record(index: Path, package: LambdaPackage) -> None:
    # Written aside and renamed, so a reader sees a complete digest or none.
    index.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging_name = tempfile.mkstemp(prefix=".", dir=index.parent)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(package.content_hash)
    os.replace(staging_name, index)


def _package_entries(package_dir: Path) -> Iterator[tuple[str, Path]]:
    for arcname, path in _walk(package_dir):
        yield f"{package_dir.name}/{arcname}", path


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Yield (posix path relative to root, path) of every file to ship."""
    for directory, dirnames, filenames in os.walk(root):
        # Bytecode is interpreter- and time-specific; Lambda compiles its own.
        dirnames[:] = [name for name in dirnames if name != "__pycache__"]
        for filename in filenames:
            if filename.endswith(".pyc"):
                continue
            path = Path(directory, filename)
            yield path.relative_to(root).as_posix(), path


def _installed_dependencies(
    requirements: Path,
    python_version: str,
    architecture: Architecture,
    cache_root: Path,
) -> Path:
    content = requirements.read_bytes()
    _reject_indirect_requirements(requirements, content)
    _require_lock(requirements, content)
    platform = _PIP_PLATFORMS[architecture]
    key = hashlib.sha256(
        b"\0".join(
            (
                _DEPENDENCY_LAYOUT_VERSION.encode(),
                platform.encode(),
                python_version.encode(),
                content,
            )
        )
    ).hexdigest()
    target = cache_root / key
    if target.is_dir():
        return target
    cache_root.mkdir(parents=True, exist_ok=True)
    # pip writes into a private directory that only becomes the cache entry
    # once complete, so an interrupted run leaves no half-installed cache.
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_root))
    try:
        _pip_install(requirements, staging, platform, python_version)
        _drop_volatile_files(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            # Another build finished the same install first; its result is identical.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _reject_indirect_requirements(requirements: Path, content: bytes) -> None:
    # The cache key covers this file's bytes only, so a change in a file it
    # pulls in would silently reuse a stale install.
    for line in content.decode().splitlines():
        if line.lstrip().startswith(_INDIRECT_REQUIREMENT_OPTIONS):
            raise PackagingError(
                f"{requirements}: {line.strip()!r} refers to another file or directory; "
                "list pinned requirements directly"
            )


def _require_lock(requirements: Path, content: bytes) -> None:
    # pip refuses an unhashed line under --require-hashes too, but only after
    # downloading; this names the file and the line before anything runs.
    logical_lines = content.decode().replace("\\\n", " ").splitlines()
    for line in logical_lines:
        requirement = line.split("#", 1)[0].strip()
        if requirement and ("==" not in requirement or "--hash=" not in requirement):
            name = requirement.split(maxsplit=1)[0]
            raise PackagingError(
                f"{requirements}: {name!r} is not an exact == pin with a --hash; "
                "package from a lock (`make lock` writes one)"
            )


def _pip_install(requirements: Path, target: Path, platform: str, python_version: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install",
        "--target", str(target),
        "--no-compile",
        "--only-binary=:all:",
        "--platform", platform,
        "--implementation", "cp",
        "--python-version", python_version,
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        # The lock lists every package: pip installs exactly those, each checked by hash.
        "--require-hashes",
        "--no-deps",
        "-r", str(requirements),
    ]  # fmt: skip
    # No shell, and every argument is ours: this interpreter's pip with fixed options.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise PackagingError(
            f"pip could not install {requirements} for {platform} / Python {python_version} "
            f"(exit {result.returncode}):\n{result.stderr.strip()}"
        )


def _drop_volatile_files(install_dir: Path) -> None:
    # Console scripts: their shebang names this machine's interpreter, and
    # Lambda never runs them.
    shutil.rmtree(install_dir / "bin", ignore_errors=True)
    for dist_info in install_dir.glob("*.dist-info"):
        for name in _VOLATILE_DIST_INFO_FILES:
            (dist_info / name).unlink(missing_ok=True)


def _write_zip(entries: dict[str, Path], output_dir: Path) -> LambdaPackage:
    output_dir.mkdir(parents=True, exist_ok=True)
    descriptor, staging_name = tempfile.mkstemp(prefix=".", suffix=".zip", dir=output_dir)
    staging = Path(staging_name)
    try:
        with (
            os.fdopen(descriptor, "wb") as stream,
            zipfile.ZipFile(stream, "w") as archive,
        ):
            # Only files, no directory entries: Lambda creates directories as
            # it extracts, and fewer entries means fewer bytes that could vary.
            for arcname in sorted(entries):
                _add_file(archive, arcname, entries[arcname])
        digest = hashlib.sha256(staging.read_bytes()).digest()
        destination = output_dir / f"{digest.hex()}.zip"
        if destination.exists():
            staging.unlink()
        else:
            os.replace(staging, destination)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    return LambdaPackage(destination, base64.b64encode(digest).decode("ascii"))


def _add_file(archive: zipfile.ZipFile, arcname: str, path: Path) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_FIXED_DATE_TIME)
    info.create_system = 3  # Unix, so external_attr carries POSIX modes on every host.
    # Only the owner's execute bit is content (git and wheels record it);
    # the rest of the mode follows the umask, so it is normalised away.
    mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(
        info,
        path.read_bytes(),
        compress_type=zipfile.ZIP_DEFLATED,
        compresslevel=_COMPRESS_LEVEL,
    )
