"""Series → volume: group parsed DICOM instances into series, check their geometry, stack or resample them.

Cross-sectional series (CT, MR, PET… single-frame or Enhanced multi-frame, any transfer syntax pydicom and
pylibjpeg decode) stack along the slice normal; projection radiographs (CR, DX, MG…) are one-slice volumes of
their own. MONOCHROME1 images are flipped within their stored range so high values are bright everywhere.
"""

from __future__ import annotations

import gc
import struct
import warnings
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from io import BytesIO

import numpy as np
import pydicom
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from services.ingestion.domain.resample import resample
from shared.errors import InvalidArgument

# Two unit vectors closer than this (per component) are the same orientation.
ORIENTATION_TOLERANCE = 1e-4
# Gaps along the normal agree when within max(GAP_TOLERANCE_MM, GAP_TOLERANCE_REL × median gap).
GAP_TOLERANCE_MM = 0.02
GAP_TOLERANCE_REL = 0.01
# Slice positions may stray sideways from the normal line by this fraction of a pixel before it is tilt.
TILT_TOLERANCE_PIXELS = 0.1
_INTEGER_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32)
# Projection radiographs: no patient position, one image per instance, each its own volume.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "IO", "PX", "RG"})
# PatientOrientation letters as LPS unit vectors.
_ANATOMY = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0), "H": (0, 0, 1), "F": (0, 0, -1)}
_NATIVE_SYNTAXES = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})


class VolumeRefused(InvalidArgument):
    """The series cannot be stacked into a correct volume as it stands; the message says why and what to do."""


@dataclass(frozen=True)
class Issue:
    """One geometry finding on a series: `kind` is a stable name, `values` its numbers, `message` for people."""

    kind: str
    message: str
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Frame:
    """One 2D image: a single-frame instance, or one frame of an Enhanced multi-frame instance."""

    dataset: Dataset
    frame: int | None  # index into a multi-frame instance's frames; None for a single-frame instance
    study_uid: str
    series_uid: str
    orientation: tuple[float, ...]  # ImageOrientationPatient: row direction (along i), then column direction (along j)
    position: tuple[float, float, float]  # ImagePositionPatient of the first transmitted pixel, LPS mm
    spacing: tuple[float, float]  # PixelSpacing: between rows (along j), between columns (along i)
    rows: int
    columns: int
    slope: float
    intercept: float
    echo: object = None
    acquisition: object = None
    temporal: object = None
    b_value: object = None
    stack: object = None
    instance: str = ""  # a projection image's SOP Instance UID: it is a volume of its own; "" otherwise

    def pixels(self) -> np.ndarray:
        """The stored values of this frame, [j, i], as pydicom decodes them (any supported transfer syntax).

        Native little-endian grayscale is read straight from the pixel data (what pydicom would return,
        unused high bits masked or sign-extended alike, without its per-call overhead).
        """
        native = _native_pixels(self.dataset, self.frame or 0, self.rows, self.columns)
        if native is not None:
            return native
        array = self.dataset.pixel_array
        return array if self.frame is None else array[self.frame]


