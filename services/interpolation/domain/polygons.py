"""Masks as polygons and back: ordered, simple (non-self-intersecting) outlines with a bounded vertex count.

Outlines run along the half-pixel boundary between a mask's pixels and the background (marching squares on
the padded mask, 8-connected foreground), simplified by Douglas-Peucker with the smallest tolerance that
keeps each contour within `max_vertices` and simple. Vertices are (x = column, y = row) in pixels; outer
contours run clockwise on screen (y down the rows) and holes counter-clockwise: their shoelace areas are
positive for outlines and negative for holes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage import draw, measure

MAX_VERTICES = 256
# Douglas-Peucker tolerances tried in turn (pixels): the first giving a simple contour within the bound wins.
TOLERANCES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)


@dataclass(frozen=True)
class Contour:
    """One closed outline: vertices [N, 2] as (x = column, y = row), not repeating the first at the end."""

    vertices: np.ndarray
    hole: bool


def outline(mask: np.ndarray, max_vertices: int = MAX_VERTICES) -> list[Contour]:
    """The contours of a 2-D mask, outer outlines and holes, largest first."""
    if mask.ndim != 2:
        raise ValueError(f"outline takes a 2-D mask; got shape {mask.shape}")
    padded = np.pad(mask.astype(np.float32), 1)
    contours = []
    for traced in measure.find_contours(padded, 0.5, fully_connected="high"):
        points = traced[:-1, ::-1] - 1  # (row, col) in the padded mask → (x, y) in the mask; drop the repeat
        simplified = _simplify(points, max_vertices)
        area = signed_area(simplified)
        if area != 0:
            contours.append(Contour(vertices=simplified, hole=area < 0))
    return sorted(contours, key=lambda contour: -abs(signed_area(contour.vertices)))


def rasterize(contours: Sequence[Contour], shape: tuple[int, int]) -> np.ndarray:
    """The mask whose pixel centres lie inside the outlines and outside their holes (nested any depth)."""
    mask = np.zeros(shape, dtype=bool)
    for contour in sorted(contours, key=lambda contour: -abs(signed_area(contour.vertices))):
        rows, cols = draw.polygon(contour.vertices[:, 1], contour.vertices[:, 0], shape)
        mask[rows, cols] = not contour.hole
    return mask


def signed_area(vertices: np.ndarray) -> float:
    """Shoelace area of a closed polygon (x right, y down): positive when it runs clockwise on screen."""
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def self_intersects(vertices: np.ndarray) -> bool:
    """Whether any two non-adjacent edges of the closed polygon cross or touch."""
    n = len(vertices)
    if n < 4:
        return False
    start, end = vertices, np.roll(vertices, -1, axis=0)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the last edge meets the first at vertex 0
    i, j = i[keep], j[keep]
    p, p2, q, q2 = start[i], end[i], start[j], end[j]

    def side(a, b, c):
        return np.sign((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))

    def within(a, b, c):  # c on segment ab, given the three are collinear
        return ((np.minimum(a[:, 0], b[:, 0]) <= c[:, 0]) & (c[:, 0] <= np.maximum(a[:, 0], b[:, 0]))
                & (np.minimum(a[:, 1], b[:, 1]) <= c[:, 1]) & (c[:, 1] <= np.maximum(a[:, 1], b[:, 1])))

    d1, d2, d3, d4 = side(q, q2, p), side(q, q2, p2), side(p, p2, q), side(p, p2, q2)
    crossing = (d1 * d2 < 0) & (d3 * d4 < 0)
    touching = (((d1 == 0) & within(q, q2, p)) | ((d2 == 0) & within(q, q2, p2))
                | ((d3 == 0) & within(p, p2, q)) | ((d4 == 0) & within(p, p2, q2)))
    return bool((crossing | touching).any())


def _simplify(points: np.ndarray, max_vertices: int) -> np.ndarray:
    """The least-simplified Douglas-Peucker version of a closed contour that is simple and within the bound."""
    closed = np.vstack([points, points[:1]])
    for tolerance in TOLERANCES:
        simplified = measure.approximate_polygon(closed, tolerance)[:-1]
        if 3 <= len(simplified) <= max_vertices and not self_intersects(simplified):
            return simplified
    if len(points) <= max_vertices:  # tiny outlines that simplification would collapse: marching squares' own
        return points
    # Pathological outlines (thousands of tiny wiggles): evenly spaced boundary points, still in order.
    return points[np.linspace(0, len(points), max_vertices, endpoint=False).astype(int)]
