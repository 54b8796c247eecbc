"""Darwin JSON 2.0 (V7's export format) ↔ Segmentation: a volume's masks as one raster layer of per-frame dense RLE.

Layout, as darwin-py (V7's own library) reads and writes it. V7 reorients every volume it takes in to LPI and
numbers its frames along that array: a frame is the plane of the slot's `primary_plane` (axial: the array's third
axis), its pixels row by row, x along the first array axis (toward patient left) and y along the second (toward
posterior); the slot's metadata holds the array's `shape` [1, x, y, z], its NIfTI (RAS) `affine` and the
`original_affine` of the scan as uploaded. write_darwin lays a volume out the same way, so its frames are the ones V7
shows for that scan (for an axial scan with i toward L, j toward P and k toward S: x = i, y = j, frame = K − 1 − k),
and darwin-py's NIfTI export of the file lands back on the item's own grid. A 2D item (one
slice: a radiograph) is one frame as it is, x = column i, y = row j. read_darwin places what a file holds on the item's
grid through that metadata; a file without it (a legacy or non-medical item) is taken as frames = slices k in order,
x = column, y = row, and says so.

Masks: one `__raster_layer__` annotation holds, per frame with labels, the frame's dense RLE ([value, run length, …]
over its pixels row by row) and which mask annotation each value is; one `mask` annotation per class, named after it.
Polygons ("path" or "paths", complex ones by the even-odd rule) are filled as darwin-py's NIfTI export fills them:
vertices rounded to pixels, the outline included; on medical slots their coordinates are in pixel spacings (mm),
divided back to pixels.
"""

from __future__ import annotations

import json
import re
import uuid

import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform
from skimage.draw import line, polygon as polygon_pixels

from services.annotation.domain.segmentation import Segment, Segmentation
from services.annotation.formats import AFFINE_TOLERANCE_MM, Grid, describe_grid
from shared.errors import InvalidArgument
from shared.volumes import LPS_TO_RAS

SCHEMA_REF = "https://darwin-public.s3.eu-west-1.amazonaws.com/darwin_json/2.0/schema.json"
RASTER_LAYER = "__raster_layer__"
# darwin-py decodes a raster layer into 8-bit arrays, so a file holds at most this many classes.
MOST_CLASSES = 255
# The array axis a frame holds fixed, on the [x, y, z] array of a slot's metadata, per primary plane.
PLANE_AXIS = {"AXIAL": 2, "CORONAL": 1, "SAGITTAL": 0}
_LPI = axcodes2ornt(("L", "P", "I"))
# darwin-py floors polygon coordinates divided by the pixel spacing; a vertex at exactly n spacings (as its NIfTI
# importer writes them) must not fall to n − 1 through rounding error.
_FLOOR_ALLOWANCE = 1e-6


def write_darwin(item_name: str, seg: Segmentation, slot_name: str = "0") -> bytes:
    """One Darwin JSON 2.0 file (UTF-8 bytes) for the item named `item_name` in V7; see the module's layout.

    Segments without pixels are left out. Overlapping segments are refused: a raster layer holds one class per pixel.
    """
    if seg.overlapping():
        raise InvalidArgument("some voxels belong to more than one segment, and a Darwin raster layer holds one class per "
                              "pixel; export it as DICOM-SEG or COCO, which keep overlaps")
    present = [value for value in sorted(seg.masks) if seg.masks[value].any()]
    if len(present) > MOST_CLASSES:
        raise InvalidArgument(f"{len(present)} segments have pixels, and a Darwin raster layer holds at most "
                              f"{MOST_CLASSES} classes; export the segments in groups")
    names: dict[str, int] = {}
    for value in present:
        other = names.setdefault(seg.segments[value].name, value)
        if other != value:
            raise InvalidArgument(f"segments {other} and {value} are both named {seg.segments[value].name!r}, and Darwin "
                                  "tells classes apart by name; rename one")
    labels = np.zeros(seg.shape, dtype=np.uint8)
    for number, value in enumerate(present, start=1):
        labels[seg.masks[value]] = number
    volume, affine = _v7_layout(labels, seg.affine)
    width, height, frames = volume.shape
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"radlab:{item_name}:{slot_name}:{value}")) for value in present]
    raster, frames_of = {}, {value: [] for value in present}
    for frame in range(frames):
        pixels = volume[:, :, frame].T  # (y, x): the frame's rows
        numbers = [int(n) for n in np.unique(pixels) if n]
        if not numbers:
            continue
        raster[str(frame)] = {"keyframe": True, "raster_layer": {
            "dense_rle": _dense_rle(pixels), "total_pixels": int(pixels.size),
            "mask_annotation_ids_mapping": {ids[n - 1]: n for n in numbers},
        }}
        for n in numbers:
            frames_of[present[n - 1]].append(frame)
    annotations = [{
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"radlab:{item_name}:{slot_name}:{RASTER_LAYER}")), "name": RASTER_LAYER,
        "slot_names": [slot_name], "frames": raster, "ranges": [[0, frames]],
    }] if present else []
    for mask_id, value in zip(ids, present):
        annotations.append({
            "id": mask_id, "name": seg.segments[value].name, "slot_names": [slot_name],
            "frames": {str(frame): {"keyframe": True, "mask": {"sparse_rle": None}} for frame in frames_of[value]},
            "ranges": _ranges(frames_of[value]),
        })
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    slot = {
        "type": "dicom", "slot_name": slot_name, "width": width, "height": height, "frame_count": frames,
        "source_files": [{"file_name": _source_file(item_name)}],
        "metadata": {
            "handler": "MONAI", "shape": [1, width, height, frames], "affine": affine.tolist(),
            "original_affine": (LPS_TO_RAS @ seg.affine).tolist(), "pixdim": str(spacing),
            "primary_plane": "AXIAL", "plane_map": {slot_name: "AXIAL"},
        },
    }
    document = {"version": "2.0", "schema_ref": SCHEMA_REF, "item": {"name": item_name, "path": "/", "slots": [slot]},
                "annotations": annotations}
    return json.dumps(document, separators=(",", ":")).encode()


