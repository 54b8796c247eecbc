"""`radlab volume FOLDER OUT.nii.gz`: build NIfTI volumes from a folder of DICOM files, offline, as the service builds them."""

from __future__ import annotations

from pathlib import Path

from services.ingestion.domain.grouping import holds_image
from services.ingestion.domain.reader import parse_instance
from services.ingestion.domain.volume import Refusal, Volume, build_volumes
from shared.config import Settings
from shared.errors import InvalidArgument
from shared.volumes import check_output, to_nifti


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
    instances, unread = [], []
    for path in files:
        try:
            dataset = parse_instance(path.read_bytes())
        except OSError as error:  # unreadable, or DICOM cut short where pydicom raises instead of giving up
            unread.append(f"{path} ({error})")
            continue
        if dataset is not None:
            instances.append(dataset)
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
            print(f"  wrote {path}: {shape} (i × j × k) voxels of {spacing} mm, {result.data.dtype}")
        else:
            print(f"  not written: {_why(result)}")
    return 0 if results and not unread and all(isinstance(result, Volume) for result in results) else 1


def _why(refusal: Refusal) -> str:
    """Its geometry's findings are printed above it; any other reason is the refusal's own."""
    return "no single regular grid describes these slices" if refusal.issues else refusal.reason
