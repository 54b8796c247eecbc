"""Series → volume: stack (or resample) a series' frames into one array with its affine and display window."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from services.ingestion.domain.dimensions import FourthAxis, fourth_axis
from services.ingestion.domain.frames import Frame, VolumeRefused, decoded_bytes, frame_pixels
from services.ingestion.domain.geometry import Geometry, Issue, analyse, gap_tolerance
from services.ingestion.domain.grouping import Series, group_image_series
from services.ingestion.domain.precise import precise_values
from services.ingestion.domain.resample import resample
from shared.config import DEFAULT_VOLUME_MAX_VOXELS
from shared.grid import array_spacing
from shared.volumes import VolumeTooLarge, check_budget

_INTEGER_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32)


@dataclass
class Volume:
    """A built volume: `data` indexed [k, j, i], or [t, k, j, i] along a fourth axis; `affine` maps (i, j, k, 1) to
    DICOM LPS mm."""

    data: np.ndarray
    affine: np.ndarray
    series: Series
    issues: list[Issue]
    # A radiograph's own display window (center, width) from its VOI attributes, in the volume's values;
    # None for cross-sectional series, whose default window goes by modality.
    window: tuple[float, float] | None = None
    fourth: FourthAxis | None = None  # what the first of four axes is; None for a 3D volume
    precise: dict | None = None  # how to get precise values from the voxels (domain/precise.py); None: they are
    first_point: list[Frame] = field(default_factory=list)  # a 4D volume's frames of its first point, which name its slices

    @property
    def slice_frames(self) -> list[Frame]:
        """The frames that may lie on the volume's slices: all of a 3D volume's, the first point's of a 4D one."""
        return self.first_point if self.fourth is not None else self.series.frames

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in mm."""
        return array_spacing(self.affine)[::-1]


@dataclass
class Refusal:
    """A series, or instances of one, that did not become a volume: `reason` says why and what to do."""

    series_uid: str
    reason: str
    series: Series | None = None  # None for instances that could not be read as frames of a series
    issues: list[Issue] = field(default_factory=list)  # the series' geometry findings, when its geometry refused it


def build_volume(series: Series, max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS) -> Volume:
    """Stack a series into a volume on the grid its slices define, [t, k, j, i] when it repeats its positions.

    A series over the voxel budget is refused (VolumeRefused) from its headers, before any pixel is decoded.
    Gantry tilt, uneven gaps and missing slices are resampled onto an equidistant, tilt-corrected grid
    (dcm2niix's `_Tilt_Eq` method; the volume says so with a `resampled` issue). Slices that repeat their
    positions along time, phase, b-value, echo or acquisition make the fourth axis (domain/dimensions.py);
    repeats nothing orders are refused (VolumeRefused).
    """
    _check_budget(series, max_voxels)
    split = fourth_axis(series)
    if split is None:
        volume = _build_3d(series)
        volume.precise = precise_values(series.frames)
        return volume
    points, axis = split
    first = _build_3d(Series(series.study_uid, series.series_uid, points[0], series.split))
    # Filled point by point: the peak is the 4D array and one point, not two 4D arrays.
    data = np.empty((len(points), *first.data.shape), dtype=first.data.dtype)
    data[0] = first.data
    for index, frames in enumerate(points[1:], start=1):
        point = _build_3d(Series(series.study_uid, series.series_uid, frames, series.split))
        if point.data.shape != first.data.shape or not np.allclose(point.affine, first.affine, atol=1e-2):
            raise VolumeRefused(f"{series.description}: point {index + 1} of its {axis.name} axis lies on another grid than the first")
        if not np.can_cast(point.data.dtype, data.dtype, casting="safe"):
            data = data.astype(np.result_type(data.dtype, point.data.dtype))
        data[index] = point.data
    return Volume(data, first.affine, series, first.issues, window=first.window, fourth=axis, first_point=points[0],
                  precise=precise_values(series.frames))


def _build_3d(series: Series) -> Volume:
    geometry = analyse(series)
    if not geometry.buildable:
        raise VolumeRefused(f"{series.description}: " + "; ".join(issue.message for issue in geometry.refusals))
    if not geometry.stackable:
        return _resampled(series, geometry)
    first = geometry.frames[0]
    window = voi_window(first) if first.instance else None
    return Volume(_stack(geometry.frames), stacked_affine(geometry), series, geometry.issues, window=window)


def stacked_affine(geometry: Geometry) -> np.ndarray:
    """The affine of a stackable series' own grid: (i, j, k, 1) → LPS mm, k along its sorted frames."""
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
    return affine


def _check_budget(series: Series, max_voxels: int) -> None:
    """Refuse a series whose volume (slices × rows × columns) or whose instances' decoded pixel data (all their frames,
    which a decoder decodes at once) is over the budget."""
    first = series.frames[0]
    instances = {id(frame.dataset): frame.dataset for frame in series.frames}
    decoded = sum(decoded_bytes(dataset) for dataset in instances.values())
    try:
        check_budget((len(series.frames), first.rows, first.columns), decoded, max_voxels)
    except VolumeTooLarge as error:
        raise VolumeRefused(f"{series.description}: {error}") from None


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
    result = resample(stacked, geometry.distances, shifts, fill, even, dtype, gap_tolerance(geometry.distances))
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


def _bright_high(frame: Frame, pixels: np.ndarray) -> np.ndarray:
    """The frame's stored values, MONOCHROME1 flipped within the stored range (low + high − value) so high is bright."""
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
    stored = [_bright_high(frame, pixels) for frame, pixels in zip(frames, frame_pixels(frames))]
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


def build_volumes(datasets: list[Dataset], max_voxels: int = DEFAULT_VOLUME_MAX_VOXELS) -> list[Volume | Refusal]:
    """Every image series in `datasets` as a Volume, or the Refusal saying why it could not be one: what ingestion
    builds of a scan, and `radlab volume` of a folder.

    Trouble stays with its series: an instance whose geometry cannot make a volume refuses its series (its other
    instances still build), pixel data that cannot be decoded, or a series over the voxel budget, refuses the series
    it is in. Segmentations are left out. The refusals of unusable instances come first, then each series in
    `group_image_series`' order.
    """
    series_list, unusable = group_image_series(datasets)
    out: list[Volume | Refusal] = [Refusal(uid, f"series {uid}: {reason}") for uid, reason in unusable.items()]
    for series in series_list:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom warnings may quote values
                out.append(build_volume(series, max_voxels))
        except VolumeRefused as error:
            out.append(Refusal(series.series_uid, str(error), series, analyse(series).issues))
        except (ValueError, RuntimeError, NotImplementedError, AttributeError) as error:
            out.append(Refusal(series.series_uid, (
                f"{series.description}: the pixel data could not be decoded ({type(error).__name__}); "
                "export the series uncompressed or in a transfer syntax pydicom reads, and upload it again"
            ), series))
    return out
