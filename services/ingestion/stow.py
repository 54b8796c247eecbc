"""Ingestion's DICOMweb STOW-RS endpoint: `POST /dicomweb/{AE_TITLE}/studies[/{study}]`, a multipart/related body of
application/dicom parts, each instance taken as a C-STORE from that bound source would be (a minimal HTTP side of its
own until Radlab has an HTTP gateway)."""

from __future__ import annotations

import json
import logging
import mmap
import os
import re
import tempfile
import threading
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.ingestion.handlers import Ports, arrivals
from services.ingestion.sources import Source
from shared.auth import InvalidToken, TokenVerifier

log = logging.getLogger(__name__)

_PATH = re.compile(r"/dicomweb/(?P<source>[^/]+)/studies(?:/(?P<study>[0-9.]+))?/?")
_ROLES = ("admin", "manager")
COPY_CHUNK = 1 << 20


class BodyRefused(Exception):
    """A STOW-RS request refused whole: `status` is the HTTP status, the message says what to send instead."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


class StowServer:
    """STOW-RS on `host:port`: a bearer token of the source's tenant (admin or manager) stores into the dataset the
    AE title in the path is bound to."""

    def __init__(self, ports: Ports, sources: dict[str, Source], tokens: TokenVerifier, host: str, port: int):
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                endpoint.post(self)

            def log_message(self, format, *args):  # the service logs each request itself, as JSON
                pass

        self.ports = ports
        self.sources = sources
        self.tokens = tokens
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="ingestion-stow", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self._thread.start()
        log.info("stow-rs serving", extra={"port": self.port, "sources": sorted(self.sources)})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def post(self, request: BaseHTTPRequestHandler) -> None:
        limit = self.ports.limits.max_total_bytes
        try:
            source, study_uid, boundary = self._admit(request)
        except BodyRefused as refused:
            _discard(request, limit)  # read, so that the client gets to read the answer instead of a broken pipe
            return _refuse(request, refused)
        try:
            status, body = self._store(request, source, study_uid, boundary, limit)
        except BodyRefused as refused:
            return _refuse(request, refused)
        _answer(request, status, "application/dicom+json", json.dumps(body).encode())

    def _admit(self, request: BaseHTTPRequestHandler) -> tuple[Source, str, bytes]:
        """The bound source the path names, the study it names (or ""), and the body's multipart boundary, once the
        token is the source's tenant's; anything else is refused before the body is looked at."""
        path = _PATH.fullmatch(request.path.split("?", 1)[0])
        if path is None:
            raise BodyRefused(HTTPStatus.NOT_FOUND, "STOW-RS is POST /dicomweb/{AE_TITLE}/studies[/{StudyInstanceUID}]")
        source = self.sources.get(path["source"])
        if source is None:
            raise BodyRefused(HTTPStatus.NOT_FOUND, f"no source {path['source'][:16]!r} is bound (RADLAB_DICOM_SOURCES)")
        self._authorize(request, source)
        return source, path["study"] or "", _boundary(request.headers)

    def _store(self, request: BaseHTTPRequestHandler, source: Source, study_uid: str, boundary: bytes,
               limit: int) -> tuple[HTTPStatus, dict]:
        """Each application/dicom part of the body into quarantine as a C-STORE of `source` would be; the receipt.
        A body that is not whole multipart is refused before any part of it is taken."""
        stored, failed = [], []
        with tempfile.TemporaryFile() as spool:
            if not _spool(request, spool, limit):
                raise BodyRefused(HTTPStatus.BAD_REQUEST, "the body is empty; send one application/dicom part per instance")
            with mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as body:
                for content_type, start, end in _parts(body, boundary):
                    data = body[start:end]
                    if content_type.split(";")[0].strip().lower() != "application/dicom":
                        failed.append(_failure(arrivals.SOP_CLASS_NOT_SUPPORTED, f"a {content_type or 'untyped'} part; "
                                               "send instances as application/dicom parts"))
                        continue
                    try:
                        received = arrivals.receive(self.ports, source, data, study_uid)
                    except arrivals.InstanceRefused as refused:
                        failed.append(_failure(refused.status, str(refused)))
                        continue
                    except Exception:  # the store or the database failed: this part is not taken, the sender retries it
                        log.exception("stow-rs part failed", extra={"source": source.ae_title})
                        failed.append(_failure(arrivals.PROCESSING_FAILURE, "Radlab could not store it; send it again"))
                        continue
                    stored.append({"00081150": _value("UI", received.sop_class_uid),
                                   "00081155": _value("UI", received.sop_instance_uid)})
        log.info("stow-rs stored", extra={"source": source.ae_title, "stored": len(stored), "failed": len(failed)})
        answer = {"00081199": {"vr": "SQ", "Value": stored}} if stored else {}
        if failed:
            answer["00081198"] = {"vr": "SQ", "Value": failed}
        status = HTTPStatus.OK if not failed else HTTPStatus.ACCEPTED if stored else HTTPStatus.CONFLICT
        return status, answer

    def _authorize(self, request: BaseHTTPRequestHandler, source: Source) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise BodyRefused(HTTPStatus.UNAUTHORIZED, "send a Radlab token: Authorization: Bearer TOKEN")
        try:
            principal = self.tokens.verify(token.strip())
        except InvalidToken as error:
            raise BodyRefused(HTTPStatus.UNAUTHORIZED, f"the token is not accepted: {error}") from None
        if principal.tenant != source.tenant or principal.role not in _ROLES:
            raise BodyRefused(HTTPStatus.FORBIDDEN, f"source {source.ae_title} takes instances from its tenant's admins "
                                                    "and managers only")


def _boundary(headers: Message) -> bytes:
    """The multipart boundary of a `multipart/related; type="application/dicom"` body; anything else is refused."""
    kind = headers.get_content_type()
    if kind != "multipart/related":
        raise BodyRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"STOW-RS takes a multipart/related body of application/dicom "
                                                              f"parts, not {headers.get('Content-Type') or 'an untyped body'}")
    parts = headers.get_param("type")
    if parts and str(parts).lower() != "application/dicom":
        raise BodyRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"this STOW-RS takes application/dicom parts, not {parts} "
                                                              "(metadata and bulk data parts are not taken)")
    boundary = headers.get_param("boundary")
    if not boundary:
        raise BodyRefused(HTTPStatus.BAD_REQUEST, "the multipart/related Content-Type names no boundary")
    return str(boundary).encode("latin-1")


def _spool(request: BaseHTTPRequestHandler, target, limit: int) -> int:
    """Copy the body, sent with a Content-Length or chunked (as dicomweb-client sends large ones), into `target`;
    returns its size. A body over `limit` bytes is refused before more of it is read."""
    length, chunked = request.headers.get("Content-Length", ""), request.headers.get("Transfer-Encoding", "").lower()
    if chunked == "chunked":
        size = 0
        while chunk := _chunk_size(request.rfile):
            size += chunk
            _within(size, limit)
            _copy(request.rfile, target, chunk)
            request.rfile.readline()  # the CRLF that ends the chunk
        while request.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailer fields, unused
            pass
    elif length.isdigit():
        size = int(length)
        _within(size, limit)
        _copy(request.rfile, target, size)
    else:
        raise BodyRefused(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length or chunked")
    target.flush()
    return size


def _chunk_size(stream) -> int:
    line = stream.readline(COPY_CHUNK).split(b";", 1)[0].strip()
    try:
        return int(line, 16)
    except ValueError:
        raise BodyRefused(HTTPStatus.BAD_REQUEST, "the chunked body is malformed (a chunk size that is not hexadecimal); "
                                                  "send it again") from None


def _within(size: int, limit: int) -> None:
    if size > limit:
        raise BodyRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"the body is over the {limit}-byte limit (RADLAB_UPLOAD_MAX_BYTES); send fewer instances per request")


def _copy(source, target, length: int) -> None:
    while length:
        chunk = source.read(min(length, COPY_CHUNK))
        if not chunk:
            raise BodyRefused(HTTPStatus.BAD_REQUEST, "the body ended before its announced length; send it again")
        target.write(chunk)
        length -= len(chunk)


def _parts(body: mmap.mmap, boundary: bytes) -> list[tuple[str, int, int]]:
    """Each part's Content-Type and where its bytes start and end (PS3.18 8.6.1.2: parts between `--boundary` lines,
    `--boundary--` last); a body cut short is refused whole."""
    delimiter = b"--" + boundary
    at = body.find(delimiter)
    if at < 0:
        raise BodyRefused(HTTPStatus.BAD_REQUEST, "the body holds no part delimited by its boundary")
    parts = []
    while True:
        at += len(delimiter)
        if body[at:at + 2] == b"--":
            return parts
        head_end = body.find(b"\r\n\r\n", at)
        end = body.find(b"\r\n" + delimiter, head_end + 4) if head_end >= 0 else -1
        if end < 0:
            raise BodyRefused(HTTPStatus.BAD_REQUEST, "the body ends inside a part, before its closing boundary; send it again")
        head = body[at:head_end].decode("latin-1")
        content_type = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                             if line.lower().startswith("content-type:")), "")
        parts.append((content_type, head_end + 4, end))
        at = end + 2


def _value(vr: str, value) -> dict:
    return {"vr": vr, "Value": [value]} if value else {"vr": vr}


def _failure(status: int, reason: str) -> dict:
    """A Failed SOP Sequence item: its Failure Reason, and in Error Comment why, for the person who reads it."""
    return {"00081197": _value("US", status), "00000902": _value("LO", reason)}


def _discard(request: BaseHTTPRequestHandler, limit: int) -> None:
    with open(os.devnull, "wb") as sink:
        try:
            _spool(request, sink, limit)
        except (BodyRefused, OSError):
            pass  # too large or broken: the connection closes after the answer anyway


def _refuse(request: BaseHTTPRequestHandler, refused: BodyRefused) -> None:
    log.info("stow-rs request refused", extra={"status": int(refused.status), "reason": str(refused)})
    _answer(request, refused.status, "text/plain; charset=utf-8", f"{refused}\n".encode())


def _answer(request: BaseHTTPRequestHandler, status: HTTPStatus, content_type: str, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
