"""Shapes an annotator draws on one slice (box, ellipse, polygon with holes, polyline, keypoint): checks and masks.

Coordinates are (x, y) = (column, row) of the slice in continuous voxel units, the centre of voxel 0 at 0.0, so the
slice covers -0.5 to columns - 0.5 across and -0.5 to rows - 0.5 down (the outer voxels' edges). A slice of a plane
holds one array axis of the [k, j, i] volume fixed (`shared.grid.plane_axis`); its rows and columns are the other two
axes in order. Edges and vertices are numbered from 0 as given: edge n joins vertex n to vertex n + 1 (the last
edge closes the ring); holes are numbered from 0 too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from skimage.draw import ellipse as draw_ellipse
from skimage.draw import polygon as draw_polygon
from skimage.measure import points_in_poly

from radlab.quoting import shown
from shared.errors import InvalidArgument
from shared.grid import PLANES

Point = tuple[float, float]
Ring = list[Point]
# Drawn points may land exactly on the slice's edge; a rounding error past it is not a point off the image.
_EDGE_SLACK = 1e-6
# The most vertices one polygon may have, all rings together: a traced outline of a whole 1024×1024 slice has fewer,
# and a self-crossing check of a zig-zag this long still ends in seconds.
MAX_VERTICES = 20_000
_PAIRS_PER_BATCH = 1 << 20


@dataclass(frozen=True)
class SliceShape:
    """What every shape is drawn on: a plane ("axial", "coronal" or "sagittal") and a slice index along its axis."""

    plane: str = field(kw_only=True)
    slice_index: int = field(kw_only=True)


@dataclass(frozen=True)
class Box(SliceShape):
    """An axis-aligned rectangle from its left-top corner (x0, y0) to its right-bottom corner (x1, y1)."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Ellipse(SliceShape):
    """An ellipse centred at (x, y) with radii rx and ry; the rx axis points `angle` radians from +x towards +y."""

    x: float
    y: float
    rx: float
    ry: float
    angle: float = 0.0


@dataclass(frozen=True)
class Polygon(SliceShape):
    """An outer ring with holes; each ring a list of (x, y) vertices, closed implicitly (a repeated first vertex
    at the end is allowed)."""

    outer: Ring
    holes: list[Ring] = field(default_factory=list)


@dataclass(frozen=True)
class Polyline(SliceShape):
    """An open path through `points` (a line is a polyline of two points)."""

    points: list[Point]


@dataclass(frozen=True)
class Keypoint(SliceShape):
    """One point, e.g. a landmark."""

    x: float
    y: float


Shape = Box | Ellipse | Polygon | Polyline | Keypoint
_KIND = {Box: "box", Ellipse: "ellipse", Polygon: "polygon", Polyline: "polyline", Keypoint: "keypoint"}


def validate(shape: Shape, slice_shape: tuple[int, int]) -> None:
    """Refuse (InvalidArgument, naming the shape, its slice and what to fix) a shape that is not drawable on a slice
    of `slice_shape` (rows, columns): non-finite or off-slice coordinates, rings of fewer than 3 distinct vertices,
    rings whose edges cross or touch, holes not inside the outer ring (or inside another hole), empty boxes and
    ellipses, polylines of fewer than 2 distinct points."""
    kind = _KIND.get(type(shape))
    if kind is None:
        raise InvalidArgument(f"{type(shape).__name__} is not a shape; "
                              "draw a box, ellipse, polygon, polyline or keypoint")
    where = _place(kind, shape)
    rows, columns = (int(n) for n in slice_shape)
    if rows < 1 or columns < 1:
        raise InvalidArgument(f"{where}: the slice is {rows}×{columns}; it has no pixels to draw on")
    if isinstance(shape, Box):
        _validate_box(shape, rows, columns, where)
    elif isinstance(shape, Ellipse):
        _validate_ellipse(shape, rows, columns, where)
    elif isinstance(shape, Polygon):
        _validate_polygon(shape, rows, columns, where)
    elif isinstance(shape, Polyline):
        points = _points(shape.points, "point", rows, columns, where)
        if len(np.unique(points, axis=0)) < 2:
            raise InvalidArgument(f"{where}: a polyline needs at least 2 distinct points")
    else:
        _points([(shape.x, shape.y)], "the point", rows, columns, where)


