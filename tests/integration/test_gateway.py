"""The HTTP gateway over the six services served in-process, against gRPC and the stored volumes.

Every REST route grants and refuses exactly as gRPC does, volume data and slice PNGs equal what the services store
and render, the OpenAPI document covers every RPC, and bad input is a 400 with the reason, never a traceback."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
from prometheus_client import REGISTRY

from radlab import SERVICES
from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as ingestion_grpc
from radlab.tokens import ROLES, issue_token
from radlab.type.v1 import geometry_pb2
from services.gateway.calls import http_status
from services.gateway.server import Gateway
from services.ingestion.handlers import slices as ingestion_slices
from shared.auth import TokenVerifier
from shared.config import Settings
from shared.runtime import Runtime
from tests.conftest import wait_until
from tests.integration.test_auth_matrix import KEY, METHODS, call, token

SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SMALL_CT = "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"
FORGED = issue_token("another-key-also-at-least-32-bytes-long", subject="mallory", role="admin", tenant="matrix")
UNARY = [(full, method) for full, method in METHODS if not (method.client_streaming or method.server_streaming)]
IDENTITY = {"Accept-Encoding": "identity"}


@dataclass
class Served:
    runtime: Runtime
    gateway: Gateway
    channel: grpc.Channel

    def url(self, path: str) -> str:
        return self.gateway.url + path


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The six services and the gateway beside them, as `radlab up` runs them, with a built viewer of two files."""
    viewer = tmp_path_factory.mktemp("viewer")
    (viewer / "index.html").write_text("<!doctype html><title>Radlab viewer</title>")
    (viewer / "assets").mkdir()
    (viewer / "assets" / "app.js").write_text("console.log('radlab')")
    settings = Settings.from_env({"RADLAB_HOME": str(tmp_path_factory.mktemp("home")), "RADLAB_GRPC_ADDR": "127.0.0.1:0",
                                  "RADLAB_TOKEN_KEY": KEY})
    runtime = Runtime(list(SERVICES), settings)
    runtime.start()
    gateway = Gateway("127.0.0.1:0", dict.fromkeys(SERVICES, runtime.address), runtime.tokens, viewer)
    gateway.start()
    with grpc.insecure_channel(runtime.address) as channel:
        yield Served(runtime, gateway, channel)
    gateway.stop()
    runtime.stop(0)


def bearer(token_: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_}"} if token_ else {}


def post(served: Served, path: str, token_: str | None, body: bytes | str = b"") -> requests.Response:
    return requests.post(served.url(path), data=body, headers=bearer(token_), timeout=60)


def get(served: Served, path: str, token_: str | None, **options) -> requests.Response:
    headers = bearer(token_) | options.pop("headers", {})
    return requests.get(served.url(path), headers=headers, timeout=60, **options)


def refusal(answer: requests.Response) -> dict:
    """A refusal's body, checked to be the gateway's error shape and nothing more (no traceback)."""
    assert "Traceback" not in answer.text and 'File "' not in answer.text, answer.text
    body = answer.json()
    assert set(body) == {"code", "message"}, body
    return body


def rest_route(full_method: str) -> str:
    """/radlab.annotation.v1.AnnotationService/ListDatasets → /api/v1/annotation/ListDatasets"""
    service, method = full_method.lstrip("/").split("/")
    return f"/api/v1/{service.split('.')[1]}/{method}"


# ---- (a) the same authority as gRPC ------------------------------------------------------------------------------

@pytest.mark.parametrize("full_method,method", UNARY, ids=[full for full, _ in UNARY])
def test_each_rpc_over_rest_is_granted_and_refused_exactly_as_over_grpc(served, full_method, method):
    """No token, a forged token and each role's token: the REST route answers the HTTP status of the code the same RPC
    ends with over gRPC, with the same (empty) request; a refusal carries that code's name."""
    for who, bearer_token in [("no token", None), ("forged", FORGED), *((role, token(role)) for role in ROLES)]:
        over_grpc = call(served.channel, full_method, method, bearer_token)
        answer = post(served, rest_route(full_method), bearer_token)
        assert answer.status_code == http_status(over_grpc), (who, over_grpc, answer.text)
        if over_grpc is not grpc.StatusCode.OK:
            assert refusal(answer)["code"] == over_grpc.name, who


