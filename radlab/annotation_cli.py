"""`radlab items|classes|labels|audit …`: datasets' items (and the next to label, by training's ranking), label classes,
label import/export/conversion and the audit log."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import urllib.request
from pathlib import Path

from radlab import training_cli

FORMATS = {"nifti": 1, "seg": 2, "rtstruct": 3, "coco": 4, "darwin": 5}


def add_commands(commands, server_command) -> None:
    """Register the commands on the `radlab` parser's subcommands; `server_command` wraps those that need server code."""
    items = commands.add_parser("items", help="a dataset's items").add_subparsers(title="item commands")
    listing = items.add_parser("list", help="list a dataset's items, filtered")
    listing.add_argument("dataset", help="dataset id")
    listing.add_argument("--tag")
    listing.add_argument("--modality", help="e.g. CT")
    listing.add_argument("--body-part", help="e.g. CHEST")
    listing.add_argument("--text", help="text in the item's name or series description")
    listing.add_argument("--label", type=int, help="only items where this label class value is present")
    listing.add_argument("--folder", help="folder id")
    listing.add_argument("--stage", help="only items now at this workflow stage (its id)")
    listing.add_argument("--assignee", help="only items with a task held by this person now")
    listing.add_argument("--completed", choices=("yes", "no"), help="only items that reached COMPLETE (yes) or not (no)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    listing.set_defaults(run=_items_list)
    tag = items.add_parser("tag", help="set an item's tags (replacing them)")
    tag.add_argument("item", help="item id")
    tag.add_argument("tags", nargs="*")
    tag.set_defaults(run=_items_tag)
    following = items.add_parser("next", help="the dataset's unlabelled items, most uncertain first (see radlab rank)")
    following.add_argument("dataset", help="dataset id")
    following.add_argument("--count", type=int, default=10)
    following.set_defaults(run=training_cli.items_next)

    classes = commands.add_parser("classes", help="a dataset's label classes").add_subparsers(title="class commands")
    create = classes.add_parser("create", help="create a label class (codes from the built-in list by name)")
    create.add_argument("dataset", help="dataset id")
    create.add_argument("name", help="e.g. liver")
    create.add_argument("--value", type=int, default=0, help="voxel value (default: the next free one)")
    create.add_argument("--color", default="", help="#rrggbb (default: from a palette)")
    create.set_defaults(run=_classes_create)
    class_list = classes.add_parser("list", help="list a dataset's classes")
    class_list.add_argument("dataset", help="dataset id")
    class_list.set_defaults(run=_classes_list)

    labels = commands.add_parser("labels", help="label files: import, export, convert").add_subparsers(title="label commands")
    imported = labels.add_parser("import", help="import a label file onto an item as a new annotation version")
    imported.add_argument("item", help="item id")
    imported.add_argument("file", help=".nii/.nii.gz, DICOM-SEG or RTSTRUCT .dcm, COCO or Darwin .json")
    imported.add_argument("--format", choices=sorted(FORMATS), help="default: from the file name")
    imported.add_argument("--annotation", default="", help="add a version to this annotation (default: a new one)")
    imported.add_argument("--base-version", type=int, default=0, help="with --annotation: the version you saw")
    imported.add_argument("--map", action="append", default=[], metavar="SOURCE=VALUE",
                          help="map a source label (value or name) to a class value; repeatable")
    imported.add_argument("--create-classes", action="store_true", help="create a class for each unmapped source label")
    imported.set_defaults(run=_labels_import)
    exported = labels.add_parser("export", help="export a dataset's submitted labels to a zip archive")
    exported.add_argument("dataset", help="dataset id")
    exported.add_argument("output", help="OUT.zip (written when the export is done)")
    exported.add_argument("--format", choices=sorted(FORMATS), required=True)
    exported.add_argument("--all-submitted", action="store_true", help="every submitted annotation, not each item's latest")
    exported.add_argument("--wait", action="store_true", help="wait with a progress bar and download the archive "
                          "(without it: print the export id and return)")
    exported.set_defaults(run=_labels_export)
    convert = labels.add_parser("convert", help="convert between NIfTI, DICOM-SEG and RTSTRUCT, offline")
    convert.add_argument("source", help="SRC: .nii/.nii.gz, or a DICOM-SEG / RTSTRUCT file")
    convert.add_argument("output", help="OUT: .nii or .nii.gz (NIfTI), .rtstruct.dcm (RTSTRUCT), other .dcm (DICOM-SEG)")
    convert.add_argument("--reference", help="folder of the DICOM series the labels lie on (needed for DICOM in or out)")
    convert.add_argument("--classes", help="MAP.json: label value → name and codes")
    convert.set_defaults(run=server_command("labels convert", _labels_convert))

    audit = commands.add_parser("audit", help="the audit log (admins, managers)").add_subparsers(title="audit commands")
    audit_export = audit.add_parser("export", help="print the audit log as JSON lines")
    audit_export.add_argument("--dataset", default="", help="only this dataset's changes")
    audit_export.set_defaults(run=_audit_export)


def _items_list(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from radlab.client import Client

    filters = {key: value for key, value in (("tag", args.tag), ("modality", args.modality), ("body_part", args.body_part), ("text", args.text),
                                             ("label_value", args.label), ("folder_id", args.folder),
                                             ("stage_id", args.stage), ("assignee", args.assignee)) if value}
    if args.completed:
        filters |= {"filter_completed": True, "completed": args.completed == "yes"}
    with Client() as client:
        for item in client.list_items(args.dataset, **filters):
            if args.json:
                print(json.dumps(json_format.MessageToDict(item)))
            else:
                print(f"{item.item_id}  {item.modality:4}  {'x'.join(map(str, item.volume_ref.geometry.shape)):12}  "
                      f"{item.display_name}  {','.join(item.tags)}")
    return 0


def _items_tag(args: argparse.Namespace) -> int:
    from google.protobuf import field_mask_pb2

    from radlab.annotation.v1 import annotation_service_pb2 as pb
    from radlab.client import Client

    with Client() as client:
        item = client.annotation.UpdateItem(pb.UpdateItemRequest(
            item=pb.Item(item_id=args.item, tags=args.tags), update_mask=field_mask_pb2.FieldMask(paths=["tags"]))).item
    print(f"{item.item_id}: {', '.join(item.tags) or 'no tags'}")
    return 0


def _classes_create(args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        made = client.create_class(args.dataset, args.name, args.value, args.color)
    print(f"{made.value:5}  {made.name}  {made.color}  {made.concept.meaning} ({made.concept.scheme} {made.concept.value})")
    return 0


def _classes_list(args: argparse.Namespace) -> int:
    from radlab.client import Client

    with Client() as client:
        for made in client.list_classes(args.dataset):
            print(f"{made.value:5}  {made.name}  {made.color}  {made.concept.meaning} ({made.concept.scheme} {made.concept.value})")
    return 0


def _labels_import(args: argparse.Namespace) -> int:
    from radlab.client import Client

    mapping = {}
    for entry in args.map:
        source, _, value = entry.rpartition("=")
        if not source or not value.isdigit():
            raise ValueError(f"--map {entry!r}: write SOURCE=VALUE, e.g. --map 1=3 or --map Liver=3")
        mapping[source] = int(value)
    with Client() as client:
        result = client.import_labels(args.item, args.file, FORMATS.get(args.format, 0), annotation_id=args.annotation,
                                      base_version=args.base_version, mapping=mapping, create_missing_classes=args.create_classes)
    print(f"annotation {result.annotation_id} version {result.version}: labels {', '.join(map(str, result.label_values))}")
    for warning in result.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


def _labels_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from radlab.client import Client

    output = Path(args.output)
    if not output.parent.is_dir():
        raise ValueError(f"{output.parent} is not a folder; create it first")
    selection = 2 if args.all_submitted else 1
    with Client() as client:
        if not args.wait:
            from radlab.annotation.v1 import annotation_service_pb2 as pb

            export = client.annotation.StartExport(pb.StartExportRequest(
                dataset_id=args.dataset, format=FORMATS[args.format], selection=selection)).export
            print(f"export {export.export_id} started; `radlab labels export … --wait` waits and downloads")
            return 0
        with tqdm(total=100, desc="exporting", unit="%", file=sys.stderr) as bar:
            def progress(percent: float, step: str) -> None:
                bar.n = round(percent, 1)
                bar.set_postfix_str(step)
                bar.refresh()

            export = client.export_labels(args.dataset, FORMATS[args.format], progress, selection=selection)
    if export.job.state != 3:  # SUCCEEDED
        print(f"radlab: export {export.export_id} failed: {export.job.error}", file=sys.stderr)
        return 1
    partial = output.with_name(output.name + ".part")
    with urllib.request.urlopen(export.download_url) as response, partial.open("wb") as file:
        shutil.copyfileobj(response, file)
    partial.replace(output)
    print(f"export {export.export_id}: {output} ({output.stat().st_size} bytes)")
    return 0


def reference_grid(folder: Path):
    """The grid of the DICOM series in `folder` as ingestion stacks it, as the label formats take it."""
    from services.annotation.formats import Grid
    from services.ingestion.cli import series_grid

    series = series_grid(folder)
    return Grid(series.shape, series.affine, series.frame_of_reference_uid, series.instances)


def _labels_convert(args: argparse.Namespace) -> int:
    from services.annotation.formats.convert import convert_labels
    from shared.errors import InvalidArgument

    try:
        reference = reference_grid(Path(args.reference)) if args.reference else None
        warnings = convert_labels(Path(args.source), Path(args.output), reference, Path(args.classes) if args.classes else None)
    except InvalidArgument as error:  # bad input: one line, nothing written
        print(f"radlab: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    print(f"wrote {args.output}")
    return 0


def _audit_export(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from radlab.client import Client

    with Client() as client:
        for event in client.audit_events(args.dataset):
            print(json.dumps(json_format.MessageToDict(event)))
    return 0
