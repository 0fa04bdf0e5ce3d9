"""What a program declares: the resources, the stack's outputs, and their JSON form."""

import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

JSON_FORMAT_VERSION = 1
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class PlannedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    provider: str | None
    dependencies: tuple[str, ...]
    """URNs this resource waits for (`depends_on` and the resources its inputs come from), sorted."""
    inputs: dict[str, Any]
    """Inputs as sent to the engine; secrets read `[secret]`."""


@dataclass(frozen=True)
class Plan:
    project: str
    stack: str
    stack_urn: str
    resources: tuple[PlannedResource, ...]
    """Every registered resource except the stack itself, sorted by URN."""
    outputs: dict[str, Any]
    """The stack's exports; secrets read `[secret]`."""
    unmarked_secrets: tuple[str, ...] = ()
    """`<urn or 'outputs'>: <path>` where a secret config value arrived without its secret marking."""
    diagnostics: tuple[str, ...] = ()
    """Messages the program logged (`pulumi.log.warn`...), as `<severity>: <message>`."""

    @property
    def stack_name(self) -> str:
        """The stack resource's name, `<project>-<stack>`."""
        return f"{self.project}-{self.stack}"

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.type == type_]

    def one(self, type_: str, name: str) -> PlannedResource:
        matches = [resource for resource in self.of_type(type_) if resource.name == name]
        if len(matches) != 1:
            known = sorted(resource.name for resource in self.of_type(type_))
            raise LookupError(f"expected one {type_} named {name!r}, found {len(matches)}; declared: {known}")
        return matches[0]

    def by_urn(self, urn: str) -> PlannedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(f"no resource with URN {urn}")

    def children_of(self, urn: str) -> list[PlannedResource]:
        return [resource for resource in self.resources if resource.parent == urn]

    def count_by_type(self) -> list[tuple[str, int]]:
        """Most frequent first, then alphabetical, so the order never depends on registration order."""
        counts = Counter(resource.type for resource in self.resources)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def to_json(self) -> str:
        document = {
            "version": JSON_FORMAT_VERSION,
            "project": self.project,
            "stack": self.stack,
            "stack_urn": self.stack_urn,
            "resources": [asdict(resource) for resource in sorted(self.resources, key=lambda r: r.urn)],
            "outputs": self.outputs,
            "unmarked_secrets": list(self.unmarked_secrets),
            "diagnostics": list(self.diagnostics),
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("version") != JSON_FORMAT_VERSION:
            raise ValueError(f'expected a JSON object with "version": {JSON_FORMAT_VERSION}')
        return cls(
            project=document["project"],
            stack=document["stack"],
            stack_urn=document["stack_urn"],
            resources=tuple(
                PlannedResource(**{**resource, "dependencies": tuple(resource["dependencies"])})
                for resource in document["resources"]
            ),
            outputs=document["outputs"],
            unmarked_secrets=tuple(document["unmarked_secrets"]),
            diagnostics=tuple(document["diagnostics"]),
        )
