from pathlib import Path

import pytest

from systems.tenants.instances import InstanceError, load_instances

VALID = """\
instance_id: {id}
org_id: acme
environment: dev
rate_limits:
  ideogram-v3: {{rpm: 10, tpm: 1000}}
api_keys: [primary]
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def error_of(directory: Path) -> str:
    with pytest.raises(InstanceError) as raised:
        load_instances(directory)
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_the_shipped_instances_are_valid() -> None:
    instances = load_instances(Path("instances"))
    assert {(i.instance_id, i.environment) for i in instances} >= {("acme-dev", "dev"), ("acme", "prod")}


def test_yaml_and_json_files_load_in_name_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "beta.json",
        '{"instance_id": "beta", "org_id": "acme", "environment": "prod",'
        ' "rate_limits": {"m": {"rpm": 1, "tpm": 2}}, "api_keys": ["k"], "r2_bucket": "beta-images"}',
    )
    write(tmp_path, "alpha.yaml", VALID.format(id="alpha"))
    write(tmp_path, "notes.txt", "not an instance")
    alpha, beta = load_instances(tmp_path)
    assert (alpha.instance_id, alpha.r2_bucket, alpha.dedicated_rate_limiter) == ("alpha", None, False)
    assert (beta.rate_limits["m"].tpm, beta.r2_bucket) == (2, "beta-images")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            VALID.format(id="acme").replace("dev", "production"),
            "acme.yaml: environment: Input should be 'dev', 'staging' or 'prod'",
        ),
        (
            VALID.format(id="acme").replace("rpm: 10", "rpm: 0"),
            "acme.yaml: rate_limits.ideogram-v3.rpm: Input should be greater than or equal to 1",
        ),
        (
            VALID.format(id="acme").replace("rpm: 10", "rpm: lots"),
            "acme.yaml: rate_limits.ideogram-v3.rpm: Input should be a valid integer",
        ),
        (VALID.format(id="acme") + "colour: red\n", "acme.yaml: colour: Extra inputs are not permitted"),
        (VALID.format(id="acme").replace("org_id: acme\n", ""), "acme.yaml: org_id: Field required"),
        (
            VALID.format(id="acme").replace("[primary]", "[primary, primary]"),
            "acme.yaml: api_keys: API key names must be unique",
        ),
        (
            VALID.format(id="acme").replace("ideogram-v3", "Ideogram V3"),
            "acme.yaml: rate_limits: model names must match",
        ),
        (VALID.format(id="acme") + "wave: 0\n", "acme.yaml: wave: must be canary or a whole number from 1, got 0"),
        (
            VALID.format(id="acme") + "wave: pilot\n",
            "acme.yaml: wave: must be canary or a whole number from 1, got 'pilot'",
        ),
        (VALID.format(id="acme") + "wave: yes\n", "acme.yaml: wave: must be canary or a whole number from 1, got True"),
        (VALID.format(id="acme") + "wave: '2'\n", "acme.yaml: wave: must be canary or a whole number from 1, got '2'"),
        ("- a\n- list\n", "acme.yaml: expected a mapping of fields"),
        ("instance_id: [unclosed\n", "acme.yaml: not a readable YAML or JSON file"),
    ],
)
def test_bad_file_names_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "acme.yaml", text)
    assert message in error_of(tmp_path)


def test_an_instance_may_name_its_wave(tmp_path: Path) -> None:
    write(tmp_path, "alpha.yaml", VALID.format(id="alpha") + "wave: canary\n")
    write(tmp_path, "beta.yaml", VALID.format(id="beta") + "wave: 2\n")
    write(tmp_path, "gamma.yaml", VALID.format(id="gamma"))
    assert [instance.wave for instance in load_instances(tmp_path)] == ["canary", 2, None]


def test_malformed_id(tmp_path: Path) -> None:
    write(tmp_path, "Acme_1.yaml", VALID.format(id="Acme_1"))
    assert "Acme_1.yaml: instance_id: String should match pattern" in error_of(tmp_path)


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", VALID.format(id="other"))
    assert error_of(tmp_path).endswith("acme.yaml: instance_id: must match the file name 'acme' (got 'other')")


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", VALID.format(id="acme"))
    write(tmp_path, "acme.yml", VALID.format(id="acme"))
    assert "acme.yml: instance_id: 'acme' is already declared by" in error_of(tmp_path)


def test_colliding_buckets_are_an_error(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", VALID.format(id="one") + "r2_bucket: shared-images\n")
    write(tmp_path, "two.yaml", VALID.format(id="two") + "r2_bucket: shared-images\n")
    assert "two.yaml: r2_bucket: 'shared-images' is already used by" in error_of(tmp_path)
