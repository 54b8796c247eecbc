"""Slices for any viewer (ingestion domain): planes from the affine, mm ↔ index, windows, colormaps, PNG, thumbnails."""

from __future__ import annotations

import re
from io import BytesIO

import numpy as np
import pytest
from PIL import Image

from services.ingestion.domain.volume import build_volumes
from services.ingestion.domain.slices import (
    Colormap,
    Plane,
    Window,
    WindowPreset,
    auto_window,
    encode_png,
    locate,
    middle_axial,
    plane_axis,
    raw_bytes,
    render,
    resolve_window,
    thumbnail,
    volume_attributes,
)
from shared.errors import InvalidArgument
from shared.volumes import from_nifti
from tests.conftest import REPO
from tests.unit.test_ingestion_volume import MR, read_folder

SPLEEN_CT = "ivadomed_spleen/ct_scan/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
PROTO = REPO / "protos" / "radlab" / "ingestion" / "v1" / "ingestion_service.proto"


@pytest.fixture(scope="module")
def sagittal_mr(data_dir):
    """The 196-slice MR as built from its DICOM: k runs left-right, j head-foot, i front-back."""
    (volume,) = build_volumes(read_folder(data_dir / MR))
    return volume


@pytest.fixture(scope="module")
def spleen(data_dir):
    return from_nifti(data_dir / SPLEEN_CT)


def rotation_about_x(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    return np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])


def test_planes_of_an_axial_ct(spleen):
    _, affine = spleen
    assert [plane_axis(affine, plane) for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)] == [0, 1, 2]


def test_planes_of_a_sagittal_mr_follow_anatomy_not_array_order(sagittal_mr):
    """Stored as acquired (k left-right): axial fixes j (head-foot), coronal fixes i, sagittal fixes k."""
    affine = sagittal_mr.affine
    assert [plane_axis(affine, plane) for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)] == [1, 2, 0]
    location = locate(affine, sagittal_mr.shape, Plane.AXIAL, index=100)
    assert location.axis == 1
    assert location.pixel_spacing == pytest.approx((1.2, 1.0547), abs=1e-4)  # rows are k, columns i


def test_planes_of_an_oblique_volume_are_three_distinct_axes(spleen):
    """Tilted 40° about x, the k axis is still nearest S, and j nearest A/P: each plane keeps its axis."""
    _, affine = spleen
    oblique = affine.copy()
    oblique[:3, :3] = rotation_about_x(40) @ affine[:3, :3]
    assert [plane_axis(oblique, plane) for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)] == [0, 1, 2]
    past_diagonal = affine.copy()
    past_diagonal[:3, :3] = rotation_about_x(50) @ affine[:3, :3]
    assert [plane_axis(past_diagonal, plane) for plane in (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)] == [1, 0, 2]


