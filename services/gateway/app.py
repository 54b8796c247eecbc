"""The gateway's HTTP API: REST/JSON over every unary RPC, volume data, slice PNGs, identity, health, OpenAPI, viewer.

It decides nothing itself: every call goes to the services with the caller's own token."""

from __future__ import annotations

import enum
import json
import logging
import re
import time
import uuid
from http import HTTPStatus
from importlib import metadata
from pathlib import Path

import grpc
from fastapi import Depends, FastAPI, Path as PathParam, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion_pb
from radlab.type.v1 import geometry_pb2
from services.gateway.calls import CallFailed, Rpc, ServiceContract, Services, contracts
from services.gateway.schemas import message_schemas, ref
from shared import metrics
from shared.auth import InvalidToken, TokenVerifier
from shared.grpcserver import MAX_MESSAGE_BYTES, TRACE_HEADER, TRACE_ID

log = logging.getLogger(__name__)

API = "/api/v1"
# A JWT is three base64url parts joined by dots; anything else is refused before a service hears of it.
BEARER_TOKEN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){2}")
EXPOSED_HEADERS = ("X-Radlab-Dtype", "X-Radlab-Shape", "X-Radlab-Pixel-Spacing", "X-Radlab-Position-Mm", "X-Radlab-Window")
# CT voxels shrink at level 1 within 3 % of level 9's size at about 4× the speed (spleen CT: 0.644 vs 0.628 of the raw
# bytes, 64 vs 17 MB/s): the time to compress, not the bytes, bounds a volume's transfer.
GZIP_LEVEL = 1
INVALID = grpc.StatusCode.INVALID_ARGUMENT
DESCRIPTION = """\
REST/JSON over Radlab's gRPC services, with the same bearer tokens and the same checks: every call is forwarded to
the service with the caller's own token, so the service decides, as over gRPC.

* `POST /api/v1/{service}/{Method}` calls a unary RPC: the body is the request message in proto3 JSON (an empty body is
  an empty request), the answer the response message in proto3 JSON (lowerCamelCase names, enums by name, 64-bit
  integers and bytes (base64) as strings, every field present).
* `GET /api/v1/volumes/{volume_id}/data` streams a volume's raw voxels; `GET /api/v1/volumes/{volume_id}/slices/...png`
  renders one slice.
* Errors are `{"code": "<gRPC status>", "message": "<why>"}`: INVALID_ARGUMENT and OUT_OF_RANGE 400, UNAUTHENTICATED
  401, PERMISSION_DENIED 403, NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, FAILED_PRECONDITION 412,
  RESOURCE_EXHAUSTED 429, CANCELLED 499, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, others 500.
* Not offered here: ingestion's UploadFiles, a client stream: upload with the SDK (`radlab upload`, `Client.upload`) or
  DICOMweb STOW-RS (ingestion's `RADLAB_DICOMWEB_PORT`).
"""
ERROR_SCHEMA = {
    "type": "object", "title": "Error", "required": ["code", "message"],
    "properties": {"code": {"type": "string", "description": "the gRPC status name, e.g. NOT_FOUND"},
                   "message": {"type": "string"}},
}
ERROR_RESPONSES = {
    status: {"description": why, "content": {"application/json": {"schema": ref("Error")}}}
    for status, why in [(400, "the request is invalid"), (401, "no valid bearer token"), (403, "the role may not call it"),
                        (404, "not found, or not the caller's to see")]
}


def _choices(name: str, proto_enum, prefix: str, lower: bool = False) -> type[enum.Enum]:
    """The values of a contract enum but UNSPECIFIED, without their prefix, as the string enum of a path or query
    parameter (so the OpenAPI lists them and anything else is a 400)."""
    values = [value.removeprefix(prefix) for value in proto_enum.keys()[1:]]
    return enum.Enum(name, {value: value.lower() if lower else value for value in values}, type=str)


Plane = _choices("Plane", geometry_pb2.Plane, "PLANE_", lower=True)
WindowPreset = _choices("WindowPreset", ingestion_pb.WindowPreset, "WINDOW_PRESET_")
Colormap = _choices("Colormap", ingestion_pb.Colormap, "COLORMAP_")

_bearer_scheme = HTTPBearer(auto_error=False, description="a token from `radlab token create`")