def test_without_a_token_every_route_is_401_before_any_service_is_called():
    """A gateway whose services are unreachable still answers 401 to every REST route without a token (or with what is
    no JWT): the services are never asked. Its health is 503, and the viewer, unbuilt here, says how to build it."""
    gateway = Gateway("127.0.0.1:0", dict.fromkeys(SERVICES, "127.0.0.1:1"), TokenVerifier(KEY), Path("/nonexistent"))
    gateway.start()
    try:
        routes = [("POST", rest_route(full)) for full, _ in UNARY] + [
            ("GET", "/api/v1/volumes/v/data"), ("GET", "/api/v1/volumes/v/slices/axial/0.png"), ("GET", "/api/v1/me"),
        ]
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer not-a-jwt"}):
            for verb, path in routes:
                answer = requests.request(verb, gateway.url + path, headers=headers, timeout=10)
                assert (answer.status_code, refusal(answer)["code"]) == (401, "UNAUTHENTICATED"), (verb, path, headers)
        health = requests.get(gateway.url + "/healthz", timeout=30)
        assert health.status_code == 503 and set(health.json()["services"].values()) == {"UNAVAILABLE"}
        viewer = requests.get(gateway.url + "/viewer/", timeout=10)
        assert viewer.status_code == 503 and "scripts/viewer.sh" in viewer.text
    finally:
        gateway.stop()


def test_me_names_the_token_and_refuses_a_forged_one(served):
    assert get(served, "/api/v1/me", token("vendor")).json() == {
        "subject": "vendor-1", "role": "vendor", "tenant": "matrix", "vendor": "acme"}
    forged = get(served, "/api/v1/me", FORGED)
    assert forged.status_code == 401 and refusal(forged)["message"].startswith("invalid token")


def test_health_says_every_service_is_serving(served):
    answer = requests.get(served.url("/healthz"), timeout=10)
    assert answer.status_code == 200 and answer.json() == {"status": "SERVING", "services": dict.fromkeys(SERVICES, "SERVING")}


# ---- (b) real data -------------------------------------------------------------------------------------------------

@dataclass
class Scans:
    shared_dataset: str
    private_dataset: str
    shared_volume: str  # the spleen CT, in the dataset shared with vendor acme
    private_volume: str  # a small CT in the other dataset


@pytest.fixture(scope="module")
def scans(served, data_dir) -> Scans:
    """Two real CTs uploaded through the SDK into two datasets, one shared with vendor acme, both built into items."""
    with Client(served.runtime.address, token("admin")) as admin:
        shared = admin.create_dataset("gateway shared").dataset_id
        private = admin.create_dataset("gateway private").dataset_id
        admin.annotation.ShareDataset(annotation_pb.ShareDatasetRequest(dataset_id=shared, vendor_id="acme"))
        volumes = []
        for path, dataset in ((SPLEEN_CT, shared), (SMALL_CT, private)):
            upload = admin.wait_for_upload(admin.upload(data_dir / path, dataset).upload_id, timeout_s=180)
            assert upload.state == ingestion_pb.UPLOAD_STATE_COMPLETED, upload.failure_reason
            volumes += upload.volume_ids
            admin.wait_for_items(dataset, 1, timeout_s=60)
    found = Scans(shared, private, *volumes)
    wait_until(lambda: get(served, f"/api/v1/volumes/{found.shared_volume}/data?slice_count=1", token("vendor")).ok,
               "ingestion to hear the dataset is shared with acme")
    return found


def stored(served: Served, volume_id: str) -> np.ndarray:
    """The volume as ingestion's VolumeStore holds it."""
    [ingestion] = [service for service in served.runtime.services if service.name == "ingestion"]
    answer = ingestion_grpc.IngestionServiceStub(served.channel).GetVolume(
        ingestion_pb.GetVolumeRequest(volume_id=volume_id), metadata=[("authorization", f"Bearer {token('admin')}")])
    ref = answer.volume.volume_ref
    return ingestion.ports.volumes.read(ref.bucket, ref.key_prefix).array


