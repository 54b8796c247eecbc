"""The `radlab` command: run the platform (`up`, `serve`), make tokens, and talk to a running deployment."""

from __future__ import annotations

import argparse
import json
import os
import sys

from radlab import SERVICES
from shared.auth import ROLES


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

    up = commands.add_parser("up", help="run every service on this machine (embedded bus, store, database)")
    _serving_options(up)
    up.set_defaults(run=lambda args: _serve(list(SERVICES), args))

    serve = commands.add_parser("serve", help="run one service, configured by RADLAB_* URLs (as the Helm chart does)")
    serve.add_argument("service", choices=SERVICES)
    _serving_options(serve)
    serve.set_defaults(run=lambda args: _serve([args.service], args))

    token = commands.add_parser("token", help="bearer tokens").add_subparsers(title="token commands")
    create = token.add_parser("create", help="print a signed token (key: RADLAB_TOKEN_KEY, or RADLAB_HOME's own)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--subject", default=os.environ.get("USER", "radlab"), help="who the token is for")
    create.add_argument("--tenant", default="default", help="the organisation whose data the token reaches")
    create.add_argument("--vendor", default="", help="vendor accounts: the vendor's id")
    create.add_argument("--ttl-days", type=float, default=30.0)
    create.set_defaults(run=_token_create)

    health = commands.add_parser("health", help="serving status of every service at RADLAB_URL")
    health.set_defaults(run=_health)

    datasets = commands.add_parser("datasets", help="datasets").add_subparsers(title="dataset commands")
    make = datasets.add_parser("create", help="create a dataset and print it")
    make.add_argument("name")
    make.add_argument("--description", default="")
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
    anonymize.set_defaults(run=_anonymize)

    volume = commands.add_parser("volume", help="build NIfTI volumes from a folder of DICOM files, offline, and say what was found")
    volume.add_argument("source", help="folder of DICOM files (read only, searched recursively)")
    volume.add_argument("output", help="OUT.nii.gz: the largest series; others go to OUT_2.nii.gz, OUT_3.nii.gz, … by size")
    volume.set_defaults(run=_volume)

    interpolate = commands.add_parser("interpolate", help="fill a NIfTI label map between its key slices, offline")
    interpolate.add_argument("labels", help="LABELS.nii.gz: only its key slices are read; every other slice counts as empty")
    interpolate.add_argument("output", help="OUT.nii.gz: the key slices plus every slice filled between the outer ones")
    interpolate.add_argument("--key-slices", required=True, help="slice numbers of the key slices, e.g. 0,4,8")
    interpolate.add_argument("--axis", type=int, default=2, help="the file's voxel axis the slices are numbered along (0, 1, 2; default 2)")
    interpolate.add_argument("--image", help="IMG.nii.gz the labels were drawn on: the default method then follows it")
    interpolate.add_argument("--method", choices=("shape", "image", "fast"), help="default: image with --image, else shape")
    interpolate.set_defaults(run=_interpolate)

    upload = commands.add_parser("upload", help="upload a DICOM or NIfTI file, a folder, a zip/tar or a DICOMDIR into a dataset")
    upload.add_argument("path", help="a file, a folder (sent as a tar), a zip or tar(.gz), or a DICOMDIR (the files it lists)")
    upload.add_argument("--dataset", required=True, help="the dataset id (radlab datasets create NAME)")
    upload.add_argument("--wait", action="store_true", help="wait until the volumes are built (or the upload failed)")
    upload.set_defaults(run=_upload)
    return parser


def _serving_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="state folder for the embedded adapters (RADLAB_HOME, default ./.radlab)")
    parser.add_argument("--grpc-addr", help="gRPC listen address (RADLAB_GRPC_ADDR, default 127.0.0.1:50051)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (RADLAB_METRICS_PORT, default 9464)")


def _serve(services: list[str], args: argparse.Namespace) -> int:
    from shared.config import Settings
    from shared.runtime import serve

    overrides = {"RADLAB_HOME": args.home, "RADLAB_GRPC_ADDR": args.grpc_addr, "RADLAB_METRICS_PORT": args.metrics_port}
    env = dict(os.environ) | {key: str(value) for key, value in overrides.items() if value is not None}
    serve(services, Settings.from_env(env))
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from shared.auth import issue_token, token_key
    from shared.config import Settings

    settings = Settings.from_env()
    key = token_key(settings.home, settings.token_key)
    print(
        issue_token(
            key, subject=args.subject, role=args.role, tenant=args.tenant, vendor=args.vendor,
            ttl_s=int(args.ttl_days * 86400),
        )
    )
    return 0


