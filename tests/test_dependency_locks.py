"""Every Python package that is installed comes from a lock, pinned with its hashes and installed as locked.

Each `*.in` file is the human-edited list of direct requirements; the `*.txt` beside it is the lock
`make lock` compiles from it (every package, direct and transitive, with its hashes). The checks:
a lock agrees with its list, holds everything its packages need, and every workflow, action and
Makefile installs Python packages only from a lock with `--require-hashes --no-deps`.
"""

import importlib.metadata
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
INPUTS = sorted(
    path
    for path in ROOT.rglob("*.in")
    if not {".venv", "node_modules", "build", ".git"} & set(path.relative_to(ROOT).parts)
)
DEV_LOCK = ROOT / "requirements-dev.txt"


@dataclass(frozen=True)
class Locked:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> str:
        (specifier,) = self.requirement.specifier
        return specifier.version


def logical_lines(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def read_lock(path: Path) -> dict[str, list[Locked]]:
    """Name -> its entries (one per marker: a lock may pin two versions for two Pythons)."""
    entries: dict[str, list[Locked]] = {}
    for line in logical_lines(path):
        requirement, *hashes = re.split(r"\s+--hash=", line)
        parsed = Requirement(requirement)
        entries.setdefault(canonicalize_name(parsed.name), []).append(Locked(parsed, tuple(hashes)))
    return entries


def read_inputs(path: Path) -> list[Requirement]:
    """The direct requirements of an input file, following its `-r` includes (its `-c` files are locks)."""
    requirements: list[Requirement] = []
    for line in logical_lines(path):
        option, _, argument = line.partition(" ")
        if option in ("-r", "--requirement"):
            # Relative to the file that names it, as pip and uv read it.
            requirements += read_inputs(path.parent / argument.strip())
        elif option not in ("-c", "--constraint"):
            requirements.append(Requirement(line))
    return requirements


def lock_of(source: Path) -> Path:
    return source.with_suffix(".txt")


def test_every_input_has_its_lock_and_make_lock_compiles_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert len(INPUTS) >= 4
    for source in INPUTS:
        assert lock_of(source).is_file(), f"{source.relative_to(ROOT)} has no lock; run `make lock`"
        assert "#    make lock\n" in lock_of(source).read_text(), f"{lock_of(source).name} was not written by make lock"
        assert str(lock_of(source).relative_to(ROOT)) in makefile, f"`make lock` does not write {lock_of(source)}"


@pytest.mark.parametrize("source", INPUTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_lock_pins_every_direct_requirement_as_its_list_does(source: Path) -> None:
    lock = read_lock(lock_of(source))
    for requirement in read_inputs(source):
        (pin,) = requirement.specifier
        assert pin.operator == "==", f"{source.name}: {requirement} is not pinned with =="
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{requirement.name} is in {source.name} but not in its lock: run `make lock`"
        assert {entry.version for entry in lock[name]} == {pin.version}, (
            f"{source.name} pins {requirement} but its lock has {[e.version for e in lock[name]]}: run `make lock`"
        )


@pytest.mark.parametrize("source", INPUTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_locked_package_is_pinned_with_its_hashes(source: Path) -> None:
    for name, entries in read_lock(lock_of(source)).items():
        for entry in entries:
            assert not entry.requirement.url, f"{name} comes from a URL"
            assert str(entry.requirement.specifier).startswith("=="), f"{name} is not pinned"
            assert entry.hashes, f"{name} has no hash"
            assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", digest) for digest in entry.hashes), name


@pytest.mark.parametrize("source", INPUTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_lock_holds_everything_its_packages_need(source: Path) -> None:
    # The tests' own environment is installed from the dev lock, which pins the same versions as
    # every other lock, so the installed metadata tells each locked package's own requirements.
    lock = read_lock(lock_of(source))
    extras: dict[str, set[str]] = {str(canonicalize_name(r.name)): r.extras for r in read_inputs(source)}
    for name, entries in lock.items():
        for entry in entries:
            if entry.requirement.marker and not entry.requirement.marker.evaluate():
                continue
            distribution = importlib.metadata.distribution(name)
            assert distribution.version == entry.version, f"{name}: the environment is not the locked one"
            for needed in map(Requirement, distribution.requires or []):
                wanted = [{"extra": extra} for extra in ("", *extras.get(name, ()))]
                if needed.marker and not any(needed.marker.evaluate(env) for env in wanted):
                    continue
                assert canonicalize_name(needed.name) in lock, (
                    f"{lock_of(source).name}: {name} needs {needed.name}, which the lock lacks: run `make lock`"
                )


def test_the_dev_lock_installs_every_version_the_other_locks_pin() -> None:
    dev = read_lock(DEV_LOCK)
    for source in INPUTS:
        for name, entries in read_lock(lock_of(source)).items():
            assert name in dev, f"{name} ({lock_of(source).name}) is not in the dev lock"
            assert {e.version for e in entries} <= {e.version for e in dev[name]}, (
                f"{name}: {lock_of(source).name} and the dev lock pin different versions"
            )


# --- How packages are installed ----------------------------------------------------------------

_INSTALLER = re.compile(r"\b(pip3?|pipx|uv|uvx|poetry|pdm|conda|mamba|easy_install|pip-sync)\b")
_NPM_INSTALL = re.compile(r"\bnpm\s+(install|i|add|update|upgrade)\b")
_LOCKS = {str(lock_of(source).relative_to(ROOT)) for source in INPUTS}


def install_violations(script: str) -> list[str]:
    """Each command of a shell script that installs Python packages other than from a lock, by hash."""
    violations = []
    for command in re.split(r"&&|\|\||;|\||\n", script.replace("\\\n", " ")):
        command = command.strip()
        if not command or command.startswith("#"):
            continue
        if _NPM_INSTALL.search(command):
            violations.append(command)
        if not _INSTALLER.search(command) or _is_lock_compile(command):
            continue
        if not _installs_a_lock_by_hash(command):
            violations.append(command)
    return violations


def _is_lock_compile(command: str) -> bool:
    # `make lock`: writes the locks, installs nothing.
    return command.startswith("$(COMPILE) ") or re.match(r"\S*uv pip compile ", command) is not None


def _installs_a_lock_by_hash(command: str) -> bool:
    words = shlex.split(command)
    if words[1:4] != ["-m", "pip", "install"]:
        return False
    options = words[4:]
    if not {"--require-hashes", "--no-deps"} <= set(options) or options.count("-r") != 1:
        return False
    lock = options[options.index("-r") + 1]
    others = [word for i, word in enumerate(options) if i != options.index("-r") + 1]
    return all(word.startswith("-") for word in others) and any(
        lock == known or lock.endswith("/" + known) for known in _LOCKS
    )


def install_scripts() -> dict[str, str]:
    """Every shell script the pipeline and `make` run, by where it is."""
    scripts = {}
    for path in sorted([*(ROOT / ".github" / "workflows").glob("*.yml"), *(ROOT / ".github").rglob("action.yml")]):
        document = yaml.safe_load(path.read_text())
        steps = [step for job in document.get("jobs", {}).values() for step in job.get("steps", [])]
        steps += document.get("runs", {}).get("steps", [])
        for index, step in enumerate(steps):
            if "run" in step:
                scripts[f"{path.relative_to(ROOT)} step {index} ({step.get('name', '')})"] = step["run"]
    makefile = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    scripts["Makefile"] = "\n".join(line[1:] for line in makefile.splitlines() if line.startswith("\t"))
    scripts[".ci/run"] = (ROOT / ".ci" / "run").read_text()
    return scripts


def test_python_packages_are_installed_only_from_a_lock_by_hash() -> None:
    scripts = install_scripts()
    assert any("--require-hashes" in script for name, script in scripts.items() if name.startswith(".github/actions"))
    violations = {name: found for name, script in scripts.items() if (found := install_violations(script))}
    assert violations == {}


@pytest.mark.parametrize(
    "script",
    [
        "python -m pip install -r requirements.txt",
        "python -m pip install --require-hashes -r requirements.txt",
        "python -m pip install --no-deps -r requirements.txt",
        "python -m pip install --require-hashes --no-deps -r requirements.in",
        "python -m pip install --require-hashes --no-deps -r requirements.txt zizmor",
        "pip install --require-hashes --no-deps -r requirements.txt",
        "uv pip install --require-hashes --no-deps -r requirements.txt",
        "uv pip sync requirements.txt",
        "pipx run zizmor .",
        "set -e; python -m venv .venv && .venv/bin/pip install pulumi",
        "npm install",
    ],
)
def test_any_other_install_is_found(script: str) -> None:
    assert install_violations(script) != []


@pytest.mark.parametrize(
    "script",
    [
        '"$side/.venv/bin/python" -m pip install --quiet --require-hashes --no-deps -r "$side/requirements.txt"',
        "$(PY) -m pip install --no-deps --require-hashes -r requirements-dev.txt",
        "npm ci --no-audit",
    ],
)
def test_a_hash_checked_install_of_a_lock_passes(script: str) -> None:
    assert install_violations(script) == []