def as_array(answer: requests.Response, body: bytes) -> np.ndarray:
    shape = tuple(int(n) for n in answer.headers["X-Radlab-Shape"].split(","))
    return np.frombuffer(body, dtype=np.dtype(answer.headers["X-Radlab-Dtype"]).newbyteorder("<")).reshape(shape)


@pytest.mark.parametrize("slices_per_call", [None, 3], ids=["one call", "three slices a call"])
def test_volume_data_is_the_stored_voxels_byte_for_byte(served, scans, monkeypatch, slices_per_call):
    """The whole volume and a middle block, plain and gzip-compressed (and smaller so), are the stored values in C order
    [k, j, i], little-endian, with their dtype and shape; also when GetVolumeData answers three slices at a time."""
    voxels = stored(served, scans.shared_volume)
    if slices_per_call is not None:
        monkeypatch.setattr(ingestion_slices, "MAX_VOLUME_DATA_BYTES", slices_per_call * voxels[0].nbytes)
    expected = np.ascontiguousarray(voxels, dtype=voxels.dtype.newbyteorder("<")).tobytes()
    path = f"/api/v1/volumes/{scans.shared_volume}/data"
    plain = get(served, path, token("annotator"), headers=IDENTITY)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert plain.headers["X-Radlab-Dtype"] == voxels.dtype.name
    assert plain.headers["X-Radlab-Shape"] == ",".join(map(str, voxels.shape))
    assert {"X-Radlab-Dtype", "X-Radlab-Shape"} <= set(plain.headers["Access-Control-Expose-Headers"].split(", "))
    assert plain.content == expected

    compressed = get(served, path, token("vendor"), headers={"Accept-Encoding": "gzip"}, stream=True)
    wire = compressed.raw.read(decode_content=False)
    assert compressed.headers["Content-Encoding"] == "gzip" and len(wire) < len(expected) * 0.8
    assert gzip.decompress(wire) == expected

    first, count = voxels.shape[0] // 2 - 4, 8
    middle = get(served, f"{path}?first_slice={first}&slice_count={count}", token("reviewer"), headers=IDENTITY)
    assert middle.headers["X-Radlab-Shape"] == ",".join(map(str, (count, *voxels.shape[1:])))
    np.testing.assert_array_equal(as_array(middle, middle.content), voxels[first:first + count])


def test_get_volume_data_answers_at_most_its_limit_and_says_how_many_slices(served, scans, monkeypatch):
    """A range past the limit comes back cut to the slices that fit, `shape` saying so and `volume_shape` the whole."""
    voxels = stored(served, scans.shared_volume)
    monkeypatch.setattr(ingestion_slices, "MAX_VOLUME_DATA_BYTES", 3 * voxels[0].nbytes + 1)
    answer = ingestion_grpc.IngestionServiceStub(served.channel).GetVolumeData(
        ingestion_pb.GetVolumeDataRequest(volume_id=scans.shared_volume, first_slice=2),
        metadata=[("authorization", f"Bearer {token('vendor')}")])
    assert list(answer.shape) == [3, *voxels.shape[1:]] and list(answer.volume_shape) == list(voxels.shape)
    assert answer.data == voxels[2:5].astype(voxels.dtype.newbyteorder("<")).tobytes()


def test_a_slice_png_is_get_slices_png(served, scans):
    """The PNG, its pixel spacing and position are GetSlice's for the same plane, slice, preset, colormap and invert."""
    asked = ingestion_pb.GetSliceRequest(
        volume_id=scans.shared_volume, plane=geometry_pb2.PLANE_CORONAL, slice_index=80, format=ingestion_pb.SLICE_FORMAT_PNG,
        window_preset=ingestion_pb.WINDOW_PRESET_CT_LIVER, colormap=ingestion_pb.COLORMAP_HOT, invert=True,
    )
    expected = ingestion_grpc.IngestionServiceStub(served.channel).GetSlice(
        asked, metadata=[("authorization", f"Bearer {token('vendor')}")])
    answer = get(served, f"/api/v1/volumes/{scans.shared_volume}/slices/coronal/80.png?window_preset=CT_LIVER&colormap=HOT"
                         "&invert=true", token("vendor"))
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    assert answer.content == expected.data
    assert answer.headers["X-Radlab-Pixel-Spacing"] == ",".join(f"{mm:g}" for mm in expected.pixel_spacing)
    assert float(answer.headers["X-Radlab-Position-Mm"]) == pytest.approx(expected.position_mm, abs=1e-3)


