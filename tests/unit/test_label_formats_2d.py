"""COCO and Darwin JSON 2.0 label files against the real peers: pycocotools, and darwin-py (V7's own library) run in
its own virtualenv (scripts/peers.sh), both reading our files and writing files we read.

Items are real label maps: the spleen CT (one class), the 41-organ CT, and one slice of the latter as a 2D item (a
radiograph's grid: shape (1, rows, columns)).

darwin-py's NIfTI export (the peer's view of a Darwin file) builds the slot's [x, y, z] array from the frames (frame f
is z = f; a frame's dense RLE is its rows, y, of x pixels; polygon x, y are in pixel spacings of x and y), takes the
slot metadata's `affine` as that array's RAS affine, and reorients it to the axis directions of `original_affine`
before saving. So a file that says where its array lies comes back from darwin-py on the item's own grid, which
`shared.volumes.from_nifti` reads as [k, j, i] with the item's LPS affine: the comparisons below are voxel for voxel.
"""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from skimage.measure import find_contours

from services.annotation.domain.segmentation import Segment, Segmentation
from services.annotation.formats import Grid
from services.annotation.formats.coco import read_coco, write_coco
from services.annotation.formats.darwin import read_darwin, write_darwin
from shared.errors import InvalidArgument
from shared.volumes import from_nifti, to_nifti
from tests.conftest import REPO

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")  # pycocotools

SPLEEN = "ivadomed_spleen/ct_scan/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
ORGANS = "totalsegmentator/tests/reference_files/example_seg.nii.gz"

# darwin-py reads a Darwin JSON 2.0 file as V7's export and writes it as NIfTI, one file per class.
READ_WITH_DARWIN_PY = '''
import sys
from pathlib import Path

from darwin.exporter.formats.nifti import export
from darwin.utils import parse_darwin_json

export([parse_darwin_json(Path(path)) for path in sys.argv[2:]], Path(sys.argv[1]))
'''

# darwin-py builds Darwin annotations from a NIfTI label map with its own importer (raster layer and masks, or
# polygons), laid out as V7 holds the scan: reoriented to LPI, polygon points in pixel spacings. Its own Darwin JSON
# writer (build_image_annotation) writes the item and slots (all but its source files, which it leaves as objects) but
# only boxes, tags and polygons of still images: it fails on frame-keyed annotations and drops masks' data. So these are
# serialised with darwin-py's VideoAnnotation.get_data, which its upload to V7 uses.
BUILD_WITH_DARWIN_PY = '''
import dataclasses
import json
import sys
from pathlib import Path

import nibabel as nib
from darwin.exporter.formats.darwin import build_image_annotation
from darwin.importer.formats.nifti import parse_path

label, mode, class_map, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4])
image = nib.load(label)
orientations = nib.orientations
lpi = image.as_reoriented(orientations.ornt_transform(orientations.io_orientation(image.affine),
                                                      orientations.axcodes2ornt("LPI")))
pixdims = [float(z) for z in lpi.header.get_zooms()[:3]]
spec = out.with_suffix(".import.json")
spec.write_text(json.dumps({"data": [{"image": "scan.dcm", "label": label, "class_map": class_map, "mode": mode,
                                      "slot_names": ["0"]}]}))
[annotation_file] = parse_path(spec, pixdims_and_primary_planes={Path("/scan.dcm"): {"0": (pixdims, "AXIAL")}})
document = build_image_annotation(dataclasses.replace(annotation_file, annotations=[]), "radlab")
x, y, z = lpi.shape
document["item"]["slots"][0].update(width=x, height=y, frame_count=z, metadata={
    "handler": "MONAI", "shape": [1, x, y, z], "affine": lpi.affine.tolist(), "original_affine": image.affine.tolist(),
    "pixdim": str(tuple(pixdims)), "primary_plane": "AXIAL", "plane_map": {"0": "AXIAL"}})
document["annotations"] = [{"id": a.id, "name": a.annotation_class.name, "slot_names": a.slot_names,
                            **a.get_data(only_keyframes=False)} for a in annotation_file.annotations]
out.write_text(json.dumps(document, default=lambda o: dataclasses.asdict(o) if dataclasses.is_dataclass(o) else float(o)))
'''


@pytest.fixture(scope="module")
def spleen(data_dir) -> Segmentation:
    labels, affine = from_nifti(data_dir / SPLEEN)
    return Segmentation.from_labelmap(labels, affine, {1: Segment(1, "spleen")})


@pytest.fixture(scope="module")
def organs(data_dir) -> Segmentation:
    labels, affine = from_nifti(data_dir / ORGANS)
    # TotalSegmentator's class 1 is the spleen; the others are named by number.
    names = {int(v): Segment(int(v), "spleen" if v == 1 else f"organ {v}") for v in np.unique(labels) if v}
    return Segmentation.from_labelmap(labels, affine, names)