def bearer_token(credentials: HTTPAuthorizationCredentials | None = Security(_bearer_scheme)) -> str:
    """The caller's bearer token; without one (or with what is no token at all) the call ends here, as 401."""
    if credentials is None:
        raise CallFailed(grpc.StatusCode.UNAUTHENTICATED, "no bearer token: send Authorization: Bearer <token> "
                                                          "(radlab token create)")
    if not BEARER_TOKEN.fullmatch(credentials.credentials):
        raise CallFailed(grpc.StatusCode.UNAUTHENTICATED, "invalid token: it is not a JWT")
    return credentials.credentials


def trace_id(request: Request) -> str:
    """The caller's X-Radlab-Trace-Id when it looks like one, else a new one: the services log under it."""
    given = request.headers.get(TRACE_HEADER, "")
    return given if TRACE_ID.fullmatch(given) else uuid.uuid4().hex


class RouteMetrics:
    """Records each request's time to its last byte per route template (never an id) and status."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = HTTPStatus.INTERNAL_SERVER_ERROR

        async def observed(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.HTTP_DURATION.labels(scope["method"], route, str(int(status))).observe(time.perf_counter() - started)


def build_app(services: Services, tokens: TokenVerifier, viewer_dir: Path | None) -> FastAPI:
    """The gateway over `services`; `tokens` verify who /api/v1/me names; the viewer's files come from `viewer_dir`."""
    app = FastAPI(title="Radlab", version=metadata.version("radlab"), description=DESCRIPTION, redoc_url=None)
    rpcs = contracts()
    _errors(app)
    _rpc_routes(app, services, rpcs)
    _volume_routes(app, services, rpcs["ingestion"].rpcs)
    _identity_and_health(app, services, tokens)
    _viewer_routes(app, viewer_dir)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=GZIP_LEVEL)
    app.add_middleware(RouteMetrics)

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            unary = [rpc for contract in rpcs.values() for rpc in contract.rpcs if rpc.unary]
            messages = [rpc.method.input_type for rpc in unary] + [rpc.method.output_type for rpc in unary]
            schemas.update(message_schemas(messages))
            schemas["Error"] = ERROR_SCHEMA
            document["tags"] = [{"name": name, "description": contract.description} for name, contract in rpcs.items()]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi
    return app


