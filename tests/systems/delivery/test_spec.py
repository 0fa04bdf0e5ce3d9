from pathlib import Path

import pytest
import yaml

from stack_config.stacks import stack_names
from systems.delivery.spec import DeliveryFileError, DeliverySpec, TenantKeySecret, Text, load_delivery_spec

ROOT = Path(__file__).resolve().parents[3]
KEYS = {("acme", "primary"), ("acme", "ci")}
STACKS = ["dev", "prod"]
GUARDED = ["prod"]
MINIMAL = {
    "owner": "example-org",
    "deploying_repository": "orchestra",
    "oidc_subject": {"format": "legacy"},
    "repositories": [
        {"name": "orchestra", "environments": [{"name": "production", "reviewers": {"users": ["a", "b"]}}]}
    ],
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "delivery.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def error_of(tmp_path: Path, document: object) -> str:
    path = write(tmp_path, document)
    with pytest.raises(DeliveryFileError) as raised:
        load_delivery_spec(path, KEYS, STACKS, GUARDED)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def with_repository(**fields: object) -> dict[str, object]:
    return {**MINIMAL, "repositories": [{**MINIMAL["repositories"][0], **fields}]}


def test_the_shipped_file_is_valid() -> None:
    spec = load_delivery_spec(ROOT / "delivery.yaml", KEYS, stack_names(ROOT), GUARDED)
    assert spec.deploying_repository in {repository.name for repository in spec.repositories}
    assert spec.tenant_keys() == {("acme", "ci")}
    assert spec.uses("cloudflare-api-token") and not spec.uses("ai-worker-url")


def test_each_tenant_finds_the_secrets_its_keys_fill(tmp_path: Path) -> None:
    document = with_repository(
        secrets={"TEST_API_KEY": "tenant-api-key/acme/ci", "IMAGES": "image-api-key"},
        environments=[{"name": "production", "secrets": {"ACME_KEY": "tenant-api-key/acme/primary"}}],
    )
    spec = load_delivery_spec(write(tmp_path, document), KEYS, STACKS, GUARDED)
    repository = MINIMAL["repositories"][0]["name"]
    assert spec.tenant_key_secrets("acme") == [
        TenantKeySecret(repository, None, "TEST_API_KEY", "ci"),
        TenantKeySecret(repository, "production", "ACME_KEY", "primary"),
    ]
    assert spec.tenant_key_secrets("globex") == []


def test_sources_and_text_values(tmp_path: Path) -> None:
    spec = load_delivery_spec(
        write(
            tmp_path,
            with_repository(
                secrets={"TOKEN": "cloudflare-api-token", "ACCOUNT": "cloudflare-account-id"},
                variables={"URL": "ai-worker-url", "NODE_VERSION": {"value": "22"}},
            ),
        ),
        KEYS,
        STACKS,
        GUARDED,
    )
    repository = spec.repositories[0]
    assert repository.variables == {"URL": "ai-worker-url", "NODE_VERSION": Text(value="22")}
    assert spec.uses("ai-worker-url") and spec.uses("cloudflare-account-id")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            with_repository(secrets={"TOKEN": "my-token"}),
            "repositories.0.secrets: TOKEN: 'my-token' is not a source the program provides; use one of",
        ),
        (
            with_repository(variables={"TOKEN": "cloudflare-api-token"}),
            "repositories.0.variables: TOKEN: 'cloudflare-api-token' is secret and variables are readable",
        ),
        (
            with_repository(variables={"KEY": "tenant-api-key/acme/ci"}),
            "repositories.0.variables: KEY: 'tenant-api-key/acme/ci' is secret",
        ),
        (with_repository(secrets={"GITHUB_TOKEN": "image-api-key"}), "repositories.0.secrets: names must be"),
        (with_repository(secrets={"github_token": "image-api-key"}), "repositories.0.secrets: names must be"),
        (with_repository(secrets={"TEST_API_KEY": "tenant-api-key/acme/admin"}), "secrets: tenant-api-key/acme/admin"),
        ({**MINIMAL, "deploying_repository": "elsewhere"}, "(file): deploying_repository 'elsewhere' is not among"),
        ({**MINIMAL, "repositories": []}, "repositories: List should have at least 1 item"),
        ({**MINIMAL, "owner": "-bad"}, "owner: String should match pattern"),
        ({**MINIMAL, "repo": "x"}, "repo: Extra inputs are not permitted"),
        (with_repository(required_approvals=11), "repositories.0.required_approvals: Input should be less than"),
        ({**MINIMAL, "oidc_subject": {"format": "id", "owner_id": 1}}, "oidc_subject: the id format needs owner_id"),
        (
            {**MINIMAL, "oidc_subject": {"format": "legacy", "repository_id": 2}},
            "oidc_subject: owner_id and repository_id belong to the id format",
        ),
        ({**MINIMAL, "oidc_subject": {"format": "id", "owner_id": 0, "repository_id": 2}}, "oidc_subject.owner_id:"),
        ({**MINIMAL, "oidc_subject": {"format": "ids"}}, "oidc_subject.format: Input should be 'legacy' or 'id'"),
        ({key: value for key, value in MINIMAL.items() if key != "oidc_subject"}, "oidc_subject: Field required"),
        ({**MINIMAL, "preview_stack": "qa"}, "preview_stack: qa has no Pulumi.qa.yaml"),
        ({**MINIMAL, "preview_stack": "prod"}, "preview_stack: prod is guarded, and pull requests' code would read"),
        ({**MINIMAL, "stacks": {"staging": {}}}, "stacks: staging has no Pulumi.staging.yaml"),
        (
            {**MINIMAL, "preview_environment": "prod-plan"},
            "preview_environment: each stack needs environments of its own (<stack>, <stack>-plan, "
            "<stack>-tenants), and the preview one of its own; used twice: prod-plan",
        ),
        (
            {**MINIMAL, "preview_environment": "dev-tenants"},
            "preview_environment: each stack needs environments of its own (<stack>, <stack>-plan, "
            "<stack>-tenants), and the preview one of its own; used twice: dev-tenants",
        ),
        (
            {**MINIMAL, "deploy_environment": "dev"},
            "deploy_environment: Extra inputs are not permitted",
        ),
        (
            {**MINIMAL, "stacks": {"dev": {"deploy_environment": "dev"}}},
            "stacks.dev.deploy_environment: Extra inputs are not permitted",
        ),
        (
            {**MINIMAL, "stacks": {"dev": {"state_bucket": "acme-state"}, "prod": {"state_bucket": "acme-state"}}},
            "(file): each stack needs a state bucket of its own; shared: acme-state",
        ),
        ({**MINIMAL, "stacks": {"dev": {"state_kms_key_arn": "k"}}}, "stacks.dev.state_kms_key_arn: String should"),
        (
            with_repository(environments=[{"name": "production", "reviewers": {"users": ["a"]}}]),
            "repositories.0.environments.0: production: one reviewer who may not approve their own runs",
        ),
        (
            with_repository(environments=[{"name": "dev"}, {"name": "qa"}, {"name": "dev"}]),
            "repositories.0: environments listed twice: dev",
        ),
        (
            with_repository(environments=[{"name": "Production"}, {"name": "production"}]),
            "repositories.0: environments listed twice: production",
        ),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, document: object, message: str) -> None:
    assert error_of(tmp_path, document).startswith(message)


