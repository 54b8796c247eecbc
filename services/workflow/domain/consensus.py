"""Consensus of independent readers: their agreement per class, the labels they merge into, their matched 2-D shapes."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import NamedTuple

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from skimage.draw import polygon as raster_polygon
from skimage.measure import approximate_polygon, find_contours

from shared import agreement as measure
from shared.errors import InvalidArgument

METHODS = ("staple", "majority", "champion")
STAPLE_CUT = 0.5  # a voxel joins a class whose STAPLE probability exceeds this
_HIGHER_IS_BETTER = ("dice", "iou", "surface_dice")  # the measures a class's agreement has a minimum for

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), x0 ≤ x1 and y0 ≤ y1
Polygon = Sequence[tuple[float, float]]  # (x, y) vertices in pixels


@dataclass(frozen=True)
class Measures:
    """How two readers' masks of one class agree (distances in mm).

    `volume_difference` is |V₁ − V₂| divided by the smaller volume: the larger of `shared.agreement`'s relative
    volume difference taken both ways, so a pair has one value whichever reader comes first.
    """

    dice: float
    iou: float
    surface_dice: float
    hd95_mm: float
    assd_mm: float
    volume_difference: float


@dataclass(frozen=True)
class ClassThresholds:
    """The limits a class's agreement must meet, each named `min_`/`max_` + a `Measures` field; None checks nothing."""

    min_dice: float | None = None
    min_iou: float | None = None
    min_surface_dice: float | None = None
    max_hd95_mm: float | None = None
    max_assd_mm: float | None = None
    max_volume_difference: float | None = None


@dataclass(frozen=True)
class Thresholds:
    """The limits per class value: `per_class` where it names the class, else `default`."""

    default: ClassThresholds = ClassThresholds(min_dice=0.8)
    per_class: Mapping[int, ClassThresholds] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_limits(self.default, "every class (the default)")
        for value, limits in self.per_class.items():
            if not _whole(value) or value < 1:
                raise InvalidArgument(f"thresholds are set per class value, a whole number ≥ 1 (0 is the "
                                      f"background); got {value!r}")
            _check_limits(limits, f"class {value}")

    def for_class(self, value: int) -> ClassThresholds:
        return self.per_class.get(value, self.default)


@dataclass(frozen=True)
class Shortfall:
    """One measure of one class that missed its limit, and by how much."""

    measure: str  # a `Measures` field
    value: float
    limit: float

    @property
    def by(self) -> float:
        return abs(self.value - self.limit)

    def __str__(self) -> str:
        side = "below the minimum" if self.measure in _HIGHER_IS_BETTER else "above the maximum"
        return f"{self.measure} {self.value:.3g} is {side} {self.limit:.3g} by {self.by:.3g}"


@dataclass(frozen=True)
class ClassAgreement:
    """One class's agreement: every reader pair's measures, their mean, and what the mean missed.

    A class no reader drew is not judged (`mean` None, no pairs, no shortfalls): nobody disputes it. A class only
    some readers drew is judged, and each pair with one empty mask scores Dice 0 and infinite HD95, ASSD and volume
    difference, so it fails every limit set on those measures.
    """

    value: int
    pairs: Mapping[tuple[str, str], Measures]
    mean: Measures | None
    shortfalls: tuple[Shortfall, ...]

    @property
    def judged(self) -> bool:
        return self.mean is not None

    @property
    def agreed(self) -> bool:
        return not self.shortfalls


class ScoredBox(NamedTuple):
    """A box a reader drew (or fusion made) and its confidence in [0, 1]."""

    box: Box
    score: float


