import pytest

from components.github.owner import GitHubOwner, GitHubOwnerArgs
from tools.offline_plan import SECRET, evaluate


def test_one_explicit_provider_for_the_owner_with_a_secret_token() -> None:
    plan = evaluate(lambda: GitHubOwner("delivery-github", GitHubOwnerArgs(owner="acme", token="plain-pat")))
    component = plan.one("orchestra:github:Owner", "delivery-github")
    (provider,) = plan.children_of(component.urn)
    assert (provider.type, provider.name) == ("pulumi:providers:github", "delivery-github")
    assert provider.inputs["owner"] == "acme"
    assert provider.inputs["token"] == SECRET
    assert "plain-pat" not in plan.to_json()


def test_owner_is_required() -> None:
    with pytest.raises(ValueError, match="owner is empty"):
        evaluate(lambda: GitHubOwner("delivery-github", GitHubOwnerArgs(owner="")))