def _errors(app: FastAPI) -> None:
    """Every refusal as `{"code", "message"}`; nothing unexpected leaves as more than a trace id."""

    @app.exception_handler(CallFailed)
    async def refused(_request: Request, error: CallFailed) -> JSONResponse:
        return JSONResponse({"code": error.code.name, "message": str(error)}, status_code=error.http)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{' '.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors())
        return JSONResponse({"code": INVALID.name, "message": problems[:1024]}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        message = f"no route {request.method} {request.url.path[:200]}" if error.status_code == 404 else str(error.detail)
        return JSONResponse({"code": HTTPStatus(error.status_code).name, "message": message},
                            status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def failed(request: Request, _error: Exception) -> JSONResponse:
        trace = trace_id(request)
        log.exception("gateway %s %s failed", request.method, request.url.path[:200], extra={"trace_id": trace})
        return JSONResponse({"code": "INTERNAL", "message": f"internal error; trace id {trace}"}, status_code=500)


async def _body(request: Request) -> bytes:
    """The request body, refused past the largest message a service takes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MESSAGE_BYTES:
            raise CallFailed(grpc.StatusCode.RESOURCE_EXHAUSTED, f"the body is over {MAX_MESSAGE_BYTES >> 20} MiB", http=413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_request(rpc: Rpc, body: bytes):
    """The request message `body` holds in proto3 JSON (an empty body is an empty message); unknown fields refused."""
    message = rpc.request()
    if not body.strip():
        return message
    name = rpc.method.input_type.name
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise CallFailed(INVALID, f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise CallFailed(INVALID, f"the body must be a JSON object (a {name}), not {type(document).__name__}")
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
    except (json_format.Error, ValueError, RecursionError) as error:
        raise CallFailed(INVALID, f"the body is not a valid {name}: {error}") from None
    return message


def as_json(message) -> dict:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def _rpc_routes(app: FastAPI, services: Services, rpcs: dict[str, ServiceContract]) -> None:
    """POST /api/v1/<service>/<Method> for every unary RPC the contracts hold, then a 404 for any other name."""
    for name, contract in rpcs.items():
        for rpc in (call for call in contract.rpcs if call.unary):
            app.add_api_route(
                f"{API}/{name}/{rpc.method.name}", _forward(services, rpc), methods=["POST"], tags=[name],
                name=f"{name}.{rpc.method.name}", operation_id=f"{name}.{rpc.method.name}", summary=rpc.method.name,
                description=rpc.description,
                openapi_extra={"requestBody": {"required": False, "content": {
                    "application/json": {"schema": ref(rpc.method.input_type.full_name)}}}},
                responses={200: {"description": rpc.method.output_type.name, "content": {
                    "application/json": {"schema": ref(rpc.method.output_type.full_name)}}}, **ERROR_RESPONSES},
            )

    @app.post(API + "/{service}/{method}", include_in_schema=False)
    async def unknown(service: str, method: str, _token: str = Depends(bearer_token)):
        known = f"{service} has no RPC {method[:80]}" if service in rpcs else f"no service {service[:80]}"
        raise CallFailed(grpc.StatusCode.NOT_FOUND, f"{known}; /openapi.json lists every route")


def _forward(services: Services, rpc: Rpc):
    async def forward(request: Request, token: str = Depends(bearer_token)) -> JSONResponse:
        message = parse_request(rpc, await _body(request))
        response = await run_in_threadpool(services.call, rpc, message, token, trace_id(request))
        return JSONResponse(as_json(response))

    return forward


def _volume_routes(app: FastAPI, services: Services, ingestion: list[Rpc]) -> None:
    """A volume's voxels, streamed from GetVolumeData a block at a time, and one slice as GetSlice's PNG."""
    by_name = {rpc.method.name: rpc for rpc in ingestion}
    get_volume_data, get_slice = by_name["GetVolumeData"], by_name["GetSlice"]
    exposed = ", ".join(EXPOSED_HEADERS)
    int32 = 2**31 - 1

    @app.get(
        API + "/volumes/{volume_id}/data", tags=["volumes"], response_class=Response,
        summary="A volume's raw voxel values",
        description="Slices [first_slice, first_slice + slice_count) (slice_count 0: to the end) of one time point, as "
        "the raw little-endian values in C order [k, j, i]; gzip-compressed when asked (Accept-Encoding: gzip). "
        "X-Radlab-Dtype names the numpy type, X-Radlab-Shape the block's k,j,i. Streamed from ingestion's "
        "GetVolumeData, at most 16 MiB per call.",
        responses={200: {"description": "the voxels", "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}, "headers": {
            "X-Radlab-Dtype": {"schema": {"type": "string"}, "description": "numpy type, e.g. int16"},
            "X-Radlab-Shape": {"schema": {"type": "string"}, "description": "k,j,i of the returned block"}}},
            **ERROR_RESPONSES},
    )
    async def volume_data(
        request: Request, volume_id: str, time_index: int = Query(0, ge=0, le=int32),
        first_slice: int = Query(0, ge=0, le=int32), slice_count: int = Query(0, ge=0, le=int32),
        token: str = Depends(bearer_token),
    ) -> StreamingResponse:
        trace = trace_id(request)

        def block(first: int, count: int) -> ingestion_pb.GetVolumeDataResponse:
            asked = ingestion_pb.GetVolumeDataRequest(
                volume_id=volume_id, time_index=time_index, first_slice=first, slice_count=count
            )
            return services.call(get_volume_data, asked, token, trace)

        head = await run_in_threadpool(block, first_slice, slice_count)
        total = slice_count or head.volume_shape[0] - first_slice
        slice_bytes = len(head.data) // head.shape[0]

        def blocks():
            yield head.data
            done = head.shape[0]
            while done < total:
                following = block(first_slice + done, total - done)
                yield following.data
                done += following.shape[0]

        headers = {
            "X-Radlab-Dtype": geometry_pb2.DataType.Name(head.dtype).removeprefix("DATA_TYPE_").lower(),
            "X-Radlab-Shape": ",".join(str(n) for n in (total, *head.shape[1:])),
            "Content-Length": str(total * slice_bytes),
            "Access-Control-Expose-Headers": exposed,
        }
        return StreamingResponse(blocks(), media_type="application/octet-stream", headers=headers)

    @app.get(
        API + "/volumes/{volume_id}/slices/{plane}/{slice_index}.png", tags=["volumes"], response_class=Response,
        summary="One slice as a windowed PNG",
        description="Ingestion's GetSlice as a PNG: window preset and colormap by name (e.g. CT_LIVER, HOT), invert, "
        "time_index for a 4D volume. X-Radlab-Pixel-Spacing gives row,col in mm, X-Radlab-Position-Mm the slice's "
        "position along the plane's axis, X-Radlab-Window the center,width applied.",
        responses={200: {"description": "the PNG", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                   **ERROR_RESPONSES},
    )
    async def slice_png(
        request: Request, volume_id: str, plane: Plane, slice_index: int = PathParam(ge=0, le=int32),
        window_preset: WindowPreset | None = None, colormap: Colormap | None = None, invert: bool = False,
        time_index: int = Query(0, ge=0, le=int32), token: str = Depends(bearer_token),
    ) -> Response:
        asked = ingestion_pb.GetSliceRequest(
            volume_id=volume_id, plane=geometry_pb2.Plane.Value(f"PLANE_{plane.name}"), slice_index=slice_index,
            format=ingestion_pb.SLICE_FORMAT_PNG, invert=invert, time_index=time_index,
        )
        if window_preset is not None:
            asked.window_preset = ingestion_pb.WindowPreset.Value(f"WINDOW_PRESET_{window_preset.value}")
        if colormap is not None:
            asked.colormap = ingestion_pb.Colormap.Value(f"COLORMAP_{colormap.value}")
        answer = await run_in_threadpool(services.call, get_slice, asked, token, trace_id(request))
        headers = {
            "X-Radlab-Pixel-Spacing": ",".join(f"{mm:g}" for mm in answer.pixel_spacing),
            "X-Radlab-Position-Mm": f"{answer.position_mm:g}",
            "X-Radlab-Window": f"{answer.applied_window.center:g},{answer.applied_window.width:g}",
            "Access-Control-Expose-Headers": exposed,
        }
        return Response(answer.data, media_type="image/png", headers=headers)


def _identity_and_health(app: FastAPI, services: Services, tokens: TokenVerifier) -> None:
    @app.get(API + "/me", tags=["identity"], summary="Who the bearer token names",
             description="The token's subject, role, tenant and vendor, verified with the services' key; for display "
             "only: it grants nothing.",
             responses={200: {"description": "the caller", "content": {"application/json": {"schema": {
                 "type": "object", "properties": {key: {"type": "string"} for key in ("subject", "role", "tenant", "vendor")}}}}},
                 **ERROR_RESPONSES})
    def me(token: str = Depends(bearer_token)) -> dict:
        try:
            caller = tokens.verify(token)
        except InvalidToken as error:
            raise CallFailed(grpc.StatusCode.UNAUTHENTICATED, f"invalid token: {error}") from None
        return {"subject": caller.subject, "role": caller.role, "tenant": caller.tenant, "vendor": caller.vendor}

    @app.get("/healthz", tags=["health"], summary="Whether every service answers its gRPC health check",
             responses={503: {"description": "a service is not serving or not reachable"}})
    def healthz() -> JSONResponse:
        statuses = services.health()
        serving = all(status == "SERVING" for status in statuses.values())
        return JSONResponse({"status": "SERVING" if serving else "NOT_SERVING", "services": statuses},
                            status_code=200 if serving else 503)


def _viewer_routes(app: FastAPI, viewer_dir: Path | None) -> None:
    """The web viewer's built files under /viewer/, any other path there its index.html (a single-page app)."""

    @app.get("/", include_in_schema=False)
    @app.get("/viewer", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/viewer/")

    @app.get("/viewer/{path:path}", include_in_schema=False)
    def viewer(path: str) -> Response:
        index = viewer_dir / "index.html" if viewer_dir else None
        if index is None or not index.is_file():
            return PlainTextResponse("the viewer is not built: run `scripts/viewer.sh`", status_code=503)
        root = viewer_dir.resolve()
        wanted = (root / path).resolve()
        if path and wanted.is_file() and wanted.is_relative_to(root):
            return FileResponse(wanted)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
