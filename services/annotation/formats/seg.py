"""DICOM Segmentation objects (binary or label-map SEG) ↔ Segmentation on an item's grid, through highdicom."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from io import BytesIO

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes

from services.annotation.domain.segmentation import AUTOMATIC, MANUAL, SEMIAUTOMATIC, Code, Segment, Segmentation
from services.annotation.formats import Grid, checked_sources, describe_grid, display_color, grid_differences, placement
from shared.errors import InvalidArgument

# What a segment says it is when it carries no codes: some tissue of the anatomy.
DEFAULT_CATEGORY = Code("123037004", "SCT", "Anatomical Structure")
DEFAULT_TYPE = Code("85756007", "SCT", "Tissue")
# Algorithm Version is required with an algorithm's name; "name@version" in Segment.algorithm_name gives it.
UNVERSIONED = "unversioned"
_ALGORITHM_TYPES = (MANUAL, SEMIAUTOMATIC, AUTOMATIC)
# Referenced instance UIDs a refusal names before "…".
_NAMED_UIDS = 3


def write_seg(seg: Segmentation, source_instances: Sequence[Dataset], *, labelmap: bool = False,
              series_description: str = "Radlab segmentation", series_number: int = 300, manufacturer: str = "Radlab",
              model_name: str = "Radlab", device_serial_number: str = "0") -> bytes:
    """`seg` as a DICOM-SEG referencing `source_instances` (the item's, one per k): BINARY with one segment per Segment
    numbered 1, 2, … in value order, or LABELMAP (segment number = label value; no overlaps) when `labelmap`; only
    frames with content are stored."""
    sources = checked_sources(seg, source_instances)
    values = sorted(seg.segments)
    if not values:
        raise InvalidArgument("the labels have no segments; a DICOM-SEG needs at least one")
    overlapping = seg.overlapping()
    if labelmap and overlapping:
        raise InvalidArgument("segments overlap, and a LABELMAP SEG holds one segment per pixel; export a binary SEG")
    numbers = {value: value if labelmap else number for number, value in enumerate(values, 1)}
    if overlapping:
        pixels = np.stack([seg.masks.get(value, np.zeros(seg.shape, bool)) for value in values], axis=-1)
    else:
        pixels = np.zeros(seg.shape, dtype=np.uint8 if max(numbers.values()) <= 255 else np.uint16)
        for value, mask in seg.masks.items():
            pixels[mask] = numbers[value]
    document = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP if labelmap else hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[_description(numbers[value], seg.segments[value]) for value in values],
        series_instance_uid=hd.UID(), series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer=manufacturer, manufacturer_model_name=model_name, software_versions=_software_version(),
        device_serial_number=device_serial_number, series_description=series_description, omit_empty_frames=True,
        specific_character_set="ISO_IR 192",  # UTF-8 for any segment name; the sources' own may be blank or narrower
    )
    out = BytesIO()
    document.save_as(out, enforce_file_format=True)
    return out.getvalue()


def read_seg(data: bytes, file_name: str, grid: Grid) -> tuple[Segmentation, list[str]]:
    """A DICOM-SEG on the item's `grid`, which must hold at least one of the instances it references when the grid has
    its instances. Frames go to the slice of the instance they name when they say they lie on it (Spatial Locations
    Preserved), else to the slice at their plane position (same frame of reference, on the grid's voxels). Segments keep
    their number as label value, their name, codes, colour and algorithm; they may overlap."""
    document = _read(data, file_name)
    warnings = []
    if (int(document.Rows), int(document.Columns)) != grid.shape[1:]:
        raise InvalidArgument(f"{file_name} has frames of {document.Rows}×{document.Columns} pixels; the item's slices are "
                              f"{grid.shape[1]}×{grid.shape[2]}")
    numbers = [int(number) for number in document.segment_numbers]
    fractional = document.segmentation_type == hd.seg.SegmentationTypeValues.FRACTIONAL
    if fractional:
        warnings.append(f"{file_name} is a FRACTIONAL segmentation; pixels of 0.5 or more are taken as inside")
    item_uids = [str(instance.get("SOPInstanceUID", "") or "") for instance in grid.instances]
    named = bool(item_uids) and all(item_uids)
    if named:
        _check_references(document, file_name, item_uids, warnings)
    if named and _locations_preserved(document):
        masks = _masks_by_instance(document, file_name, numbers, item_uids, fractional)
    else:
        masks = _masks_by_position(document, file_name, numbers, grid, warnings, fractional)
    segments = {number: _segment(document.get_segment_description(number)) for number in numbers}
    masks = {number: mask for number, mask in masks.items() if mask.any()}
    return Segmentation(grid.shape, grid.affine, segments, masks, grid.frame_of_reference_uid), warnings


def seg_grid(data: bytes, file_name: str) -> Grid:
    """The grid a SEG's own frames span (without source instances), for conversions that have no item to land on."""
    document = _read(data, file_name)
    geometry = document.get_volume_geometry()
    if geometry is None:
        raise InvalidArgument(f"{file_name}'s frames do not lie on one regular grid of parallel, evenly spaced planes; "
                              "give the series it labels as the reference")
    # highdicom indexes (slice, row, column); the Geometry convention is (i = column, j = row, k = slice).
    return Grid(geometry.spatial_shape, geometry.affine[:, [2, 1, 0, 3]], str(document.get("FrameOfReferenceUID", "")))


def _read(data: bytes, file_name: str) -> hd.seg.Segmentation:
    try:
        return hd.seg.segread(BytesIO(data))
    except (InvalidDicomError, AttributeError, KeyError, ValueError, TypeError) as error:
        raise InvalidArgument(f"{file_name} is not a readable DICOM Segmentation ({error})") from None


def _check_references(document: hd.seg.Segmentation, file_name: str, item_uids: list[str], warnings: list[str]) -> None:
    """Refuse a SEG that labels none of the item's instances; warn about frames of other instances."""
    referenced = sorted({str(uid) for _, _, uid in document.get_source_image_uids()})
    known = set(item_uids)
    if not known.intersection(referenced):
        shown = ", ".join(referenced[:_NAMED_UIDS]) + (", …" if len(referenced) > _NAMED_UIDS else "")
        raise InvalidArgument(f"{file_name} labels instances {shown or '(none named)'}, none of which is an image of this "
                              f"item (series {_series_of(document) or 'unknown'}); import it onto the item made from "
                              "the series it references")
    strangers = [uid for uid in referenced if uid not in known]
    if strangers:
        warnings.append(f"{file_name} also references {len(strangers)} instance(s) that are not this item's images; "
                        "their frames are left out")


def _locations_preserved(document: hd.seg.Segmentation) -> bool:
    """Whether every frame says it lies exactly on the source image it names (Spatial Locations Preserved YES); a frame
    that does not say so is placed by its own plane position instead."""
    shared = document.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
    for frame in document.get("PerFrameFunctionalGroupsSequence", []):
        derivations = frame.get("DerivationImageSequence") or shared.get("DerivationImageSequence") or []
        sources = [source for derivation in derivations for source in derivation.get("SourceImageSequence", [])]
        if not sources or any(source.get("SpatialLocationsPreserved") != "YES" for source in sources):
            return False
    return True


def _masks_by_instance(document: hd.seg.Segmentation, file_name: str, numbers: list[int], item_uids: list[str],
                       fractional: bool) -> dict[int, np.ndarray]:
    masks = {}
    try:
        for number in numbers:
            pixels = document.get_pixels_by_source_instance(
                item_uids, segment_numbers=[number], assert_missing_frames_are_empty=True, dtype=_dtype(fractional))
            masks[number] = _inside(pixels[..., 0], fractional)
    except (RuntimeError, ValueError, KeyError) as error:
        raise InvalidArgument(f"{file_name}: its frames cannot be matched to the item's instances ({error})") from None
    return masks


def _masks_by_position(document: hd.seg.Segmentation, file_name: str, numbers: list[int], grid: Grid,
                       warnings: list[str], fractional: bool) -> dict[int, np.ndarray]:
    frame = str(document.get("FrameOfReferenceUID", "") or "")
    if grid.frame_of_reference_uid and frame != grid.frame_of_reference_uid:
        raise InvalidArgument(f"{file_name} is on frame of reference {frame or '(none)'}, the item on "
                              f"{grid.frame_of_reference_uid}: its positions are in another patient coordinate system")
    masks = {}
    for number in numbers:
        try:
            volume = document.get_volume(segment_numbers=[number], dtype=_dtype(fractional))
        except (RuntimeError, ValueError) as error:
            raise InvalidArgument(f"{file_name}: segment {number}'s frames do not form parallel planes on a grid "
                                  f"({error})") from None
        pixels = _inside(volume.array[..., 0], fractional)
        affine = volume.affine[:, [2, 1, 0, 3]]
        found = placement(grid, pixels.shape, affine)
        if found is None:
            differing = grid_differences(pixels.shape, affine, grid.shape, grid.affine)
            raise InvalidArgument(
                f"{file_name}: segment {number}'s frames lie off the item's voxels (they differ in {differing}): the frames "
                f"are {describe_grid(pixels.shape, affine)}; the item is {describe_grid(grid.shape, grid.affine)}"
            )
        masks[number], outside = found.apply(pixels, grid.shape)
        if outside:
            warnings.append(f"{file_name}: {outside} pixel(s) of segment {number} lie beyond the item's slices and are "
                            "left out")
    return masks


def _dtype(fractional: bool) -> type:
    return np.float32 if fractional else np.uint8


def _inside(pixels: np.ndarray, fractional: bool) -> np.ndarray:
    """Which pixels belong to the segment: any set pixel of a binary SEG, 0.5 or more of a fractional one."""
    return pixels >= 0.5 if fractional else pixels > 0


def _series_of(document: hd.seg.Segmentation) -> str:
    series = [str(item.SeriesInstanceUID) for item in document.get("ReferencedSeriesSequence", [])]
    return ", ".join(series)


def _description(number: int, segment: Segment) -> hd.seg.SegmentDescription:
    algorithm = None
    if segment.algorithm_type != MANUAL:
        name, _, release = (segment.algorithm_name or "unnamed algorithm").partition("@")
        algorithm = hd.AlgorithmIdentificationSequence(name=name, family=codes.cid7162.ArtificialIntelligence,
                                                       version=release or UNVERSIONED)
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=segment.name,
        segmented_property_category=_concept(segment.category or DEFAULT_CATEGORY),
        segmented_property_type=_concept(segment.type or DEFAULT_TYPE),
        algorithm_type=segment.algorithm_type, algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_string(display_color(segment)),
    )


def _concept(code: Code) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(code.value, code.scheme, code.meaning)


def _segment(description: hd.seg.SegmentDescription) -> Segment:
    algorithm_type = str(description.get("SegmentAlgorithmType", MANUAL))
    name = str(description.get("SegmentAlgorithmName", "") or "")
    for item in description.get("SegmentationAlgorithmIdentificationSequence", []):
        release = str(item.get("AlgorithmVersion", "") or "")
        if name and release and release != UNVERSIONED:
            name = f"{name}@{release}"
    color = ""
    if "RecommendedDisplayCIELabValue" in description:
        red, green, blue = hd.color.CIELabColor.from_dicom_value(description.RecommendedDisplayCIELabValue).to_rgb()
        color = f"#{red:02x}{green:02x}{blue:02x}"
    return Segment(
        value=int(description.segment_number), name=str(description.segment_label or f"segment {description.segment_number}"),
        color=color, category=_code(description.segmented_property_category),
        type=_code(description.segmented_property_type),
        algorithm_type=algorithm_type if algorithm_type in _ALGORITHM_TYPES else MANUAL, algorithm_name=name,
    )


def _code(concept: hd.sr.CodedConcept) -> Code:
    return Code(str(concept.value), str(concept.scheme_designator), str(concept.meaning))


def _software_version() -> str:
    try:
        return version("radlab")
    except PackageNotFoundError:
        return "unknown"
