"""The `radlab` command: make tokens and talk to a running deployment (the SDK alone), run the platform (`up`,
`serve`) and the offline engines (`anonymize`, `volume`, `interpolate`), which need the `server` extra."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from radlab import SERVICES, annotation_cli, pacs_cli, training_cli, workflow_cli
from radlab.tokens import ROLES

DEFAULT_HOME = "./.radlab"
GATEWAY = "gateway"  # `radlab serve gateway`: the HTTP gateway alone, not one of the six gRPC services
MAX_TIMESTAMP_S = 253402300800  # 10000-01-01: protobuf Timestamps end before it


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a user sees what went wrong and what to do, never a traceback
        return _report(error)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="radlab", description="Radlab, the open radiology data-labeling platform.")
    commands = parser.add_subparsers(title="commands")

    up = commands.add_parser("up", help="run every service and the HTTP gateway on this machine (embedded bus, store, database)")
    _serving_options(up)
    up.set_defaults(run=_server_command("up", lambda args: _serve(list(SERVICES), args, gateway=True)))

    serve = commands.add_parser(
        "serve", help="run one service, or the HTTP gateway alone (to RADLAB_URL), configured by RADLAB_* URLs (as the Helm chart does)"
    )
    serve.add_argument("service", choices=(*SERVICES, GATEWAY))
    _serving_options(serve)
    serve.set_defaults(run=_server_command("serve", lambda args: _serve([args.service], args)))

    token = commands.add_parser("token", help="bearer tokens").add_subparsers(title="token commands")
    create = token.add_parser("create", help="print a signed token (key: RADLAB_TOKEN_KEY, or RADLAB_HOME's own)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--subject", default=os.environ.get("USER", "radlab"), help="who the token is for")
    create.add_argument("--tenant", default="default", help="the organisation whose data the token reaches")
    create.add_argument("--vendor", default="", help="vendor accounts: the vendor's id")
    create.add_argument(
        "--ttl-days", type=float, default=30.0, help="how long it lives (at most RADLAB_TOKEN_MAX_TTL_DAYS, default 90)"
    )
    create.set_defaults(run=_token_create)
    revoke = token.add_parser("revoke", help="make every service at RADLAB_URL refuse a token from now on (admins)")
    revoke.add_argument("token", help="the token itself, or its id (which `token create` prints)")
    revoke.set_defaults(run=_token_revoke)

    health = commands.add_parser("health", help="serving status of every service at RADLAB_URL")
    health.set_defaults(run=_health)

    datasets = commands.add_parser("datasets", help="datasets").add_subparsers(title="dataset commands")
    make = datasets.add_parser("create", help="create a dataset and print it")
    make.add_argument("name")
    make.add_argument("--description", default="")
    make.add_argument("--id", default="", dest="dataset_id",
                      help="the dataset id to use, a UUID (e.g. one RADLAB_DICOM_SOURCES already binds); default: a new one")
    make.set_defaults(run=_datasets_create)
    listing = datasets.add_parser("list", help="list the datasets you may see")
    listing.set_defaults(run=_datasets_list)

    anonymize = commands.add_parser(
        "anonymize", help="de-identify a folder of DICOM (PS3.15 Basic Profile) and NIfTI (free-text header fields) files"
    )
    anonymize.add_argument("source", help="folder of DICOM and NIfTI (.nii, .nii.gz) files (read only)")
    anonymize.add_argument("destination", help="output folder; instances held for review (burned-in text, hidden overlay bits) go to held/")
    anonymize.add_argument("--key-file", help="file holding the key (default: RADLAB_ANON_KEY)")
    anonymize.add_argument("--tenant", default="default", help="pseudonyms are stable per tenant")
    anonymize.add_argument("--burned-in-text", choices=("hold", "redact", "off"),
                           help="identifying text read in the pixels (Tesseract): hold the instance for review, redact "
                                "it, or only trust the header (default: RADLAB_BURNED_IN_TEXT, else hold)")
    anonymize.set_defaults(run=_server_command("anonymize", _anonymize))

    volume = commands.add_parser("volume", help="build NIfTI volumes from a folder of DICOM files, offline, and say what was found")
    volume.add_argument("source", help="folder of DICOM files (read only, searched recursively)")
    volume.add_argument("output", help="OUT.nii.gz: the largest series; others go to OUT_2.nii.gz, OUT_3.nii.gz, … by size")
    volume.set_defaults(run=_server_command("volume", _volume))

    interpolate = commands.add_parser("interpolate", help="fill a NIfTI label map between its key slices, offline")
    interpolate.add_argument("labels", help="LABELS.nii.gz: only its key slices are read; every other slice counts as empty")
    interpolate.add_argument("output", help="OUT.nii.gz: the key slices plus every slice filled between the outer ones")
    interpolate.add_argument("--key-slices", required=True, help="slice numbers of the key slices, e.g. 0,4,8")
    interpolate.add_argument("--axis", type=int, default=2, help="the file's voxel axis the slices are numbered along (0, 1, 2; default 2)")
    interpolate.add_argument("--image", help="IMG.nii.gz the labels were drawn on: the default method then follows it")
    interpolate.add_argument("--method", choices=("automatic", "shape", "image", "fast", "nearest", "distance"),
                             help="default: automatic (chosen per label; each label's line says which and why)")
    interpolate.set_defaults(run=_server_command("interpolate", _interpolate))

    upload = commands.add_parser("upload", help="upload a DICOM or NIfTI file, a folder, a zip/tar or a DICOMDIR into a dataset")
    upload.add_argument("path", help="a file, a folder (sent as a tar), a zip or tar(.gz), or a DICOMDIR (the files it lists)")
    upload.add_argument("--dataset", required=True, help="the dataset id (radlab datasets create NAME)")
    upload.add_argument("--wait", action="store_true", help="wait until the volumes are built (or the upload failed)")
    upload.set_defaults(run=_upload)

    annotation_cli.add_commands(commands, _server_command)
    workflow_cli.add_commands(commands)
    training_cli.add_commands(commands)
    pacs_cli.add_commands(commands, _server_command)
    return parser


class MissingExtra(RuntimeError):
    """A command needs server code or a library the installed extras do not include."""


def _server_command(name: str, run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`run`, saying in one line which extra to install when the server code or one of its libraries is missing."""

    @functools.wraps(run)
    def checked(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except ModuleNotFoundError as error:
            raise MissingExtra(
                f"`radlab {name}` runs server code, which is not installed here (no module {error.name!r}): "
                "pip install 'radlab[server]'"
            ) from None

    return checked


def _serving_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="state folder for the embedded adapters (RADLAB_HOME, default ./.radlab)")
    parser.add_argument("--grpc-addr", help="gRPC listen address (RADLAB_GRPC_ADDR, default 127.0.0.1:50051)")
    parser.add_argument("--http-addr", help="the HTTP gateway's listen address (RADLAB_HTTP_ADDR, default 127.0.0.1:8000)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (RADLAB_METRICS_PORT, default 9464)")