@pytest.fixture(scope="module")
def radiograph(organs) -> Segmentation:
    """Slice 15 of the 41-organ CT as a 2D item of shape (1, rows, columns), on that slice's own affine."""
    k = 15
    shift = np.eye(4)
    shift[2, 3] = k
    masks = {value: mask[k:k + 1] for value, mask in organs.masks.items() if mask[k].any()}
    return Segmentation((1, *organs.shape[1:]), organs.affine @ shift, {v: organs.segments[v] for v in masks}, masks)


@pytest.fixture(scope="session")
def darwin_py() -> str:
    """The python of the cached darwin-py virtualenv; failing to build it fails the test (it is the peer checked)."""
    built = subprocess.run([str(REPO / "scripts" / "peers.sh")], capture_output=True, text=True, timeout=900)
    if built.returncode != 0:
        pytest.fail(f"scripts/peers.sh could not install darwin-py[medical]==3.6.3:\n{built.stderr[-3000:]}")
    return built.stdout.strip().splitlines()[-1]


def grid(seg: Segmentation) -> Grid:
    return Grid(seg.shape, seg.affine)


def run_peer(python: str, script: str, *args) -> None:
    done = subprocess.run([python, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"darwin-py failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def by_name(seg: Segmentation) -> dict[str, np.ndarray]:
    return {seg.segments[value].name: mask for value, mask in seg.masks.items() if mask.any()}


# COCO


def test_coco_we_write_loads_in_pycocotools_to_the_same_masks(spleen, organs, radiograph, tmp_path):
    items = {"spleen-ct": spleen, "organs-ct": organs, "chest-xr": radiograph}
    path = tmp_path / "annotations.json"
    path.write_bytes(write_coco(list(items.items())))
    coco = COCO(str(path))
    seen = set()
    for image in coco.imgs.values():
        item_id, name = image["file_name"].split("/")
        k, seg = int(name[1:5]), items[item_id]
        assert (image["height"], image["width"]) == seg.shape[1:]
        for annotation in coco.imgToAnns[image["id"]]:
            value = annotation["category_id"]
            mask = coco.annToMask(annotation).astype(bool)
            assert np.array_equal(mask, seg.masks[value][k]), (item_id, k, value)
            rle = coco.annToRLE(annotation)
            assert annotation["area"] == coco_mask.area(rle)
            assert annotation["bbox"] == coco_mask.toBbox(rle).tolist()
            assert coco.cats[value]["name"] == seg.segments[value].name
            seen.add((item_id, k, value))
    expected = {(item_id, k, value) for item_id, seg in items.items() for value, mask in seg.masks.items()
                for k in np.flatnonzero(mask.any(axis=(1, 2)))}
    assert seen == expected and len(coco.anns) == len(expected)


def test_coco_round_trips_exactly(spleen, organs, radiograph):
    items = {"spleen-ct": spleen, "organs-ct": organs, "chest-xr": radiograph}
    read = read_coco(write_coco(list(items.items())), "annotations.json", {i: grid(s) for i, s in items.items()})
    assert set(read) == set(items)
    for item_id, seg in items.items():
        back, warnings = read[item_id]
        assert warnings == []
        assert (back.shape, back.affine.tolist()) == (seg.shape, seg.affine.tolist())
        assert {v: back.segments[v].name for v in seg.segments} == {v: s.name for v, s in seg.segments.items()}
        assert set(back.masks) == set(seg.masks)
        assert all(np.array_equal(back.masks[v], seg.masks[v]) for v in seg.masks)


def test_coco_polygons_and_uncompressed_rle_read_as_pycocotools_reads_them(spleen, tmp_path):
    """Uncompressed RLE, and polygons: the spleen's outlines in COCO's pixel-edge coordinates fill as in pycocotools.
    The file is another tool's: its images are named its own way and placed by the mapping given."""
    slices = [int(k) for k in np.flatnonzero(spleen.masks[1].any(axis=(1, 2)))]
    rows, columns = spleen.shape[1:]
    images, annotations = [], []
    for number, k in enumerate(slices, start=1):
        images.append({"id": number, "file_name": f"scan_{k + 1:03d}.png", "width": columns, "height": rows})
        plane = spleen.masks[1][k]
        flat = plane.ravel(order="F")
        runs = np.diff(np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))).tolist()
        rle = {"size": [rows, columns], "counts": [0, *runs] if flat[0] else runs}
        assert np.array_equal(coco_mask.decode(coco_mask.frPyObjects(rle, rows, columns)), plane)
        annotations.append({"id": 2 * number - 1, "image_id": number, "category_id": 1, "iscrowd": 0, "segmentation": rle})
        outlines = [(contour[:, ::-1] + 0.5).ravel().tolist() for contour in find_contours(plane.astype(float), 0.5)]
        annotations.append({"id": 2 * number, "image_id": number, "category_id": 2, "iscrowd": 0,
                            "segmentation": [points for points in outlines if len(points) >= 6]})
    document = {"images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "spleen"}, {"id": 2, "name": "spleen outline"}]}
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(document))
    placed = {f"scan_{k + 1:03d}.png": ("spleen-ct", k) for k in slices}
    seg, warnings = read_coco(path.read_bytes(), path.name, {"spleen-ct": grid(spleen)}, placed)["spleen-ct"]
    assert warnings == [] and np.array_equal(seg.masks[1], spleen.masks[1])
    coco = COCO(str(path))
    theirs = np.zeros(spleen.shape, dtype=bool)
    for annotation in coco.anns.values():
        if annotation["category_id"] == 2:
            theirs[slices[annotation["image_id"] - 1]] |= coco.annToMask(annotation).astype(bool)
    assert np.array_equal(seg.masks[2], theirs)