def agreement(readers: Mapping[str, np.ndarray], spacing: Sequence[float], classes: Sequence[int], tolerance_mm: float,
              thresholds: Thresholds | None = None) -> dict[int, ClassAgreement]:
    """Per class value, every pair of readers' measures, their mean over pairs, and the shortfalls of that mean
    against `thresholds` (default: `Thresholds()`); surface Dice counts surfaces within `tolerance_mm` of each other.

    `readers` maps a reader id to its label volume (class values, 0 background) on one grid of `spacing` mm per
    axis. Each class is measured on the box holding every reader's voxels of it, which holds every surface voxel,
    so the result is exact and the cost follows the structures' size rather than the volume's.
    """
    readers, shape = _check_readers(readers, minimum=2)
    spacing = _check_spacing(spacing, len(shape))
    if not (_number(tolerance_mm) and 0 <= tolerance_mm < math.inf):
        raise InvalidArgument(f"the surface Dice tolerance is a distance in mm ≥ 0; got {tolerance_mm!r}")
    classes = _check_classes(classes)
    thresholds = thresholds or Thresholds()
    boxes = _union(*(_class_boxes(labels, classes) for labels in readers.values()))
    ids = list(readers)
    found = {}
    for value in classes:
        if (box := boxes.get(value)) is None:
            found[value] = ClassAgreement(value, {}, None, ())
            continue
        masks = [labels[box] == value for labels in readers.values()]
        surfaces = measure.surface_agreements(masks, tolerance_mm, spacing)  # each reader's surface found once
        pairs = {(ids[first], ids[second]): _measures(masks[first], masks[second], surface)
                 for (first, second), surface in surfaces.items()}
        mean = Measures(**{name.name: float(np.mean([getattr(m, name.name) for m in pairs.values()]))
                           for name in fields(Measures)})
        found[value] = ClassAgreement(value, pairs, mean, _shortfalls(mean, thresholds.for_class(value)))
    return found


def merge(readers: Mapping[str, np.ndarray], method: str, classes: Sequence[int], champion: str | None = None,
          spacing: Sequence[float] | None = None) -> np.ndarray:
    """One label volume from the readers' (values outside `classes` count as background).

    - "staple": per class, STAPLE (Warfield et al. 2004, SimpleITK) on the readers' masks of it, over the box
      holding every reader's voxels of the class; a voxel takes the class whose probability is highest, if that
      exceeds 0.5. STAPLE's prior is the share of foreground in that box, not in the whole volume, so a small
      structure in a large scan is not drowned by background. `spacing` (mm per axis) goes to SimpleITK's images.
    - "majority": each voxel takes the label most readers gave it, background counted as a label; where two or more
      labels tie for most, background (a tie is no majority, and background adds nothing a reviewer must undo).
    - "champion": the `champion` reader's labels.
    """
    readers, shape = _check_readers(readers, minimum=1)
    classes = _check_classes(classes)
    if method not in METHODS:
        raise InvalidArgument(f"unknown merge method {method!r}; choose one of {', '.join(METHODS)}")
    if (method == "champion") != (champion is not None):
        raise InvalidArgument("name a champion reader with method 'champion', and only then")
    if method == "champion":
        if champion not in readers:
            raise InvalidArgument(f"champion {champion!r} is not one of the readers ({', '.join(readers)})")
        labels = readers[champion]
        return np.where(np.isin(labels, classes), labels, 0).astype(labels.dtype)
    boxes = _union(*(_class_boxes(labels, classes) for labels in readers.values()))
    merged = np.zeros(shape, np.result_type(*readers.values()))
    if method == "majority":
        return _majority(readers, boxes, merged)
    spacing = _check_spacing((1.0,) * len(shape) if spacing is None else spacing, len(shape))
    return _staple(readers, boxes, merged, spacing)


def reader_scores(readers: Mapping[str, np.ndarray], merged: np.ndarray, classes: Sequence[int],
                  spacing: Sequence[float], tolerance_mm: float) -> dict[str, dict[int, Measures]]:
    """Each reader's agreement with the merged labels, per class that the reader or the merged labels hold (a class
    neither holds has nothing to score, and scoring it perfect would flatter the reader)."""
    readers, shape = _check_readers(readers, minimum=1)
    merged = np.asarray(merged)
    if merged.shape != shape or not np.issubdtype(merged.dtype, np.integer):
        raise InvalidArgument(f"the merged labels ({merged.dtype}, shape {merged.shape}) must be whole class values "
                              f"on the readers' grid {shape}")
    spacing = _check_spacing(spacing, len(shape))
    classes = _check_classes(classes)
    held = _class_boxes(merged, classes)
    scores = {}
    for reader, labels in readers.items():
        boxes = _union(_class_boxes(labels, classes), held)
        scores[reader] = {}
        for value, box in sorted(boxes.items()):
            mine, result = labels[box] == value, merged[box] == value
            surface = measure.surface_agreement(mine, result, tolerance_mm, spacing)
            scores[reader][value] = _measures(mine, result, surface)
    return scores


