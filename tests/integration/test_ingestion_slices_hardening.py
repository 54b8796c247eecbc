"""GetSlice and GetThumbnail attacked through the served runtime, one test per finding of the hardening issue.

Every bad parameter is INVALID_ARGUMENT with a short message before anything is read, sizes are bounded by
settings, a library's failure is INTERNAL naming the trace id, and a NOT_FOUND tells a caller nothing it may not
see."""

from __future__ import annotations

import math
import time
import zlib

import grpc
import pytest

from radlab.annotation.v1 import events_pb2 as annotation_events
from radlab.ingestion.v1 import ingestion_service_pb2 as pb
from radlab.ingestion.v1 import ingestion_service_pb2_grpc as pb_grpc
from radlab.tokens import issue_token
from radlab.type.v1 import geometry_pb2
from services.ingestion import handlers
from services.ingestion.handlers import volumes
from shared.config import Settings
from shared.runtime import Runtime
from tests.integration.test_ingestion_service import DATASET, TENANT, annotation_fact, anonymized_event, deliver, outbox

KEY = "slices-hardening-test-key-of-32-bytes!!"
CT = "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"
AXIAL = geometry_pb2.PLANE_AXIAL
INVALID = grpc.StatusCode.INVALID_ARGUMENT
SHORT = 1024  # bytes: a status message never carries more (shared/errors.py)


def serve(home, data_dir, **env: str):
    """Ingestion alone, served in-process, holding one CT volume of DATASET; returns the runtime and the volume."""
    settings = Settings.from_env({"RADLAB_HOME": str(home), "RADLAB_GRPC_ADDR": "127.0.0.1:0", "RADLAB_TOKEN_KEY": KEY, **env})
    runtime = Runtime(["ingestion"], settings)
    runtime.start()
    [ingestion] = runtime.services
    ports: handlers.Ports = ingestion.ports
    deliver(ports, annotation_fact(annotation_events.DatasetCreated(dataset_id=DATASET, name="chest CT")))
    ports.objects.ensure_bucket("dicom")
    ports.objects.put("dicom", f"{TENANT}/ct.nii.gz", (data_dir / CT).read_bytes())
    volumes.on_scan_anonymized(ports, "radlab.ingestion", anonymized_event([f"{TENANT}/ct.nii.gz"]))
    [ready] = [event.message for event in outbox(ports.db, "radlab.ingestion.v1.VolumeReady")]
    return runtime, ready


@pytest.fixture(scope="module")
def served(tmp_path_factory, data_dir):
    runtime, ready = serve(tmp_path_factory.mktemp("home"), data_dir)
    with grpc.insecure_channel(runtime.address) as channel:
        yield pb_grpc.IngestionServiceStub(channel), ready
    runtime.stop(0)


def as_role(role: str = "annotator", vendor: str = "") -> list[tuple[str, str]]:
    token = issue_token(KEY, subject=f"{role}-1", role=role, tenant=TENANT, vendor=vendor)
    return [("authorization", f"Bearer {token}")]


def refused(call, request, metadata=None) -> tuple[grpc.StatusCode, str]:
    """The status and message a call that must fail ends with."""
    with pytest.raises(grpc.RpcError) as error:
        call(request, metadata=metadata or as_role(), timeout=30)
    return error.value.code(), error.value.details()


@pytest.mark.parametrize("position", [math.nan, math.inf, -math.inf, 1e308])
def test_a_position_that_is_not_a_finite_number_in_the_volume_is_invalid(served, position):
    """NaN and ±inf answered UNKNOWN (an unhandled exception); 1e308 is outside, said in a short message."""
    stub, ready = served
    code, message = refused(stub.GetSlice, pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, position_mm=position))
    assert code is INVALID and "position" in message and len(message) < 300, message


@pytest.mark.parametrize("field,value", [("window_preset", 99), ("window_preset", -5), ("colormap", 42), ("plane", 7)])
def test_an_enum_number_the_contract_does_not_define_is_invalid(served, field, value):
    """Proto3 enums are open: an unknown number parses, and a preset or colormap of one answered UNKNOWN."""
    stub, ready = served
    request = pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3, format=pb.SLICE_FORMAT_PNG)
    setattr(request, field, value)
    code, message = refused(stub.GetSlice, request)
    assert code is INVALID and message.startswith(f"{field} is {value}, which is not a"), message


def test_an_unknown_format_is_refused_not_served_as_raw(served):
    stub, ready = served
    code, message = refused(stub.GetSlice, pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3, format=3))
    assert code is INVALID and message.startswith("format is 3"), message
    raw = stub.GetSlice(pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3), metadata=as_role(), timeout=30)
    assert raw.dtype and raw.data  # UNSPECIFIED is RAW, as the contract says


@pytest.mark.parametrize("center,width", [(40, math.inf), (40, math.nan), (math.inf, 400), (40, 0), (40, -400)])
def test_a_window_must_have_a_finite_center_and_a_finite_positive_width(served, center, width):
    """An infinite width was accepted (and rendered every pixel mid-gray)."""
    stub, ready = served
    request = pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3, format=pb.SLICE_FORMAT_PNG,
                                 explicit_window=pb.Window(center=center, width=width))
    code, message = refused(stub.GetSlice, request)
    assert code is INVALID and ("width" in message or "center" in message), message