def test_position_and_index_round_trip_to_the_nearest_slice(spleen, sagittal_mr):
    for affine, shape in ((spleen[1], spleen[0].shape), (sagittal_mr.affine, sagittal_mr.shape)):
        for plane in Plane:
            axis = plane_axis(affine, plane)
            step = float(np.linalg.norm(affine[:3, 2 - axis]))
            for index in (0, shape[axis] // 3, shape[axis] - 1):
                position = locate(affine, shape, plane, index=index).position_mm
                for nudge in (-0.49, 0.0, 0.49):
                    assert locate(affine, shape, plane, position_mm=position + nudge * step).index == index


def test_position_is_the_voxel_centre_projected_on_the_axis(spleen):
    """The spleen CT's k axis is +S at 5 mm from z = 0: slice 3 lies at z = 15 mm."""
    _, affine = spleen
    assert locate(affine, spleen[0].shape, Plane.AXIAL, index=3).position_mm == pytest.approx(15.0)
    assert locate(affine, spleen[0].shape, Plane.AXIAL, position_mm=16.4).index == 3


def test_a_position_or_index_outside_the_volume_is_refused(spleen):
    array, affine = spleen
    with pytest.raises(InvalidArgument, match=r"outside the volume along the axial axis: its 26 slices lie from 0 to 125 mm"):
        locate(affine, array.shape, Plane.AXIAL, position_mm=200.0)
    with pytest.raises(InvalidArgument, match="sagittal slice 164 does not exist"):
        locate(affine, array.shape, Plane.SAGITTAL, index=164)
    with pytest.raises(InvalidArgument, match="one of them"):
        locate(affine, array.shape, Plane.AXIAL)


def test_presets_match_the_proto_comments():
    """Every WINDOW_PRESET_* of the contract has a preset of the same name and the center / width its comment says."""
    documented = dict(
        (name, Window(float(center), float(width)))
        for center, width, name in re.findall(r"// (-?\d+) / (\d+) HU\.\s+WINDOW_PRESET_(\w+) =", PROTO.read_text())
    )
    assert len(documented) == 8
    assert {preset.name: preset.value for preset in WindowPreset if preset.value} == documented
    proto_names = set(re.findall(r"WINDOW_PRESET_(\w+) = [1-9]", PROTO.read_text()))
    assert proto_names == {preset.name for preset in WindowPreset}
    assert set(re.findall(r"COLORMAP_(\w+) = [1-9]", PROTO.read_text())) == {colormap.name for colormap in Colormap}


def test_default_windows_per_modality(spleen, sagittal_mr):
    ct = volume_attributes(spleen[0], "CT")
    assert resolve_window(None, ct) == WindowPreset.CT_ABDOMEN.value
    mr = volume_attributes(sagittal_mr.data, "MR")
    low, high = np.percentile(sagittal_mr.data, [1, 99])
    window = resolve_window(None, mr)
    assert window == resolve_window(WindowPreset.MR_AUTO, mr)
    assert window.center - window.width / 2 == pytest.approx(low, rel=0.02)
    assert window.center + window.width / 2 == pytest.approx(high, rel=0.02)
    assert (mr["min_value"], mr["max_value"]) == (float(sagittal_mr.data.min()), float(sagittal_mr.data.max()))
    voi = volume_attributes(spleen[0], "DX", Window(2048, 4096))
    assert resolve_window(None, voi) == Window(2048, 4096)
    assert resolve_window(WindowPreset.CT_LUNG, ct) == Window(-600, 1500)


def test_an_explicit_window_needs_a_positive_width():
    with pytest.raises(InvalidArgument, match="positive width"):
        resolve_window(Window(40, 0), {})


def test_window_maps_its_range_onto_0_to_255(spleen):
    array, _ = spleen
    pixels = array[13]
    image = render(pixels, Window(40, 400))
    assert image.dtype == np.uint8 and image.shape == pixels.shape
    assert np.all(image[pixels <= -160] == 0) and np.all(image[pixels >= 240] == 255)
    inside = (pixels > -150) & (pixels < 230)
    expected = np.rint((pixels[inside] + 160) * 255 / 400)
    assert np.abs(image[inside] - expected).max() <= 1
    assert np.array_equal(render(pixels, Window(40, 400), invert=True), 255 - image)


def test_colormaps_are_lookup_tables_with_their_character():
    levels = np.arange(256, dtype=np.float32).reshape(16, 16)
    gray = render(levels, Window(127.5, 255))
    assert np.array_equal(gray.reshape(-1), np.arange(256))
    for colormap in Colormap:
        assert colormap.table.shape == (256, 3) and colormap.table.dtype == np.uint8
    assert np.array_equal(Colormap.GRAY.table[:, 0], np.arange(256))
    hot = Colormap.HOT.table.astype(int)
    assert tuple(hot[-1]) == (255, 255, 255) and hot[0].sum() < 20 and np.all(np.diff(hot.sum(axis=1)) >= 0)
    assert tuple(Colormap.VIRIDIS.table[0]) == (0x44, 0x01, 0x54) and tuple(Colormap.VIRIDIS.table[-1]) == (0xFD, 0xE7, 0x25)
    bone = Colormap.BONE.table.astype(int)
    assert bone[64, 2] > bone[64, 0] and tuple(bone[-1]) == (255, 255, 255)
    rgb = render(levels, Window(127.5, 255), Colormap.HOT)
    assert rgb.shape == (16, 16, 3) and np.array_equal(rgb.reshape(-1, 3), Colormap.HOT.table)


def test_png_decodes_to_the_rendered_slice(spleen):
    pixels = spleen[0][13]
    for colormap, mode in ((Colormap.GRAY, "L"), (Colormap.VIRIDIS, "RGB")):
        image = render(pixels, Window(40, 400), colormap)
        decoded = Image.open(BytesIO(encode_png(image)))
        assert decoded.format == "PNG" and decoded.mode == mode
        assert np.array_equal(np.asarray(decoded), image)


def test_thumbnail_of_the_middle_axial_slice_keeps_the_physical_aspect(sagittal_mr):
    """The MR's axial plane is 196 k-rows at 1.2 mm by 256 i-columns at 1.055 mm: 235 × 270 mm."""
    location = middle_axial(sagittal_mr.affine, sagittal_mr.shape)
    assert (location.axis, location.index) == (1, 128)
    pixels = np.take(sagittal_mr.data, location.index, axis=location.axis)
    window = resolve_window(None, volume_attributes(sagittal_mr.data, "MR"))
    small = thumbnail(pixels, location.pixel_spacing, window, max_size=100)
    assert small.shape == (87, 100) and small.dtype == np.uint8
    assert small.std() > 10  # an image, not a blank


def test_raw_bytes_are_little_endian_row_major(sagittal_mr):
    pixels = sagittal_mr.data[5, 10:12, 20:23].astype(">u2")
    assert np.array_equal(np.frombuffer(raw_bytes(pixels), "<u2").reshape(2, 3), sagittal_mr.data[5, 10:12, 20:23])


def test_auto_window_on_a_flat_volume_is_still_usable():
    window = auto_window(np.full((2, 3, 4), 7, dtype=np.int16))
    assert window.center == 7 and window.width > 0
