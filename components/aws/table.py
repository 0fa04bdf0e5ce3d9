"""A DynamoDB table: on-demand, point-in-time recovery, encrypted, TTL where asked."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from ..naming import DYNAMODB_TABLE, physical_name
from ..stateful import stateful_options
from .link import Link, PolicyStatement
from .metric import CloudWatchMetric

AttributeType = Literal["S", "N", "B"]

# The item-level actions a run store needs; nothing that reads or rewrites the whole table.
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    hash_key: str
    range_key: str | None = None
    """Every index projects all attributes, so queries never need a second read."""


@dataclass(frozen=True)
class TableArgs:
    hash_key: str
    attributes: Mapping[str, AttributeType]
    """Type of every key attribute, of the table and its indexes (and only those: DynamoDB is schemaless)."""
    range_key: str | None = None
    indexes: Sequence[GlobalIndex] = ()
    ttl_attribute: str | None = None
    """Numeric epoch-seconds attribute after which DynamoDB deletes an item; no TTL by default."""
    protect: bool = True
    """Deletion protection plus `protect`/`retain_on_delete`; on unless a stack turns it off."""


class Table(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: TableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orchestra:aws:Table", name, None, opts)
        self._label = name
        keys = [args.hash_key, args.range_key] + [k for i in args.indexes for k in (i.hash_key, i.range_key)]
        untyped = sorted({key for key in keys if key is not None} - set(args.attributes))
        if untyped:
            raise ValueError(f"table {name}: key attributes without a type: {', '.join(untyped)}")
        self._index_names = [index.name for index in args.indexes]

        self.table = aws.dynamodb.Table(
            name,
            name=physical_name(name, DYNAMODB_TABLE),
            billing_mode="PAY_PER_REQUEST",
            hash_key=args.hash_key,
            range_key=args.range_key,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=attribute, type=kind)
                for attribute, kind in sorted(args.attributes.items())
            ],
            global_secondary_indexes=[_index_args(index) for index in args.indexes] or None,
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=args.ttl_attribute, enabled=True)
            if args.ttl_attribute
            else None,
            deletion_protection_enabled=args.protect,
            opts=stateful_options(args.protect, pulumi.ResourceOptions(parent=self)),
        )
        self.name = self.table.name
        self.arn = self.table.arn
        self.register_outputs({"name": self.name, "arn": self.arn})

    def link_read(self, env: str) -> Link:
        return Link(statements=[self._read_statement()], environment={env: self.name})

    def link_write(self, env: str) -> Link:
        return Link(statements=[self._write_statement()], environment={env: self.name})

    def link_read_write(self, env: str) -> Link:
        return Link(statements=[self._read_statement(), self._write_statement()], environment={env: self.name})

    def metric_read_throttles(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            "AWS/DynamoDB", "ReadThrottleEvents", {"TableName": self.name}, f"{self._label} read throttles"
        )

    def metric_write_throttles(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            "AWS/DynamoDB", "WriteThrottleEvents", {"TableName": self.name}, f"{self._label} write throttles"
        )

    def metric_consumed_reads(self) -> CloudWatchMetric:
        """On-demand tables bill and throttle by consumed capacity; this is what the table is asked for."""
        return CloudWatchMetric(
            "AWS/DynamoDB", "ConsumedReadCapacityUnits", {"TableName": self.name}, f"{self._label} read capacity used"
        )

    def metric_consumed_writes(self) -> CloudWatchMetric:
        return CloudWatchMetric(
            "AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": self.name}, f"{self._label} write capacity used"
        )

    def _read_statement(self) -> PolicyStatement:
        # Queries on an index are authorised on the index's own ARN, so each index is listed by name.
        indexes = [pulumi.Output.concat(self.arn, "/index/", index) for index in self._index_names]
        return PolicyStatement(actions=READ_ACTIONS, resources=[self.arn, *indexes])

    def _write_statement(self) -> PolicyStatement:
        return PolicyStatement(actions=WRITE_ACTIONS, resources=[self.arn])


def _index_args(index: GlobalIndex) -> aws.dynamodb.TableGlobalSecondaryIndexArgs:
    keys = [aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=index.hash_key, key_type="HASH")]
    if index.range_key:
        keys.append(
            aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=index.range_key, key_type="RANGE")
        )
    return aws.dynamodb.TableGlobalSecondaryIndexArgs(name=index.name, key_schemas=keys, projection_type="ALL")