def test_a_coco_file_naming_an_unknown_image_is_refused_whole(spleen, organs):
    good = json.loads(write_coco([("spleen-ct", spleen)]))
    grids = {"spleen-ct": grid(spleen), "organs-ct": grid(organs)}
    for stray, why in (("liver-ct/k0003.png", "no known item"), ("spleen-ct/k0999.png", "no slice 999"),
                       ("scan.png", "not named as exported")):
        document = json.loads(json.dumps(good))
        document["images"].append({"id": 999, "file_name": stray, "width": 164, "height": 166})
        with pytest.raises(InvalidArgument, match=repr(stray)):
            read_coco(json.dumps(document).encode(), "labels.json", grids)
    document = json.loads(json.dumps(good))
    document["images"][0]["width"] += 1
    with pytest.raises(InvalidArgument, match="165×166 but slice"):
        read_coco(json.dumps(document).encode(), "labels.json", grids)


# Darwin JSON 2.0


def test_darwin_py_reads_the_darwin_json_we_write_to_the_same_masks(darwin_py, spleen, organs, radiograph, tmp_path):
    items = {"spleen-ct": spleen, "organs-ct": organs, "chest-xr": radiograph}
    for item_id, seg in items.items():
        (tmp_path / f"{item_id}.json").write_bytes(write_darwin(f"{item_id}.dcm", seg))
    run_peer(darwin_py, READ_WITH_DARWIN_PY, tmp_path / "nifti", *(tmp_path / f"{item_id}.json" for item_id in items))
    for item_id, seg in items.items():
        for value, mask in seg.masks.items():
            name = f"{item_id}_{seg.segments[value].name}_m.nii.gz"
            labels, affine = from_nifti(tmp_path / "nifti" / item_id / "0" / name)
            assert np.allclose(affine, seg.affine, atol=1e-4), item_id
            assert np.array_equal(labels != 0, mask), (item_id, value)


def test_darwin_json_darwin_py_builds_reads_to_the_same_masks(darwin_py, organs, tmp_path):
    to_nifti(SimpleNamespace(data=organs.labelmap(np.uint8), affine=organs.affine), tmp_path / "organs.nii.gz")
    class_map = {str(v): s.name for v, s in organs.segments.items()}
    run_peer(darwin_py, BUILD_WITH_DARWIN_PY, tmp_path / "organs.nii.gz", "mask", json.dumps(class_map),
             tmp_path / "organs.json")
    seg, warnings = read_darwin((tmp_path / "organs.json").read_bytes(), "organs.json", grid(organs))
    assert warnings == []
    theirs, ours = by_name(seg), by_name(organs)
    assert set(theirs) == set(ours)
    assert all(np.array_equal(theirs[name], ours[name]) for name in ours)


def test_darwin_polygons_fill_the_pixels_darwin_py_fills(darwin_py, spleen, tmp_path):
    """darwin-py's own polygons of the spleen (outer outlines, in mm) fill back to the spleen, and to what darwin-py's
    NIfTI export fills from them."""
    to_nifti(SimpleNamespace(data=spleen.labelmap(np.uint8), affine=spleen.affine), tmp_path / "spleen.nii.gz")
    run_peer(darwin_py, BUILD_WITH_DARWIN_PY, tmp_path / "spleen.nii.gz", "video", json.dumps({"1": "spleen"}),
             tmp_path / "spleen.json")
    seg, warnings = read_darwin((tmp_path / "spleen.json").read_bytes(), "spleen.json", grid(spleen))
    assert warnings == []
    [ours] = seg.masks.values()
    run_peer(darwin_py, READ_WITH_DARWIN_PY, tmp_path / "nifti", tmp_path / "spleen.json")
    theirs, _ = from_nifti(tmp_path / "nifti" / "spleen" / "0" / "scan_spleen.nii.gz")
    assert np.array_equal(ours, theirs != 0)
    assert np.array_equal(ours, spleen.masks[1])  # its slices have no holes, which outer outlines would lose


