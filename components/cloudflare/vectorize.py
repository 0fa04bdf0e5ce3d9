"""A Vectorize index: the `VectorizeIndex` dynamic resource, named, protected and bindable."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ..naming import VECTORIZE_INDEX, physical_name
from ..providers import vectorize_index
from ..providers.vectorize_index import MetadataIndexType, Metric
from ..stateful import stateful_options
from . import binding
from .account import CloudflareAccount


@dataclass(frozen=True)
class VectorizeIndexArgs:
    account: CloudflareAccount
    dimensions: int
    """Length of every vector: the embedding model's output size."""
    metric: Metric = "cosine"
    description: str | None = None
    metadata_indexes: Sequence[tuple[str, MetadataIndexType]] = ()
    """`(property, type)` of the vector metadata queries filter on; none by default."""
    protect: bool = True
    """`protect`/`retain_on_delete`: the index holds the embeddings. On unless a stack turns it off."""


class VectorizeIndex(pulumi.ComponentResource):
    """A Vectorize index as the program uses it, around the provider's resource of the same name, as
    `D1Database` is around `cloudflare.D1Database`. Changing the dimensions, metric or description
    replaces the index, and empties it."""

    index: vectorize_index.VectorizeIndex
    name: pulumi.Output[str]

    def __init__(self, name: str, args: VectorizeIndexArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:VectorizeIndex", name, None, opts)
        self.index = vectorize_index.VectorizeIndex(
            name,
            account_id=args.account.account_id,
            index_name=physical_name(name, VECTORIZE_INDEX),
            dimensions=args.dimensions,
            metric=args.metric,
            credential_setting=args.account.api_token_setting,
            description=args.description,
            metadata_indexes=args.metadata_indexes,
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self)),
        )
        self.name = self.index.index_name
        self.register_outputs({"name": self.name})

    def binding(self, name: str) -> binding.Binding:
        return binding.vectorize_index(name, self.name)