def test_the_oidc_subject_format_and_a_team_of_one(tmp_path: Path) -> None:
    spec = load_delivery_spec(
        write(
            tmp_path,
            {
                **with_repository(
                    environments=[
                        {"name": "production", "reviewers": {"users": ["a"]}, "prevent_self_review": False},
                        {"name": "preview", "reviewers": {"teams": ["platform"]}},
                    ]
                ),
                "oidc_subject": {"format": "id", "owner_id": 123, "repository_id": 456},
            },
        ),
        KEYS,
        STACKS,
        GUARDED,
    )
    assert (spec.oidc_subject.owner_id, spec.oidc_subject.repository_id) == (123, 456)
    assert spec.preview_stack == "dev" and spec.preview_environment == "preview"


def test_an_unknown_tenant_key_names_the_source(tmp_path: Path) -> None:
    message = error_of(tmp_path, with_repository(secrets={"TEST_API_KEY": "tenant-api-key/globex/primary"}))
    assert message == "secrets: tenant-api-key/globex/primary names no key of any instance file"


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(
        DeliveryFileError, match=r"missing\.yaml: not a readable YAML or JSON file \(FileNotFoundError\)"
    ):
        load_delivery_spec(tmp_path / "missing.yaml", KEYS, STACKS, GUARDED)
    assert error_of(tmp_path, ["a", "list"]) == "expected a mapping of fields"


def test_the_model_is_frozen() -> None:
    spec = DeliverySpec.model_validate(MINIMAL)
    with pytest.raises(ValueError):
        spec.owner = "other"