def rasterize(shape: Box | Ellipse | Polygon, slice_shape: tuple[int, int]) -> np.ndarray:
    """The shape as a boolean mask of `slice_shape` (rows, columns), after `validate`.

    Pixel-centre rule: pixel (row r, column c) is in the mask when its centre (x = c, y = r) lies inside the shape.
    A centre exactly on the boundary counts as inside for boxes and polygons' outer rings, and as outside for
    ellipses and for polygons' holes (a hole takes its boundary with it), as skimage.draw decides it.
    """
    validate(shape, slice_shape)
    rows, columns = (int(n) for n in slice_shape)
    mask = np.zeros((rows, columns), dtype=bool)
    if isinstance(shape, Box):
        mask[math.ceil(shape.y0 - _EDGE_SLACK): math.floor(shape.y1 + _EDGE_SLACK) + 1,
             math.ceil(shape.x0 - _EDGE_SLACK): math.floor(shape.x1 + _EDGE_SLACK) + 1] = True
    elif isinstance(shape, Ellipse):
        # skimage turns counter-clockwise in (row, column) as displayed, i.e. from +x towards -y: the opposite sense.
        mask[draw_ellipse(shape.y, shape.x, shape.ry, shape.rx, (rows, columns), rotation=-shape.angle)] = True
    elif isinstance(shape, Polygon):
        mask[_ring_pixels(shape.outer, rows, columns)] = True
        for hole in shape.holes:
            mask[_ring_pixels(hole, rows, columns)] = False
    else:
        kind = _KIND[type(shape)]
        raise InvalidArgument(f"{_place(kind, shape)}: a {kind} encloses no area; "
                              "only boxes, ellipses and polygons become masks")
    return mask


def _place(kind: str, shape: SliceShape) -> str:
    """Where a shape is, as messages name it ("polygon on axial slice 12"); refused when its plane or slice index is
    not one there can be."""
    if shape.plane not in PLANES:
        raise InvalidArgument(f"{kind} on plane {shown(shape.plane)}: choose one of {', '.join(PLANES)}")
    index = shape.slice_index
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise InvalidArgument(f"{kind} on {shape.plane} slice {shown(index)}: "
                              "the slice index must be a whole number ≥ 0")
    return f"{kind} on {shape.plane} slice {index}"


def _points(points, what: str, rows: int, columns: int, where: str, of: str = "") -> np.ndarray:
    """`points` as an (n, 2) float array, refused when not (x, y) pairs, not finite, or off the slice; a message
    names the point as "{what} {index}{of}" ("vertex 4 of hole 1")."""
    try:
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{where}: give each {what} as an (x, y) pair of numbers") from None
    if array.size != 2 * len(points):
        raise InvalidArgument(f"{where}: give each {what} as an (x, y) pair of numbers")
    finite = np.isfinite(array).all(axis=1)
    last = np.array([columns, rows]) - 0.5
    inside = ((array >= -0.5 - _EDGE_SLACK) & (array <= last + _EDGE_SLACK)).all(axis=1)
    wrong = np.flatnonzero(~finite | ~inside)
    if len(wrong):
        index = int(wrong[0])
        x, y = array[index]
        label = what if what.startswith("the ") else f"{what} {index}{of}"
        if not finite[index]:
            raise InvalidArgument(f"{where}: {label} ({x}, {y}) is not a finite position")
        raise InvalidArgument(f"{where}: {label} ({x:g}, {y:g}) is off the {rows}×{columns} slice (x runs from -0.5 "
                              f"to {columns - 0.5:g}, y from -0.5 to {rows - 0.5:g}); keep it on the image")
    return array


def _validate_box(box: Box, rows: int, columns: int, where: str) -> None:
    _points([(box.x0, box.y0), (box.x1, box.y1)], "corner", rows, columns, where)
    if not (box.x0 < box.x1 and box.y0 < box.y1):
        raise InvalidArgument(f"{where}: corner 0 ({box.x0:g}, {box.y0:g}) must be left of and above corner 1 "
                              f"({box.x1:g}, {box.y1:g}); give the left-top corner first and a box of non-zero size")


