"""Every RPC of every service fuzzed through `radlab up`, as every role, answers a status a caller can act on.

Requests generated from the proto descriptors (boundary numbers, NaN and infinities, enum numbers the contract
does not define, huge strings and repeated fields, ids of real resources, bytes that are no message at all;
UploadFiles as small streams) must each end with one of ACTIONABLE — never UNKNOWN or INTERNAL — and the server's
peak resident memory stays under a bound.

RADLAB_FUZZ_EXAMPLES sets the calls per method (default a CI-sized run; raise it for a longer hunt).
"""

from __future__ import annotations

import collections
import hashlib
import math
import os
import time
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.tokens import ROLES, issue_token
from shared.auth import allowed_roles
from shared.stack import Stack
from tests.integration.test_auth_matrix import all_methods

KEY = "rpc-fuzz-test-key-of-at-least-32-bytes!!"
TENANT = "fuzz"
VENDOR = "acme"
EXAMPLES = int(os.environ.get("RADLAB_FUZZ_EXAMPLES") or 80)
# Peak resident memory of the whole `radlab up` process (six services, numpy, Zarr, PIL...; about 170 MiB once it
# has built the CT) after every method: a thumbnail of 32768 pixels took 3.2 GB, which this bound catches.
RSS_LIMIT_BYTES = 512 << 20
ACTIONABLE = {
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED, grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.UNIMPLEMENTED,
}
CT = "totalsegmentator/tests/reference_files/example_ct_sm.nii.gz"
MAX_DEPTH = 4
LONG = 100_000


METHODS: list[MethodDescriptor] = [method for _, method in all_methods()]
STATUSES: collections.Counter[str] = collections.Counter()
SECONDS = {"fuzzing": 0.0}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, data_dir):
    """`radlab up` in its own process, holding one CT volume in a dataset shared with VENDOR; yields it and the ids
    of the real resources the generated requests may name, by field name."""
    with Stack(tmp_path_factory.mktemp("home"), env={"RADLAB_TOKEN_KEY": KEY}) as stack:
        with Client(stack.grpc_addr, token("admin")) as radlab:
            dataset = radlab.create_dataset("fuzz CT")
            radlab.annotation.ShareDataset(annotation_pb.ShareDatasetRequest(dataset_id=dataset.dataset_id, vendor_id=VENDOR))
            workflow = radlab.wait_for_workflow(dataset.dataset_id)
            upload = radlab.wait_for_upload(radlab.upload(str(data_dir / CT), dataset.dataset_id).upload_id, timeout_s=120)
            assert upload.state == ingestion_pb.UPLOAD_STATE_COMPLETED, upload.failure_reason
            volume = radlab.ingestion.GetVolume(ingestion_pb.GetVolumeRequest(volume_id=upload.volume_ids[0])).volume
        stages = [stage.stage_id for stage in workflow.stages]
        known = {
            "dataset_id": [dataset.dataset_id], "workflow_id": [workflow.workflow_id], "upload_id": [upload.upload_id],
            "resume_upload_id": [upload.upload_id], "scan_id": [upload.scan_id], "study_id": [volume.study_id],
            "series_id": [volume.series_id], "volume_id": [volume.volume_ref.volume_id], "stage_id": stages,
            "next_stage_id": stages, "vendor_id": [VENDOR], "name": ["fuzz CT", "annotate"],
        }
        known["any"] = sorted({value for values in known.values() for value in values})
        yield stack, known
        peak = peak_rss_bytes(stack.process.pid)
        print(f"\nfuzz: {sum(STATUSES.values())} calls in {SECONDS['fuzzing']:.1f} s, statuses "
              f"{dict(STATUSES.most_common())}, peak RSS of radlab up {peak / 2**20:.0f} MiB")
        assert stack.process.poll() is None, "radlab up died during the fuzz"


def token(role: str) -> str:
    return issue_token(KEY, subject=f"{role}-fuzz", role=role, tenant=TENANT, vendor=VENDOR if role == "vendor" else "")


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM) so far."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


# --- requests from descriptors --------------------------------------------------------------------------------------

EDGE_STRINGS = ["", " ", "a\x00b", "line\nbreak", "\u202eevil", "../../etc/passwd", "0", "-1", "NaN"]
# Text a well-formed request may hold anywhere: no control, format or separator characters.
PRINTABLE = st.characters(exclude_categories=("Cc", "Cs", "Cf", "Zl", "Zp"))
# Made when drawn, so the strategies' own descriptions stay short.
LONG_STRINGS = st.sampled_from([(256, "x"), (257, "x"), (LONG, "x"), (100, "💥")]).map(lambda spec: spec[1] * spec[0])
INT_EDGES = {32: [0, 1, -1, 2**31 - 1, -(2**31)], 64: [0, 1, -1, 2**63 - 1, -(2**63)]}
FLOAT_EDGES = [math.nan, -math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 0.5, 1.0]
FILLERS = {FieldDescriptor.TYPE_STRING: "x", FieldDescriptor.TYPE_BYTES: b"", FieldDescriptor.TYPE_BOOL: False,
           FieldDescriptor.TYPE_DOUBLE: 0.0, FieldDescriptor.TYPE_FLOAT: 0.0}