def test_a_v7_export_of_a_coronal_scan_reads_as_darwin_py_exports_it(darwin_py, tmp_path):
    """V7's own form (after darwin-py's test export of a coronal LAS DICOM): affines as strings, a coronal primary
    plane, the scan held as LPI; two masks on frame 15. We place them as darwin-py's NIfTI export does."""
    runs = [0, 6184, *[1, 32, 0, 96] * 10, *[2, 32, 0, 96] * 9, 2, 32, 0, 7736]
    document = {"version": "2.0", "item": {"name": "coronal.dcm", "path": "/", "slots": [{
        "type": "dicom", "slot_name": "0", "width": 128, "height": 128, "frame_count": 16,
        "source_files": [{"file_name": "coronal.dcm"}],
        "metadata": {
            "handler": "MONAI", "shape": [1, 128, 16, 128], "pixdim": "(0.1, 1.0, 0.25)", "primary_plane": "CORONAL",
            "affine": "[[-0.1, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -0.25, 31.75], [0.0, 0.0, 0.0, 1.0]]",
            "original_affine": [["-0.1", "0.0", "0.0", "0.0"], ["0.0", "0.0", "-1.0", "0.0"],
                                ["0.0", "0.25", "0.0", "0.0"], ["0.0", "0.0", "0.0", "1.0"]]}}]},
        "annotations": [
            {"id": "m1", "name": "mask1", "slot_names": ["0"], "frames": {"15": {"keyframe": True, "mask": {}}}},
            {"id": "m2", "name": "mask2", "slot_names": ["0"], "frames": {"15": {"keyframe": True, "mask": {}}}},
            {"id": "r", "name": "__raster_layer__", "slot_names": ["0"], "only_keyframes": True, "frames": {"15": {
                "keyframe": True, "raster_layer": {"dense_rle": runs, "total_pixels": 16384,
                                                   "mask_annotation_ids_mapping": {"m1": 1, "m2": 2}}}}}]}
    (tmp_path / "coronal.json").write_text(json.dumps(document))
    run_peer(darwin_py, READ_WITH_DARWIN_PY, tmp_path / "nifti", tmp_path / "coronal.json")
    theirs = {name: from_nifti(tmp_path / "nifti" / "coronal" / "0" / f"coronal_{name}_m.nii.gz")
              for name in ("mask1", "mask2")}
    shape, affine = theirs["mask1"][0].shape, theirs["mask1"][1]  # the scan as uploaded: LAS, coronal slices
    seg, warnings = read_darwin(json.dumps(document).encode(), "coronal.json", Grid(shape, affine))
    assert warnings == []
    assert {name: int(mask.sum()) for name, mask in by_name(seg).items()} == {"mask1": 320, "mask2": 320}
    assert all(np.array_equal(by_name(seg)[name], labels != 0) for name, (labels, _) in theirs.items())


def test_a_darwin_polygon_fills_the_expected_pixels():
    """On a 2D image: a "path" rectangle with its outline, and a "paths" square with a square hole (even-odd)."""
    def points(*xy):
        return [{"x": x, "y": y} for x, y in xy]
    document = {"version": "2.0", "item": {"name": "xr.dcm", "path": "/", "slots": [
        {"slot_name": "0", "type": "image", "width": 20, "height": 24}]}, "annotations": [
        {"id": "a", "name": "box", "slot_names": ["0"],
         "polygon": {"path": points((2.2, 2), (5, 2), (4.6, 6.4), (2, 6))}},
        {"id": "b", "name": "ring", "slot_names": ["0"], "polygon": {"paths": [
            points((8, 10), (18, 10), (18, 20), (8, 20)), points((11, 13), (15, 13), (15, 17), (11, 17))]}},
    ]}
    affine = np.diag([0.2, 0.2, 1.0, 1.0])
    seg, warnings = read_darwin(json.dumps(document).encode(), "xr.json", Grid((1, 24, 20), affine))
    assert warnings == []
    box = np.zeros((24, 20), dtype=bool)
    box[2:7, 2:6] = True  # rows 2–6, columns 2–5: vertices rounded, outline included
    ring = np.zeros((24, 20), dtype=bool)
    ring[10:21, 8:19] = True
    ring[14:17, 12:15] = False  # inside the hole's outline, which belongs to the ring
    assert np.array_equal(by_name(seg)["box"][0], box)
    assert np.array_equal(by_name(seg)["ring"][0], ring)


def test_a_darwin_file_of_another_scan_is_refused(spleen, organs):
    with pytest.raises(InvalidArgument, match="not the item's"):
        read_darwin(write_darwin("spleen.dcm", spleen), "spleen.json", grid(organs))