def _native_pixels(dataset: Dataset, frame: int, rows: int, columns: int) -> np.ndarray | None:
    """One frame of uncompressed little-endian single-sample pixel data as an array, or None for anything else."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    bits = _number(dataset, "BitsAllocated", None)
    if (
        syntax not in _NATIVE_SYNTAXES or bits not in (8, 16, 32) or int(_number(dataset, "SamplesPerPixel", 1)) != 1
        or "PixelData" not in dataset
    ):
        return None
    signed = int(_number(dataset, "PixelRepresentation", 0)) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    size = rows * columns
    data = dataset.PixelData
    if len(data) < (frame + 1) * size * dtype.itemsize:
        return None  # let pydicom explain the short pixel data
    array = np.frombuffer(data, dtype=dtype, count=size, offset=frame * size * dtype.itemsize).reshape(rows, columns)
    unused = bits - int(_number(dataset, "BitsStored", bits))
    if unused > 0:  # mask (unsigned) or sign-extend (signed) past Bits Stored, as PS3.5 8.1.1 says to read it
        array = np.right_shift(np.left_shift(array, unused), unused)
    return array


_UNSIGNED_SHORT = struct.Struct("<H")
_REQUIRED = object()


def _number(dataset: Dataset, keyword: str, default: object = _REQUIRED) -> object:
    """A US or DS attribute's value as plain int or float (a list of them when several), as pydicom decodes it.

    Values still raw from an explicit VR little endian read are decoded here (16-bit unsigned; decimal strings
    split at backslashes): pydicom's general conversion of each element (~10 µs) was most of the time spent reading a
    series' geometry. Anything else, absent or unusual, is what `dataset.<keyword>` (with `default`:
    `dataset.get(keyword, default)`) gives.
    """
    element = dataset.get_item(tag_for_keyword(keyword))
    if isinstance(element, RawDataElement) and element.value and not element.is_implicit_VR and element.is_little_endian:
        try:
            if element.VR == "US" and len(element.value) == 2:
                return _UNSIGNED_SHORT.unpack(element.value)[0]
            if element.VR == "DS":
                values = [float(text) for text in element.value.decode("ascii").split("\\")]
                return values[0] if len(values) == 1 else values
        except (UnicodeDecodeError, ValueError):
            pass  # pydicom decodes it, or says what is wrong
    return getattr(dataset, keyword) if default is _REQUIRED else dataset.get(keyword, default)


@dataclass
class Series:
    """Frames that belong in one volume: same study, series, orientation, size and acquisition parameters."""

    study_uid: str
    series_uid: str
    frames: list[Frame]
    split: dict = field(default_factory=dict)  # what set this part apart from the rest of its DICOM series

    @property
    def description(self) -> str:
        first = self.frames[0].dataset
        parts = [str(first.get("Modality", "?")), f"series {first.get('SeriesNumber', '?')}"]
        if first.get("SeriesDescription"):
            parts.append(repr(str(first.SeriesDescription)))
        parts += [f"{key} {value}" for key, value in self.split.items()]
        return ", ".join(parts)


@dataclass
class Geometry:
    """A series' frames in order along the slice normal, with what was found about their spacing."""

    frames: list[Frame]
    row: np.ndarray  # unit vector along i
    column: np.ndarray  # unit vector along j
    normal: np.ndarray  # row × column
    distances: np.ndarray  # each sorted frame's position along the normal, mm
    offsets: np.ndarray  # each sorted frame's sideways offset from the first frame's normal line, mm (N, 3)
    issues: list[Issue]

    @property
    def gaps(self) -> np.ndarray:
        return np.diff(self.distances)

    @property
    def stackable(self) -> bool:
        """True when stacking the frames as they are gives a correct volume on a regular grid."""
        return not any(issue.kind in _REFUSING | _RESAMPLING for issue in self.issues)

    @property
    def buildable(self) -> bool:
        """True when a correct volume can be built, if need be by resampling onto a regular grid."""
        return not any(issue.kind in _REFUSING for issue in self.issues)


@dataclass
class Volume:
    """A built volume: `data` indexed [k, j, i]; `affine` maps (i, j, k, 1) to DICOM LPS mm."""

    data: np.ndarray
    affine: np.ndarray
    series: Series
    issues: list[Issue]
    # A radiograph's own display window (center, width) from its VOI attributes, in the volume's values;
    # None for cross-sectional series, whose default window goes by modality.
    window: tuple[float, float] | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in mm."""
        return tuple(float(np.linalg.norm(self.affine[:3, axis])) for axis in range(3))


# Findings no grid can fix (the volume is refused), and findings fixed by resampling onto a regular grid.
_REFUSING = frozenset({"duplicate_positions"})
_RESAMPLING = frozenset({"gantry_tilt", "uneven_spacing", "missing_slices"})


def parse_instance(data: bytes) -> Dataset | None:
    """Parse Part 10 bytes (also without preamble); None when they are not DICOM or not an image.

    Every attribute is kept, as pydicom reads it. Files with a preamble in an explicit VR little endian
    transfer syntax (native or encapsulated; what anonymization writes) are split into elements here, each
    decoded by pydicom only when asked for, small ones alike byte for byte shared between files (several times
    faster than dcmread); anything else goes to dcmread.
    """
    try:
        with _collector_paused():
            dataset = _read_explicit_little_endian(data)
        if dataset is None:
            with warnings.catch_warnings():  # force=True guesses at non-DICOM bytes and warns about its guesses
                warnings.simplefilter("ignore")
                dataset = pydicom.dcmread(BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, ValueError, TypeError, AttributeError, KeyError):
        return None
    if "PixelData" not in dataset or "SeriesInstanceUID" not in dataset:
        return None
    return dataset


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one instance is split into elements.

    That allocates small objects by the hundred (an MR slice has ~250 elements); with a series' earlier instances
    alive, the collector's passes triggered by them cost more than the parsing itself (measured 2–3× on the 196-slice MR).
    Re-enabled only if it was enabled, so concurrent callers can at worst leave it on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Each VR's bytes → its name: those with a 16-bit length, and those with two reserved bytes, then a 32-bit length.
_SHORT_NAMES = {name.encode(): name for name in (
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US",
)}
_LONG_NAMES = {name.encode(): name for name in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV")}
_UNDEFINED = 0xFFFFFFFF
_ELEMENT = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length
_ITEM = struct.Struct("<HHI")  # (FFFE,xxxx) item or delimiter, 32-bit length
_LENGTH = struct.Struct("<I")


class _Unusual(Exception):
    """Bytes the fast reader leaves to pydicom's dcmread."""


def _read_explicit_little_endian(data: bytes) -> FileDataset | None:
    """A Part 10 file with a preamble in an explicit VR little endian syntax, as raw elements; None for any other."""
    if data[128:132] != b"DICM":
        return None
    try:
        group, element, vr, _ = _ELEMENT.unpack_from(data, 132)
        if (group, element, vr) != (2, 0, b"UL"):
            return None
        meta_end = 144 + _LENGTH.unpack_from(data, 140)[0]
        meta_raw: dict[BaseTag, RawDataElement] = {}
        _walk(data, 132, meta_end, meta_raw)
        meta = FileMetaDataset(meta_raw)
        meta.set_original_encoding(False, True, default_encoding)
        syntax = UID(str(meta.get("TransferSyntaxUID", "")))
        if not syntax.is_transfer_syntax or syntax.is_implicit_VR or not syntax.is_little_endian or syntax.is_deflated:
            return None
        raw: dict[BaseTag, RawDataElement] = {}
        if _walk(data, meta_end, len(data), raw) != len(data):
            return None  # a stray delimiter at the top level
    except (_Unusual, struct.error, ValueError):
        return None
    charset = raw.get(BaseTag(0x00080005))
    encoding = convert_encodings(convert_raw_data_element(charset).value) if charset else default_encoding
    dataset = FileDataset(BytesIO(data), raw, preamble=data[:128], file_meta=meta, is_implicit_VR=False, is_little_endian=True)
    # As dcmread does: each element is then decoded in the file's character set without looking it up again.
    dataset.set_original_encoding(False, True, encoding)
    return dataset


# Most elements of a series' files are alike byte for byte (94% of the 196-slice MR's, 82–87% of the CTs'): each
# small one is made once and shared, immutable, by every dataset that holds it. That spares its allocation and, above
# all, the objects a series leaves for the garbage collector to track (its full passes over them were a third of the
# MR's build time). Bounded: at most SHARED_ELEMENTS values of at most SHARED_ELEMENT_BYTES from recently read files.
SHARED_ELEMENTS = 16384
SHARED_ELEMENT_BYTES = 256
_new_tuple = tuple.__new__  # RawDataElement's fields given at once, without its Python-level __new__


def _raw_element(tag: int, vr: str, length: int, value: bytes, start: int) -> RawDataElement:
    return _new_tuple(RawDataElement, (BaseTag(tag), vr, length, value, start, False, True, True, False))


_shared_element = lru_cache(maxsize=SHARED_ELEMENTS)(_raw_element)


def _walk(data: bytes, pos: int, end: int, raw: dict[BaseTag, RawDataElement] | None) -> int:
    """Split the elements from `pos` up to `end` or an item delimiter into `raw` (None: only skip them); where they stopped.

    Undefined-length values run to their sequence delimiter, which they exclude.
    """
    size = len(data)
    unpack, unpack_length = _ELEMENT.unpack_from, _LENGTH.unpack_from
    while pos < end:
        group, element, vr, length = unpack(data, pos)
        if group == 0xFFFE:
            return pos
        name = _SHORT_NAMES.get(vr)
        if name is not None:
            start = pos + 8
        else:
            name = _LONG_NAMES.get(vr)
            if name is None:
                raise _Unusual  # implicit VR inside, or damage
            length = unpack_length(data, pos + 8)[0]
            start = pos + 12
        if length == _UNDEFINED:
            if vr not in (b"SQ", b"OB", b"OW"):
                raise _Unusual  # e.g. UN of undefined length holds implicit VR items
            stop = _delimiter(data, start, nested=vr == b"SQ")
            pos = stop + 8
        else:
            stop = pos = start + length
            if stop > size:
                raise _Unusual
        if raw is not None:
            make = _shared_element if length <= SHARED_ELEMENT_BYTES else _raw_element
            split = make((group << 16) | element, name, length, data[start:stop], start)
            raw[split.tag] = split
    return pos


def _delimiter(data: bytes, pos: int, nested: bool) -> int:
    """Where the sequence delimiter ending the items (or pixel data fragments) from `pos` lies."""
    while True:
        group, element, length = _ITEM.unpack_from(data, pos)
        if group != 0xFFFE:
            raise _Unusual
        if element == 0xE0DD:
            return pos
        if element != 0xE000:
            raise _Unusual
        pos += 8
        if length != _UNDEFINED:
            pos += length
            continue
        if not nested:
            raise _Unusual  # fragments always have a length
        pos = _walk(data, pos, len(data), None)
        if _ITEM.unpack_from(data, pos)[:2] != (0xFFFE, 0xE00D):
            raise _Unusual
        pos += 8


def is_projection(dataset: Dataset) -> bool:
    """True for a projection radiograph: a projection modality and no patient position to stack by."""
    return str(dataset.get("Modality", "")) in PROJECTION_MODALITIES and "ImagePositionPatient" not in dataset


def _projection_frame(dataset: Dataset, common: dict) -> Frame:
    """A radiograph as one frame: rows and columns along its PatientOrientation, at a nominal origin.

    Spacing is PixelSpacing (calibrated at the patient), else ImagerPixelSpacing (at the detector), else 1 mm
    where neither is a positive number.
    """
    if int(dataset.get("NumberOfFrames", 1) or 1) != 1:
        raise VolumeRefused(
            f"{dataset.get('SOPInstanceUID', 'an instance')} is a {dataset.get('Modality')} image with "
            f"{dataset.NumberOfFrames} frames; only single-frame radiographs are supported: export the frames separately"
        )
    directions = []
    letters = list(dataset.get("PatientOrientation") or [])
    for code, default in zip(letters + ["", ""], ("L", "F")):
        vector = np.sum([_ANATOMY[letter] for letter in str(code).upper() if letter in _ANATOMY] or [_ANATOMY[default]], axis=0)
        directions.append(vector / np.linalg.norm(vector))
    if abs(float(directions[0] @ directions[1])) > 0.5:  # contradictory letters: fall back to the convention
        directions = [np.array(_ANATOMY["L"], float), np.array(_ANATOMY["F"], float)]
    spacing = (1.0, 1.0)
    for name in ("PixelSpacing", "ImagerPixelSpacing"):
        values = [float(v) for v in dataset.get(name) or []]
        if len(values) == 2 and min(values) > 0:
            spacing = (values[0], values[1])
            break
    return Frame(
        dataset=dataset, frame=None, rows=int(dataset.Rows), columns=int(dataset.Columns),
        orientation=tuple(float(v) for v in np.concatenate(directions)), position=(0.0, 0.0, 0.0), spacing=spacing,
        slope=float(dataset.get("RescaleSlope", 1) or 1), intercept=float(dataset.get("RescaleIntercept", 0) or 0),
        instance=str(dataset.get("SOPInstanceUID", "")), **common,
    )


# Modalities whose instances carry pixels that are not images to label: segmentations are labels (annotation
# imports them).
NOT_IMAGES = frozenset({"SEG"})


def frames_of(dataset: Dataset) -> list[Frame]:
    """Every 2D frame of one instance, with its geometry from the top level or the functional groups."""
    common = {"study_uid": str(dataset.get("StudyInstanceUID", "")), "series_uid": str(dataset.SeriesInstanceUID)}
    rows, columns = int(_number(dataset, "Rows")), int(_number(dataset, "Columns"))
    if "PerFrameFunctionalGroupsSequence" in dataset:
        shared = dataset.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
        frames = []
        for index, item in enumerate(dataset.PerFrameFunctionalGroupsSequence):
            def group(name: str) -> Dataset:
                for source in (item, shared):
                    if name in source and len(source[name].value):
                        return source[name].value[0]
                return Dataset()

            plane, orient, measures = group("PlanePositionSequence"), group("PlaneOrientationSequence"), group("PixelMeasuresSequence")
            if "ImagePositionPatient" not in plane or "ImageOrientationPatient" not in orient or "PixelSpacing" not in measures:
                raise VolumeRefused(f"frame {index + 1} of {dataset.get('SOPInstanceUID', 'an instance')} has no plane geometry")
            transform, content = group("PixelValueTransformationSequence"), group("FrameContentSequence")
            echo = group("MREchoSequence").get("EffectiveEchoTime")
            frames.append(Frame(
                dataset=dataset, frame=index, rows=rows, columns=columns,
                orientation=tuple(float(v) for v in orient.ImageOrientationPatient),
                position=tuple(float(v) for v in plane.ImagePositionPatient),
                spacing=tuple(float(v) for v in measures.PixelSpacing),
                slope=float(transform.get("RescaleSlope", 1) or 1), intercept=float(transform.get("RescaleIntercept", 0) or 0),
                echo=None if echo is None else float(echo),
                temporal=content.get("TemporalPositionIndex"), stack=content.get("StackID"),
                b_value=group("MRDiffusionSequence").get("DiffusionBValue"),
                **common,
            ))
        return frames
    if is_projection(dataset):
        return [_projection_frame(dataset, common)]
    for name in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        if name not in dataset:
            raise VolumeRefused(f"{dataset.get('SOPInstanceUID', 'an instance')} has no {name}: not a cross-sectional image")
    b_value = dataset.get("DiffusionBValue")
    return [Frame(
        dataset=dataset, frame=None, rows=rows, columns=columns,
        orientation=tuple(float(v) for v in _number(dataset, "ImageOrientationPatient")),
        position=tuple(float(v) for v in _number(dataset, "ImagePositionPatient")),
        spacing=tuple(float(v) for v in _number(dataset, "PixelSpacing")),
        slope=float(_number(dataset, "RescaleSlope", 1) or 1), intercept=float(_number(dataset, "RescaleIntercept", 0) or 0),
        echo=dataset.get("EchoNumbers"), acquisition=dataset.get("AcquisitionNumber"),
        temporal=dataset.get("TemporalPositionIdentifier"), b_value=None if b_value is None else float(b_value),
        **common,
    )]


def group_series(datasets: list[Dataset]) -> list[Series]:
    """Group instances by study and series, then split what cannot share one volume.

    A DICOM series is split by orientation, image size, pixel spacing, echo, b-value, temporal position
    and stack; by acquisition number only when the acquisitions repeat slice positions (some scanners
    number every slice's acquisition, which must not split a volume).
    """
    with _collector_paused():  # reading each instance's geometry converts its elements: many small objects
        frames = [frame for dataset in datasets for frame in frames_of(dataset)]
    return _group(frames)


def holds_image(dataset: Dataset) -> bool:
    """Whether the instance holds an image a volume is made of (a segmentation holds labels of one)."""
    return str(dataset.get("Modality", "")) not in NOT_IMAGES


def group_image_series(datasets: list[Dataset]) -> tuple[list[Series], dict[str, str]]:
    """`group_series` of the instances that can be part of a volume, each instance's geometry read once.

    Instances that hold no image to build (segmentations) are left out silently; one whose geometry cannot make
    a volume is left out and its series named with the reason (series uid → the first reason), so the rest of
    the upload still builds.
    """
    frames: list[Frame] = []
    unusable: dict[str, str] = {}
    with _collector_paused():
        for dataset in datasets:
            if not holds_image(dataset):
                continue
            try:
                frames += frames_of(dataset)
            except VolumeRefused as error:
                unusable.setdefault(str(dataset.SeriesInstanceUID), str(error))
    return _group(frames), unusable


def _group(frames: list[Frame]) -> list[Series]:
    groups: dict[tuple, list[Frame]] = defaultdict(list)
    for frame in frames:
        key = (
            frame.study_uid, frame.series_uid,
            tuple(round(v / ORIENTATION_TOLERANCE) for v in frame.orientation),
            frame.rows, frame.columns, tuple(round(v, 4) for v in frame.spacing),
            _text(frame.echo), _text(frame.b_value), _text(frame.temporal), _text(frame.stack), frame.instance,
        )
        groups[key].append(frame)
    series_uids = defaultdict(set)
    for key in groups:
        series_uids[key[:2]].add(key)
    result = []
    for key, frames in groups.items():
        split = {}
        if len(series_uids[key[:2]]) > 1:
            split = _what_differs(key, series_uids[key[:2]])
        for part, extra in _split_acquisitions(frames):
            result.append(Series(key[0], key[1], part, split | extra))
    result.sort(key=lambda series: (series.study_uid, series.series_uid, sorted(series.split.items(), key=str)))
    return result


def _text(value: object) -> str:
    return "" if value is None else str(value)


_KEY_NAMES = {
    2: "orientation", 3: "rows", 4: "columns", 5: "spacing", 6: "echo", 7: "b-value", 8: "temporal position", 9: "stack",
    10: "image",
}


def _what_differs(key: tuple, siblings: set[tuple]) -> dict:
    """The grouping values that set `key` apart from the other parts of its DICOM series."""
    differing = sorted({index for other in siblings for index in _KEY_NAMES if other[index] != key[index]})
    out = {}
    for index in differing:
        value = key[index]
        if index == 2:  # back from tolerance units to direction cosines
            value = tuple(round(v * ORIENTATION_TOLERANCE, 4) for v in value)
        out[_KEY_NAMES[index]] = value
    return out


def _split_acquisitions(frames: list[Frame]) -> list[tuple[list[Frame], dict]]:
    positions = {tuple(round(v, 3) for v in frame.position) for frame in frames}
    acquisitions = {_text(frame.acquisition) for frame in frames}
    if len(positions) == len(frames) or len(acquisitions) < 2:
        return [(frames, {})]
    by_acquisition: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_acquisition[_text(frame.acquisition)].append(frame)
    return [(part, {"acquisition": name}) for name, part in sorted(by_acquisition.items())]


def analyse(series: Series) -> Geometry:
    """Sort frames along the slice normal and report tilt, uneven gaps, missing slices and duplicates."""
    orientation = np.asarray(series.frames[0].orientation, dtype=np.float64)
    row, column = orientation[:3], orientation[3:]
    row, column = row / np.linalg.norm(row), column / np.linalg.norm(column)
    normal = np.cross(row, column)
    positions = np.array([frame.position for frame in series.frames], dtype=np.float64)
    distances = positions @ normal
    order = np.argsort(distances, kind="stable")
    frames = [series.frames[index] for index in order]
    positions, distances = positions[order], distances[order]
    offsets = (positions - positions[0]) - np.outer(distances - distances[0], normal)
    issues = []
    gaps = np.diff(distances)
    pixel = min(series.frames[0].spacing)
    if len(frames) > 1:
        duplicates = int(np.sum(gaps < GAP_TOLERANCE_MM))
        if duplicates:
            issues.append(Issue(
                "duplicate_positions",
                f"{duplicates} slice(s) repeat another slice's position: the series mixes volumes that nothing "
                "here tells apart (echo, time, acquisition); it is not stacked",
                {"count": duplicates},
            ))
        sideways = np.linalg.norm(offsets, axis=1)
        if sideways.max() > TILT_TOLERANCE_PIXELS * pixel:
            along = distances[-1] - distances[0]
            step = positions[-1] - positions[0]
            angle = float(np.degrees(np.arccos(np.clip(abs(step @ normal) / np.linalg.norm(step), -1, 1)))) if along else 90.0
            declared = series.frames[0].dataset.get("GantryDetectorTilt")
            issues.append(Issue(
                "gantry_tilt",
                f"slice positions are not along the slice normal: tilt {angle:.2f}° "
                f"(GantryDetectorTilt {declared if declared is not None else 'absent'}), "
                f"up to {sideways.max():.2f} mm sideways; stacking as is would shear the anatomy",
                {"angle_deg": angle, "max_offset_mm": float(sideways.max()),
                 "declared_deg": None if declared is None else float(declared)},
            ))
        valid = gaps[gaps >= GAP_TOLERANCE_MM]
        if len(valid):
            median = float(np.median(valid))
            tolerance = max(GAP_TOLERANCE_MM, GAP_TOLERANCE_REL * median)
            if np.ptp(valid) > tolerance:
                smallest = float(valid.min())
                multiples = valid / smallest
                whole = np.abs(multiples - np.round(multiples)) * smallest <= tolerance
                if np.all(whole) and np.any(np.round(multiples) >= 2):
                    missing = int(np.sum(np.round(multiples) - 1))
                    where = [int(index) for index in np.flatnonzero(np.round(gaps / smallest) >= 2)]
                    issues.append(Issue(
                        "missing_slices",
                        f"{missing} slice(s) missing from a {smallest:.4g} mm grid (after sorted slice(s) "
                        f"{', '.join(str(index + 1) for index in where)}); the volume would have holes",
                        {"count": missing, "spacing_mm": smallest, "after_slices": where},
                    ))
                else:
                    distinct = sorted({round(float(gap), 2) for gap in valid})
                    between = sorted({round(float(gap), 2) for gap in np.linalg.norm(np.diff(positions, axis=0), axis=1)})
                    issues.append(Issue(
                        "uneven_spacing",
                        f"slice gaps along the normal vary from {valid.min():.3f} to {valid.max():.3f} mm "
                        f"({len(distinct)} distinct: {', '.join(f'{gap:g}' for gap in distinct[:8])}; between "
                        f"positions {', '.join(f'{gap:g}' for gap in between[:8])}); no single slice spacing describes the stack",
                        {"min_mm": float(valid.min()), "max_mm": float(valid.max()), "distinct_mm": distinct,
                         "between_positions_mm": between},
                    ))
    return Geometry(frames, row, column, normal, distances, offsets, issues)


def build_volume(series: Series) -> Volume:
    """Stack a series into a volume on the grid its slices define.

    Gantry tilt, uneven gaps and missing slices are resampled onto an equidistant, tilt-corrected grid
    (dcm2niix's `_Tilt_Eq` method; the volume says so with a `resampled` issue); slices that repeat a
    position are refused (VolumeRefused), as no grid describes them.
    """
    geometry = analyse(series)
    if not geometry.buildable:
        raise VolumeRefused(
            f"{series.description}: " + "; ".join(issue.message for issue in geometry.issues if issue.kind in _REFUSING)
        )
    if not geometry.stackable:
        return _resampled(series, geometry)
    frames = geometry.frames
    first = frames[0]
    row_spacing, column_spacing = first.spacing
    affine = np.eye(4)
    affine[:3, 0] = geometry.row * column_spacing
    affine[:3, 1] = geometry.column * row_spacing
    if len(frames) > 1:
        affine[:3, 2] = (np.asarray(frames[-1].position) - np.asarray(first.position)) / (len(frames) - 1)
    else:
        thickness = float(first.dataset.get("SpacingBetweenSlices") or first.dataset.get("SliceThickness") or 1.0)
        affine[:3, 2] = geometry.normal * thickness
    affine[:3, 3] = first.position
    window = voi_window(first) if first.instance else None
    return Volume(_stack(frames), affine, series, geometry.issues, window=window)


def _resampled(series: Series, geometry: Geometry) -> Volume:
    """Tilt-correct and/or equalise the slice spacing; the grid runs along the slice normal from the first slice."""
    kinds = {issue.kind for issue in geometry.issues}
    frames = geometry.frames
    first = frames[0]
    row_spacing, column_spacing = first.spacing
    stacked = _stack(frames)
    tilted = "gantry_tilt" in kinds
    shifts = np.zeros((len(frames), 2))
    if tilted:  # where each slice's first pixel lies off the first slice's normal line, in pixels (j, i)
        shifts[:, 0] = geometry.offsets @ geometry.column / row_spacing
        shifts[:, 1] = geometry.offsets @ geometry.row / column_spacing
    even = not kinds & {"uneven_spacing", "missing_slices"}
    fill = float(stacked.min())
    # Interpolated values lie within the input's range: integer input keeps its dtype (rounded), else float32.
    dtype = stacked.dtype if np.issubdtype(stacked.dtype, np.integer) else np.dtype(np.float32)
    result = resample(stacked, geometry.distances, shifts, fill, even, dtype)
    affine = np.eye(4)
    affine[:3, 0] = geometry.row * column_spacing
    affine[:3, 1] = geometry.column * row_spacing
    affine[:3, 2] = geometry.normal * result.spacing
    affine[:3, 3] = np.asarray(first.position) + result.i0 * affine[:3, 0] + result.j0 * affine[:3, 1]
    data = result.data
    done = []
    if tilted:
        moved = float(np.abs(geometry.offsets @ geometry.column).max() + np.abs(geometry.offsets @ geometry.row).max())
        done.append(
            f"each slice shifted in-plane (up to {moved:.2f} mm) back onto the first slice's normal line, "
            f"the grid grown by {result.padded[1]} row(s) and {result.padded[0]} column(s) filled with {fill:g}"
        )
    if not even:
        done.append(
            f"{result.slices_in} unevenly spaced slice(s) interpolated onto {data.shape[0]} at {result.spacing:.4g} mm "
            f"(smallest gap {float(np.diff(geometry.distances).min()):.4g} mm, at most 2 per input slice)"
        )
    issues = list(geometry.issues) + [Issue(
        "resampled",
        "resampled onto an equidistant, tilt-corrected grid along the slice normal by linear interpolation "
        "(dcm2niix's _Tilt_Eq method): " + "; ".join(done),
        {"method": "linear", "tilt_corrected": tilted, "equidistant": not even, "slices_in": result.slices_in,
         "slices_out": int(data.shape[0]), "spacing_mm": result.spacing, "padded_rows": result.padded[1],
         "padded_columns": result.padded[0], "fill_value": fill, "reference": "dcm2niix _Tilt_Eq"},
    )]
    return Volume(data, affine, series, issues)


def _stored_range(frame: Frame) -> tuple[int, int]:
    """The lowest and highest value Bits Stored and Pixel Representation allow."""
    dataset = frame.dataset
    bits = int(dataset.get("BitsStored") or dataset.get("BitsAllocated") or 16)
    if int(dataset.get("PixelRepresentation", 0)) == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _monochrome1(frame: Frame) -> bool:
    return str(frame.dataset.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1"


def _bright_high(frame: Frame) -> np.ndarray:
    """The frame's stored values, MONOCHROME1 flipped within the stored range (low + high − value) so high is bright."""
    pixels = frame.pixels()
    if not _monochrome1(frame):
        return pixels
    low, high = _stored_range(frame)
    return (np.asarray(low + high, dtype=pixels.dtype) - pixels).astype(pixels.dtype)


def voi_window(frame: Frame) -> tuple[float, float] | None:
    """The frame's VOI window (center, width) in modality values, flipped like the pixels for MONOCHROME1.

    Window Center / Width (the first pair when several are given; from the functional groups in an Enhanced
    instance), else a VOI LUT's input range; None when the instance has neither.
    """
    dataset = frame.dataset
    sources = [dataset]
    if frame.frame is not None:
        for name in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
            groups = dataset.get(name) or []
            item = groups[frame.frame if name.startswith("Per") else 0] if groups else Dataset()
            sources[:0] = list(item.get("FrameVOILUTSequence") or [])
    window = None
    for source in sources:
        if source.get("WindowCenter") is not None and source.get("WindowWidth") is not None:
            center, width = (float(v[0] if isinstance(v, MultiValue) else v)
                             for v in (source.WindowCenter, source.WindowWidth))
            window = (center, width)
            break
        if source.get("VOILUTSequence"):
            entries, first_mapped = (int(v) for v in source.VOILUTSequence[0].LUTDescriptor[:2])
            entries = entries or 65536  # PS3.3 C.11.2.1.1: 0 means 2^16 entries
            window = (first_mapped + entries / 2, float(entries))
            break
    if window is None or window[1] <= 0:
        return None
    if _monochrome1(frame):
        low, high = _stored_range(frame)
        window = ((low + high) * frame.slope + 2 * frame.intercept - window[0], window[1])
    return window


def _stack(frames: list[Frame]) -> np.ndarray:
    """Stored values × slope + intercept, in the smallest integer dtype that holds them exactly, else float32.

    Each frame is written straight into the output: integer rescales run in the output dtype, whose
    wrap-around arithmetic gives the exact result whenever that result fits (which is how the dtype is chosen).
    """
    stored = [_bright_high(frame) for frame in frames]
    slopes = np.array([frame.slope for frame in frames])
    intercepts = np.array([frame.intercept for frame in frames])
    shape = (len(frames), *stored[0].shape)
    integral = np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts))
    if not integral or not all(np.issubdtype(pixels.dtype, np.integer) for pixels in stored):
        return _rescaled_float(stored, slopes, intercepts, shape)
    ends = [int(v) * int(m) + int(b) for pixels, m, b in zip(stored, slopes, intercepts) for v in (pixels.min(), pixels.max())]
    low, high = min(ends), max(ends)
    dtype = next((np.dtype(t) for t in _INTEGER_DTYPES if np.iinfo(t).min <= low and high <= np.iinfo(t).max), None)
    if dtype is None:
        return _rescaled_float(stored, slopes, intercepts, shape)
    out = np.empty(shape, dtype=dtype)
    for index, (pixels, slope, intercept) in enumerate(zip(stored, slopes, intercepts)):
        np.copyto(out[index], pixels, casting="unsafe")
        if slope != 1:
            np.multiply(out[index], np.array(int(slope)).astype(dtype), out=out[index])
        if intercept != 0:
            np.add(out[index], np.array(int(intercept)).astype(dtype), out=out[index])
    return out


def _rescaled_float(stored: list[np.ndarray], slopes: np.ndarray, intercepts: np.ndarray, shape: tuple) -> np.ndarray:
    out = np.empty(shape, dtype=np.float32)
    for index, (pixels, slope, intercept) in enumerate(zip(stored, slopes, intercepts)):
        out[index] = pixels.astype(np.float64) * slope + intercept
    return out


def build_volumes(datasets: list[Dataset]) -> list[Volume | VolumeRefused]:
    """Every image series in `datasets` as a Volume, or the VolumeRefused saying why it could not be one; largest
    first. Segmentations are left out, as ingestion leaves them out."""
    out: list[Volume | VolumeRefused] = []
    for series in group_series([dataset for dataset in datasets if holds_image(dataset)]):
        try:
            out.append(build_volume(series))
        except VolumeRefused as refused:
            refused.series = series
            refused.issues = analyse(series).issues
            out.append(refused)
    return sorted(out, key=lambda item: -len(item.series.frames))
