"""RT Structure Sets ↔ Segmentation on an item's grid: contours filled onto its slices, and traced back from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from io import BytesIO

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ImplicitVRLittleEndian, RTStructureSetStorage, generate_uid
from scipy.spatial import cKDTree
from skimage.draw import polygon
from skimage.measure import approximate_polygon, find_contours, points_in_poly

from services.annotation.domain.segmentation import AUTOMATIC, MANUAL, SEMIAUTOMATIC, Segment, Segmentation
from services.annotation.formats import Grid, checked_sources, display_color
from shared.errors import InvalidArgument

# A contour lies on slice k when every point is within this fraction of the slice spacing of its plane: structure
# sets are often written with coordinates rounded to 0.1 mm or coarser.
PLANE_TOLERANCE = 0.1
# A keyhole channel passes voxel centres at least this far (in voxels): the outline's own vertices lie half a voxel
# from them, and DS rounding moves points by a micrometre.
CHANNEL_CLEARANCE = 0.1
# Near vertex pairs tried for a keyhole channel (per hole vertex, then in all, nearest first) before a hole is written
# as a contour of its own; straight runs of equally near vertices often line up with voxel centres.
_CHANNEL_CANDIDATES, _CHANNELS_TRIED = 16, 256
# The study a structure set references is named with this SOP class (Detached Study Management, as RT systems do).
_STUDY_CLASS = "1.2.840.10008.3.1.2.3.1"
_ALGORITHM_TYPES = (MANUAL, SEMIAUTOMATIC, AUTOMATIC)
# Contours that enclose an area; both are filled even-odd (CLOSED_PLANAR_XOR is defined so, and CLOSED_PLANAR holes drawn
# as contours of their own, as many writers do, come out right).
_CLOSED = ("CLOSED_PLANAR", "CLOSED_PLANAR_XOR")
_CONTOUR_DATA = 0x30060050


def read_rtstruct(data: bytes, file_name: str, grid: Grid) -> tuple[Segmentation, list[str]]:
    """An RTSTRUCT on the item's `grid`: each ROI's closed contours on the item's slices, filled even-odd (a contour
    inside another is a hole); one segment per ROI, its number the label value."""
    dataset = _read(data, file_name)
    warnings: list[str] = []
    _check_frame_of_reference(dataset, file_name, grid, warnings)
    rois = {int(item.ROINumber): item for item in dataset.get("StructureSetROISequence", [])}
    segments, masks = {}, {}
    drawn = placed = 0
    for item in dataset.get("ROIContourSequence", []):
        number = int(item.ReferencedROINumber)
        roi = rois.get(number, Dataset())
        name = str(roi.get("ROIName", "") or f"ROI {number}")
        if not 1 <= number <= 65535:
            raise InvalidArgument(f"{file_name}: ROI {name!r} has number {number}; label values are 1 to 65535")
        contours = list(item.get("ContourSequence", []))
        closed = [contour for contour in contours if contour.get("ContourGeometricType") in _CLOSED]
        if len(closed) < len(contours):
            warnings.append(f"{file_name}: ROI {name!r} has {len(contours) - len(closed)} contour(s) that are points or "
                            "open lines, not closed outlines; left out")
        if not closed:
            warnings.append(f"{file_name}: ROI {name!r} has no closed contours; it is left out")
            continue
        mask, off = _rasterised(closed, grid)
        drawn, placed = drawn + len(closed), placed + len(closed) - off
        if off:
            warnings.append(f"{file_name}: {off} of ROI {name!r}'s {len(closed)} contours do not lie on one of the item's "
                            "slices (between slices, beyond them, or not in a slice's plane); left out")
        algorithm = str(roi.get("ROIGenerationAlgorithm", "") or MANUAL)
        segments[number] = Segment(
            value=number, name=name, color=_hex(item.get("ROIDisplayColor")),
            algorithm_type=algorithm if algorithm in _ALGORITHM_TYPES else MANUAL,
            algorithm_name=str(roi.get("ROIGenerationDescription", "") or ""),
        )
        if mask.any():
            masks[number] = mask
    if drawn and not placed:
        raise InvalidArgument(f"none of the {drawn} contours of {file_name} lies on a slice of the item: it was drawn on "
                              "another series or grid")
    return Segmentation(grid.shape, grid.affine, segments, masks, grid.frame_of_reference_uid), warnings


def write_rtstruct(seg: Segmentation, source_instances: Sequence[Dataset], *, series_description: str = "Radlab structures",
                   series_number: int = 301, manufacturer: str = "Radlab", label: str = "Radlab") -> bytes:
    """`seg` as an RT Structure Set on `source_instances` (the item's, one per k): one ROI per segment (ROI number =
    label value), its outlines traced on each slice between voxel centres, holes joined to them by keyholes."""
    sources = checked_sources(seg, source_instances)
    first, now = sources[0], datetime.now()
    out = Dataset()
    out.SpecificCharacterSet = "ISO_IR 192"
    out.InstanceCreationDate, out.InstanceCreationTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    out.SOPClassUID, out.SOPInstanceUID = RTStructureSetStorage, generate_uid()
    for keyword in ("StudyDate", "StudyTime", "AccessionNumber", "ReferringPhysicianName", "StudyDescription",
                    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID"):
        setattr(out, keyword, first.get(keyword, ""))  # the study and patient of the images, as they are named there
    out.Modality, out.Manufacturer = "RTSTRUCT", manufacturer
    out.SeriesDescription, out.SeriesInstanceUID, out.SeriesNumber = series_description, generate_uid(), series_number
    out.OperatorsName, out.InstanceNumber = "", 1
    out.StructureSetLabel = label
    out.StructureSetDate, out.StructureSetTime = out.InstanceCreationDate, out.InstanceCreationTime
    images = [_image_reference(instance) for instance in sources]
    frame_of_reference = str(first.FrameOfReferenceUID)
    out.FrameOfReferenceUID, out.PositionReferenceIndicator = frame_of_reference, first.get("PositionReferenceIndicator", "")
    out.ReferencedFrameOfReferenceSequence = [_item(
        FrameOfReferenceUID=frame_of_reference,
        RTReferencedStudySequence=[_item(
            ReferencedSOPClassUID=_STUDY_CLASS, ReferencedSOPInstanceUID=first.StudyInstanceUID,
            RTReferencedSeriesSequence=[_item(SeriesInstanceUID=first.SeriesInstanceUID, ContourImageSequence=images)],
        )],
    )]
    out.StructureSetROISequence, out.ROIContourSequence, out.RTROIObservationsSequence = [], [], []
    for value in sorted(seg.segments):
        segment = seg.segments[value]
        roi = _item(ROINumber=value, ReferencedFrameOfReferenceUID=frame_of_reference, ROIName=segment.name,
                    ROIGenerationAlgorithm=segment.algorithm_type)
        if segment.algorithm_name:
            roi.ROIGenerationDescription = segment.algorithm_name
        out.StructureSetROISequence.append(roi)
        color = display_color(segment)
        contours = _item(ReferencedROINumber=value, ROIDisplayColor=[int(color[i:i + 2], 16) for i in (1, 3, 5)])
        traced = _contours(seg.masks.get(value), seg, sources)
        if traced:
            contours.ContourSequence = traced
        out.ROIContourSequence.append(contours)
        out.RTROIObservationsSequence.append(_item(ObservationNumber=value, ReferencedROINumber=value,
                                                   RTROIInterpretedType="ORGAN", ROIInterpreter=""))
    out.file_meta = FileMetaDataset()
    out.file_meta.MediaStorageSOPClassUID, out.file_meta.MediaStorageSOPInstanceUID = out.SOPClassUID, out.SOPInstanceUID
    # Implicit VR: a long outline's Contour Data can pass the 64 KiB an explicit-VR DS value may hold.
    out.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    out.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    written = BytesIO()
    out.save_as(written, enforce_file_format=True)
    return written.getvalue()


def _read(data: bytes, file_name: str) -> Dataset:
    try:
        dataset = pydicom.dcmread(BytesIO(data))
    except (InvalidDicomError, AttributeError, KeyError, ValueError, TypeError) as error:
        raise InvalidArgument(f"{file_name} is not a readable DICOM file ({error})") from None
    if dataset.get("Modality") != "RTSTRUCT":
        raise InvalidArgument(f"{file_name} is DICOM of modality {dataset.get('Modality') or 'unknown'}, not an RTSTRUCT")
    return dataset


def _check_frame_of_reference(dataset: Dataset, file_name: str, grid: Grid, warnings: list[str]) -> None:
    """Refuse contours in another patient coordinate system than the item's, unless the structure set names the item's
    own images (then its frame of reference UID is taken as a writer's slip, and said so)."""
    named = dataset.get("ReferencedFrameOfReferenceSequence", [])
    theirs = sorted({str(item.get("FrameOfReferenceUID", "")) for item in named} - {""})
    ours = grid.frame_of_reference_uid
    if not ours or ours in theirs:
        return
    if not theirs:
        warnings.append(f"{file_name} names no frame of reference; its contours are placed by their coordinates alone")
        return
    item_uids = {str(instance.get("SOPInstanceUID", "")) for instance in grid.instances} - {""}
    if item_uids & _referenced_images(dataset):
        warnings.append(f"{file_name} names frame of reference {', '.join(theirs)}, not the item's {ours}, yet references "
                        "the item's own images; its contours are placed by their coordinates: check them")
        return
    raise InvalidArgument(f"{file_name} is on frame of reference {', '.join(theirs)}, the item on {ours}: its contours are "
                          "in another patient coordinate system (another scan, or one not registered to this one)")


def _referenced_images(dataset: Dataset) -> set[str]:
    found = set()
    for frame in dataset.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                found |= {str(image.ReferencedSOPInstanceUID) for image in series.get("ContourImageSequence", [])}
    for roi in dataset.get("ROIContourSequence", []):
        for contour in roi.get("ContourSequence", []):
            found |= {str(image.ReferencedSOPInstanceUID) for image in contour.get("ContourImageSequence", [])}
    return found


def _rasterised(contours: list[Dataset], grid: Grid) -> tuple[np.ndarray, int]:
    """The ROI's mask from its closed contours (each toggles the pixels whose centres it encloses), and how many
    contours lay on no slice of the grid."""
    mask = np.zeros(grid.shape, dtype=bool)
    off = 0
    for contour in contours:
        voxels = grid.voxels(_contour_data(contour))
        k = int(np.rint(np.median(voxels[:, 2])))
        if not (0 <= k < grid.shape[0] and np.abs(voxels[:, 2] - k).max() <= PLANE_TOLERANCE and len(voxels) >= 3):
            off += 1
            continue
        rows, columns = polygon(voxels[:, 1], voxels[:, 0], shape=grid.shape[1:])
        mask[k, rows, columns] ^= True
    return mask, off


def _contour_data(contour: Dataset) -> np.ndarray:
    """Contour Data as numbers, parsed at once from its text while pydicom has not converted it (its conversion, value by
    value, was most of the time spent reading a structure set)."""
    element = contour.get_item(_CONTOUR_DATA)
    try:
        if isinstance(element, RawDataElement) and element.value:
            return np.array(element.value.split(b"\\"), dtype=np.float64)
        return np.asarray(contour.get("ContourData", []), dtype=np.float64)
    except ValueError as error:
        raise InvalidArgument(f"a contour's Contour Data is not a list of numbers ({error})") from None


def _contours(mask: np.ndarray | None, seg: Segmentation, sources: list[Dataset]) -> list[Dataset]:
    """Closed planar contours of `mask` on each slice it touches, through the midpoints between inside and outside
    voxel centres (so filling them back by voxel centres gives the mask again), holes joined by keyholes."""
    if mask is None:
        return []
    grid = Grid(seg.shape, seg.affine)
    traced = []
    for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)):
        for outline in _outlines(mask[k]):
            points = grid.points(np.c_[outline[:, 1], outline[:, 0], np.full(len(outline), k)])
            traced.append(_item(
                ContourImageSequence=[_image_reference(sources[k])], ContourGeometricType="CLOSED_PLANAR",
                NumberOfContourPoints=len(points), ContourNumber=len(traced) + 1,
                ContourData=[round(float(value), 3) for value in points.ravel()],  # a micrometre; DS holds 16 characters
            ))
    return traced


