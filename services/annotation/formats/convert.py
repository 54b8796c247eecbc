"""`radlab labels convert`: a label file to another format offline (NIfTI, DICOM-SEG, RTSTRUCT) on a series' grid."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from services.annotation.domain.segmentation import Code, Segment, Segmentation
from services.annotation.formats import Grid, nifti, rtstruct, seg
from shared.errors import InvalidArgument
from shared.files import write_atomically

NIFTI, DICOM_SEG, RTSTRUCT = "NIfTI", "DICOM-SEG", "RTSTRUCT"
# Output names choose the format; a plain .dcm is a DICOM-SEG, the standard's form for voxel labels.
_OUTPUT_SUFFIXES = ((".nii.gz", NIFTI), (".nii", NIFTI), (".rtstruct.dcm", RTSTRUCT), (".dcm", DICOM_SEG))
_MODALITIES = {"SEG": DICOM_SEG, "RTSTRUCT": RTSTRUCT}


def convert_labels(source: Path, output: Path, reference: Grid | None = None, classes: Path | None = None) -> list[str]:
    """Convert the label file `source` into `output` (format from its name: .nii/.nii.gz, .rtstruct.dcm, else .dcm for
    DICOM-SEG), on `reference` (the grid of the DICOM series the labels lie on, with its instances) when given;
    `classes` (JSON) names and codes the label values. Returns the warnings; the output appears whole or not at all."""
    source, output = Path(source), Path(output)
    target = output_format(output)
    if not source.is_file():
        raise InvalidArgument(f"{source} is not a file")
    kind = source_format(source)
    known = read_classes(classes) if classes else {}
    if target != NIFTI and reference is None:
        raise InvalidArgument(f"writing {target} needs --reference DICOM_DIR: the series the labels are drawn on, whose "
                              "images it names")
    data = source.read_bytes()
    if reference is not None:
        grid = reference
    elif kind == NIFTI:
        grid = nifti.labelmap_grid(data, source.name)
    elif kind == DICOM_SEG:
        grid = seg.seg_grid(data, source.name)
    else:
        raise InvalidArgument(f"{source.name} is an RTSTRUCT, whose contours define no voxel grid: give --reference "
                              "DICOM_DIR, the series it was drawn on")
    if kind == NIFTI:
        labels, warnings = nifti.read_labelmap(data, source.name, grid, known or None)
    else:
        read = seg.read_seg if kind == DICOM_SEG else rtstruct.read_rtstruct
        labels, warnings = read(data, source.name, grid)
        if known:
            labels = _with_classes(labels, known, source.name)
    if target == NIFTI:
        written = nifti.write_labelmap(labels)
    elif target == RTSTRUCT:
        written = rtstruct.write_rtstruct(labels, grid.instances)
    else:
        warnings += _renumbering(labels)
        written = seg.write_seg(labels, grid.instances)
    write_atomically(output, written)
    return warnings


def output_format(output: Path) -> str:
    """The format an output name asks for, or a refusal that lists the names understood."""
    for suffix, name in _OUTPUT_SUFFIXES:
        if output.name.lower().endswith(suffix):
            return name
    raise InvalidArgument(f"{output}: name the output .nii.gz or .nii (NIfTI label map), .dcm (DICOM-SEG) or .rtstruct.dcm "
                          "(RTSTRUCT) to choose its format")


def source_format(source: Path) -> str:
    """The label format of `source`: NIfTI by its name, DICOM-SEG or RTSTRUCT by its Modality."""
    if source.name.lower().endswith((".nii", ".nii.gz")):
        return NIFTI
    try:
        modality = str(pydicom.dcmread(source, stop_before_pixels=True, specific_tags=["Modality"]).get("Modality", ""))
    except (InvalidDicomError, OSError, ValueError) as error:
        raise InvalidArgument(f"{source} is neither a NIfTI label map (.nii, .nii.gz) nor a DICOM file ({error})") from None
    if modality not in _MODALITIES:
        raise InvalidArgument(f"{source} is DICOM of modality {modality or 'unknown'}; label files are SEG or RTSTRUCT "
                              "(or NIfTI label maps)")
    return _MODALITIES[modality]


def read_classes(path: Path) -> dict[int, Segment]:
    """Label classes from JSON: {"1": {"name": "liver", "category": [value, scheme, meaning], "type": [...],
    "color": "#rrggbb"}}, every key a label value 1–65535 and every entry named."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(raw, dict) or not raw:
        raise InvalidArgument(f'{path}: expected an object of label values, e.g. {{"1": {{"name": "liver"}}}}')
    found = {}
    for key, entry in raw.items():
        where = f'{path}: entry "{key}"'
        if not (key.isdigit() and 1 <= int(key) <= nifti.LARGEST_LABEL):
            raise InvalidArgument(f"{where}: keys are label values 1–{nifti.LARGEST_LABEL}")
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip()):
            raise InvalidArgument(f'{where}: give each label a "name", e.g. {{"name": "liver"}}')
        found[int(key)] = Segment(value=int(key), name=entry["name"].strip(), color=_color(entry.get("color", ""), where),
                                  category=_code(entry.get("category"), f"{where}, category"),
                                  type=_code(entry.get("type"), f"{where}, type"))
    return found