def read_darwin(data: bytes, file_name: str, grid: Grid) -> tuple[Segmentation, list[str]]:
    """The masks and polygons of a Darwin JSON 2.0 file on the item's `grid`, one segment per class (values 1, 2, …
    in order of first appearance, named after the class), with warnings for people.

    Reads the first slot; raster layers (frame-keyed or not) and polygons; other annotations are skipped and said so.
    A file whose volume is not the item's grid (another size, or placed more than a voxel away) is refused.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"{file_name}: not a JSON file ({error})") from None
    try:
        return _read(document, file_name, grid)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise InvalidArgument(
            f"{file_name}: not Darwin JSON 2.0 as V7 writes it ({type(error).__name__}: {error})") from None


def _read(document: dict, file_name: str, grid: Grid) -> tuple[Segmentation, list[str]]:
    if not str(document.get("version", "")).startswith("2."):
        raise InvalidArgument(f"{file_name}: Darwin JSON {document.get('version', '1.0')} is not read; export Darwin JSON "
                              "2.0 from V7")
    slot = (document["item"].get("slots") or [{}])[0]
    warnings: list[str] = []
    layout = _Layout(slot, grid, file_name, warnings)
    classes: dict[str, np.ndarray | None] = {}  # class name → mask on the file's [x, y, z] array, in order of appearance
    mask_names = {}
    mine = []
    for annotation in document["annotations"]:
        name = str(annotation.get("name", "")).strip()
        if (annotation.get("slot_names") or [layout.slot_name])[0] != layout.slot_name:
            warnings.append(f"{file_name}: annotation {name!r} is on slot {annotation['slot_names'][0]!r}; only slot "
                            f"{layout.slot_name!r} is read")
            continue
        mine.append((name, annotation))
        if any("mask" in entry for _, entry in _frames(annotation)):
            mask_names[annotation.get("id")] = name
            classes.setdefault(name, None)
    for name, annotation in mine:
        entries = _frames(annotation)
        if any("raster_layer" in entry for _, entry in entries):
            for frame, entry in entries:
                layout.check_frame(frame, name)
                _paint_raster(entry["raster_layer"], frame, layout, mask_names, classes, warnings)
        elif any("polygon" in entry for _, entry in entries):
            if annotation.get("interpolated") and annotation.get("only_keyframes"):
                warnings.append(f"{file_name}: polygon {name!r} is interpolated by V7 between its key frames; only its key "
                                "frames were read")
            for frame, entry in entries:
                layout.check_frame(frame, name)
                if "polygon" in entry:
                    layout.frame_of(classes, name, frame)[...] |= layout.fill(entry["polygon"])
        elif name not in classes:
            warnings.append(f"{file_name}: annotation {name!r} is neither a mask nor a polygon; skipped")
    segments, masks = {}, {}
    for value, (name, mask) in enumerate(classes.items(), start=1):
        segments[value] = Segment(value=value, name=name)
        if mask is not None and mask.any():
            masks[value] = layout.on_grid(mask)
    return Segmentation(grid.shape, grid.affine, segments, masks, grid.frame_of_reference_uid), warnings


class _Layout:
    """Where a slot's frames and pixels lie: the [x, y, z] array its metadata describes, and how that sits on the grid."""

    def __init__(self, slot: dict, grid: Grid, file_name: str, warnings: list[str]):
        self.file_name, self.slot_name = file_name, str(slot.get("slot_name", "0"))
        metadata = slot.get("metadata") or {}
        grid_ras = LPS_TO_RAS @ grid.affine
        if metadata.get("handler") == "MONAI":
            shape = [int(n) for n in metadata["shape"]]
            self.dims = tuple(shape[1:] if len(shape) == 4 and shape[0] == 1 else shape)
            self.affine = _matrix(metadata["affine"])
            plane = metadata.get("primary_plane") or (metadata.get("plane_map") or {}).get(self.slot_name, "AXIAL")
            if plane not in PLANE_AXIS or len(self.dims) != 3 or min(self.dims) < 1:
                raise InvalidArgument(f"{file_name}: its slot is {self.dims} in plane {plane!r}; expected a 3D shape and "
                                      f"one of {', '.join(PLANE_AXIS)}")
            self.axis = PLANE_AXIS[plane]
            spacing = re.findall(r"[-+0-9.eE]+", str(metadata.get("pixdim", "")))
            self.spacing = ([float(s) for s in spacing][-3:] if len(spacing) >= 3
                            else list(np.linalg.norm(self.affine[:3, :3], axis=0)))
        else:
            self.dims, self.affine, self.axis, self.spacing = grid.shape[::-1], grid_ras, 2, None
            if grid.shape[0] > 1:
                warnings.append(f"{file_name}: its slot carries no V7 volume geometry; its frames are taken as the item's "
                                "slices k in order, x as the column and y as the row")
        self.plane_axes = [a for a in range(3) if a != self.axis]
        self.width, self.height = (self.dims[a] for a in self.plane_axes)
        if (slot.get("width", self.width), slot.get("height", self.height)) != (self.width, self.height):
            raise InvalidArgument(f"{file_name}: its slot's frames are {slot.get('width')}×{slot.get('height')} but its "
                                  f"volume's are {self.width}×{self.height} (width × height)")
        self.turn = ornt_transform(io_orientation(self.affine), io_orientation(grid_ras))
        placed_shape = tuple(apply_orientation(np.empty(self.dims, dtype=bool), self.turn).shape)
        placed_affine = self.affine @ inv_ornt_aff(self.turn, self.dims)
        offset = float(np.abs(placed_affine - grid_ras).max())
        if placed_shape != grid.shape[::-1] or offset > min(np.linalg.norm(grid_ras[:3, :3], axis=0)):
            raise InvalidArgument(
                f"{file_name}: it labels a volume of {describe_grid(self.dims[::-1], LPS_TO_RAS @ self.affine)}, not the "
                f"item's {describe_grid(grid.shape, grid.affine)}; import the file V7 exported for this scan")
        if offset > AFFINE_TOLERANCE_MM:
            warnings.append(f"{file_name}: its volume lies up to {offset:.3g} mm from the item's grid (the scan as V7 read "
                            "it); labels are placed voxel for voxel")

    def check_frame(self, frame: int, name: str) -> None:
        if not 0 <= frame < self.dims[self.axis]:
            raise InvalidArgument(f"{self.file_name}: annotation {name!r} is on frame {frame}, but the item has "
                                  f"{self.dims[self.axis]} frames (0 to {self.dims[self.axis] - 1})")

    def frame_of(self, classes: dict[str, np.ndarray | None], name: str, frame: int) -> np.ndarray:
        """Class `name`'s mask on `frame` as a (y, x) view, writable; the class's array is made when first needed."""
        if classes.get(name) is None:
            classes[name] = np.zeros(self.dims, dtype=bool)
        return np.moveaxis(classes[name], self.axis, 2)[:, :, frame].T

    def fill(self, polygon: dict) -> np.ndarray:
        """A polygon's pixels on one frame, (y, x): its paths by the even-odd rule, their outlines included."""
        paths = polygon["paths"] if "paths" in polygon else [polygon["path"]]
        inside = np.zeros((self.height, self.width), dtype=bool)
        outline = np.zeros_like(inside)
        for path in paths:
            xy = np.array([[float(point["x"]), float(point["y"])] for point in path]).reshape(-1, 2)
            if self.spacing is not None:
                xy = np.floor(xy / [self.spacing[a] for a in self.plane_axes] + _FLOOR_ALLOWANCE)
            xy = np.rint(np.clip(xy, 0, [self.width - 1, self.height - 1])).astype(int)
            area = np.zeros_like(inside)
            area[polygon_pixels(xy[:, 1], xy[:, 0], shape=inside.shape)] = True
            inside ^= area
            for (x0, y0), (x1, y1) in zip(xy, np.roll(xy, -1, axis=0)):
                outline[line(y0, x0, y1, x1)] = True
        return inside | outline

    def on_grid(self, mask: np.ndarray) -> np.ndarray:
        """A mask on the file's [x, y, z] array as a [k, j, i] mask on the item's grid."""
        return np.ascontiguousarray(apply_orientation(mask, self.turn).transpose(2, 1, 0))


