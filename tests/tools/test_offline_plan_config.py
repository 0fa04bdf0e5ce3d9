from pathlib import Path

import pytest

from tools.offline_plan import ConfigCompositionError, compose_config, load_project


def compose(project_dir: Path, stack: str) -> tuple[dict[str, str], frozenset[str]]:
    config = compose_config(load_project(project_dir), project_dir, stack)
    return dict(config.values), config.secret_keys


def test_dev_gets_defaults_json_encoded_values_and_a_secret_placeholder(shop: Path) -> None:
    values, secret_keys = compose(shop, "dev")

    assert values == {
        "aws:region": "eu-west-1",
        "shop:apiToken": "offline-plan-placeholder:shop:apiToken",
        "shop:logRetentionDays": "7",
        "shop:owners": '["alice","bob"]',
        "shop:protectData": "false",
    }
    assert secret_keys == {"shop:apiToken"}


def test_prod_overrides_defaults_and_replaces_a_secure_value(shop: Path) -> None:
    values, secret_keys = compose(shop, "prod")

    assert values == {
        "aws:region": "us-east-1",
        "shop:apiToken": "offline-plan-placeholder:shop:apiToken",
        "shop:logRetentionDays": "30",
        "shop:owners": '["carol"]',
        "shop:protectData": "true",
    }
    assert secret_keys == {"shop:apiToken"}


def test_objects_are_json_and_nested_secure_values_make_the_key_secret(shop: Path) -> None:
    (shop / "Pulumi.staging.yaml").write_text(
        "config:\n"
        "  shop:limits:\n"
        "    rps: 10\n"
        "    upstream:\n"
        "      token:\n"
        "        secure: AAABAK==\n"
        "  shop:ratio: 0.5\n"
    )

    values, secret_keys = compose(shop, "staging")

    assert values["shop:limits"] == (
        '{"rps":10,"upstream":{"token":"offline-plan-placeholder:shop:limits.upstream.token"}}'
    )
    assert values["shop:ratio"] == "0.5"
    assert secret_keys == {"shop:apiToken", "shop:limits"}


def test_a_stack_without_a_file_gets_the_project_defaults(shop: Path) -> None:
    values, _ = compose(shop, "scratch")

    assert values["shop:logRetentionDays"] == "7"
    assert values["aws:region"] == "us-east-1"


def test_a_declared_setting_without_default_or_value_stops_composition(shop: Path) -> None:
    declarations = (shop / "Pulumi.yaml").read_text()
    (shop / "Pulumi.yaml").write_text(declarations + "  ownerEmail:\n    type: string\n")

    with pytest.raises(ConfigCompositionError, match=r"^Stack 'dev' is missing configuration value 'shop:ownerEmail'$"):
        compose(shop, "dev")


def test_a_value_of_the_wrong_declared_type_stops_composition(shop: Path) -> None:
    (shop / "Pulumi.dev.yaml").write_text("config:\n  shop:logRetentionDays: a week\n")

    with pytest.raises(ConfigCompositionError, match="'shop:logRetentionDays' must be of type 'integer'"):
        compose(shop, "dev")


def test_a_stack_key_without_namespace_stops_composition(shop: Path) -> None:
    (shop / "Pulumi.dev.yaml").write_text("config:\n  logRetentionDays: 30\n")

    with pytest.raises(ConfigCompositionError, match="'logRetentionDays' must be of the form <namespace>:<name>"):
        compose(shop, "dev")