def _code(raw: object, where: str) -> Code | None:
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(part, str) and part for part in raw)):
        raise InvalidArgument(f'{where}: a code is [value, scheme, meaning], e.g. ["10200004", "SCT", "Liver"]')
    return Code(*raw)


def _color(raw: object, where: str) -> str:
    text = raw if isinstance(raw, str) else ""
    if raw and not (len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdefABCDEF" for c in text[1:])):
        raise InvalidArgument(f'{where}: a color is "#rrggbb"')
    return text.lower()


def _with_classes(labels: Segmentation, known: dict[int, Segment], name: str) -> Segmentation:
    """The labels with each segment moved to the class of the same name (or segmented property type), which names it;
    segments no class names keep their number, and two segments meeting on one value are refused."""
    by_name = {segment.name.lower(): value for value, segment in known.items()}
    by_type = {(segment.type.value, segment.type.scheme): value for value, segment in known.items() if segment.type}
    moved: dict[int, int] = {}
    for value, segment in labels.segments.items():
        typed = (segment.type.value, segment.type.scheme) if segment.type else None
        moved[value] = by_name.get(segment.name.lower(), by_type.get(typed, value))
    taken: dict[int, int] = {}
    for value, target in moved.items():
        if target in taken:
            raise InvalidArgument(f"{name}: segments {taken[target]} and {value} both map to label value {target} with these "
                                  "classes; give them distinct names or codes in the classes file")
        taken[target] = value
    segments = {target: _named(labels.segments[value], known.get(target), target) for value, target in moved.items()}
    masks = {moved[value]: mask for value, mask in labels.masks.items()}
    return Segmentation(labels.shape, labels.affine, segments, masks, labels.frame_of_reference_uid)


def _named(segment: Segment, label_class: Segment | None, value: int) -> Segment:
    """`segment` as label `value`, with what its class says (name, colour, codes) over what the file said."""
    if label_class is None:
        return dataclasses.replace(segment, value=value)
    return dataclasses.replace(segment, value=value, name=label_class.name, color=label_class.color or segment.color,
                               category=label_class.category or segment.category, type=label_class.type or segment.type)


def _renumbering(labels: Segmentation) -> list[str]:
    """The warning a binary DICOM-SEG's numbering (1, 2, 3… in value order) calls for when the values differ."""
    values = sorted(labels.segments)
    if values == list(range(1, len(values) + 1)):
        return []
    shown = ", ".join(map(str, values[:8])) + (", …" if len(values) > 8 else "")
    return [f"label values {shown} become DICOM-SEG segment numbers 1–{len(values)} (a SEG numbers its segments from 1 "
            "without gaps); converting it back, pass the same --classes to get the values back"]
