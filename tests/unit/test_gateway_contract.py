"""The gateway's translations without a server: descriptors to JSON Schemas, gRPC statuses to HTTP, service targets."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

from radlab import SERVICES
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from services.gateway.calls import CallFailed, Services, contracts, http_status, parse_targets
from services.gateway.schemas import message_schemas

REF = "#/components/schemas/"


def test_each_field_has_the_schema_of_its_proto3_json_form():
    """int64 and bytes are strings, enums their names, repeated fields arrays, maps objects, Timestamps RFC 3339
    strings, messages references; every message and enum reached has its own schema."""
    schemas = message_schemas([annotation_pb.GetItemResponse.DESCRIPTOR, ingestion_pb.GetSliceRequest.DESCRIPTOR,
                               ingestion_pb.GetSliceResponse.DESCRIPTOR])
    item = schemas["radlab.annotation.v1.Item"]["properties"]
    assert item["metadata"] == {"type": "object", "propertyNames": {"type": "string"}, "additionalProperties": {"type": "string"}}
    assert item["labelValues"] == {"type": "array", "items": {"type": "integer", "format": "int32"}}
    assert item["annotations"] == {"type": "array", "items": {"$ref": REF + "radlab.annotation.v1.Annotation"}}
    assert item["createTime"]["type"] == "string" and item["createTime"]["format"] == "date-time"
    assert schemas["radlab.annotation.v1.Annotation"]["properties"]["version"]["type"] == "string"  # int64
    response = schemas["radlab.ingestion.v1.GetSliceResponse"]["properties"]
    assert response["data"]["type"] == "string" and response["data"]["contentEncoding"] == "base64"
    assert response["pixelSpacing"] == {"type": "array", "items": {"type": "number", "format": "double"}}
    request = schemas["radlab.ingestion.v1.GetSliceRequest"]
    assert request["properties"]["plane"] == {"$ref": REF + "radlab.type.v1.Plane"}
    assert schemas["radlab.type.v1.Plane"] == {"type": "string", "title": "Plane", "enum": [
        "PLANE_UNSPECIFIED", "PLANE_AXIAL", "PLANE_CORONAL", "PLANE_SAGITTAL"]}
    assert "position (sliceIndex, positionMm)" in request["description"] and "window (windowPreset, explicitWindow)" in request["description"]
    assert request["additionalProperties"] is False
    referenced = {value["$ref"].removeprefix(REF) for schema in schemas.values() for value in schema.get("properties", {}).values()
                  if "$ref" in value}
    assert referenced <= set(schemas)
    assert "google.protobuf.Timestamp" not in schemas


def test_every_property_is_the_name_proto3_json_writes():
    """The property names are exactly the keys MessageToDict writes for a message with every field present."""
    schemas = message_schemas([ingestion_pb.GetVolumeDataResponse.DESCRIPTOR, ingestion_pb.ListUploadsRequest.DESCRIPTOR])
    for message in (ingestion_pb.GetVolumeDataResponse(), ingestion_pb.ListUploadsRequest()):
        written = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
        assert set(written) == set(schemas[message.DESCRIPTOR.full_name]["properties"])


@pytest.mark.parametrize("code,status", [
    ("OK", 200), ("INVALID_ARGUMENT", 400), ("OUT_OF_RANGE", 400), ("UNAUTHENTICATED", 401), ("PERMISSION_DENIED", 403),
    ("NOT_FOUND", 404), ("ALREADY_EXISTS", 409), ("ABORTED", 409), ("FAILED_PRECONDITION", 412),
    ("RESOURCE_EXHAUSTED", 429), ("CANCELLED", 499), ("UNIMPLEMENTED", 501), ("UNAVAILABLE", 503),
    ("DEADLINE_EXCEEDED", 504), ("INTERNAL", 500), ("UNKNOWN", 500), ("DATA_LOSS", 500),
])
def test_each_grpc_status_has_its_http_status(code, status):
    assert http_status(grpc.StatusCode[code]) == status


def test_every_rpc_of_the_six_services_is_read_from_the_stubs_with_its_comment():
    found = contracts()
    assert list(found) == list(SERVICES)
    rpcs = {f"{rpc.service}.{rpc.method.name}": rpc for contract in found.values() for rpc in contract.rpcs}
    assert rpcs["ingestion.GetVolumeData"].description.startswith("Returns slices [first_slice, first_slice + slice_count)")
    assert not rpcs["ingestion.UploadFiles"].unary and rpcs["annotation.ListDatasets"].unary
    assert rpcs["annotation.ListDatasets"].path == "/radlab.annotation.v1.AnnotationService/ListDatasets"
    assert all(contract.description for contract in found.values())


def test_each_service_is_reached_at_radlab_url_unless_the_targets_name_where():
    """Without RADLAB_GATEWAY_TARGETS every service is at RADLAB_URL; with it, exactly the services it names."""
    assert parse_targets("", "radlab:50051") == dict.fromkeys(SERVICES, "radlab:50051")
    targets = parse_targets("ingestion=radlab-ingestion:50051, training=radlab-training:50051", "radlab:50051")
    assert targets == {"ingestion": "radlab-ingestion:50051", "training": "radlab-training:50051"}
    for wrong in ("billing=x:1", "ingestion", "ingestion="):
        with pytest.raises(ValueError, match="RADLAB_GATEWAY_TARGETS"):
            parse_targets(wrong, "radlab:50051")


def test_a_service_not_behind_the_gateway_is_unavailable_and_left_out_of_health():
    services = Services({"annotation": "127.0.0.1:1"})
    try:
        with pytest.raises(CallFailed) as refused:
            services.channel("training")
        assert (refused.value.code, refused.value.http) == (grpc.StatusCode.UNAVAILABLE, 503)
        assert services.health() == {"annotation": "UNAVAILABLE"}
    finally:
        services.close()
