"""`tenants/Pulumi.yaml` runs the tenant program in the platform's virtualenv and declares the same
settings as its typed model, so `pulumi config` of a tenant stack tells the truth."""

import yaml

from systems.tenants.tenant_config import TENANT_PROJECT, TenantStackConfig
from tests.stacks import TENANTS_DIR

PROJECT = yaml.safe_load((TENANTS_DIR / "Pulumi.yaml").read_text())


def test_the_project_is_the_one_the_fleet_runs() -> None:
    assert PROJECT["name"] == TENANT_PROJECT == "orchestra-tenant"
    assert PROJECT["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "../.venv"}}


def test_declarations_match_the_model() -> None:
    declared = PROJECT["config"]
    assert set(declared) == {field.alias for field in TenantStackConfig.model_fields.values()}
    for field in TenantStackConfig.model_fields.values():
        assert declared[str(field.alias)] == {
            "type": "string",
            "default": field.default,
            "description": field.description,
        }, field.alias


def test_no_tenant_stack_needs_a_stack_file() -> None:
    assert sorted(path.name for path in TENANTS_DIR.glob("Pulumi.*.yaml")) == []
