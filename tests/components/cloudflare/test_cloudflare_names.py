import pytest

from components.naming import (
    D1_DATABASE,
    KV_NAMESPACE_TITLE,
    R2_BUCKET,
    VECTORIZE_INDEX,
    WORKER_SCRIPT,
    NameRule,
    resolve_name,
)
from tools.offline_plan import evaluate


def names_in(stack: str, build) -> list[str]:
    collected: list[str] = []
    evaluate(lambda: collected.extend(build()), stack=stack)
    return collected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (WORKER_SCRIPT, "orchestra-config-service-acme-prod"),
        (D1_DATABASE, "orchestra-config-service-acme-Prod"),
        (KV_NAMESPACE_TITLE, "orchestra-config-service-acme-Prod"),
        (R2_BUCKET, "orchestra-config-service-acme-prod"),
        (VECTORIZE_INDEX, "orchestra-config-service-acme-prod"),
    ],
)
def test_cloudflare_rules_name_within_each_service(rule: NameRule, expected: str) -> None:
    assert names_in("Prod", lambda: [resolve_name("config-service-acme", None, rule)]) == [expected]


@pytest.mark.parametrize(("rule", "limit"), [(WORKER_SCRIPT, 63), (R2_BUCKET, 63), (VECTORIZE_INDEX, 64)])
def test_long_names_are_shortened_to_the_service_limit(rule: NameRule, limit: int) -> None:
    [name] = names_in("dev", lambda: [resolve_name("tenant-" + "x" * 80, None, rule)])
    assert len(name) == limit and name.startswith("orchestra-tenant-xxx")


def test_a_chosen_name_is_used_as_written_or_refused() -> None:
    assert resolve_name("rate-limiter", "rate-limiter", WORKER_SCRIPT) == "rate-limiter"
    with pytest.raises(
        ValueError, match=r"Worker script name 'Rate-Limiter' must be made of \[a-z0-9-\] \(lowercase\)"
    ):
        resolve_name("rate-limiter", "Rate-Limiter", WORKER_SCRIPT)
    with pytest.raises(ValueError, match="R2 bucket name '' must be made of"):
        resolve_name("images", "", R2_BUCKET)
    with pytest.raises(ValueError, match="is longer than 63 characters"):
        resolve_name("images", "x" * 64, R2_BUCKET)