def _paint_raster(raster: dict, frame: int, layout: _Layout, mask_names: dict, classes: dict, warnings: list[str]) -> None:
    runs = np.asarray(raster["dense_rle"], dtype=np.int64).reshape(-1, 2)
    if (runs[:, 1] < 0).any() or runs[:, 1].sum() != layout.width * layout.height:
        raise InvalidArgument(f"{layout.file_name}: the raster layer of frame {frame} covers {runs[:, 1].sum()} pixels, "
                              f"not the frame's {layout.width}×{layout.height}")
    pixels = np.repeat(runs[:, 0], runs[:, 1]).reshape(layout.height, layout.width)
    mapping = raster.get("mask_annotation_ids_mapping") or {}
    for mask_id, number in mapping.items():
        if mask_id not in mask_names:
            warnings.append(f"{layout.file_name}: frame {frame}'s raster layer has mask {mask_id}, which no mask "
                            "annotation names; its pixels are skipped")
            continue
        layout.frame_of(classes, mask_names[mask_id], frame)[...] |= pixels == int(number)
    unnamed = sorted(set(np.unique(pixels[pixels != 0]).tolist()) - {int(n) for n in mapping.values()})
    if unnamed:
        warnings.append(f"{layout.file_name}: frame {frame}'s raster layer has values {unnamed} that no mask is mapped to; "
                        "skipped")