def _health(_args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        statuses = client.health()
    if all(status == "UNAVAILABLE" for status in statuses.values()):
        print(f"radlab: nothing answers at {client.url}; is Radlab running there? start it with `radlab up`", file=sys.stderr)
        return 1
    for service, status in statuses.items():
        print(f"{service:14} {status}")
    return 0 if all(status == "SERVING" for status in statuses.values()) else 1


def _datasets_create(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from radlab.client import Client

    with Client() as client:
        dataset = client.create_dataset(args.name, args.description)
    print(json.dumps(json_format.MessageToDict(dataset), indent=2))
    return 0


def _datasets_list(_args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        for dataset in client.list_datasets():
            print(f"{dataset.dataset_id}  {dataset.name}")
    return 0


def _anonymize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.anonymization.cli import anonymize_folder, read_key

    key = read_key(args.key_file)
    return 1 if anonymize_folder(Path(args.source), Path(args.destination), key, args.tenant) else 0


def _volume(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.ingestion.domain.series import Volume, build_volumes, holds_image, parse_instance
    from shared.errors import InvalidArgument
    from shared.volumes import check_output, to_nifti

    if not Path(args.source).is_dir():
        raise InvalidArgument(f"{args.source} is not a folder; name the folder that holds the series' DICOM files")
    output = Path(args.output)
    check_output(output)
    files = sorted(path for path in Path(args.source).rglob("*") if path.is_file())
    instances = [dataset for dataset in map(parse_instance, (path.read_bytes() for path in files)) if dataset is not None]
    datasets = [dataset for dataset in instances if holds_image(dataset)]
    left_out = f" ({len(instances) - len(datasets)} segmentation(s) left out)" if len(instances) > len(datasets) else ""
    print(f"{len(datasets)} DICOM image(s) among {len(files)} file(s) in {args.source}{left_out}")
    if not datasets:
        raise InvalidArgument(f"no DICOM images in {args.source}, so nothing was written; export the series from the PACS "
                              "or modality as DICOM files")
    results = build_volumes(datasets)
    stem, suffix = (output.name[:-7], ".nii.gz") if output.name.endswith(".nii.gz") else (output.stem, ".nii")
    for number, result in enumerate(results, start=1):
        print(f"series {number}: {result.series.description}, {len(result.series.frames)} slice(s)")
        for issue in result.issues:
            print(f"  issue {issue.kind}: {issue.message}")
        if isinstance(result, Volume):
            path = to_nifti(result, output if number == 1 else output.with_name(f"{stem}_{number}{suffix}"))
            shape, spacing = " × ".join(map(str, result.shape[::-1])), " × ".join(f"{v:.4g}" for v in result.spacing)
            print(f"  wrote {path}: {shape} (i × j × k) voxels of {spacing} mm, {result.data.dtype}")
        else:
            print("  not written: no single regular grid describes these slices")
    return 0 if results and all(isinstance(result, Volume) for result in results) else 1


def _interpolate(args: argparse.Namespace) -> int:
    from pathlib import Path

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
        bar = _ProgressBar("uploading")
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


class _ProgressBar:
    """A one-line progress bar on stderr: percent, megabytes and rate."""

    def __init__(self, label: str, width: int = 30):
        import time

        self.label, self.width, self.clock = label, width, time.monotonic
        self.started, self.first, self.last = self.clock(), 0, -1
        self.open = False  # a line printed without its newline yet

    def __call__(self, sent: int, total: int) -> None:
        if sent < self.last or self.last < 0:  # a (re)started stream: measure the rate from here
            self.started, self.first = self.clock(), sent
        self.last = sent
        done = sent / total if total else 1.0
        rate = (sent - self.first) / max(self.clock() - self.started, 1e-6) / 1e6
        bar = "#" * round(done * self.width)
        self.open = sent < total
        print(f"\r{self.label} [{bar:<{self.width}}] {done:6.1%} {sent / 1e6:.1f}/{total / 1e6:.1f} MB {rate:.1f} MB/s",
              end="" if self.open else "\n", file=sys.stderr, flush=True)

    def end_line(self) -> None:
        """Finish a bar left short of 100 %, so what follows starts on a line of its own."""
        if self.open:
            print(file=sys.stderr, flush=True)
            self.open = False


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