_INTS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1, 32), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1, 32),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1, 32), FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1, 64),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1, 64), FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1, 64),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1, 32), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1, 32),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1, 64), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1, 64),
}


@dataclass(frozen=True)
class Requests:
    """How requests are made: `known` real ids by field name (`volume_id` → the seeded volume's...), and whether
    values may be hostile (NaN, undefined enum numbers, huge or unprintable strings, oversized repeated fields) or
    only well-formed, so that half the calls get past validation and into the handlers."""

    known: dict[str, list[str]]
    hostile: bool

    def scalar(self, field: FieldDescriptor) -> st.SearchStrategy:
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            real = self.known.get(field.name) or self.known["any"]
            ordinary = st.one_of(st.sampled_from(real), st.sampled_from(real), st.text(PRINTABLE, max_size=24))
            return st.one_of(ordinary, st.text(max_size=24), st.sampled_from(EDGE_STRINGS), LONG_STRINGS) if self.hostile else ordinary
        if kind == FieldDescriptor.TYPE_BYTES:
            small = st.binary(max_size=64)
            return st.one_of(small, st.integers(1 << 16, 1 << 17).map(bytes)) if self.hostile else small
        if kind == FieldDescriptor.TYPE_BOOL:
            return st.booleans()
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            width = 32 if kind == FieldDescriptor.TYPE_FLOAT else 64
            if self.hostile:
                return st.one_of(st.sampled_from(FLOAT_EDGES), st.floats(width=width))
            return st.one_of(st.integers(-200, 200).map(float), st.floats(-1e4, 1e4, width=width))
        if kind == FieldDescriptor.TYPE_ENUM:
            defined = sorted(field.enum_type.values_by_number)
            undefined = [-1, defined[-1] + 1, 2**31 - 1, -(2**31)]
            return st.one_of(st.sampled_from(defined), st.sampled_from(undefined)) if self.hostile else st.sampled_from(defined)
        low, high, bits = _INTS[kind]
        small = st.one_of(st.integers(0, 16), st.integers(max(low, -1), 600))  # sizes, counts and indexes that fit
        if not self.hostile:
            return small
        edges = [edge for edge in INT_EDGES[bits] if low <= edge <= high]
        return st.one_of(small, st.sampled_from(edges), st.integers(low, high))

    def value(self, field: FieldDescriptor, depth: int) -> st.SearchStrategy:
        return self.message(field.message_type, depth + 1) if field.type == FieldDescriptor.TYPE_MESSAGE else self.scalar(field)

    def repeated(self, field: FieldDescriptor, depth: int) -> st.SearchStrategy[list]:
        """A few entries, or (hostile, rarely) more than any limit allows."""
        few = st.lists(self.value(field, depth), max_size=3)
        if not self.hostile:
            return few
        filler = GetMessageClass(field.message_type)() if field.type == FieldDescriptor.TYPE_MESSAGE else FILLERS.get(field.type, 0)
        return st.one_of(few, few, few, st.integers(10_001, 12_000).map(lambda count: [filler] * count))

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        """Messages of `descriptor`: any subset of its fields set (at most one of each oneof)."""
        cls = GetMessageClass(descriptor)
        if depth > MAX_DEPTH:
            return st.just(cls())
        plain = {}
        for field in descriptor.fields:
            if field.containing_oneof is not None:
                continue
            if field.is_repeated and field.message_type is not None and field.message_type.GetOptions().map_entry:
                key, item = field.message_type.fields
                plain[field.name] = st.dictionaries(self.scalar(key), self.value(item, depth), max_size=3)
            elif field.is_repeated:
                plain[field.name] = self.repeated(field, depth)
            else:
                plain[field.name] = self.value(field, depth)
        oneofs = [
            st.one_of(st.none(), *(st.tuples(st.just(member.name), self.value(member, depth)) for member in oneof.fields))
            for oneof in descriptor.oneofs
        ]
        return st.tuples(st.fixed_dictionaries({}, optional=plain), st.tuples(*oneofs)).map(lambda parts: build(cls, *parts))


def build(cls, fields: dict, chosen: tuple) -> Message:
    made = cls()
    for name, given_value in [*fields.items(), *(choice for choice in chosen if choice is not None)]:
        field = made.DESCRIPTOR.fields_by_name[name]
        target = getattr(made, name)
        if isinstance(given_value, dict):
            for key, item in given_value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            target.extend(given_value)
        elif isinstance(given_value, Message):
            target.CopyFrom(given_value)
        else:
            setattr(made, name, given_value)
    return made