def _validate_ellipse(ellipse: Ellipse, rows: int, columns: int, where: str) -> None:
    _points([(ellipse.x, ellipse.y)], "the centre", rows, columns, where)
    if not all(math.isfinite(value) for value in (ellipse.rx, ellipse.ry, ellipse.angle)):
        raise InvalidArgument(f"{where}: radii and angle must be finite numbers")
    if ellipse.rx <= 0 or ellipse.ry <= 0:
        raise InvalidArgument(f"{where}: radii ({ellipse.rx:g}, {ellipse.ry:g}) must both be greater than 0")
    cos, sin = math.cos(ellipse.angle), math.sin(ellipse.angle)
    half_width = math.hypot(ellipse.rx * cos, ellipse.ry * sin)
    half_height = math.hypot(ellipse.rx * sin, ellipse.ry * cos)
    corners = [(ellipse.x - half_width, ellipse.y - half_height), (ellipse.x + half_width, ellipse.y + half_height)]
    _points(corners, "bounding-box corner", rows, columns, where)


def _validate_polygon(polygon: Polygon, rows: int, columns: int, where: str) -> None:
    names = ["the outer ring"] + [f"hole {index}" for index in range(len(polygon.holes))]
    total = len(polygon.outer) + sum(len(hole) for hole in polygon.holes)
    if total > MAX_VERTICES:
        raise InvalidArgument(f"{where}: {total} vertices is more than the {MAX_VERTICES} a polygon may have; "
                              "simplify the outline")
    rings = []
    for name, ring in zip(names, [polygon.outer, *polygon.holes]):
        vertices = _points(ring, "vertex", rows, columns, where, of="" if name == names[0] else f" of {name}")
        if len(vertices) > 1 and np.array_equal(vertices[0], vertices[-1]):
            vertices = vertices[:-1]  # a closed ring given with its first vertex repeated
        distinct = len(np.unique(vertices, axis=0))
        if distinct < 3:
            raise InvalidArgument(f"{where}: {name} has {distinct} distinct vertices; a ring needs at least 3")
        rings.append(vertices)
    crossing = _first_crossing(rings)
    if crossing is not None:
        (ring_a, edge_a), (ring_b, edge_b), (x, y) = crossing
        if ring_a == ring_b == 0:
            raise InvalidArgument(f"{where}: edges {edge_a} and {edge_b} cross at ({x:.1f}, {y:.1f}); "
                                  "draw it without crossing edges")
        if ring_a == ring_b:
            raise InvalidArgument(f"{where}: edges {edge_a} and {edge_b} of {names[ring_a]} cross at "
                                  f"({x:.1f}, {y:.1f}); draw it without crossing edges")
        raise InvalidArgument(f"{where}: edge {edge_a} of {names[ring_a]} and edge {edge_b} of {names[ring_b]} meet "
                              f"at ({x:.1f}, {y:.1f}); keep each hole inside the outer ring, clear of it and of the "
                              "other holes")
    outer = rings[0]
    for index, hole in enumerate(rings[1:]):
        if not points_in_poly(hole[:1], outer)[0]:
            raise InvalidArgument(f"{where}: hole {index} lies outside the outer ring; draw holes inside it")
        for other, enclosing in enumerate(rings[1:]):
            if other != index and points_in_poly(hole[:1], enclosing)[0]:
                raise InvalidArgument(f"{where}: hole {index} lies inside hole {other}; "
                                      "draw what is inside a hole as a polygon of its own")


