"""`Client.upload`'s retry rule against a scripted ingestion stub: broken streams and a dataset not yet known are retried,
refusals are not, a resume refused is looked up again at once, another user's unfinished upload is left alone."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from radlab import client as sdk
from radlab.client import Client, UploadFailed
from radlab.ingestion.v1 import ingestion_service_pb2 as pb

Code = grpc.StatusCode
CONTENT = b"DICM" * 1000  # the file uploaded


class Refused(grpc.RpcError):
    """What a stub raises for a status other than OK."""

    def __init__(self, code: grpc.StatusCode):
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._code.name


class ScriptedIngestion:
    """UploadFiles answers in turn from `answers`: a status code to raise, or the state the upload ends the stream in
    (after a raise, `after` says what state GetUpload then shows for a resumed upload). `receiving` is what
    ListUploads finds unfinished."""

    def __init__(self, answers: list, receiving: list[pb.Upload] = (), after: int = pb.UPLOAD_STATE_RECEIVING):
        self.answers, self.after = list(answers), after
        self.uploads = {upload.upload_id: upload for upload in receiving}
        self.streams: list[str] = []  # the upload each stream resumed ("" for a new one)

    def UploadFiles(self, requests):
        metadata = next(requests).metadata
        for _chunk in requests:
            pass
        self.streams.append(metadata.resume_upload_id)
        answer = self.answers.pop(0)
        if isinstance(answer, grpc.StatusCode):
            if metadata.resume_upload_id:
                self.uploads[metadata.resume_upload_id].state = self.after
            raise Refused(answer)
        upload_id = metadata.resume_upload_id or f"new-{len(self.streams)}"
        self.uploads[upload_id] = pb.Upload(
            upload_id=upload_id, state=answer, total_size=metadata.total_size, sha256=metadata.sha256,
            bytes_received=metadata.total_size, failure_reason="refused" if answer == pb.UPLOAD_STATE_FAILED else "",
        )
        return pb.UploadFilesResponse(upload_id=upload_id, state=answer)

    def GetUpload(self, request):
        return pb.GetUploadResponse(upload=self.uploads[request.upload_id])

    def ListUploads(self, request):
        return pb.ListUploadsResponse(uploads=[upload for upload in self.uploads.values() if upload.state == request.state])


@pytest.fixture
def upload(tmp_path, monkeypatch):
    """Client.upload of a small file against a ScriptedIngestion; returns (outcome or raised error, the stub, sleeps)."""
    path = tmp_path / "scan.dcm"
    path.write_bytes(CONTENT)
    sleeps: list[float] = []
    monkeypatch.setattr(sdk.time, "sleep", sleeps.append)

    def run(stub: ScriptedIngestion):
        with Client("127.0.0.1:9", "a-token") as client:  # never connects: every call goes to the stub
            client.ingestion = stub
            try:
                return client.upload(path, "dataset-1"), stub, sleeps
            except (grpc.RpcError, UploadFailed) as error:
                return error, stub, sleeps

    return run


def unfinished(upload_id: str) -> pb.Upload:
    """An upload of CONTENT that broke after 10 bytes."""
    return pb.Upload(upload_id=upload_id, state=pb.UPLOAD_STATE_RECEIVING, total_size=len(CONTENT),
                     sha256=hashlib.sha256(CONTENT).hexdigest(), bytes_received=10)


def test_a_dataset_ingestion_has_not_heard_of_yet_is_waited_for(upload):
    outcome, stub, sleeps = upload(ScriptedIngestion([Code.FAILED_PRECONDITION, Code.FAILED_PRECONDITION, pb.UPLOAD_STATE_UPLOADED]))
    assert outcome.state == pb.UPLOAD_STATE_UPLOADED and stub.streams == ["", "", ""] and len(sleeps) == 2


def test_a_broken_stream_is_resumed_after_a_backoff(upload):
    outcome, stub, sleeps = upload(ScriptedIngestion([Code.UNAVAILABLE, pb.UPLOAD_STATE_UPLOADED], [unfinished("u-1")]))
    assert outcome.state == pb.UPLOAD_STATE_UPLOADED and stub.streams == ["u-1", "u-1"] and len(sleeps) == 1


@pytest.mark.parametrize("code", [Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED,
                                  Code.UNAUTHENTICATED, Code.OUT_OF_RANGE])
def test_a_refusal_of_a_new_upload_is_raised_at_once(upload, code):
    outcome, stub, sleeps = upload(ScriptedIngestion([code, pb.UPLOAD_STATE_UPLOADED]))
    assert isinstance(outcome, grpc.RpcError) and outcome.code() is code and stub.streams == [""] and sleeps == []


def test_a_resume_refused_as_the_upload_moved_on_is_looked_up_at_once_and_not_sent_again(upload):
    """The upload failed meanwhile (its last stream found a damaged member): one stream, no backoff, its reason raised."""
    outcome, stub, sleeps = upload(ScriptedIngestion([Code.FAILED_PRECONDITION], [unfinished("u-1")], after=pb.UPLOAD_STATE_FAILED))
    assert isinstance(outcome, UploadFailed) and stub.streams == ["u-1"] and sleeps == []


def test_another_users_unfinished_upload_of_the_same_file_is_left_alone(upload):
    """ListUploads shows the tenant's uploads; resuming another user's is refused, so a new upload of one's own starts."""
    outcome, stub, sleeps = upload(ScriptedIngestion([Code.PERMISSION_DENIED, pb.UPLOAD_STATE_UPLOADED], [unfinished("theirs")]))
    assert outcome.state == pb.UPLOAD_STATE_UPLOADED and outcome.upload_id != "theirs"
    assert stub.streams == ["theirs", ""] and sleeps == [] and stub.uploads["theirs"].state == pb.UPLOAD_STATE_RECEIVING
