import pulumi
import pytest

from components.cloudflare.vectorize import VectorizeIndex, VectorizeIndexArgs
from tools.offline_plan import evaluate

from .blocks import ACCOUNT_ID, SETTING, STACKS, account, children, token_never_shown

INDEX = "pulumi-python:dynamic/cloudflare:VectorizeIndex"


@pytest.mark.parametrize(("stack", "protect"), STACKS)
def test_index(stack: str, protect: bool) -> None:
    def program() -> None:
        args = VectorizeIndexArgs(
            account(),
            dimensions=768,
            metric="dot-product",
            description="knowledge base",
            metadata_indexes=[("source", "string")],
            protect=protect,
        )
        pulumi.export("name", VectorizeIndex("knowledge", args).name)

    plan = evaluate(program, stack=stack)
    assert children(plan, "orchestra:cloudflare:VectorizeIndex", "knowledge") == [(INDEX, "knowledge")]
    index = plan.one(INDEX, "knowledge")
    inputs = {key: value for key, value in index.inputs.items() if key != "__provider"}
    assert inputs == {
        "api_base": "https://api.cloudflare.com/client/v4",
        "account_id": ACCOUNT_ID,
        "index_name": f"orchestra-knowledge-{stack}",
        "dimensions": 768,
        "metric": "dot-product",
        "description": "knowledge base",
        "metadata_indexes": [{"propertyName": "source", "indexType": "string"}],
        "credential_setting": SETTING,
    }
    # The index holds the embeddings: in prod it outlives a mistaken deletion.
    assert (index.protect, index.retain_on_delete) == (protect, protect)
    assert plan.outputs == {"name": f"orchestra-knowledge-{stack}"}
    assert token_never_shown(plan)


def test_defaults_to_cosine_without_description() -> None:
    plan = evaluate(lambda: VectorizeIndex("knowledge", VectorizeIndexArgs(account(), dimensions=384)))
    inputs = plan.one(INDEX, "knowledge").inputs
    assert (inputs["metric"], inputs.get("description"), inputs["metadata_indexes"]) == ("cosine", None, [])