def _serve(services: list[str], args: argparse.Namespace, gateway: bool = False) -> int:
    from shared.config import Settings
    from shared.runtime import serve

    overrides = {"RADLAB_HOME": args.home, "RADLAB_GRPC_ADDR": args.grpc_addr, "RADLAB_HTTP_ADDR": args.http_addr,
                 "RADLAB_METRICS_PORT": args.metrics_port}
    env = dict(os.environ) | {key: str(value) for key, value in overrides.items() if value is not None}
    if services == [GATEWAY]:
        from services.gateway.server import serve as serve_gateway

        serve_gateway(Settings.from_env(env))
    else:
        serve(services, Settings.from_env(env), gateway=gateway)
    return 0


def _token_create(args: argparse.Namespace) -> int:
    import datetime

    from radlab.tokens import DAY_S, issue_token, read_claims, token_key, token_max_ttl_s

    home = Path(os.environ.get("RADLAB_HOME") or DEFAULT_HOME).resolve()
    key = token_key(home, os.environ.get("RADLAB_TOKEN_KEY") or None)
    token = issue_token(
        key, subject=args.subject, role=args.role, tenant=args.tenant, vendor=args.vendor,
        ttl_s=args.ttl_days * DAY_S, longest_s=token_max_ttl_s(os.environ.get("RADLAB_TOKEN_MAX_TTL_DAYS")),
    )
    print(token)
    claims = read_claims(token)
    expires = datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"token {claims['jti']} expires {expires}; to end it sooner: radlab token revoke {claims['jti']}", file=sys.stderr)
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
    from radlab.client import Client
    from radlab.tokens import read_claims

    request = annotation_pb.RevokeTokenRequest(token_id=args.token)
    if "." in args.token:  # the token itself: it names its own id, and its expiry, after which no one need remember it
        claims = read_claims(args.token)
        if not isinstance(claims.get("jti"), str):
            raise ValueError("that token carries no id (jti) to revoke it by; make tokens with `radlab token create`")
        request.token_id = claims["jti"]
        if type(claims.get("exp")) is int and 0 < claims["exp"] < MAX_TIMESTAMP_S:
            request.expire_time.FromSeconds(claims["exp"])
    with Client() as client:
        revoked = client.annotation.RevokeToken(request)
    until = revoked.expire_time.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")
    print(f"token {revoked.token_id} revoked: every service refuses it within seconds (remembered until {until})")
    return 0