def match_boxes(a: Sequence[Box], b: Sequence[Box], min_iou: float = 0.0) -> list[tuple[int, int, float]]:
    """Pairs (index in a, index in b, IoU) matching each box to at most one other so that the sum of IoUs is
    highest (the Hungarian method); pairs with IoU ≤ `min_iou` are not matches."""
    return _match(_box_ious(_box_array(a), _box_array(b)), min_iou)


def match_polygons(a: Sequence[Polygon], b: Sequence[Polygon], min_iou: float = 0.0) -> list[tuple[int, int, float]]:
    """`match_boxes` for polygons, their IoU measured on the pixels they cover (rasterised on the pair's
    bounding box)."""
    a, b = [_vertices(shape) for shape in a], [_vertices(shape) for shape in b]
    ious = np.zeros((len(a), len(b)))
    for (i, first), (j, second) in itertools.product(enumerate(a), enumerate(b)):
        ious[i, j] = _polygon_iou(first, second)
    return _match(ious, min_iou)


def fuse_boxes(readers: Mapping[str, Sequence[ScoredBox]], iou_threshold: float = 0.55) -> list[ScoredBox]:
    """Weighted boxes fusion (Solovyev et al. 2019) of the readers' boxes, most confident first.

    Boxes are taken most confident first; each joins the cluster whose fused box it overlaps most with IoU above
    `iou_threshold`, or starts a cluster. A cluster's fused box is its boxes' confidence-weighted mean corners,
    its confidence their mean confidence × min(boxes, readers) / readers: a box few readers drew counts for less.
    """
    if not 0 <= iou_threshold <= 1:
        raise InvalidArgument(f"the fusion IoU threshold lies in [0, 1]; got {iou_threshold!r}")
    drawn = [(box, score) for boxes in readers.values() for box, score in boxes]
    corners, scores = _box_array([box for box, _ in drawn]), np.array([score for _, score in drawn], dtype=float)
    if not ((scores >= 0) & (scores <= 1)).all():
        raise InvalidArgument("box confidences lie in [0, 1]")
    clusters: list[list[int]] = []  # indices into corners and scores
    fused: list[np.ndarray] = []
    for drawn_at in np.argsort(-scores, kind="stable"):
        overlaps = _box_ious(corners[drawn_at][None], np.array(fused).reshape(-1, 4))[0]
        if overlaps.size and overlaps.max() > iou_threshold:
            joined = int(overlaps.argmax())
            clusters[joined].append(drawn_at)
            weights = scores[clusters[joined]]
            fused[joined] = np.average(corners[clusters[joined]], axis=0, weights=weights if weights.sum() else None)
        else:
            clusters.append([drawn_at])
            fused.append(corners[drawn_at])
    results = [ScoredBox(tuple(float(c) for c in box),
                         float(scores[members].mean()) * min(len(members), len(readers)) / len(readers))
               for box, members in zip(fused, clusters)]
    return sorted(results, key=lambda scored: -scored.score)


def _measures(a: np.ndarray, b: np.ndarray, surface: measure.SurfaceAgreement) -> Measures:
    return Measures(
        dice=measure.dice(a, b), iou=measure.iou(a, b), surface_dice=surface.surface_dice,
        hd95_mm=surface.hd95, assd_mm=surface.assd,
        volume_difference=max(abs(measure.volume_difference(a, b)), abs(measure.volume_difference(b, a))),
    )


def _shortfalls(mean: Measures, limits: ClassThresholds) -> tuple[Shortfall, ...]:
    missed = []
    for limit in fields(ClassThresholds):
        bound = getattr(limits, limit.name)
        if bound is None:
            continue
        side, name = limit.name.split("_", 1)
        value = getattr(mean, name)
        if (value < bound) if side == "min" else (value > bound):
            missed.append(Shortfall(name, value, bound))
    return tuple(missed)


def _check_limits(limits: ClassThresholds, where: str) -> None:
    for limit in fields(ClassThresholds):
        bound = getattr(limits, limit.name)
        if bound is None:
            continue
        if limit.name.removeprefix("min_") in _HIGHER_IS_BETTER:
            if not (_number(bound) and 0 <= bound <= 1):
                raise InvalidArgument(f"{limit.name} for {where} is a share in [0, 1]; got {bound!r}")
        elif not (_number(bound) and 0 <= bound < math.inf):
            unit = "a distance in mm" if limit.name.endswith("_mm") else "a fraction of the volume"
            raise InvalidArgument(f"{limit.name} for {where} is {unit}, finite and ≥ 0 (leave it unset for no "
                                  f"limit); got {bound!r}")