def _first_crossing(rings: list[np.ndarray]) -> tuple[tuple[int, int], tuple[int, int], Point] | None:
    """The first pair of edges (as (ring, edge) each) that cross or touch, other than neighbours meeting at their
    shared vertex, and a point where they meet; None when every ring is simple and no two rings meet.

    Edges are swept in order of their leftmost x, so each meets only the edges whose x range overlaps its own, and
    only pairs whose y ranges overlap too reach the exact test: about n log n for an outline (a 2000-vertex circle
    takes a few ms), quadratic only for shapes like tight spirals, and tested a batch of pairs at a time in numpy.
    """
    starts, ends, labels, following = [], [], [], []
    offset = 0
    for ring_index, ring in enumerate(rings):
        keep = np.any(ring != np.roll(ring, -1, axis=0), axis=1)  # of a run of repeats, the one whose edge leaves
        kept = np.flatnonzero(keep)
        vertices = ring[kept]
        starts.append(vertices)
        ends.append(np.roll(vertices, -1, axis=0))
        labels.extend((ring_index, int(edge)) for edge in kept)
        following.append(offset + (np.arange(len(vertices)) + 1) % len(vertices))
        offset += len(vertices)
    p, q, after = np.concatenate(starts), np.concatenate(ends), np.concatenate(following)
    low, high = np.minimum(p, q), np.maximum(p, q)

    order = np.argsort(low[:, 0], kind="stable")
    reach = np.searchsorted(low[order, 0], high[order, 0], side="right")  # sorted edges i+1 … reach-1 overlap in x
    counts = np.maximum(reach - np.arange(len(order)) - 1, 0)
    found = None
    # Candidate pairs in batches of about _PAIRS_PER_BATCH, so a zig-zag outline costs time, not memory.
    cumulative = np.cumsum(counts)
    batch_ends = np.arange(_PAIRS_PER_BATCH, cumulative[-1], _PAIRS_PER_BATCH)
    cuts = np.searchsorted(cumulative, batch_ends, side="right")
    for block in np.split(np.arange(len(order)), cuts):
        batch = counts[block]
        first = np.repeat(block, batch)
        second = first + 1 + np.arange(batch.sum()) - np.repeat(np.cumsum(batch) - batch, batch)
        a, b = order[first], order[second]
        overlap_y = (low[a, 1] <= high[b, 1]) & (low[b, 1] <= high[a, 1])
        a, b = a[overlap_y], b[overlap_y]
        pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[_meet(p, q, low, high, after, a, b)]
        if len(pairs):
            smallest = tuple(pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))[0]])
            found = smallest if found is None else min(found, smallest)
    if found is None:
        return None
    one, two = (int(edge) for edge in found)
    return labels[one], labels[two], _meeting_point(p[one], q[one], p[two], q[two])


def _meet(p, q, low, high, after, a, b) -> np.ndarray:
    """For each candidate pair of edges (a[n], b[n]), whether they cross or touch other than as neighbours meeting at
    their shared vertex (neighbours are wrong only when one folds back along the other)."""
    side_pb, side_qb = _orientation(p[a], q[a], p[b]), _orientation(p[a], q[a], q[b])
    side_pa, side_qa = _orientation(p[b], q[b], p[a]), _orientation(p[b], q[b], q[a])
    on_a_pb = (side_pb == 0) & _within(p[b], low[a], high[a])
    on_a_qb = (side_qb == 0) & _within(q[b], low[a], high[a])
    on_b_pa = (side_pa == 0) & _within(p[a], low[b], high[b])
    on_b_qa = (side_qa == 0) & _within(q[a], low[b], high[b])
    proper = (side_pb * side_qb < 0) & (side_pa * side_qa < 0)
    b_after_a, a_after_b = after[a] == b, after[b] == a
    return np.where(b_after_a, on_b_pa | on_a_qb,
                    np.where(a_after_b, on_a_pb | on_b_qa, proper | on_a_pb | on_a_qb | on_b_pa | on_b_qa))


def _orientation(origin: np.ndarray, towards: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The sign of the turn origin → towards → point: 1 left, -1 right, 0 on the line."""
    d = towards - origin
    e = point - origin
    return np.sign(d[:, 0] * e[:, 1] - d[:, 1] * e[:, 0])


def _within(point: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.all((low <= point) & (point <= high), axis=1)


def _meeting_point(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> Point:
    """Where two segments known to meet do so: their crossing, or for touching or overlapping ones an endpoint of
    one that lies on the other."""
    d1, d2 = q1 - p1, q2 - p2
    denominator = d1[0] * d2[1] - d1[1] * d2[0]
    if denominator != 0:
        t = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / denominator
        point = p1 + t * d1
        return float(point[0]), float(point[1])
    ends_and_other = ((p2, (p1, q1)), (q2, (p1, q1)), (p1, (p2, q2)), (q1, (p2, q2)))
    on_the_other = [end for end, (start, stop) in ends_and_other
                    if np.all(np.minimum(start, stop) <= end) and np.all(end <= np.maximum(start, stop))]
    return float(on_the_other[0][0]), float(on_the_other[0][1])


def _ring_pixels(ring: Ring, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
    return draw_polygon(vertices[:, 1], vertices[:, 0], (rows, columns))
