"""Mosaics (Siemens, United Imaging): one instance whose image is a grid of slices, read as one tile per slice.

A Siemens mosaic says how many slices it holds in its CSA image header (NumberOfImagesInMosaic) and the true
slice normal (SliceNormalVector); the tiles fill a square grid row by row, and Image Position (Patient) is
that of the whole mosaic's first pixel, as if it were one large image — the first tile's lies half the unused
width in. A United Imaging "VFRAME" instance gives the count in its Image Private Header (0065,xx50) and every
tile's own Image Position in (0065,xx51); the tiles are as large as the acquisition matrix.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from services.ingestion.domain.private import private_block, private_value

with warnings.catch_warnings():  # nibabel.nicom warns that its DICOM *readers* are experimental; only CSA is used
    warnings.simplefilter("ignore")
    from nibabel.nicom import csareader

UIH_CREATOR = "Image Private Header"  # United Imaging's private block in group 0065


class MosaicUnreadable(ValueError):
    """The instance says it is a mosaic but its layout cannot be read; the message says what is missing."""


@dataclass(frozen=True)
class Mosaic:
    """How one instance's image splits into slices: tile size, tiles per grid row, and each tile's position (LPS mm)."""

    vendor: str
    rows: int  # of one tile
    columns: int
    across: int  # tiles per row of the grid
    positions: list[tuple[float, float, float]]

    def tile(self, image: np.ndarray, index: int) -> np.ndarray:
        """Tile `index` of the decoded mosaic image [j, i]."""
        row, column = divmod(index, self.across)
        return image[row * self.rows:(row + 1) * self.rows, column * self.columns:(column + 1) * self.columns]


def mosaic_of(dataset: Dataset, row: np.ndarray, column: np.ndarray, spacing: tuple[float, float]) -> Mosaic | None:
    """The instance's mosaic layout, or None when it is an ordinary image.

    `row` and `column` are the unit direction cosines (along i, along j) and `spacing` PixelSpacing (between rows,
    between columns) of the instance. MosaicUnreadable when it is marked a mosaic but its layout cannot be read.
    """
    image_type = [str(value).upper() for value in dataset.get("ImageType") or []]
    if "MOSAIC" in image_type:
        return _siemens(dataset, row, column, spacing)
    if "VFRAME" in image_type and private_block(dataset, 0x0065, UIH_CREATOR) is not None:
        return _united_imaging(dataset)
    return None


def _siemens(dataset: Dataset, row: np.ndarray, column: np.ndarray, spacing: tuple[float, float]) -> Mosaic:
    try:
        tags = (csareader.get_csa_header(dataset, "image") or {}).get("tags", {})
    except csareader.CSAReadError as error:
        raise MosaicUnreadable(f"its CSA image header cannot be read ({error})") from None
    count = _csa_value(tags, "NumberOfImagesInMosaic")
    if not count or count < 1:
        raise MosaicUnreadable("it is marked MOSAIC but its CSA header gives no NumberOfImagesInMosaic")
    count = int(count)
    across = math.ceil(math.sqrt(count))
    rows, columns = int(dataset.Rows) // across, int(dataset.Columns) // across
    normal = tags.get("SliceNormalVector", {}).get("items") or []
    normal = np.asarray(normal, dtype=np.float64) if len(normal) == 3 else np.cross(row, column)
    normal = normal / np.linalg.norm(normal)
    gap = float(dataset.get("SpacingBetweenSlices") or dataset.get("SliceThickness") or 1.0)
    # Image Position is the mosaic's first pixel: the first tile's lies half the unused rows and columns further in.
    first = (np.asarray([float(v) for v in dataset.ImagePositionPatient])
             + row * spacing[1] * (int(dataset.Columns) - columns) / 2
             + column * spacing[0] * (int(dataset.Rows) - rows) / 2)
    positions = [tuple(float(v) for v in first + index * gap * normal) for index in range(count)]
    return Mosaic("Siemens", rows, columns, across, positions)


def _csa_value(tags: dict, name: str) -> float | None:
    items = tags.get(name, {}).get("items") or []
    return float(items[0]) if items else None


def _united_imaging(dataset: Dataset) -> Mosaic:
    count = private_value(dataset, 0x0065, UIH_CREATOR, 0x50)
    tiles = private_value(dataset, 0x0065, UIH_CREATOR, 0x51)
    if count is None or tiles is None:
        raise MosaicUnreadable("it is a United Imaging VFRAME image without its slice count (0065,xx50) and positions (0065,xx51)")
    count = int(float(count))
    items = list(tiles)
    if count < 1 or len(items) != count or any("ImagePositionPatient" not in item for item in items):
        raise MosaicUnreadable(f"its VFRAME header lists {len(items)} slice position(s) for {count} slice(s)")
    rows, columns = _acquisition_matrix(dataset)
    if not rows or int(dataset.Rows) % rows or int(dataset.Columns) % columns:
        raise MosaicUnreadable(f"its acquisition matrix ({rows} × {columns}) does not tile its {dataset.Rows} × {dataset.Columns} image")
    across = int(dataset.Columns) // columns
    if across * (int(dataset.Rows) // rows) < count:
        raise MosaicUnreadable(f"its {dataset.Rows} × {dataset.Columns} image holds fewer than {count} tiles of {rows} × {columns}")
    positions = [tuple(float(v) for v in item.ImagePositionPatient) for item in items]
    return Mosaic("United Imaging", rows, columns, across, positions)


def _acquisition_matrix(dataset: Dataset) -> tuple[int, int]:
    """Rows × columns of one slice from AcquisitionMatrix (frequency rows, frequency columns, phase rows, phase columns)."""
    values = [int(v) for v in dataset.get("AcquisitionMatrix") or []]
    if len(values) != 4:
        return 0, 0
    frequency_rows, frequency_columns, phase_rows, phase_columns = values
    if str(dataset.get("InPlanePhaseEncodingDirection", "")).upper() == "ROW":
        return frequency_rows or phase_rows, phase_columns or frequency_columns
    return phase_rows or frequency_rows, frequency_columns or phase_columns
