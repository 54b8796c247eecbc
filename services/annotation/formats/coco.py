"""COCO instance-segmentation JSON ↔ Segmentations: one COCO image per labelled slice, masks as COCO run-length codes.

Layout (write_coco): each item's axial slice k that holds any label is one COCO image named `<item id>/k0007.png`,
`width` = columns (i) and `height` = rows (j); COCO's x is the column and y the row. Each (segment, slice) with pixels
is one annotation: its `segmentation` is COCO's compressed RLE of that slice's mask (column-major, as COCO specifies),
with `area`, `bbox` [x, y, w, h] and `iscrowd` 0. A slice of a label is one object to Radlab, so it is not split into
connected components; readers that want instances can split it. Categories are the segments: id = segment value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import numpy as np
from skimage.draw import polygon as polygon_pixels

from services.annotation.domain.segmentation import Segment, Segmentation
from services.annotation.formats import Grid
from shared.errors import InvalidArgument

LARGEST_LABEL = 65535
_LISTS = ("images", "annotations", "categories")
# The image names write_coco gives, read back when no other mapping is given.
_IMAGE_NAME = re.compile(r"^(?P<item>.+)/k(?P<k>\d+)\.png$")


def write_coco(items: list[tuple[str, Segmentation]]) -> bytes:
    """One COCO JSON file (UTF-8 bytes) for `items`, (item id, its segmentation) pairs; see the module's layout."""
    categories: dict[int, str] = {}
    for item_id, seg in items:
        for value, segment in seg.segments.items():
            if categories.setdefault(value, segment.name) != segment.name:
                raise InvalidArgument(
                    f"segment value {value} is {categories[value]!r} on one item and {segment.name!r} on {item_id}; "
                    "a COCO file has one name per category id: renumber one of them before exporting together"
                )
    images, annotations = [], []
    for item_id, seg in items:
        rows, columns = seg.shape[1:]
        for k in range(seg.shape[0]):
            labelled = [(value, mask[k]) for value, mask in sorted(seg.masks.items()) if mask[k].any()]
            if not labelled:
                continue
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": f"{item_id}/k{k:04d}.png", "width": columns, "height": rows})
            for value, plane in labelled:
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": value,
                    "segmentation": {"size": [rows, columns], "counts": rle_string(rle_counts(plane))},
                    "area": int(plane.sum()), "bbox": _bbox(plane), "iscrowd": 0,
                })
    document = {
        "images": images, "annotations": annotations,
        "categories": [{"id": value, "name": name, "supercategory": ""} for value, name in sorted(categories.items())],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def read_coco(data: bytes, file_name: str, grids: Mapping[str, Grid],
              images: Mapping[str, tuple[str, int]] | None = None) -> dict[str, tuple[Segmentation, list[str]]]:
    """The labels a COCO JSON file holds for each item of `grids`: {item id: (segmentation on its grid, warnings)}.

    `images` says where each COCO image lies, file name → (item id, slice k); by default the names write_coco gives
    (`<item id>/k0007.png`). Masks may be polygons or RLE, compressed or not; several annotations of one category on
    one image are joined. Every item gets every category of the file as a segment (id = value, name). The whole file
    is checked before anything is built: an image on no known item or slice, or of another size than its slice, is
    refused (InvalidArgument naming it), and nothing is returned.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"{file_name}: not a JSON file ({error})") from None
    if not isinstance(document, dict) or not all(isinstance(document.get(key), list) for key in _LISTS):
        raise InvalidArgument(f"{file_name}: not a COCO file (it needs lists of {', '.join(_LISTS)})")
    segments = _categories(document["categories"], file_name)
    placed = _images(document["images"], file_name, grids, images)
    # Built here and returned only once every annotation has been read: a refusal leaves nothing behind.
    masks: dict[str, dict[int, np.ndarray]] = {item_id: {} for item_id in grids}
    warnings: dict[str, list[str]] = {item_id: [] for item_id in grids}
    for annotation in document["annotations"]:
        where = f"{file_name}: annotation {annotation.get('id')!r}" if isinstance(annotation, dict) else file_name
        image_id = _get(annotation, "image_id")
        if not _is_id(image_id) or image_id not in placed:
            raise InvalidArgument(f"{where} is on image {image_id!r}, which the file does not list")
        item_id, k = placed[image_id]
        if not _is_id(annotation.get("category_id")) or annotation["category_id"] not in segments:
            raise InvalidArgument(f"{where} has category {annotation.get('category_id')!r}, which the file does not list")
        if not annotation.get("segmentation"):
            warnings[item_id].append(f"{where} has no mask (a box alone); skipped")
            continue
        grid = grids[item_id]
        plane = _mask(annotation["segmentation"], *grid.shape[1:], where)
        masks[item_id].setdefault(annotation["category_id"], np.zeros(grid.shape, dtype=bool))[k] |= plane
    return {item_id: (Segmentation(grid.shape, grid.affine, dict(segments),
                                   {value: mask for value, mask in masks[item_id].items() if mask.any()},
                                   grid.frame_of_reference_uid), warnings[item_id])
            for item_id, grid in grids.items()}


def named_items(data: bytes) -> set[str]:
    """The item ids a COCO file's image names give, as write_coco names them (empty for a file that is not one)."""
    try:
        document = json.loads(data)
        listed = document.get("images", []) if isinstance(document, dict) else []
    except (UnicodeDecodeError, json.JSONDecodeError):
        return set()
    names = (image.get("file_name") for image in listed if isinstance(image, dict))
    return {match["item"] for name in names if isinstance(name, str) and (match := _IMAGE_NAME.match(name))}


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO's run lengths of a 2D mask: pixels in column-major order, alternating runs of 0 and 1, starting with 0s."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def rle_string(counts: list[int]) -> str:
    """COCO's compressed form of run lengths: each (after the second, less the one two before) in 5-bit groups,
    least significant first, as characters from '0'; 0x20 marks that a group follows, 0x10 in the last is the sign."""
    out = bytearray()
    for n, count in enumerate(counts):
        x = count - counts[n - 2] if n > 2 else count
        while True:
            group, x = x & 0x1F, x >> 5
            more = x != -1 if group & 0x10 else x != 0
            out.append(48 + (group | 0x20 if more else group))
            if not more:
                break
    return out.decode("ascii")


def rle_from_string(text: str) -> list[int]:
    """The run lengths a compressed COCO RLE string holds (the inverse of rle_string); ValueError if it is damaged."""
    counts, shift, x = [], 0, 0
    for character in text:
        group = ord(character) - 48
        if not 0 <= group < 64:
            raise ValueError(f"its counts string holds {character!r}, outside COCO's alphabet")
        x |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            x |= -1 << shift
        counts.append(x + counts[-2] if len(counts) > 2 else x)
        shift = x = 0
    if shift:
        raise ValueError("its counts string ends inside a number")
    return counts


def _categories(categories: list, file_name: str) -> dict[int, Segment]:
    segments = {}
    for category in categories:
        value = _get(category, "id")
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= LARGEST_LABEL:
            raise InvalidArgument(f"{file_name}: category id {value!r} is not a label value 1–{LARGEST_LABEL}; renumber "
                                  "the categories from 1")
        if value in segments:
            raise InvalidArgument(f"{file_name}: category id {value} is listed twice")
        segments[value] = Segment(value=value, name=str(category.get("name") or f"label {value}"))
    return segments


def _images(listed: list, file_name: str, grids: Mapping[str, Grid],
            names: Mapping[str, tuple[str, int]] | None) -> dict[object, tuple[str, int]]:
    """COCO image id → (item id, k) for every image, after checking each lies on a known slice of the right size."""
    placed = {}
    for image in listed:
        name = _get(image, "file_name")
        if names is not None:
            item_id, k = names.get(name, (None, -1))
        else:
            match = _IMAGE_NAME.match(name) if isinstance(name, str) else None
            item_id, k = (match["item"], int(match["k"])) if match else (None, -1)
        if item_id not in grids or not 0 <= k < grids[item_id].shape[0]:
            raise InvalidArgument(f"{file_name}: image {name!r} is on no known item and slice; import it into the item "
                                  "it labels, or name its images as exported (<item id>/k0007.png)")
        rows, columns = grids[item_id].shape[1:]
        if (image.get("width"), image.get("height")) != (columns, rows):
            raise InvalidArgument(f"{file_name}: image {name!r} is {image.get('width')}×{image.get('height')} but "
                                  f"slice {k} of item {item_id} is {columns}×{rows} (width × height)")
        if not _is_id(image.get("id")) or image["id"] in placed:
            raise InvalidArgument(f"{file_name}: image {name!r} has id {image.get('id')!r}, missing, not a number or "
                                  "string, or another image's")
        placed[image.get("id")] = (item_id, k)
    return placed


def _mask(segmentation, rows: int, columns: int, where: str) -> np.ndarray:
    """One annotation's mask on a rows × columns slice, from polygons or RLE (counts as a list or a string)."""
    if isinstance(segmentation, list):
        return _polygons(segmentation, rows, columns, where)
    if not isinstance(segmentation, dict) or "counts" not in segmentation:
        raise InvalidArgument(f"{where}: its segmentation is neither polygons nor RLE")
    if segmentation.get("size") != [rows, columns]:
        raise InvalidArgument(f"{where}: its RLE is {segmentation.get('size')} (height, width), not its image's "
                              f"{[rows, columns]}")
    counts = segmentation["counts"]
    try:
        counts = rle_from_string(counts) if isinstance(counts, str) else [int(n) for n in counts]
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"{where}: its RLE cannot be read ({error})") from None
    if any(n < 0 for n in counts) or sum(counts) != rows * columns:
        raise InvalidArgument(f"{where}: its RLE runs cover {sum(counts)} pixels, not the image's {rows * columns}")
    flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
    return flat.reshape((rows, columns), order="F")


def _polygons(polygons: list, rows: int, columns: int, where: str) -> np.ndarray:
    """The union of COCO polygons [x1, y1, x2, y2, …] in pixel-edge coordinates (pixel (x, y) covers [x, x+1) ×
    [y, y+1)): a pixel is in when its centre is inside, as pycocotools rasterises them (it may differ on edge ties)."""
    mask = np.zeros((rows, columns), dtype=bool)
    for points in polygons:
        if not isinstance(points, list) or len(points) < 6 or len(points) % 2:
            raise InvalidArgument(f"{where}: a polygon needs three or more x, y pairs")
        try:
            xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        except (TypeError, ValueError):
            raise InvalidArgument(f"{where}: its polygon holds something other than numbers") from None
        inside = polygon_pixels(xy[:, 1] - 0.5, xy[:, 0] - 0.5, shape=(rows, columns))
        mask[inside] = True
    return mask


def _bbox(plane: np.ndarray) -> list[int]:
    rows, columns = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    return [int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)]


def _is_id(value) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _get(entry, key: str):
    return entry.get(key) if isinstance(entry, dict) else None