@pytest.mark.parametrize("call,request_of", [
    ("GetSlice", lambda long: pb.GetSliceRequest(volume_id=long, plane=AXIAL, slice_index=0)),
    ("GetVolume", lambda long: pb.GetVolumeRequest(volume_id=long)),
    ("GetStudy", lambda long: pb.GetStudyRequest(study_id=long)),
    ("GetThumbnail", lambda long: pb.GetThumbnailRequest(series_id=long)),
    ("ListStudies", lambda long: pb.ListStudiesRequest(dataset_id=long)),
])
def test_a_100000_character_id_is_invalid_and_never_echoed(served, call, request_of):
    """It came back whole in NOT_FOUND's message, past the client's trailer limit."""
    stub, _ = served
    code, message = refused(getattr(stub, call), request_of("x" * 100_000))
    assert code is INVALID and len(message.encode()) < SHORT and "x" * 100 not in message, message


def test_a_not_found_quotes_an_id_shortened(served):
    stub, _ = served
    code, message = refused(stub.GetVolume, pb.GetVolumeRequest(volume_id="y" * 256))
    assert code is grpc.StatusCode.NOT_FOUND and len(message) < 100 and "y" * 65 not in message, message


@pytest.mark.parametrize("max_size", [1025, 32768, 2**31 - 1, -1])
def test_a_thumbnail_above_the_size_limit_is_refused_before_any_work(served, max_size):
    """A vendor asking 32768 made the server hold 3.2 GB for 18 s; 1e9 ended in MemoryError."""
    stub, ready = served
    started = time.monotonic()
    code, message = refused(stub.GetThumbnail, pb.GetThumbnailRequest(volume_id=ready.volume_id, max_size=max_size))
    assert code is INVALID and "at most 1024" in message and time.monotonic() - started < 5, message


def test_a_thumbnail_at_the_size_limit_is_served(served):
    stub, ready = served
    thumbnail = stub.GetThumbnail(pb.GetThumbnailRequest(volume_id=ready.volume_id, max_size=1024), metadata=as_role(), timeout=30)
    assert max(thumbnail.width, thumbnail.height) == 1024 and thumbnail.png.startswith(b"\x89PNG")


def test_a_thumbnails_not_found_reveals_no_volume_id_to_an_unshared_vendor(served):
    """Asked by study or series, a vendor the dataset is not shared with learned the volume's id from NOT_FOUND."""
    stub, ready = served
    vendor = as_role("vendor", vendor="acme")
    for target in ({"study_id": ready.study_id}, {"series_id": ready.series_id}):
        code, message = refused(stub.GetThumbnail, pb.GetThumbnailRequest(**target), vendor)
        assert code is grpc.StatusCode.NOT_FOUND and ready.volume_id not in message, message
    nowhere = refused(stub.GetThumbnail, pb.GetThumbnailRequest(study_id="no-such-study"), vendor)
    hidden = refused(stub.GetThumbnail, pb.GetThumbnailRequest(study_id=ready.study_id), vendor)
    assert nowhere[1].replace("no-such-study", ready.study_id) == hidden[1]  # the same words whether it exists or not


def test_a_slice_larger_than_the_setting_is_refused_before_it_is_read(tmp_path, data_dir):
    """RADLAB_SLICE_MAX_PIXELS bounds what one GetSlice or GetThumbnail reads; RADLAB_THUMBNAIL_MAX_SIZE is a setting."""
    runtime, ready = serve(tmp_path / "home", data_dir, RADLAB_SLICE_MAX_PIXELS="100", RADLAB_THUMBNAIL_MAX_SIZE="64")
    try:
        with grpc.insecure_channel(runtime.address) as channel:
            stub = pb_grpc.IngestionServiceStub(channel)
            code, message = refused(stub.GetSlice, pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3))
            assert code is grpc.StatusCode.FAILED_PRECONDITION and "RADLAB_SLICE_MAX_PIXELS" in message, message
            code, message = refused(stub.GetThumbnail, pb.GetThumbnailRequest(volume_id=ready.volume_id, max_size=64))
            assert code is grpc.StatusCode.FAILED_PRECONDITION, message
            code, message = refused(stub.GetThumbnail, pb.GetThumbnailRequest(volume_id=ready.volume_id, max_size=65))
            assert code is INVALID and "at most 64" in message, message
    finally:
        runtime.stop(0)


def test_a_librarys_failure_is_internal_naming_the_trace_id_not_unknown_with_its_words(served, monkeypatch):
    stub, ready = served

    def damaged(*_args, **_kwargs):
        raise zlib.error("Error -3 while decompressing data: invalid stored block lengths")

    monkeypatch.setattr("shared.volume_store.VolumeStore.slice", damaged)
    metadata = [*as_role(), ("x-radlab-trace-id", "trace-hardening-1")]
    code, message = refused(stub.GetSlice, pb.GetSliceRequest(volume_id=ready.volume_id, plane=AXIAL, slice_index=3), metadata)
    assert (code, message) == (grpc.StatusCode.INTERNAL, "internal error; trace id trace-hardening-1")
