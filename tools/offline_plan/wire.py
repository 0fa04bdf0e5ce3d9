"""Decode the protobuf properties the SDK sends the resource monitor into plain JSON values.

`pulumi.runtime.rpc.deserialize_properties` hoists secretness to the enclosing
object and rebuilds assets as Python objects; a plan needs the opposite: every
secret replaced where it sits by `[secret]`, everything else printable.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

from .paths import child_path
from .project_config import PLACEHOLDER_PREFIX

SECRET = "[secret]"  # noqa: S105 -- what a plan shows in place of a secret, not a credential
UNKNOWN = "[unknown]"

# The SDK's own signature constants (see pulumi/runtime/rpc.py and the engine's properties.go).
_SIGNATURE_KEY = rpc._special_sig_key
_SECRET_SIGNATURE = rpc._special_secret_sig
_ASSET_SIGNATURE = rpc._special_asset_sig
_ARCHIVE_SIGNATURE = rpc._special_archive_sig
_RESOURCE_SIGNATURE = rpc._special_resource_sig
_OUTPUT_VALUE_SIGNATURE = rpc._special_output_value_sig


@dataclass(frozen=True)
class Decoded:
    value: dict[str, Any]
    unmarked_secrets: tuple[str, ...]
    """Paths where a secret placeholder arrived without a secret marking (hidden all the same)."""


def decode_struct(struct: struct_pb2.Struct) -> Decoded:
    unmarked: list[str] = []
    value = {key: _decode(item, key, unmarked) for key, item in sorted(struct.fields.items())}
    return Decoded(value=value, unmarked_secrets=tuple(unmarked))


def wrap_as_secret(value: struct_pb2.Value) -> None:
    """Mark a property value secret in place, as the engine does for `additional_secret_outputs`."""
    original = struct_pb2.Value()
    original.CopyFrom(value)
    secret = struct_pb2.Struct()
    secret.fields[_SIGNATURE_KEY].string_value = _SECRET_SIGNATURE
    secret.fields["value"].CopyFrom(original)
    value.struct_value.CopyFrom(secret)


def _decode(value: struct_pb2.Value, path: str, unmarked: list[str]) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _decode_object(value.struct_value, path, unmarked)
    if kind == "list_value":
        return [_decode(item, child_path(path, index), unmarked) for index, item in enumerate(value.list_value.values)]
    if kind == "string_value":
        return _decode_text(value.string_value, path, unmarked)
    if kind == "number_value":
        number = value.number_value
        # Protobuf carries every number as a double; 30.0 was written as 30.
        return int(number) if number.is_integer() else number
    if kind == "bool_value":
        return value.bool_value
    return None


def _decode_text(text: str, path: str, unmarked: list[str]) -> str:
    if text == rpc.UNKNOWN:
        return UNKNOWN
    if PLACEHOLDER_PREFIX in text:
        unmarked.append(path)
        return SECRET
    return text


def _decode_object(struct: struct_pb2.Struct, path: str, unmarked: list[str]) -> Any:
    fields = struct.fields
    signature = fields[_SIGNATURE_KEY].string_value if _SIGNATURE_KEY in fields else None
    if signature == _SECRET_SIGNATURE:
        return SECRET
    if signature == _OUTPUT_VALUE_SIGNATURE:
        if "secret" in fields and fields["secret"].bool_value:
            return SECRET
        return _decode(fields["value"], path, unmarked) if "value" in fields else UNKNOWN
    if signature == _RESOURCE_SIGNATURE:
        return fields["urn"].string_value
    if signature == _ASSET_SIGNATURE:
        return _describe_asset(fields)
    if signature == _ARCHIVE_SIGNATURE:
        if "assets" in fields:
            return {"AssetArchive": _decode(fields["assets"], child_path(path, "AssetArchive"), unmarked)}
        return _describe_location("Archive", fields)
    return {key: _decode(item, child_path(path, key), unmarked) for key, item in sorted(fields.items())}


def _describe_asset(fields: Any) -> str:
    if "text" in fields:
        # The text itself may be a whole script: its digest is short and still changes when it does.
        digest = hashlib.sha256(fields["text"].string_value.encode()).hexdigest()[:16]
        return f"StringAsset(sha256:{digest})"
    return _describe_location("Asset", fields)


def _describe_location(kind: str, fields: Any) -> str:
    if "path" in fields:
        return f"File{kind}({fields['path'].string_value})"
    return f"Remote{kind}({fields['uri'].string_value})"
