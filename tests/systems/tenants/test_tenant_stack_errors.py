"""A tenant stack that cannot be what its files say stops with one line naming what to fix."""

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from systems.tenants import platform
from tests.project_copy import copy_project
from tests.systems.tenants.support import PLATFORMS
from tools.offline_plan import SECRET, Plan, ReferencedStack
from tools.offline_plan.cli import EXIT_BAD_CONFIGURATION, main

PROD = "organization/orchestra/prod"
DEV = "organization/orchestra/dev"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("project") / "orchestra")


@pytest.fixture
def restored(project: Path) -> Iterator[Path]:
    """The copy, with whatever a test changes in its instances, tenants/ and delivery file put back."""
    kept = [*(project / "instances").iterdir(), *(project / "tenants").iterdir(), project / "delivery.yaml"]
    saved = {path: path.read_text() for path in kept if path.is_file()}
    yield project
    for directory in (project / "instances", project / "tenants"):
        for path in directory.iterdir():
            if path.is_file() and path not in saved:
                path.unlink()
    for path, text in saved.items():
        path.write_text(text)


def saved_plan(directory: Path, name: str, referenced: ReferencedStack, leave_out: str | None = None) -> str:
    """`--reference` for a platform plan saved as `make plan` saves it."""
    outputs = {
        key: SECRET if key in referenced.secret_names else value
        for key, value in referenced.outputs.items()
        if key != leave_out
    }
    plan = Plan(project="orchestra", stack=name.rsplit("/", 1)[1], stack_urn="", resources=(), outputs=outputs)
    path = directory / f"plan-{plan.stack}.json"
    path.write_text(plan.to_json())
    return f"{name}={path}"


def plan_tenant(
    project: Path,
    stack: str,
    capsys: pytest.CaptureFixture[str],
    *,
    references: list[str] | None = None,
    token: bool = True,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """The one line `python -m tools.offline_plan --project-dir tenants --stack <stack>` reports."""
    if references is None:
        references = [saved_plan(project, name, PLATFORMS[name]) for name in (DEV, PROD)]
    flags = [flag for reference in references for flag in ("--reference", reference)]
    if token:
        flags += ["--secret-env", "CLOUDFLARE_API_TOKEN"]
    else:
        monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    code = main(["--project-dir", str(project / "tenants"), "--stack", stack, *flags])
    captured = capsys.readouterr()
    assert (code, captured.out) == (EXIT_BAD_CONFIGURATION, "")
    [line] = captured.err.splitlines()
    return line


def test_a_bad_instance_file_names_its_field(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = restored / "instances" / "globex.yaml"
    path.write_text(path.read_text().replace("rpm: 30", "rpm: 0"))

    line = plan_tenant(restored, "globex", capsys, monkeypatch=monkeypatch)

    assert line == f"{path}: rate_limits.ideogram-v3.rpm: Input should be greater than or equal to 1"


def test_a_stack_without_its_instance_file(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = plan_tenant(restored, "initech", capsys, monkeypatch=monkeypatch)

    assert line == (
        f"{restored / 'instances' / 'initech'}.yaml: no such instance file; a tenant stack is named after its file"
    )


def test_an_instance_of_another_environment_than_its_platform_stack(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (restored / "tenants" / "Pulumi.acme-dev.yaml").write_text(f"config:\n  orchestra-tenant:platformStack: {PROD}\n")

    line = plan_tenant(restored, "acme-dev", capsys, monkeypatch=monkeypatch)

    assert line == (
        f"instances/acme-dev.yaml: environment: 'dev', but its platform stack {PROD} is a 'prod' environment "
        "(orchestra-tenant:platformStack)"
    )


def test_a_platform_stack_that_does_not_export_what_tenants_read(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = saved_plan(restored, PROD, PLATFORMS[PROD], leave_out=platform.REGISTRY_DATABASE_ID)

    line = plan_tenant(restored, "globex", capsys, references=[reference], monkeypatch=monkeypatch)

    assert line == (
        f"orchestra-tenant:platformStack: {PROD} exports no tenantRegistryDatabaseId; "
        "deploy that platform stack (its program exports them) before its tenants"
    )


def test_an_instance_without_limits_for_the_platforms_image_model(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    flux = dataclasses.replace(PLATFORMS[PROD], outputs={**PLATFORMS[PROD].outputs, platform.IMAGE_MODEL: "flux-1"})

    line = plan_tenant(
        restored, "globex", capsys, references=[saved_plan(restored, PROD, flux)], monkeypatch=monkeypatch
    )

    assert line == (
        "instances/globex.yaml: rate_limits: needs limits for 'flux-1', the model the platform's image-gen workers use"
    )


def test_a_platform_stack_the_plan_was_not_given(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = plan_tenant(restored, "globex", capsys, references=[], monkeypatch=monkeypatch)

    assert line.startswith(f"the program reads stack {PROD}, and the offline plan has no outputs for it")


def test_a_platform_stack_setting_that_names_no_stack(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (restored / "tenants" / "Pulumi.globex.yaml").write_text("config:\n  orchestra-tenant:platformStack: prod\n")

    line = plan_tenant(restored, "globex", capsys, monkeypatch=monkeypatch)

    assert line == "orchestra-tenant:platformStack: must be <organization>/<project>/<stack> (got 'prod')"


def test_an_unknown_tenant_setting(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (restored / "tenants" / "Pulumi.globex.yaml").write_text("config:\n  orchestra-tenant:platfromStack: x\n")

    line = plan_tenant(restored, "globex", capsys, monkeypatch=monkeypatch)

    assert line == "orchestra-tenant:platfromStack: Extra inputs are not permitted"


def test_without_the_token_in_the_environment(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = plan_tenant(restored, "globex", capsys, token=False, monkeypatch=monkeypatch)

    assert line == (
        "CLOUDFLARE_API_TOKEN: not set; a tenant stack runs with its platform stack's token "
        "(`pulumi stack output cloudflareApiToken --show-secrets` of that stack)"
    )


def test_a_delivery_file_naming_a_key_the_tenant_lacks(
    restored: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = restored / "delivery.yaml"
    delivery.write_text(delivery.read_text().replace("tenant-api-key/acme/ci", "tenant-api-key/globex/ci"))

    line = plan_tenant(restored, "globex", capsys, monkeypatch=monkeypatch)

    assert line == (
        f"{restored / 'delivery.yaml'}: secrets: tenant-api-key/globex/ci names no key of globex "
        "(its api_keys: primary)"
    )


def test_the_saved_plans_read_as_a_platform_stack(restored: Path) -> None:
    # The references above are the platform's exports as a plan saves them: secret ones hidden.
    saved = json.loads(Path(saved_plan(restored, PROD, PLATFORMS[PROD]).split("=", 1)[1]).read_text())
    assert saved["outputs"][platform.IMAGE_API_KEY] == SECRET
