"""`radlab volume FOLDER OUT.nii.gz`: build NIfTI volumes from a folder of DICOM files, offline, as the service builds
them; and the grid of one series' own slices, for label files drawn on it (`radlab labels convert --reference`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from services.ingestion.domain.geometry import analyse
from services.ingestion.domain.grouping import group_image_series, holds_image
from services.ingestion.domain.precise import describe as describe_precise
from services.ingestion.domain.reader import StoredInstance, collector_paused, parse_instance
from services.ingestion.domain.volume import Refusal, Volume, build_volumes, stacked_affine
from shared.config import Settings
from shared.errors import InvalidArgument
from shared.volumes import check_output, to_nifti


@dataclass(frozen=True)
class SeriesGrid:
    """One series' own grid: shape [k, j, i], affine (i, j, k, 1) → LPS mm, frame of reference, an instance per k."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    frame_of_reference_uid: str
    instances: list[Dataset]


def series_grid(folder: Path) -> SeriesGrid:
    """The grid of the one image series in `folder` as ingestion stacks it, with its instances (headers only) in k
    order. A series that is not one instance per slice on a regular grid (tilted, uneven or repeated slices,
    multi-frame) is refused: labels drawn on it are not voxels of one grid."""
    if not folder.is_dir():
        raise InvalidArgument(f"{folder} is not a folder; name the folder of the DICOM series the labels lie on")
    datasets = [dataset for path in sorted(p for p in folder.rglob("*") if p.is_file())
                if (dataset := _header(path)) is not None and holds_image(dataset)]
    found, unusable = group_image_series(datasets)
    if len(found) != 1:
        listed = "; ".join(series.description for series in found) or "; ".join(unusable.values()) or "no DICOM images"
        raise InvalidArgument(f"{folder} holds {len(found)} image series ({listed}); name the folder of one")
    geometry = analyse(found[0])
    if not geometry.stackable or any(frame.frame is not None for frame in geometry.frames):
        problems = "; ".join(issue.message for issue in geometry.issues) or "its images are frames of a multi-frame instance"
        raise InvalidArgument(f"{folder}: {problems}. Labels here are voxels on the series' own slices, one instance "
                              "per slice on a regular grid; convert onto the volume Radlab built from it instead (NIfTI)")
    first = geometry.frames[0]
    return SeriesGrid((len(geometry.frames), first.rows, first.columns), stacked_affine(geometry),
                      str(first.dataset.get("FrameOfReferenceUID", "") or ""), [frame.dataset for frame in geometry.frames])


def _header(path: Path) -> Dataset | None:
    try:
        return parse_instance(path.read_bytes())
    except OSError:
        return None  # not DICOM, or cut short: no part of the series


def read_instances(files: list[Path]) -> tuple[list[Dataset], list[str]]:
    """The DICOM instances among `files`, headers only (their pixel data is read as their volume is built), and the
    files that could not be read, each with why."""
    instances, unread = [], []
    with collector_paused():  # one pause for the folder: the collector's passes over the growing headers cost more
        for path in files:
            try:
                dataset = parse_instance(path.read_bytes(), StoredInstance.file(path))
            except OSError as error:  # unreadable, or DICOM cut short where pydicom raises instead of giving up
                unread.append(f"{path} ({error})")
                continue
            if dataset is not None:
                instances.append(dataset)
    return instances, unread


def volumes_from_folder(source: Path, output: Path) -> int:
    """Build every image series under `source` (read only, searched recursively) into NIfTI and print what was found:
    the largest series in `output`, the others beside it by size (OUT_2.nii.gz, OUT_3.nii.gz, …). 0 when every series
    was written, 1 when a series was not or a file could not be read.

    Series are built as ingestion builds a scan (build_volumes): a file that cannot be read, or an instance or series
    that cannot be a volume, is reported and the others are still written.
    """
    if not source.is_dir():
        raise InvalidArgument(f"{source} is not a folder; name the folder that holds the series' DICOM files")
    check_output(output)
    files = sorted(path for path in source.rglob("*") if path.is_file())
    instances, unread = read_instances(files)
    images = sum(holds_image(dataset) for dataset in instances)
    left_out = f" ({len(instances) - images} segmentation(s) left out)" if len(instances) > images else ""
    print(f"{images} DICOM image(s) among {len(files)} file(s) in {source}{left_out}")
    for where in unread:
        print(f"  not read: {where}")
    if not images:
        raise InvalidArgument(f"no DICOM images in {source}, so nothing was written; export the series from the PACS "
                              "or modality as DICOM files")
    results = sorted(build_volumes(instances, Settings.from_env().volume_max_voxels), key=lambda result: -len(result.series.frames) if result.series else 0)
    stem, suffix = (output.name[:-7], ".nii.gz") if output.name.endswith(".nii.gz") else (output.stem, ".nii")
    for number, result in enumerate(results, start=1):
        if result.series is None:
            print(f"series {number}: instance(s) of series {result.series_uid}")
        else:
            print(f"series {number}: {result.series.description}, {len(result.series.frames)} slice(s)")
        for issue in result.issues:
            print(f"  issue {issue.kind}: {issue.message}")
        if isinstance(result, Volume):
            path = to_nifti(result, output if number == 1 else output.with_name(f"{stem}_{number}{suffix}"))
            shape, spacing = " × ".join(map(str, result.shape[::-1])), " × ".join(f"{v:.4g}" for v in result.spacing)
            axes = "i × j × k × t" if result.fourth else "i × j × k"
            print(f"  wrote {path}: {shape} ({axes}) voxels of {spacing} mm, {result.data.dtype}")
            if result.fourth:
                print(f"  fourth axis: {result.fourth.describe()}")
            if result.precise:
                print(f"  {describe_precise(result.precise)}; the voxels hold display values")
        else:
            print(f"  not written: {_why(result)}")
    return 0 if results and not unread and all(isinstance(result, Volume) for result in results) else 1


def _why(refusal: Refusal) -> str:
    """Its geometry's findings are printed above it; any other reason is the refusal's own."""
    return "no single regular grid describes these slices" if refusal.issues else refusal.reason
