import pulumi
import pytest

from components.github.webhook import Webhook, WebhookArgs
from tools.offline_plan import SECRET, evaluate

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/github/webhook"


def test_json_deliveries_signed_with_a_secret_over_verified_tls() -> None:
    args = WebhookArgs(repository="image-gen", url=URL, secret="plain-hmac-key", events=["issues", "pull_request"])
    plan = evaluate(lambda: Webhook("image-gen-webhook", args))
    component = plan.one("orchestra:github:Webhook", "image-gen-webhook")
    (webhook,) = plan.children_of(component.urn)
    assert webhook.type == "github:index/repositoryWebhook:RepositoryWebhook"
    assert webhook.inputs == {
        "repository": "image-gen",
        "active": True,
        "events": ["issues", "pull_request"],
        "configuration": {"url": URL, "contentType": "json", "insecureSsl": False, "secret": SECRET},
    }
    assert "plain-hmac-key" not in plan.to_json()


def test_url_may_be_another_resources_output() -> None:
    def program() -> None:
        url = pulumi.Output.from_input(URL)
        Webhook("image-gen-webhook", WebhookArgs("image-gen", url, pulumi.Output.secret("k"), events=["issues"]))

    plan = evaluate(program)
    assert (
        plan.one("github:index/repositoryWebhook:RepositoryWebhook", "image-gen-webhook").inputs["configuration"]["url"]
        == URL
    )


@pytest.mark.parametrize("events", [[], ["issues", "issues"]])
def test_events_must_be_distinct_and_present(events: list[str]) -> None:
    args = WebhookArgs(repository="image-gen", url=URL, secret="k", events=events)
    with pytest.raises(ValueError, match="events"):
        evaluate(lambda: Webhook("image-gen-webhook", args))