def _outlines(plane: np.ndarray) -> list[np.ndarray]:
    """One slice's outlines as (row, column) polygons, collinear points dropped, each hole joined to the outline around
    it by a keyhole: CLOSED_PLANAR contours are filled one by one and OR-ed by many readers, which would fill a hole
    drawn as a contour of its own (PS3.3 C.8.8.6.3)."""
    padded = np.pad(plane, 1).astype(np.uint8)  # closes outlines that touch the slice's edge
    loops = [approximate_polygon(loop, tolerance=0)[:-1] - 1 for loop in find_contours(padded, 0.5)]
    # find_contours runs round outer outlines one way and holes the other: the sign of the area tells them apart.
    outlines = [loop for loop in loops if _signed_area(loop) < 0]
    for hole in (loop for loop in loops if _signed_area(loop) > 0):
        around = [index for index, outline in enumerate(outlines) if points_in_poly(hole[:1], outline)[0]]
        parent = min(around, key=lambda index: abs(_signed_area(outlines[index])), default=None)
        joined = None if parent is None else _keyholed(outlines[parent], hole)
        if joined is None:
            outlines.append(hole)  # no channel clear of voxel centres: the hole as a contour of its own
        else:
            outlines[parent] = joined
    return outlines


def _keyholed(outline: np.ndarray, hole: np.ndarray) -> np.ndarray | None:
    """`outline` with `hole` spliced in through a zero-width channel between two near vertices, the channel passing no
    voxel centre (one on it would be inside for some readers and outside for others); None when no near pair has one."""
    nearest = min(_CHANNEL_CANDIDATES, len(outline))
    distances, ends = cKDTree(outline).query(hole, k=nearest)
    distances, ends = distances.reshape(len(hole), -1), ends.reshape(len(hole), -1)
    for flat in np.argsort(distances, axis=None)[:_CHANNELS_TRIED]:
        start, choice = divmod(int(flat), nearest)
        end = int(ends[start, choice])
        if _clear_of_centres(hole[start], outline[end]):
            return np.concatenate([outline[:end + 1], hole[start:], hole[:start + 1], outline[end:]])
    return None