def test_a_vendor_sees_a_shared_datasets_items_and_volumes_and_nothing_of_another(served, scans):
    """Through REST as through gRPC: acme lists the shared dataset's item and reads its volume; of the dataset not
    shared with it, it lists nothing and its volume is not found."""
    vendor = token("vendor")
    shared = post(served, "/api/v1/annotation/ListItems", vendor, json.dumps({"datasetId": scans.shared_dataset}))
    assert shared.status_code == 200 and [item["volumeRef"]["volumeId"] for item in shared.json()["items"]] == [scans.shared_volume]
    private = post(served, "/api/v1/annotation/ListItems", vendor, json.dumps({"datasetId": scans.private_dataset}))
    assert private.status_code == 404 and refusal(private)["message"] == f"dataset '{scans.private_dataset}' not found"
    with Client(served.runtime.address, vendor) as over_grpc:
        listed = over_grpc.annotation.ListItems(annotation_pb.ListItemsRequest(dataset_id=scans.shared_dataset))
        assert [item.volume_ref.volume_id for item in listed.items] == [scans.shared_volume]
        with pytest.raises(grpc.RpcError) as refused:
            over_grpc.annotation.ListItems(annotation_pb.ListItemsRequest(dataset_id=scans.private_dataset))
        assert (refused.value.code(), refused.value.details()) == (grpc.StatusCode.NOT_FOUND, refusal(private)["message"])
    hidden = get(served, f"/api/v1/volumes/{scans.private_volume}/data", vendor)
    assert hidden.status_code == 404 and refusal(hidden)["code"] == "NOT_FOUND"
    assert get(served, f"/api/v1/volumes/{scans.private_volume}/data", token("admin"), headers=IDENTITY).status_code == 200
    hidden_png = get(served, f"/api/v1/volumes/{scans.private_volume}/slices/axial/0.png", vendor)
    assert hidden_png.status_code == 404


# ---- (c) OpenAPI ----------------------------------------------------------------------------------------------------

def resolve(document: dict, reference: str) -> dict:
    assert reference.startswith("#/components/schemas/"), reference
    return document["components"]["schemas"][reference.removeprefix("#/components/schemas/")]