def payloads(method: MethodDescriptor, known: dict[str, list[str]]) -> st.SearchStrategy:
    """What a client sends: a well-formed request (about half), a hostile one, or bytes that are not a message; a
    short stream of them for client-streaming methods."""
    clean, hostile = (Requests(known, flag).message(method.input_type) for flag in (False, True))
    one = st.one_of(*[clean] * 10, *[hostile] * 9, st.binary(min_size=1, max_size=32))
    if not method.client_streaming:
        return one
    return st.one_of(st.lists(one, max_size=4), upload_streams(known))


def upload_streams(known: dict[str, list[str]]) -> st.SearchStrategy[list]:
    """Well-formed UploadFiles streams of a few bytes into the real dataset, whole or cut short, new or resumed."""

    def stream(data: bytes, cut: int, resume: str) -> list[Message]:
        metadata = ingestion_pb.UploadMetadata(dataset_id=known["dataset_id"][0], file_name="scan.dcm", total_size=len(data),
                                               sha256=hashlib.sha256(data).hexdigest(), resume_upload_id=resume)
        chunks = [data[start:start + 7] for start in range(0, len(data), 7)][:cut]
        return [ingestion_pb.UploadFilesRequest(metadata=metadata), *(ingestion_pb.UploadFilesRequest(chunk=c) for c in chunks)]

    return st.builds(stream, st.binary(min_size=1, max_size=40), st.integers(0, 6),
                     st.one_of(st.just(""), st.sampled_from(known["upload_id"])))


# --- calls ----------------------------------------------------------------------------------------------------------


def roles(method: MethodDescriptor) -> st.SearchStrategy[str | None]:
    """Mostly a role the method declares (so the call reaches its handler), else any role or no token at all."""
    declared = sorted(allowed_roles(f"/{method.containing_service.full_name}/{method.name}"))
    return st.one_of(st.sampled_from(declared), st.sampled_from(declared), st.sampled_from([*ROLES, None]))


def wire(payload) -> bytes:
    return payload if isinstance(payload, bytes) else payload.SerializeToString()


def call(channel: grpc.Channel, method: MethodDescriptor, payload, role: str | None) -> tuple[grpc.StatusCode, str]:
    full = f"/{method.containing_service.full_name}/{method.name}"
    metadata = [("authorization", f"Bearer {token(role)}")] if role else []
    options = dict(request_serializer=wire, response_deserializer=None)
    try:
        if method.client_streaming:
            channel.stream_unary(full, **options)(iter(payload), metadata=metadata, timeout=30)
        elif method.server_streaming:
            list(channel.unary_stream(full, **options)(payload, metadata=metadata, timeout=30))
        else:
            channel.unary_unary(full, **options)(payload, metadata=metadata, timeout=30)
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("method", METHODS, ids=[f"{m.containing_service.name}.{m.name}" for m in METHODS])
def test_every_rpc_answers_every_role_with_a_status_a_caller_can_act_on(stack, method):
    running, known = stack
    started = time.monotonic()
    with grpc.insecure_channel(running.grpc_addr, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                  suppress_health_check=list(HealthCheck))
        @given(role=roles(method), payload=payloads(method, known))
        def fuzz(role, payload):
            code, details = call(channel, method, payload, role)
            STATUSES[code.name] += 1
            assert code in ACTIONABLE, f"{method.full_name} as {role or 'nobody'}: {code.name} {details[:300]!r}"
            assert len(details.encode()) <= 1024, f"{method.full_name}: a {len(details)}-character message"

        fuzz()
    SECONDS["fuzzing"] += time.monotonic() - started
    peak = peak_rss_bytes(running.process.pid)
    assert peak < RSS_LIMIT_BYTES, f"radlab up peaked at {peak / 2**20:.0f} MiB resident"



@pytest.mark.parametrize("method_name", ["GetSlice", "GetThumbnail"])
def test_views_of_the_real_volume_answer_every_window_plane_and_size_with_an_actionable_status(stack, method_name):
    """The generic fuzz seldom names a real volume and a plane and a slice inside it at once: here every request is of
    the seeded volume, so positions, windows, presets, colormaps, formats and sizes reach the rendering code."""
    running, known = stack
    method = next(m for m in METHODS if m.name == method_name)
    volume = {"volume_id": known["volume_id"][0]}
    requests = st.one_of(*(Requests(known, hostile).message(method.input_type) for hostile in (False, True)))
    started = time.monotonic()
    with grpc.insecure_channel(running.grpc_addr) as channel:

        @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, print_blob=True,
                  suppress_health_check=list(HealthCheck))
        @given(role=roles(method), request=requests)
        def fuzz(role, request):
            request.MergeFrom(type(request)(**volume))
            code, details = call(channel, method, request, role)
            STATUSES[code.name] += 1
            assert code in ACTIONABLE, f"{method_name} as {role or 'nobody'}: {code.name} {details[:300]!r}"

        fuzz()
    SECONDS["fuzzing"] += time.monotonic() - started
    peak = peak_rss_bytes(running.process.pid)
    assert peak < RSS_LIMIT_BYTES, f"radlab up peaked at {peak / 2**20:.0f} MiB resident"
