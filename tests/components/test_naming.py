import pytest

from components.naming import (
    DYNAMODB_TABLE,
    IAM_ROLE,
    LAMBDA_FUNCTION,
    NameRule,
    fragment,
    parameter_path,
    physical_name,
)
from tools.offline_plan import evaluate


def names_in(stack: str, build) -> list[str]:
    collected: list[str] = []
    evaluate(lambda: collected.extend(build()), stack=stack)
    return collected


def test_physical_name_is_project_logical_stack() -> None:
    assert names_in("dev", lambda: [physical_name("orchestrator-runs", DYNAMODB_TABLE)]) == [
        "orchestra-orchestrator-runs-dev"
    ]
    assert names_in("prod", lambda: [parameter_path("orchestrator-webhook-secret")]) == [
        "/orchestra/prod/orchestrator-webhook-secret"
    ]


def test_too_long_names_are_shortened_with_a_stable_hash() -> None:
    logical = "orchestrator-" + "x" * 80
    first, second, other = names_in(
        "dev",
        lambda: [
            physical_name(logical, LAMBDA_FUNCTION),
            physical_name(logical, LAMBDA_FUNCTION),
            physical_name(logical + "y", LAMBDA_FUNCTION),
        ],
    )
    assert len(first) == 64 and first == second and first != other
    # The stack stays last, so the deploy role's `*-<stack>` grants still match it.
    assert first.startswith("orchestra-orchestrator-xxx") and first.endswith("-dev")
    assert first.removesuffix("-dev")[-9] == "-"


def test_a_shortened_name_keeps_a_long_stack_whole() -> None:
    (name,) = names_in("staging-eu-west", lambda: [physical_name("orchestrator-" + "x" * 80, LAMBDA_FUNCTION)])
    assert len(name) == 64 and name.endswith("-staging-eu-west")


def test_a_stack_too_long_for_the_service_stops_the_program() -> None:
    with pytest.raises(ValueError, match="the stack name leaves no room within 64"):
        names_in("s" * 60, lambda: [physical_name("orchestrator-worker", LAMBDA_FUNCTION)])


def test_fragment_turns_outside_names_into_logical_name_parts() -> None:
    assert fragment("CLOUDFLARE_API_TOKEN") == "cloudflare-api-token"
    assert fragment("POST /github/webhook") == "post-github-webhook"
    assert fragment("release/*") == "release"
    assert fragment("Octo.Org/Widgets") == "octo-org-widgets"


def test_characters_a_service_rejects_stop_the_program() -> None:
    with pytest.raises(
        ValueError, match=r"IAM role name 'orchestra-bad/name-dev' has characters the service rejects: '/'"
    ):
        names_in("dev", lambda: [physical_name("bad/name", IAM_ROLE)])


def test_lowercase_rule() -> None:
    rule = NameRule("worker", 63, r"[a-z0-9-]", lowercase=True)
    assert names_in("Dev", lambda: [physical_name("AI-Worker", rule)]) == ["orchestra-ai-worker-dev"]
