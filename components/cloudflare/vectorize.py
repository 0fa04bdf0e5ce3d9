"""A Vectorize index: the `VectorizeIndex` dynamic resource, named, protected and bindable."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from ..naming import VECTORIZE_INDEX, physical_name
from ..stateful import stateful_options
from .account import CloudflareAccount
from .binding import Binding, vectorize_index
from .vectorize_index import MetadataIndexType, Metric, VectorizeIndex


@dataclass(frozen=True)
class VectorIndexArgs:
    account: CloudflareAccount
    dimensions: int
    """Length of every vector: the embedding model's output size."""
    metric: Metric = "cosine"
    description: str | None = None
    metadata_indexes: Sequence[tuple[str, MetadataIndexType]] = ()
    """`(property, type)` of the vector metadata queries filter on; none by default."""
    protect: bool = True
    """`protect`/`retain_on_delete`: the index holds the embeddings. On unless a stack turns it off."""


class VectorIndex(pulumi.ComponentResource):
    """Changing the dimensions, metric or description replaces the index, and empties it."""

    index: VectorizeIndex
    name: pulumi.Output[str]

    def __init__(self, name: str, args: VectorIndexArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:cloudflare:VectorIndex", name, None, opts)
        self.index = VectorizeIndex(
            name,
            account_id=args.account.account_id,
            index_name=physical_name(name, VECTORIZE_INDEX),
            dimensions=args.dimensions,
            metric=args.metric,
            api_token=args.account.api_token,
            description=args.description,
            metadata_indexes=args.metadata_indexes,
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self)),
        )
        self.name = self.index.index_name
        self.register_outputs({"name": self.name})

    def binding(self, name: str) -> Binding:
        return vectorize_index(name, self.name)