def _number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _whole(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_readers(readers: Mapping[str, np.ndarray], minimum: int) -> tuple[dict[str, np.ndarray], tuple[int, ...]]:
    """The readers' labels as arrays and their common shape, once there are enough readers, on one grid, with
    whole class values."""
    if len(readers) < minimum:
        raise InvalidArgument(f"this needs at least {minimum} readers' labels; got {len(readers)}")
    arrays = {reader: np.asarray(labels) for reader, labels in readers.items()}
    shapes = {reader: labels.shape for reader, labels in arrays.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{reader} {shape}" for reader, shape in shapes.items())
        raise InvalidArgument(f"readers' labels must share one grid; their shapes differ: {listed}")
    for reader, labels in arrays.items():
        if not np.issubdtype(labels.dtype, np.integer):
            raise InvalidArgument(f"{reader}'s labels are {labels.dtype}; labels are whole class values")
    return arrays, next(iter(shapes.values()))


def _check_spacing(spacing: Sequence[float], axes: int) -> tuple[float, ...]:
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != axes or not all(0 < s < math.inf for s in spacing):
        raise InvalidArgument(f"spacing gives one positive size in mm per axis of the labels ({axes}); got {spacing}")
    return spacing


def _check_classes(classes: Sequence[int]) -> list[int]:
    if any(not _whole(value) or value < 1 for value in classes):
        raise InvalidArgument(f"classes are label values, whole numbers ≥ 1 (0 is the background); "
                              f"got {list(classes)}")
    return sorted({int(value) for value in classes})


def _class_boxes(labels: np.ndarray, classes: list[int]) -> dict[int, tuple[slice, ...]]:
    """The box holding each class's voxels, for the classes the labels hold."""
    objects = ndimage.find_objects(labels, max_label=max(classes, default=0))  # one pass for every class
    return {value: objects[value - 1] for value in classes if objects[value - 1] is not None}


def _union(*boxes: dict[int, tuple[slice, ...]]) -> dict[int, tuple[slice, ...]]:
    """Per class, the box holding all of the given boxes of it."""
    joined: dict[int, tuple[slice, ...]] = {}
    for found in boxes:
        for value, box in found.items():
            held = joined.get(value, box)
            joined[value] = tuple(slice(min(a.start, b.start), max(a.stop, b.stop)) for a, b in zip(held, box))
    return joined


def _majority(readers: Mapping[str, np.ndarray], boxes: dict[int, tuple[slice, ...]], merged: np.ndarray) -> np.ndarray:
    count = np.min_scalar_type(len(readers))
    most = np.zeros(merged.shape, count)  # votes of the leading class so far
    tied = np.zeros(merged.shape, bool)
    drawn = np.zeros(merged.shape, count)  # votes for any class: the rest went to background
    for value, box in boxes.items():
        votes = sum((labels[box] == value).astype(count) for labels in readers.values())
        ahead, level = votes > most[box], (votes == most[box]) & (votes > 0)
        merged[box][ahead], most[box][ahead] = value, votes[ahead]
        tied[box] = (tied[box] & ~ahead) | level
        drawn[box] += votes
    merged[tied | (most <= len(readers) - drawn)] = 0
    return merged


def _staple(readers: Mapping[str, np.ndarray], boxes: dict[int, tuple[slice, ...]], merged: np.ndarray,
            spacing: tuple[float, ...]) -> np.ndarray:
    best = np.zeros(merged.shape, np.float32)  # the winning class's probability so far; untouched pages cost no memory
    for value, box in boxes.items():
        images = []
        for labels in readers.values():
            image = sitk.GetImageFromArray((labels[box] == value).astype(np.uint8))
            image.SetSpacing(spacing[::-1])  # SimpleITK orders axes (i, j, k)
            images.append(image)
        staple = sitk.STAPLEImageFilter()
        staple.SetForegroundValue(1)
        probability = sitk.GetArrayFromImage(staple.Execute(images)).astype(np.float32)
        # Where every reader's mask fills the box, STAPLE has no background to rate them on and returns NaN:
        # the readers' mean vote stands there.
        if (unrated := np.isnan(probability)).any():
            probability[unrated] = np.mean([labels[box] == value for labels in readers.values()], axis=0)[unrated]
        wins = probability > np.maximum(best[box], STAPLE_CUT)
        merged[box][wins], best[box][wins] = value, probability[wins]
    return merged


def _box_array(boxes: Sequence[Box]) -> np.ndarray:
    if any(len(box) != 4 for box in boxes):
        raise InvalidArgument("a box is four numbers (x0, y0, x1, y1)")
    array = np.asarray(boxes, dtype=float).reshape(-1, 4)
    wrong = np.flatnonzero(~np.isfinite(array).all(axis=1) | (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))
    if wrong.size:
        raise InvalidArgument(f"box {tuple(array[wrong[0]])} is not (x0, y0, x1, y1) with x0 ≤ x1 and y0 ≤ y1")
    return array


def _box_ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a with every box in b; 0 for two boxes of no area."""
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    overlap = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def _vertices(shape: Polygon) -> np.ndarray:
    vertices = np.asarray(shape, dtype=float)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3 or not np.isfinite(vertices).all():
        raise InvalidArgument(f"a polygon is three or more (x, y) vertices; got {np.asarray(shape).tolist()!r}")
    return vertices


def _polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    if (np.maximum(a.min(axis=0), b.min(axis=0)) > np.minimum(a.max(axis=0), b.max(axis=0))).any():
        return 0.0  # bounding boxes apart: nothing to rasterise
    low = np.floor(np.minimum(a.min(axis=0), b.min(axis=0)))
    high = np.ceil(np.maximum(a.max(axis=0), b.max(axis=0)))
    size = (int(high[1] - low[1]) + 1, int(high[0] - low[0]) + 1)
    masks = []
    for vertices in (a, b):
        mask = np.zeros(size, bool)
        mask[raster_polygon(vertices[:, 1] - low[1], vertices[:, 0] - low[0], size)] = True
        masks.append(mask)
    return measure.iou(*masks) if masks[0].any() or masks[1].any() else 0.0  # two empty masks are not a match


def _match(ious: np.ndarray, min_iou: float) -> list[tuple[int, int, float]]:
    if not 0 <= min_iou < 1:
        raise InvalidArgument(f"min_iou lies in [0, 1); got {min_iou!r}")
    rows, columns = linear_sum_assignment(ious, maximize=True)
    return [(int(i), int(j), float(ious[i, j])) for i, j in zip(rows, columns) if ious[i, j] > min_iou]


# ---- 2-D shapes ------------------------------------------------------------------------------------------------

BOX, OUTLINE = "box", "polygon"
# (BOX or OUTLINE, label value, plane, slice index) → a reader's boxes (ScoredBox) or polygons' outer rings there
Instances = dict[tuple[str, int, int, int], list]
_MATCHES = {BOX: lambda mine, theirs: match_boxes([s.box for s in mine], [s.box for s in theirs]),
            OUTLINE: match_polygons}


@dataclass(frozen=True)
class ShapeAgreement:
    """A class's shape agreement over every pair of readers: the mean pair IoU (matched IoUs over the larger instance
    count, per slice), each reader's instances drawn and matched by every other reader, and the IoU limit missed."""

    iou: float
    drawn: dict[str, int]
    matched: dict[str, int]
    shortfall: Shortfall | None


def shape_agreement(drawn: Mapping[str, Instances], value: int, min_iou: float | None) -> ShapeAgreement:
    """How the readers' shapes of class `value` agree, judged against `min_iou` (None: not judged)."""
    pair_ious, matched_by = [], {reader: Counter() for reader in drawn}
    for first, second in itertools.combinations(drawn, 2):
        total, count, first_matched, second_matched = _matched(drawn[first], drawn[second], value)
        pair_ious.append(total / count if count else 1.0)
        matched_by[first].update(first_matched)
        matched_by[second].update(second_matched)
    iou = float(np.mean(pair_ious)) if pair_ious else 0.0
    return ShapeAgreement(
        iou=iou,
        drawn={reader: sum(len(shapes) for key, shapes in drawn[reader].items() if key[1] == value) for reader in drawn},
        matched={reader: sum(1 for others in matched_by[reader].values() if others == len(drawn) - 1) for reader in drawn},
        shortfall=Shortfall("iou", iou, min_iou) if min_iou is not None and iou < min_iou else None)


def fuse_readers(drawn: Mapping[str, Instances]) -> list[tuple[tuple[int, int, int], tuple[float, ...], float]]:
    """Every reader's boxes fused per class and slice (weighted box fusion: a box fewer readers drew scores less), as
    ((label value, plane, slice index), box, score)."""
    return _per_place(drawn, BOX, fuse_boxes)


def fuse_polygons(readers: Mapping[str, Sequence[Polygon]]) -> list[tuple[np.ndarray, float]]:
    """The readers' polygons on one slice merged by majority: the pixels more than half of the readers cover (a tie is
    no majority, as in `merge`'s majority), traced back into one outline per connected region; each as ((x, y)
    vertices, the mean share of readers covering its pixels)."""
    drawn = {reader: [_vertices(shape) for shape in shapes] for reader, shapes in readers.items()}
    every = [vertices for shapes in drawn.values() for vertices in shapes]
    if not every or not readers:
        return []
    low = np.floor(np.min([vertices.min(axis=0) for vertices in every], axis=0)) - 1
    high = np.ceil(np.max([vertices.max(axis=0) for vertices in every], axis=0)) + 1
    size = (int(high[1] - low[1]) + 1, int(high[0] - low[0]) + 1)
    votes = np.zeros(size, np.int32)
    for shapes in drawn.values():
        covered = np.zeros(size, bool)
        for vertices in shapes:
            covered[raster_polygon(vertices[:, 1] - low[1], vertices[:, 0] - low[0], size)] = True
        votes += covered
    regions, count = ndimage.label(2 * votes > len(readers))
    fused = []
    for region in range(1, count + 1):
        inside = regions == region
        if inside.sum() < 3:
            continue  # a sliver no outline can hold
        outline = max(find_contours(np.pad(inside, 1).astype(float), 0.5), key=len)
        traced = approximate_polygon(outline, tolerance=0.5)[:-1] - 1  # (row, column); the closing vertex repeats
        if len(traced) >= 3:
            fused.append((traced[:, ::-1] + low, float(votes[inside].mean() / len(readers))))
    return fused


def fuse_readers_polygons(drawn: Mapping[str, Instances]) -> list[tuple[tuple[int, int, int], np.ndarray, float]]:
    """Every reader's polygons merged per class and slice (`fuse_polygons`), as ((label value, plane, slice index),
    vertices, share of readers)."""
    return _per_place(drawn, OUTLINE, fuse_polygons)


def _per_place(drawn: Mapping[str, Instances], kind: str, fuse) -> list[tuple]:
    """`fuse` applied to the readers' shapes of `kind` at each (class, plane, slice), as (place, shape, score)."""
    places = sorted({key for instances in drawn.values() for key in instances if key[0] == kind})
    return [((value, plane, index), shape, score) for _kind, value, plane, index in places
            for shape, score in fuse({reader: instances.get((kind, value, plane, index), [])
                                      for reader, instances in drawn.items()})]


def shape_score(boxes: Instances, merged: Instances) -> float:
    """A reader's boxes against the merged ones: the matched IoU per class of boxes either holds, mean over classes."""
    mine = {key: shapes for key, shapes in boxes.items() if key[0] == BOX}
    scores = []
    for value in sorted({key[1] for key in (*mine, *merged)}):
        total, count, _, _ = _matched(mine, merged, value)
        scores.append(total / count)
    return float(np.mean(scores)) if scores else 0.0


def _matched(first: Instances, second: Instances, value: int) -> tuple[float, int, set, set]:
    """Two readings' shapes of a class matched one to one per slice and kind (Hungarian on IoU): the matched IoUs'
    sum, the sum over slices of the larger instance count, and each side's matched instances."""
    total, count, first_matched, second_matched = 0.0, 0, set(), set()
    for key in sorted({key for key in (*first, *second) if key[1] == value}):
        mine, theirs = first.get(key, []), second.get(key, [])
        if mine and theirs:
            for i, j, iou in _MATCHES[key[0]](mine, theirs):
                total += iou
                first_matched.add((key, i))
                second_matched.add((key, j))
        count += max(len(mine), len(theirs))
    return total, count, first_matched, second_matched