def _clear_of_centres(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the segment a–b (row, column) keeps CHANNEL_CLEARANCE voxels from every voxel centre."""
    low, high = np.floor(np.minimum(a, b)) - 1, np.ceil(np.maximum(a, b)) + 1
    rows, columns = np.mgrid[low[0]:high[0] + 1, low[1]:high[1] + 1]
    centres = np.c_[rows.ravel(), columns.ravel()]
    step = b - a
    along = np.clip(((centres - a) @ step) / max(float(step @ step), 1e-12), 0.0, 1.0)
    return bool(np.min(np.linalg.norm(centres - (a + along[:, None] * step), axis=1)) >= CHANNEL_CLEARANCE)


def _signed_area(loop: np.ndarray) -> float:
    rows, columns = loop[:, 0], loop[:, 1]
    return 0.5 * float(np.dot(rows, np.roll(columns, -1)) - np.dot(np.roll(rows, -1), columns))


def _image_reference(instance: Dataset) -> Dataset:
    return _item(ReferencedSOPClassUID=instance.SOPClassUID, ReferencedSOPInstanceUID=instance.SOPInstanceUID)


def _item(**attributes) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _hex(color: object) -> str:
    try:
        red, green, blue = (int(channel) for channel in color)
    except (TypeError, ValueError):
        return ""
    return f"#{red:02x}{green:02x}{blue:02x}" if all(0 <= c <= 255 for c in (red, green, blue)) else ""
