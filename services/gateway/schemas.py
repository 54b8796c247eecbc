"""JSON Schemas of protobuf messages as their proto3 JSON mapping reads and writes them, for the gateway's OpenAPI."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

REF_PREFIX = "#/components/schemas/"

_SCALARS = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**32 - 1},
    # 64-bit integers are strings in proto3 JSON: a JavaScript number loses digits past 2^53.
    FieldDescriptor.TYPE_INT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldDescriptor.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldDescriptor.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldDescriptor.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldDescriptor.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte", "contentEncoding": "base64"},
}

# Well-known types have a JSON form of their own rather than their fields'.
_WELL_KNOWN = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339, e.g. 2026-01-31T12:00:00Z"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "description": "seconds, e.g. 1.5s"},
    "google.protobuf.FieldMask": {"type": "string", "description": "comma-separated lowerCamelCase field paths"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}, "required": ["@type"]},
    "google.protobuf.DoubleValue": _SCALARS[FieldDescriptor.TYPE_DOUBLE],
    "google.protobuf.FloatValue": _SCALARS[FieldDescriptor.TYPE_FLOAT],
    "google.protobuf.Int32Value": _SCALARS[FieldDescriptor.TYPE_INT32],
    "google.protobuf.UInt32Value": _SCALARS[FieldDescriptor.TYPE_UINT32],
    "google.protobuf.Int64Value": _SCALARS[FieldDescriptor.TYPE_INT64],
    "google.protobuf.UInt64Value": _SCALARS[FieldDescriptor.TYPE_UINT64],
    "google.protobuf.BoolValue": _SCALARS[FieldDescriptor.TYPE_BOOL],
    "google.protobuf.StringValue": _SCALARS[FieldDescriptor.TYPE_STRING],
    "google.protobuf.BytesValue": _SCALARS[FieldDescriptor.TYPE_BYTES],
}


def ref(full_name: str) -> dict:
    """A reference to the component schema of message or enum `full_name`."""
    return {"$ref": REF_PREFIX + full_name}


def message_schemas(messages: Iterable[Descriptor]) -> dict[str, dict]:
    """The component schemas of `messages` and of every message and enum their fields reach, by full proto name."""
    schemas: dict[str, dict] = {}
    pending = list(messages)
    while pending:
        message = pending.pop()
        if message.full_name in schemas or message.full_name in _WELL_KNOWN:
            continue
        properties = {field.json_name: _field_schema(field, schemas, pending) for field in message.fields}
        schemas[message.full_name] = {"type": "object", "title": message.name, "properties": properties,
                                      "additionalProperties": False}
        # proto3 `optional` makes a oneof `_<field>` of its one field: no choice to describe.
        oneofs = [oneof for oneof in message.oneofs if oneof.name != f"_{oneof.fields[0].name}"]
        if oneofs:
            schemas[message.full_name]["description"] = "At most one field of each group: " + "; ".join(
                f"{oneof.name} ({', '.join(field.json_name for field in oneof.fields)})" for oneof in oneofs
            )
    return schemas


def enum_schema(enum: EnumDescriptor) -> dict:
    """An enum as proto3 JSON writes it: the value's name."""
    return {"type": "string", "title": enum.name, "enum": [value.name for value in enum.values]}


def _field_schema(field: FieldDescriptor, schemas: dict[str, dict], pending: list[Descriptor]) -> dict:
    if _is_map(field):
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return {"type": "object", "propertyNames": _single_schema(key, schemas, pending),
                "additionalProperties": _single_schema(value, schemas, pending)}
    single = _single_schema(field, schemas, pending)
    if field.is_repeated:
        return {"type": "array", "items": single}
    return single


def _single_schema(field: FieldDescriptor, schemas: dict[str, dict], pending: list[Descriptor]) -> dict:
    if field.type == FieldDescriptor.TYPE_ENUM:
        schemas.setdefault(field.enum_type.full_name, enum_schema(field.enum_type))
        return ref(field.enum_type.full_name)
    if field.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
        known = _WELL_KNOWN.get(field.message_type.full_name)
        if known is not None:
            return dict(known)
        pending.append(field.message_type)
        return ref(field.message_type.full_name)
    return dict(_SCALARS[field.type])


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry
