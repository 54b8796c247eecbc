"""Parsed DICOM instances → frames: each 2D image with its plane geometry and rescale, and its stored pixels."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from pydicom import dcmread
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from services.ingestion.domain.mosaic import Mosaic, MosaicUnreadable, mosaic_of
from shared.errors import InvalidArgument

# Projection radiographs: no patient position, one image per instance, each its own volume.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "IO", "PX", "RG"})
# PatientOrientation letters as LPS unit vectors.
_ANATOMY = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0), "H": (0, 0, 1), "F": (0, 0, -1)}
_NATIVE_SYNTAXES = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})


class VolumeRefused(InvalidArgument):
    """The series cannot be stacked into a correct volume as it stands; the message says why and what to do."""


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
    stack: object = None
    instance: str = ""  # a projection image's SOP Instance UID: it is a volume of its own; "" otherwise
    series_number: object = None
    mosaic: Mosaic | None = None  # the layout of the mosaic this frame is tile `tile` of; None for an ordinary image
    tile: int = 0
    # What may order repeated positions along a fourth axis (domain/dimensions.py): attribute keyword → value.
    ordering: tuple[tuple[str, object], ...] = ()


def frame_pixels(frames: list[Frame]) -> Iterator[np.ndarray]:
    """Each frame's stored values [j, i], in order, as pydicom decodes them (any supported transfer syntax).

    An instance is read once for its frames that follow one another (a mosaic's tiles, an Enhanced instance's frames),
    and left when they end: one parsed with its pixel data left where it is stored (reader.parse_instance) holds none
    of it between volumes' points. Native little-endian grayscale is read straight from the pixel data, one frame's
    bytes at a time (what pydicom would return, unused high bits masked or sign-extended alike).
    """
    instance = None
    for frame in frames:
        if instance is None or instance.dataset is not frame.dataset:
            instance = _InstancePixels(frame.dataset)
        if frame.mosaic is None:
            yield instance.frame(frame.frame, frame.rows, frame.columns)
        else:
            mosaic = instance.frame(None, int(_number(frame.dataset, "Rows")), int(_number(frame.dataset, "Columns")))
            yield frame.mosaic.tile(mosaic, frame.tile)


class _InstancePixels:
    """One instance's frames as they are asked for; what it decoded kept until its frames end."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.single: np.ndarray | None = None  # a single-frame instance's decoded image (a mosaic's tiles share it)
        self.whole: Dataset | None = None  # the instance with its pixel data, when it was left where it is stored

    def frame(self, index: int | None, rows: int, columns: int) -> np.ndarray:
        if index is None and self.single is not None:
            return self.single
        image = _native_pixels(self.dataset, index or 0, rows, columns)
        if image is None:
            image = self._decoded(index)
        if index is None:
            self.single = image
        return image

    def _decoded(self, index: int | None) -> np.ndarray:
        dataset = self.dataset
        if dataset.get_item(_PIXEL_DATA, keep_deferred=True).value is None:  # left where it is stored: read it whole
            if self.whole is None:
                self.whole = dcmread(BytesIO(dataset.buffer.read_all()), force=True)
            dataset = self.whole
        if index is None:
            return dataset.pixel_array
        return pixel_array(dataset, index=index)


_PIXEL_DATA = tag_for_keyword("PixelData")


def _native_pixels(dataset: Dataset, frame: int, rows: int, columns: int) -> np.ndarray | None:
    """One frame of uncompressed little-endian single-sample pixel data as an array, or None for anything else; read
    from where it is stored when the dataset does not hold it."""
    meta = getattr(dataset, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    bits = _number(dataset, "BitsAllocated", None)
    element = dataset.get_item(_PIXEL_DATA, keep_deferred=True)
    if syntax not in _NATIVE_SYNTAXES or bits not in (8, 16, 32) or int(_number(dataset, "SamplesPerPixel", 1)) != 1 or element is None:
        return None
    signed = int(_number(dataset, "PixelRepresentation", 0)) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    size = rows * columns * dtype.itemsize
    if element.value is None:
        if not isinstance(element, RawDataElement) or element.length < (frame + 1) * size:
            return None
        data = dataset.buffer.read_range(element.value_tell + frame * size, size)
        offset = 0
    else:
        data, offset = dataset.PixelData, frame * size
    if len(data) < offset + size:
        return None  # let pydicom explain the short pixel data
    array = np.frombuffer(data, dtype=dtype, count=rows * columns, offset=offset).reshape(rows, columns)
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


def decoded_bytes(dataset: Dataset) -> int:
    """The bytes decoding the instance's pixel data takes, as its header declares them: every frame of it (a decoder
    decodes them all at once), each rows × columns × samples × whole bytes per sample."""
    rows, columns = int(_number(dataset, "Rows")), int(_number(dataset, "Columns"))
    frames = max(int(dataset.get("NumberOfFrames") or 1), 1)
    samples = max(int(_number(dataset, "SamplesPerPixel", 1) or 1), 1)
    sample_bytes = -(-max(int(_number(dataset, "BitsAllocated", 16) or 16), 1) // 8)  # 1-bit data decodes to a byte each
    return rows * columns * frames * samples * sample_bytes


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
                stack=content.get("StackID"),
                ordering=_frame_ordering(index, content, group("CardiacSynchronizationSequence"),
                                         group("MRDiffusionSequence"), echo),
                **common,
            ))
        return frames
    if is_projection(dataset):
        return [_projection_frame(dataset, common)]
    missing = [name for name in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing") if name not in dataset]
    mosaic = None if missing[1:] or missing[:1] == ["ImageOrientationPatient"] else _mosaic(dataset)
    if missing and mosaic is None:  # a United Imaging mosaic gives its positions per tile only
        raise VolumeRefused(f"{dataset.get('SOPInstanceUID', 'an instance')} has no {missing[0]}: not a cross-sectional image")
    common |= _plane_attributes(dataset)
    if mosaic is not None:  # one frame per tile, each at its own position
        return [Frame(dataset=dataset, frame=None, rows=mosaic.rows, columns=mosaic.columns, mosaic=mosaic, tile=index,
                      position=position, **common) for index, position in enumerate(mosaic.positions)]
    position = tuple(float(v) for v in _number(dataset, "ImagePositionPatient"))
    return [Frame(dataset=dataset, frame=None, rows=rows, columns=columns, position=position, **common)]


def _plane_attributes(dataset: Dataset) -> dict:
    """A single-frame cross-sectional instance's attributes that every frame made of it shares."""
    return dict(
        orientation=tuple(float(v) for v in _number(dataset, "ImageOrientationPatient")),
        spacing=tuple(float(v) for v in _number(dataset, "PixelSpacing")),
        slope=float(_number(dataset, "RescaleSlope", 1) or 1), intercept=float(_number(dataset, "RescaleIntercept", 0) or 0),
        series_number=dataset.get("SeriesNumber"), ordering=_ordering(dataset),
    )


def _mosaic(dataset: Dataset) -> Mosaic | None:
    orientation = np.asarray([float(v) for v in _number(dataset, "ImageOrientationPatient")], dtype=np.float64)
    row, column = orientation[:3] / np.linalg.norm(orientation[:3]), orientation[3:] / np.linalg.norm(orientation[3:])
    try:
        return mosaic_of(dataset, row, column, tuple(float(v) for v in _number(dataset, "PixelSpacing")))
    except MosaicUnreadable as error:
        raise VolumeRefused(f"{dataset.get('SOPInstanceUID', 'an instance')}: {error}") from None


# What may order the repeats of one position (domain/dimensions.py tries them in this order).
_ORDERING = ("TemporalPositionIdentifier", "TriggerTime", "NominalPercentageOfCardiacPhase", "AcquisitionDateTime",
             "AcquisitionTime", "ContentTime", "DiffusionBValue", "EchoTime", "EchoNumbers", "AcquisitionNumber", "InstanceNumber")


_ORDERING_TAGS = tuple((keyword, tag_for_keyword(keyword)) for keyword in _ORDERING)
_TEXT_NUMBER_VRS = frozenset({"IS", "DS", "TM", "DT"})  # read straight from the raw bytes in _ordering


def _ordering(dataset: Dataset) -> tuple[tuple[str, object], ...]:
    """The instance's values of the attributes that may order repeated positions, as numbers (times in seconds)."""
    values = []
    for keyword, tag in _ORDERING_TAGS:
        element = dataset.get_item(tag)
        if element is None:
            continue
        if isinstance(element, RawDataElement) and element.VR in _TEXT_NUMBER_VRS and not element.is_implicit_VR:
            value = (element.value or b"").decode("ascii", "replace").split("\\")[0].strip(" \0")  # as pydicom would, faster
        else:
            value = dataset[tag].value
        if value is None or value == "":
            continue
        try:
            if keyword == "AcquisitionDateTime":
                number = _datetime_seconds(str(value))
            elif keyword.endswith("Time") and keyword not in ("TriggerTime", "EchoTime"):
                number = _seconds(str(value))
            else:
                number = float(value)
        except (TypeError, ValueError):
            continue
        values.append((keyword, number))
    return tuple(values)


def _frame_ordering(index: int, content: Dataset, cardiac: Dataset, diffusion: Dataset, echo: object) -> tuple:
    """An Enhanced instance's frame's values that may order repeated positions, ending with the frame's own index."""
    values = [("TemporalPositionIndex", content.get("TemporalPositionIndex")),
              ("NominalCardiacTriggerDelayTime", cardiac.get("NominalCardiacTriggerDelayTime")),
              ("FrameAcquisitionDateTime", content.get("FrameAcquisitionDateTime")),
              ("DiffusionBValue", diffusion.get("DiffusionBValue")), ("EffectiveEchoTime", echo)]
    out = []
    for keyword, value in values:
        try:
            if value not in (None, ""):
                out.append((keyword, _datetime_seconds(str(value)) if keyword.endswith("DateTime") else float(value)))
        except (TypeError, ValueError):
            continue
    return tuple(out) + (("FrameNumber", float(index + 1)),)


def _datetime_seconds(text: str) -> float:
    """A DICOM DT value as seconds (days since year 0 are enough to order values)."""
    return float(text[:8]) * 86400 + _seconds(text[8:])


def _seconds(text: str) -> float:
    """A DICOM TM value (HHMMSS.FFFFFF, parts may be left off) as seconds since midnight."""
    text = text.split("+")[0].split("-")[0].strip()
    whole, _, fraction = text.partition(".")
    hours, minutes, seconds = int(whole[0:2] or 0), int(whole[2:4] or 0), int(whole[4:6] or 0)
    return hours * 3600 + minutes * 60 + seconds + float(f"0.{fraction}" if fraction else 0)