def _health(_args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        statuses = client.health_reasons()
    if all(status == "UNAVAILABLE" for status, _reason in statuses.values()):
        print(f"radlab: nothing answers at {client.url}; is Radlab running there? start it with `radlab up`", file=sys.stderr)
        return 1
    for service, (status, reason) in statuses.items():
        print(f"{service:14} {status}" + (f" ({reason})" if reason else ""))
    return 0 if all(status == "SERVING" for status, _reason in statuses.values()) else 1


def _datasets_create(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from radlab.client import Client

    with Client() as client:
        dataset = client.create_dataset(args.name, args.description, args.dataset_id)
    print(json.dumps(json_format.MessageToDict(dataset), indent=2))
    return 0


def _datasets_list(_args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        for dataset in client.list_datasets():
            print(f"{dataset.dataset_id}  {dataset.name}")
    return 0


def _anonymize(args: argparse.Namespace) -> int:
    from services.anonymization.cli import anonymize_folder, read_key
    from services.anonymization.handlers.burned_in import BurnedInText
    from services.anonymization.tesseract import Tesseract
    from shared.config import Settings

    key = read_key(args.key_file)
    settings = Settings.from_env()
    burned_in = BurnedInText(args.burned_in_text or settings.burned_in_text, Tesseract.found(settings.tesseract))
    return 1 if anonymize_folder(Path(args.source), Path(args.destination), key, args.tenant, burned_in=burned_in) else 0


def _volume(args: argparse.Namespace) -> int:
    from services.ingestion.cli import volumes_from_folder

    return volumes_from_folder(Path(args.source), Path(args.output))


def _interpolate(args: argparse.Namespace) -> int:
    from services.interpolation.cli import interpolate_file, parse_key_slices
    from shared.errors import InvalidArgument

    try:
        interpolate_file(
            Path(args.labels), Path(args.output), parse_key_slices(args.key_slices), axis=args.axis,
            image_path=Path(args.image) if args.image else None, method=args.method,
        )
    except InvalidArgument as error:  # bad input: one line, nothing written
        print(f"radlab: {error}", file=sys.stderr)
        return 2
    return 0


def _upload(args: argparse.Namespace) -> int:
    from radlab.client import Client
    from radlab.ingestion.v1 import ingestion_service_pb2 as pb

    with Client() as client:
        bar = ProgressBar("uploading")
        try:
            upload = client.upload(args.path, args.dataset, progress=bar)
        finally:
            bar.end_line()  # a refused or broken stream leaves its bar short of 100 %: an error goes on the next line
        print(f"upload {upload.upload_id}: scan {upload.scan_id}, {upload.file_count} file(s) handed on to anonymization")
        for why in upload.skipped:
            print(f"  skipped {why}")
        if args.wait:
            upload = client.wait_for_upload(upload.upload_id)
            print(f"upload {upload.upload_id}: {pb.UploadState.Name(upload.state).removeprefix('UPLOAD_STATE_')}, "
                  f"{len(upload.volume_ids)} volume(s) in {len(upload.study_ids)} study(ies)")
            for volume_id in upload.volume_ids:
                print(f"  volume {volume_id}")
            if upload.failure_reason:
                print(f"  {upload.failure_reason}", file=sys.stderr)
    return 0 if upload.state != pb.UPLOAD_STATE_FAILED else 1


class ProgressBar:
    """Upload progress as a tqdm bar on stderr, drawn from the first progress report on; a stream that restarts (a
    resumed upload) restarts the rate."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.last = -1

    def __call__(self, sent: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc=self.label, total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
        if sent < self.last or self.last < 0:
            self.bar.reset(total)
            self.bar.update(sent)
        else:
            self.bar.update(sent - self.last)
        self.last = sent

    def end_line(self) -> None:
        """Close the bar (also one left short of 100 %), so what follows starts on a line of its own."""
        if self.bar is not None:
            self.bar.close()


def _report(error: Exception) -> int:
    import grpc

    if isinstance(error, grpc.RpcError):
        print(f"radlab: {error.code().name}: {error.details()}", file=sys.stderr)
        if error.code() is grpc.StatusCode.UNAVAILABLE:
            from radlab.client import DEFAULT_URL

            url = os.environ.get("RADLAB_URL") or DEFAULT_URL
            print(f"is Radlab running at {url} (RADLAB_URL, host:port)? start it with `radlab up`", file=sys.stderr)
        elif error.code() is grpc.StatusCode.UNAUTHENTICATED:
            print("set RADLAB_TOKEN to a token of this deployment that has not expired; an admin makes one with "
                  "`radlab token create`", file=sys.stderr)
    else:
        print(f"radlab: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