def test_the_openapi_document_lists_every_unary_rpc_with_its_messages_and_the_binary_routes(served):
    document = requests.get(served.url("/openapi.json"), timeout=10).json()
    assert document["openapi"].startswith("3.") and document["info"]["title"] == "Radlab"
    for full, method in UNARY:
        operation = document["paths"][rest_route(full)]["post"]
        assert operation["description"], full  # the RPC's comment in the contract
        request = resolve(document, operation["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        response = resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
        assert set(request["properties"]) == {field.json_name for field in method.input_type.fields}, full
        assert set(response["properties"]) == {field.json_name for field in method.output_type.fields}, full
        assert operation["security"] == [{"HTTPBearer": []}]
    assert "/api/v1/ingestion/UploadFiles" not in document["paths"]
    assert "UploadFiles" in document["info"]["description"]
    data = document["paths"]["/api/v1/volumes/{volume_id}/data"]["get"]
    assert "application/octet-stream" in data["responses"]["200"]["content"]
    assert {parameter["name"] for parameter in data["parameters"]} == {"volume_id", "time_index", "first_slice", "slice_count"}
    png = document["paths"]["/api/v1/volumes/{volume_id}/slices/{plane}/{slice_index}.png"]["get"]
    assert "image/png" in png["responses"]["200"]["content"]

    def references(node):
        if isinstance(node, dict):
            yield from ([node["$ref"]] if isinstance(node.get("$ref"), str) else [])
            for value in node.values():
                yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    for reference in set(references(document)):
        assert document["components"]["schemas"].get(reference.rsplit("/", 1)[1]) is not None, reference
    version = resolve(document, "#/components/schemas/radlab.annotation.v1.Annotation")["properties"]["version"]
    assert version["type"] == "string"  # int64, as proto3 JSON writes it
    docs = requests.get(served.url("/docs"), timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# ---- (d) bad input, and the rest of the surface -------------------------------------------------------------------

@pytest.mark.parametrize("body,reason", [
    ("{bad", "the body is not JSON"),
    ('{"pageSize": 10, "colour": "red"}', 'no field named "colour"'),
    ('{"pageSize": "ten"}', "pageSize"),
    ("[1, 2]", "must be a JSON object"),
    (b"\xff\xfe{}", "the body is not JSON"),
    ("[" * 100_000 + "]" * 100_000, "the body is not JSON"),
])
def test_a_body_that_is_not_the_request_message_is_400_with_the_reason(served, body, reason):
    answer = post(served, "/api/v1/annotation/ListDatasets", token("admin"), body)
    assert answer.status_code == 400 and reason in refusal(answer)["message"], answer.text


@pytest.mark.parametrize("query,reason", [
    ("first_slice=26", "outside the volume's 26 slices"),
    ("first_slice=20&slice_count=7", "outside the volume's 26 slices"),
    ("first_slice=-1", "first_slice"),
    ("slice_count=abc", "slice_count"),
    ("time_index=1", "time_index 1 is outside the volume"),
])
def test_a_range_outside_the_volume_is_400_saying_so(served, scans, query, reason):
    answer = get(served, f"/api/v1/volumes/{scans.shared_volume}/data?{query}", token("admin"))
    assert answer.status_code == 400 and reason in refusal(answer)["message"], answer.text


def test_unknown_rpcs_services_and_slice_options_are_refused_in_the_gateways_words(served, scans):
    admin = token("admin")
    unknown = post(served, "/api/v1/annotation/DeleteEverything", admin)
    assert unknown.status_code == 404 and refusal(unknown)["message"].startswith("annotation has no RPC DeleteEverything")
    assert post(served, "/api/v1/billing/ListInvoices", admin).status_code == 404
    assert refusal(get(served, "/api/v1/nothing", admin))["code"] == "NOT_FOUND"
    streamed = post(served, "/api/v1/ingestion/UploadFiles", admin)
    assert streamed.status_code == 404
    wrong_verb = get(served, "/api/v1/annotation/ListDatasets", admin)
    assert wrong_verb.status_code == 405 and refusal(wrong_verb)["code"] == "METHOD_NOT_ALLOWED"
    png = f"/api/v1/volumes/{scans.shared_volume}/slices"
    for path, reason in [(f"{png}/oblique/3.png", "plane"), (f"{png}/axial/3.png?window_preset=CT_SPLEEN", "window_preset"),
                         (f"{png}/axial/3.png?colormap=JET", "colormap"), (f"{png}/axial/999.png", "does not exist")]:
        answer = get(served, path, admin)
        assert answer.status_code == 400 and reason in refusal(answer)["message"], (path, answer.text)


def test_the_viewer_is_served_as_a_single_page_app(served):
    home = requests.get(served.url("/"), allow_redirects=False, timeout=10)
    assert home.status_code in (302, 307) and home.headers["Location"] == "/viewer/"
    assert "Radlab viewer" in requests.get(served.url("/viewer/"), timeout=10).text
    assert requests.get(served.url("/viewer/assets/app.js"), timeout=10).text == "console.log('radlab')"
    for route in ("/viewer/tasks/42", "/viewer/assets/missing.js", "/viewer/..%2F..%2Fetc%2Fpasswd"):
        answer = requests.get(served.url(route), timeout=10)
        assert answer.status_code == 200 and "Radlab viewer" in answer.text, route


def test_each_route_is_timed_under_its_template(served):
    """radlab_http_request_duration_seconds counts requests per route template and status, never per id."""
    post(served, "/api/v1/annotation/ListDatasets", token("admin"))
    get(served, "/api/v1/volumes/some-volume/data", token("admin"))
    count = REGISTRY.get_sample_value(
        "radlab_http_request_duration_seconds_count", {"method": "POST", "route": "/api/v1/annotation/ListDatasets", "status": "200"})
    assert count and count >= 1
    assert REGISTRY.get_sample_value(
        "radlab_http_request_duration_seconds_count", {"method": "GET", "route": "/api/v1/volumes/{volume_id}/data", "status": "404"})