def _frames(annotation: dict) -> list[tuple[int, dict]]:
    """(frame, entry) pairs: a frame-keyed annotation's frames, or the annotation itself on frame 0."""
    if "frames" in annotation:
        return sorted((int(frame), entry) for frame, entry in annotation["frames"].items())
    return [(0, annotation)]


def _v7_layout(labels: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A [k, j, i] array as V7 holds it, [x, y, z] reoriented to LPI (a single slice as it is), with its RAS affine."""
    array, ras = labels.transpose(2, 1, 0), LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    if labels.shape[0] == 1:
        return array, ras
    turn = ornt_transform(io_orientation(ras), _LPI)
    return apply_orientation(array, turn), ras @ inv_ornt_aff(turn, array.shape)


def _dense_rle(pixels: np.ndarray) -> list[int]:
    """Darwin's dense RLE of a frame: [value, run length, value, run length, …] over its pixels row by row."""
    flat = pixels.ravel()
    starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [flat.size])))
    return np.column_stack((flat[starts].astype(np.int64), lengths)).ravel().tolist()


def _ranges(frames: list[int]) -> list[list[int]]:
    """Runs of consecutive frames as [first, last + 1] pairs, as V7 writes an annotation's ranges."""
    ranges: list[list[int]] = []
    for frame in frames:
        if ranges and ranges[-1][1] == frame:
            ranges[-1][1] = frame + 1
        else:
            ranges.append([frame, frame + 1])
    return ranges


def _matrix(value) -> np.ndarray:
    """A 4×4 affine as V7 writes one: a list of rows (of numbers or strings) or the same as a JSON string."""
    matrix = np.array(json.loads(value) if isinstance(value, str) else value, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ValueError(f"an affine is 4×4; this one is {matrix.shape}")
    return matrix


def _source_file(item_name: str) -> str:
    """The slot's file: the item's name when it is a scan's file name, else that name as a DICOM file."""
    return item_name if item_name.lower().endswith((".dcm", ".nii", ".nii.gz")) else f"{item_name}.dcm"
