import pulumi
import pytest

from components.cloudflare.r2 import LocationHint, R2Bucket, R2BucketArgs
from tools.offline_plan import Plan, evaluate

from .blocks import ACCOUNT_ID, STACKS, account, children, token_never_shown, uses_account_provider

BUCKET = "cloudflare:index/r2Bucket:R2Bucket"


def plan_bucket(
    stack: str = "dev", protect: bool = False, location: LocationHint | None = None, bucket_name: str | None = None
) -> Plan:
    def program() -> None:
        bucket = R2Bucket(
            "images", R2BucketArgs(account(), location=location, protect=protect, bucket_name=bucket_name)
        )
        pulumi.export("name", bucket.name)

    return evaluate(program, stack=stack)


@pytest.mark.parametrize(("stack", "protect"), STACKS)
def test_bucket(stack: str, protect: bool) -> None:
    plan = plan_bucket(stack=stack, protect=protect)
    assert children(plan, "orchestra:cloudflare:R2Bucket", "images") == [(BUCKET, "images")]
    bucket = plan.one(BUCKET, "images")
    # No location: R2 chooses; the input is left out rather than sent empty.
    assert bucket.inputs == {"accountId": ACCOUNT_ID, "name": f"orchestra-images-{stack}"}
    assert uses_account_provider(plan, bucket)
    assert (bucket.protect, bucket.retain_on_delete) == (protect, protect)
    assert plan.outputs == {"name": f"orchestra-images-{stack}"}
    assert token_never_shown(plan)


def test_location_hint_is_passed_on() -> None:
    assert plan_bucket(location="weur").one(BUCKET, "images").inputs["location"] == "weur"


def test_bucket_names_are_lowercase() -> None:
    assert plan_bucket(stack="Staging").one(BUCKET, "images").inputs["name"] == "orchestra-images-staging"


def test_a_chosen_name_is_used_as_written() -> None:
    assert plan_bucket(bucket_name="acme-images").one(BUCKET, "images").inputs["name"] == "acme-images"


def test_a_chosen_name_the_service_refuses_stops_the_program() -> None:
    with pytest.raises(Exception, match="R2 bucket"):
        plan_bucket(bucket_name="Acme_Images")
