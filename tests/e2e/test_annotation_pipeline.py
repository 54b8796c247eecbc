"""Annotation through a real `radlab up`: items from uploaded scans, classes, label import and export (NIfTI exact on
the source grid, DICOM-SEG read back by highdicom), key slices filled by interpolation, stale saves refused,
history, diffs, restores, vendor isolation and the audit log.

Real data: the MSD spleen CT with its manual mask (NIfTI) and TotalSegmentator's JPEG 2000 CT series with its
32-label map.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile

import grpc
import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from google.protobuf import field_mask_pb2

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2, label_pb2
from shared import objectstore
from shared.agreement import dice
from shared.stack import Stack
from shared.volumes import from_nifti
from tests.conftest import wait_until

TENANT = "hospital-a"
SPLEEN = "ivadomed_spleen/ct_scan"
SPLEEN_CT = f"{SPLEEN}/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MASK = f"{SPLEEN}/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
REFERENCE = "totalsegmentator/tests/reference_files"
KEYS = (3, 9, 15, 22)  # axial key slices drawn from the manual spleen mask (drawn on 3..22)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as running:
        yield running, home


def client_for(stack, subject: str, role: str, vendor: str = "") -> Client:
    running, home = stack
    token = issue_token(token_key(home, None), subject=subject, role=role, tenant=TENANT, vendor=vendor or None)
    return Client(running.grpc_addr, token)


@pytest.fixture(scope="module")
def admin(stack):
    with client_for(stack, "admin-1", "admin") as client:
        yield client


@pytest.fixture(scope="module")
def annotator(stack):
    with client_for(stack, "annotator-1", "annotator") as client:
        yield client


@pytest.fixture(scope="module")
def scans(admin, annotator, data_dir):
    """(dataset id, spleen item, DICOM CT item) once both scans are items; annotator-1 holds the spleen's annotate task."""
    dataset = admin.create_dataset("annotation e2e").dataset_id
    admin.upload(data_dir / SPLEEN_CT, dataset)
    admin.upload(data_dir / REFERENCE / "example_ct_dicom", dataset)
    found = admin.wait_for_items(dataset, 2, timeout_s=180)
    by_slices = {item.volume_ref.geometry.shape[0]: item for item in found}
    spleen_task = wait_until(lambda: annotator.list_tasks(dataset_id=dataset, item_id=by_slices[26].item_id),
                             "the spleen's annotate task")[0]
    annotator.claim_task(task_id=spleen_task.task_id)
    return dataset, by_slices[26], by_slices[20]


@pytest.fixture(scope="module")
def spleen(data_dir):
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    return mask.astype(bool), affine


@pytest.fixture(scope="module")
def spleen_class(admin, scans):
    made = admin.create_class(scans[0], "spleen")
    assert (made.concept.scheme, made.concept.meaning) == ("SCT", "Spleen")  # the built-in concept by name
    return made


def raw(mask: np.ndarray) -> label_pb2.SliceMask:
    return label_pb2.SliceMask(rows=mask.shape[0], columns=mask.shape[1], encoding=label_pb2.MASK_ENCODING_RAW,
                               data=mask.astype(np.uint8).tobytes())


def key_slice(mask: np.ndarray, k: int, value: int) -> label_pb2.SliceLabel:
    return label_pb2.SliceLabel(plane=geometry_pb2.PLANE_AXIAL, slice_index=k, label_value=value,
                                provenance=label_pb2.SLICE_PROVENANCE_DRAWN, mask=raw(mask[k]))


def annotation(client: Client, annotation_id: str, **options) -> pb.GetAnnotationResponse:
    return client.annotation.GetAnnotation(pb.GetAnnotationRequest(annotation_id=annotation_id, **options))


def export_archive(client: Client, dataset: str, label_format: int, **options) -> zipfile.ZipFile:
    seen: list[float] = []
    export = client.export_labels(dataset, label_format, lambda percent, _step: seen.append(percent), **options)
    assert export.job.state == 3, export.job.error  # SUCCEEDED
    assert seen[-1] == 100.0
    with urllib.request.urlopen(export.download_url) as response:
        return zipfile.ZipFile(io.BytesIO(response.read()))


def test_items_come_from_volumes_and_filter_by_modality_text_tag_and_folder(admin, scans):
    dataset, spleen_item, ct_item = scans
    assert ct_item.modality == "CT"
    assert {item.item_id for item in admin.list_items(dataset, modality="CT")} >= {ct_item.item_id}
    assert admin.list_items(dataset, modality="MR") == []
    assert [item.item_id for item in admin.list_items(dataset, body_part="partialbody")] == [ct_item.item_id]
    held = wait_until(lambda: admin.list_items(dataset, assignee="annotator-1") or None, "the spleen's task holder")
    assert [(item.item_id, list(item.assignees)) for item in held] == [(spleen_item.item_id, ["annotator-1"])]
    both = {spleen_item.item_id, ct_item.item_id}  # each item's stage arrives with its own TaskCreated
    wait_until(lambda: {item.item_id for item in admin.list_items(dataset, stage_id="annotate")} == both, "both at annotate")
    assert admin.list_items(dataset, filter_completed=True, completed=True) == []
    folder = admin.annotation.CreateFolder(pb.CreateFolderRequest(dataset_id=dataset, name="training")).folder
    admin.annotation.UpdateItem(pb.UpdateItemRequest(
        item=pb.Item(item_id=ct_item.item_id, tags=["abdomen", "contrast"], folder_id=folder.folder_id,
                     metadata={"site": "A"}),
        update_mask=field_mask_pb2.FieldMask(paths=["tags", "folder_id", "metadata"])))
    assert [item.item_id for item in admin.list_items(dataset, tag="contrast")] == [ct_item.item_id]
    assert [item.item_id for item in admin.list_items(dataset, folder_id=folder.folder_id)] == [ct_item.item_id]
    got = admin.annotation.GetItem(pb.GetItemRequest(item_id=ct_item.item_id)).item
    assert (list(got.tags), dict(got.metadata)) == (["abdomen", "contrast"], {"site": "A"})
    newest = admin.list_items(dataset, newest_first=True)
    assert [item.item_id for item in newest] == [item.item_id for item in reversed(admin.list_items(dataset))]
    with pytest.raises(grpc.RpcError) as refused:
        admin.annotation.UpdateItem(pb.UpdateItemRequest(
            item=pb.Item(item_id=ct_item.item_id, modality="MR"), update_mask=field_mask_pb2.FieldMask(paths=["modality"])))
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_a_nifti_label_imports_and_exports_bit_exact_on_the_source_grid(admin, annotator, scans, spleen_class, data_dir, tmp_path):
    dataset, spleen_item, _ = scans
    imported = annotator.import_labels(spleen_item.item_id, data_dir / SPLEEN_MASK, mapping={"1": spleen_class.value})
    assert (imported.version, list(imported.label_values)) == (1, [spleen_class.value])
    assert [item.item_id for item in admin.list_items(dataset, label_value=spleen_class.value)] == [spleen_item.item_id]
    origins = annotation(annotator, imported.annotation_id).slice_origins
    assert origins and {o.provenance for o in origins} == {label_pb2.SLICE_PROVENANCE_IMPORTED}
    assert {o.source for o in origins} == {"sub-spleen2_ct_seg-manual.nii.gz"}
    annotator.annotation.SubmitAnnotation(pb.SubmitAnnotationRequest(annotation_id=imported.annotation_id, version=1))

    archive = export_archive(admin, dataset, pb.LABEL_FORMAT_NIFTI)
    name = f"{spleen_item.item_id}/{imported.annotation_id}.nii.gz"
    (tmp_path / "out.nii.gz").write_bytes(archive.read(name))
    exported, source = nib.load(tmp_path / "out.nii.gz"), nib.load(data_dir / SPLEEN_MASK)
    assert np.array_equal(np.asarray(exported.dataobj), np.asarray(source.dataobj))
    assert np.allclose(exported.affine, source.affine, atol=1e-3)
    assert "labels.csv" in archive.namelist() and "manifest.json" in archive.namelist()


def test_the_32_label_map_goes_out_as_dicom_seg_that_highdicom_reads_back(admin, annotator, scans, data_dir, stack):
    dataset, _, ct_item = scans
    labels_path = data_dir / REFERENCE / "example_seg_dicom.nii.gz"
    imported = admin.import_labels(ct_item.item_id, labels_path, create_missing_classes=True)
    truth, truth_affine = from_nifti(labels_path)
    assert sorted(imported.label_values) == sorted(int(v) for v in np.unique(truth) if v)
    admin.annotation.SubmitAnnotation(pb.SubmitAnnotationRequest(annotation_id=imported.annotation_id, version=1))

    archive = export_archive(admin, dataset, pb.LABEL_FORMAT_DICOM_SEG)
    seg = hd.seg.segread(io.BytesIO(archive.read(f"{ct_item.item_id}/{imported.annotation_id}.seg.dcm")))
    _, home = stack
    store = objectstore.connect(f"file://{home}/objects")
    stored = [store.get("dicom", info.key) for info in store.list("dicom")]
    sources = [pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True) for data in stored if data[128:132] == b"DICM"]
    ours = [ds for ds in sources if getattr(ds, "SeriesInstanceUID", None) == seg.ReferencedSeriesSequence[0].SeriesInstanceUID]
    assert len(ours) == 20
    values = {int(s.SegmentNumber): s for s in seg.SegmentSequence}
    assert len(values) == len(imported.label_values)
    classes = {label_class.name: label_class for label_class in admin.list_classes(dataset)}
    for segment in seg.SegmentSequence:  # each segment carries its class's name and codes
        code = segment.SegmentedPropertyTypeCodeSequence[0]
        concept = classes[str(segment.SegmentLabel)].concept
        assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == (concept.value, concept.scheme, concept.meaning)
    numbers = sorted(values)
    pixels = seg.get_pixels_by_source_instance(source_sop_instance_uids=[str(ds.SOPInstanceUID) for ds in ours],
                                               ignore_spatial_locations=True, segment_numbers=numbers,
                                               assert_missing_frames_are_empty=True)
    for index, ds in enumerate(ours):
        expected = on_instance(truth, truth_affine, ds)
        for position, number in enumerate(numbers):
            value = classes[str(values[number].SegmentLabel)].value
            assert np.array_equal(pixels[index, :, :, position] > 0, expected == value), (ds.InstanceNumber, number)


def on_instance(labels: np.ndarray, affine: np.ndarray, ds) -> np.ndarray:
    """The label map's voxels at each pixel centre of a DICOM instance (which must lie on the map's grid)."""
    rows, columns = int(ds.Rows), int(ds.Columns)
    row_direction, column_direction = np.reshape(np.asarray(ds.ImageOrientationPatient, float), (2, 3))
    spacing_rows, spacing_columns = map(float, ds.PixelSpacing)
    r, c = np.mgrid[0:rows, 0:columns]
    points = (np.asarray(ds.ImagePositionPatient, float) + c[..., None] * spacing_columns * row_direction
              + r[..., None] * spacing_rows * column_direction)
    voxels = np.linalg.inv(affine) @ np.c_[points.reshape(-1, 3), np.ones(rows * columns)].T
    i, j, k = (np.rint(voxels[:3]).astype(int))
    assert np.abs(voxels[:3] - np.rint(voxels[:3])).max() < 1e-2
    return labels[k, j, i].reshape(rows, columns)


def test_key_slices_are_filled_by_interpolation_and_a_stale_save_is_refused(annotator, admin, scans, spleen_class, spleen):
    _, spleen_item, _ = scans
    mask, _ = spleen
    value = spleen_class.value
    saved = annotator.annotation.SaveKeySlices(pb.SaveKeySlicesRequest(
        item_id=spleen_item.item_id, key_slices=[key_slice(mask, k, value) for k in KEYS]))
    assert saved.version == 1

    def interpolated():
        current = annotation(annotator, saved.annotation_id)
        return current if current.annotation.version == 2 else None

    filled = wait_until(interpolated, "interpolated slices applied as version 2", timeout_s=120)
    origins = {(o.slice_index, o.provenance) for o in filled.slice_origins}
    assert {(k, label_pb2.SLICE_PROVENANCE_DRAWN) for k in KEYS} <= origins
    between = [k for k in range(KEYS[0] + 1, KEYS[-1]) if k not in KEYS]
    assert {(k, label_pb2.SLICE_PROVENANCE_INTERPOLATED) for k in between} <= origins
    assert all(o.source.startswith("job ") for o in filled.slice_origins if o.provenance == label_pb2.SLICE_PROVENANCE_INTERPOLATED)
    slices = annotation(annotator, saved.annotation_id, plane=geometry_pb2.PLANE_AXIAL, slice_indices=between).slices
    got = {s.slice_index: np.frombuffer(s.mask.data, np.uint8).reshape(mask.shape[1:]) > 0 for s in slices}
    assert dice(np.stack([got[k] for k in between]), mask[between]) > 0.85

    with pytest.raises(grpc.RpcError) as stale:
        annotator.annotation.SaveKeySlices(pb.SaveKeySlicesRequest(
            item_id=spleen_item.item_id, annotation_id=saved.annotation_id, base_version=1,
            key_slices=[key_slice(mask, 5, value)]))
    assert stale.value.code() is grpc.StatusCode.ABORTED
    assert "interpolation" in stale.value.details() and "version 2" in stale.value.details()

    edited = annotator.annotation.SaveKeySlices(pb.SaveKeySlicesRequest(
        item_id=spleen_item.item_id, annotation_id=saved.annotation_id, base_version=2,
        key_slices=[key_slice(mask, 5, value)]))
    assert edited.version == 3
    after = {(o.slice_index, o.provenance) for o in annotation(annotator, saved.annotation_id, version=3).slice_origins}
    assert (5, label_pb2.SLICE_PROVENANCE_DRAWN) in after  # an edited filled slice is drawn now
    change = annotator.annotation.GetAnnotationDiff(pb.GetAnnotationDiffRequest(annotation_id=saved.annotation_id, to_version=3))
    assert change.from_version == 2 and [d.label_value for d in change.labels] == [value]
    assert list(change.labels[0].slices_changed) == [5]

    history = annotator.annotation.ListAnnotationVersions(pb.ListAnnotationVersionsRequest(annotation_id=saved.annotation_id))
    assert [v.version for v in history.versions][-3:] == [3, 2, 1]  # newest first
    wait_until(lambda: annotation(annotator, saved.annotation_id).annotation.version >= 4 or None, "version 3's key slices interpolated")
    current = annotation(annotator, saved.annotation_id).annotation.version
    restored = annotator.annotation.RestoreAnnotationVersion(pb.RestoreAnnotationVersionRequest(
        annotation_id=saved.annotation_id, version=1, base_version=current)).annotation
    back = annotation(annotator, saved.annotation_id, version=restored.version)
    assert {(o.slice_index, o.provenance) for o in back.slice_origins} == {(k, label_pb2.SLICE_PROVENANCE_DRAWN) for k in KEYS}

    actions = [(e.action, e.actor) for e in admin.audit_events(scans[0]) if e.annotation_id == saved.annotation_id]
    assert ("annotation.key_slices_saved", "annotator-1") in actions
    assert ("annotation.slices_interpolated", "radlab.interpolation") in actions
    assert ("annotation.restored", "annotator-1") in actions


def test_a_label_map_on_another_grid_is_refused_and_nothing_is_applied(annotator, scans, data_dir):
    _, spleen_item, _ = scans
    before = [a.version for a in annotator.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations]
    with pytest.raises(grpc.RpcError) as refused:
        annotator.import_labels(spleen_item.item_id, data_dir / "sct_t2/t2/t2_seg-manual.nii.gz", create_missing_classes=True)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "t2_seg-manual.nii.gz" in refused.value.details()
    after = [a.version for a in annotator.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations]
    assert after == before


def test_a_vendor_sees_only_shared_datasets_and_its_own_annotations(stack, admin, scans, spleen_class, spleen):
    dataset, spleen_item, _ = scans
    mask, _ = spleen
    with client_for(stack, "acme-1", "vendor", vendor="acme") as vendor:
        for call in (lambda: vendor.list_items(dataset), lambda: vendor.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)),
                     lambda: vendor.list_classes(dataset)):
            with pytest.raises(grpc.RpcError) as hidden:
                call()
            assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
        admin.annotation.ShareDataset(pb.ShareDatasetRequest(dataset_id=dataset, vendor_id="acme"))
        assert spleen_item.item_id in {item.item_id for item in vendor.list_items(dataset)}
        theirs = vendor.annotation.SaveKeySlices(pb.SaveKeySlicesRequest(
            item_id=spleen_item.item_id, key_slices=[key_slice(mask, 10, spleen_class.value)]))
        seen = vendor.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations
        assert [a.annotation_id for a in seen] == [theirs.annotation_id]
        assert seen[0].vendor_id == "acme"
        others = [a.annotation_id for a in admin.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations
                  if a.annotation_id != theirs.annotation_id]
        with pytest.raises(grpc.RpcError) as foreign:
            annotation(vendor, others[0])
        assert foreign.value.code() is grpc.StatusCode.NOT_FOUND


def test_shapes_and_tags_are_measured_in_mm_and_the_image_units_and_exported(admin, annotator, scans, spleen):
    dataset, spleen_item, _ = scans
    _, affine = spleen
    ruler = admin.annotation.CreateLabelClass(pb.CreateLabelClassRequest(
        dataset_id=dataset, name="ruler", type=pb.LABEL_CLASS_TYPE_MEASUREMENT)).label_class
    finding = admin.annotation.CreateLabelClass(pb.CreateLabelClassRequest(
        dataset_id=dataset, name="finding", type=pb.LABEL_CLASS_TYPE_TAG, attributes=[
            pb.ClassAttribute(name="severity", kind=pb.CLASS_ATTRIBUTE_KIND_CHOICE, choices=["mild", "severe"])])).label_class
    box = admin.annotation.CreateLabelClass(pb.CreateLabelClassRequest(
        dataset_id=dataset, name="region", type=pb.LABEL_CLASS_TYPE_BOUNDING_BOX)).label_class
    point = label_pb2.Point2
    axial = geometry_pb2.PLANE_AXIAL
    drawn = [
        pb.Shape(label_value=ruler.value, plane=axial, slice_index=10, polyline=pb.Polyline(points=[point(x=10, y=20), point(x=50, y=20)])),
        pb.Shape(label_value=ruler.value, plane=axial, slice_index=10, angle=pb.Angle(a=point(x=60, y=20), vertex=point(x=20, y=20), b=point(x=20, y=70))),
        pb.Shape(label_value=box.value, plane=axial, slice_index=10, box=pb.Box(x0=60, y0=60, x1=79, y1=69)),
        pb.Shape(label_value=finding.value, attributes={"severity": "mild"}),
    ]
    saved = annotator.annotation.SaveShapes(pb.SaveShapesRequest(item_id=spleen_item.item_id, shapes=drawn))
    measured = {shape.WhichOneof("geometry"): shape.measurement for shape in saved.shapes}
    column_mm = float(np.linalg.norm(affine[:3, 0]))  # i steps along x on an axial slice
    assert measured["polyline"].length_mm == pytest.approx(40 * column_mm, rel=1e-6)
    assert measured["angle"].angle_degrees == pytest.approx(90.0, abs=1e-6)
    assert measured["box"].voxels == 20 * 10 and measured["box"].units == ""  # a NIfTI upload names no modality
    assert measured["box"].area_mm2 == pytest.approx(200 * column_mm * float(np.linalg.norm(affine[:3, 1])), rel=1e-6)
    assert measured["box"].min <= measured["box"].mean <= measured["box"].max
    tag = next(shape for shape in saved.shapes if shape.label_value == finding.value)
    assert dict(tag.attributes) == {"severity": "mild"} and tag.author == "annotator-1"

    for wrong, message in (
        (pb.Shape(label_value=box.value, plane=axial, slice_index=10, polyline=pb.Polyline(points=[point(x=1, y=1), point(x=2, y=2)])), "takes box"),
        (pb.Shape(label_value=finding.value, attributes={"severity": "fatal"}), "one of mild, severe"),
        (pb.Shape(label_value=ruler.value, plane=axial, slice_index=99, polyline=pb.Polyline(points=[point(x=1, y=1), point(x=2, y=2)])), "outside"),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            annotator.annotation.SaveShapes(pb.SaveShapesRequest(
                item_id=spleen_item.item_id, annotation_id=saved.annotation_id, base_version=saved.version, shapes=[wrong]))
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT and message in refused.value.details()

    removed = annotator.annotation.SaveShapes(pb.SaveShapesRequest(
        item_id=spleen_item.item_id, annotation_id=saved.annotation_id, base_version=saved.version,
        removed_shape_ids=[tag.shape_id]))
    change = annotator.annotation.GetAnnotationDiff(pb.GetAnnotationDiffRequest(annotation_id=saved.annotation_id))
    assert [(d.label_value, d.shapes_removed) for d in change.labels] == [(finding.value, 1)]
    annotator.annotation.SubmitAnnotation(pb.SubmitAnnotationRequest(annotation_id=saved.annotation_id, version=removed.version))
    archive = export_archive(admin, dataset, pb.LABEL_FORMAT_NIFTI)
    rows = archive.read("measurements.csv").decode().splitlines()
    assert len([row for row in rows if saved.annotation_id in row]) == 3


def test_label_volumes_are_measured_in_ml_and_hounsfield_units(admin, scans, data_dir):
    dataset, spleen_item, _ = scans
    imported = [a for a in admin.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations
                if a.annotator == "annotator-1" and list(a.labels.label_values)]
    found = annotation(admin, imported[0].annotation_id, include_measurements=True).label_measurements
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    voxel_ml = abs(np.linalg.det(affine[:3, :3])) / 1000
    assert found[0].measurement.voxels == int(np.count_nonzero(mask))
    assert found[0].measurement.volume_ml == pytest.approx(np.count_nonzero(mask) * voxel_ml, rel=1e-9)


def vendor_requests(dataset: str, item: str, annotation_id: str) -> dict[str, object]:
    """A request naming another vendor's dataset, item or annotation, for every annotation RPC vendors may call."""
    return {
        "GetDataset": pb.GetDatasetRequest(dataset_id=dataset),
        "ListLabelClasses": pb.ListLabelClassesRequest(dataset_id=dataset),
        "ListFolders": pb.ListFoldersRequest(dataset_id=dataset),
        "ListItems": pb.ListItemsRequest(dataset_id=dataset),
        "GetItem": pb.GetItemRequest(item_id=item),
        "SaveKeySlices": pb.SaveKeySlicesRequest(item_id=item, key_slices=[label_pb2.SliceLabel(
            plane=geometry_pb2.PLANE_AXIAL, slice_index=0, label_value=1, provenance=label_pb2.SLICE_PROVENANCE_ABSENT)]),
        "SaveShapes": pb.SaveShapesRequest(item_id=item, shapes=[pb.Shape(label_value=1)]),
        "GetAnnotation": pb.GetAnnotationRequest(annotation_id=annotation_id),
        "SubmitAnnotation": pb.SubmitAnnotationRequest(annotation_id=annotation_id, version=1),
        "ListAnnotationVersions": pb.ListAnnotationVersionsRequest(annotation_id=annotation_id),
        "GetAnnotationDiff": pb.GetAnnotationDiffRequest(annotation_id=annotation_id),
        "RestoreAnnotationVersion": pb.RestoreAnnotationVersionRequest(annotation_id=annotation_id, version=1, base_version=1),
        "ImportLabels": pb.ImportLabelsRequest(item_id=item, format=pb.LABEL_FORMAT_NIFTI, data=b"x", file_name="x.nii"),
    }


def test_every_rpc_a_vendor_may_call_hides_another_vendors_dataset(stack, admin, scans):
    """globex's token gets NOT_FOUND for acme's dataset, its items and annotations, from every RPC vendors may call."""
    from shared.auth import allowed_roles

    dataset, spleen_item, _ = scans
    some_annotation = admin.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations[0].annotation_id
    requests = vendor_requests(dataset, spleen_item.item_id, some_annotation)
    vendor_rpcs = {method.name for method in pb.DESCRIPTOR.services_by_name["AnnotationService"].methods
                   if "vendor" in allowed_roles(f"/radlab.annotation.v1.AnnotationService/{method.name}")}
    assert set(requests) == vendor_rpcs - {"ListDatasets"}  # a new vendor RPC needs a line here
    with client_for(stack, "globex-1", "vendor", vendor="globex") as globex:
        assert dataset not in {d.dataset_id for d in globex.list_datasets()}
        for name, request in requests.items():
            with pytest.raises(grpc.RpcError) as hidden:
                getattr(globex.annotation, name)(request)
            assert hidden.value.code() is grpc.StatusCode.NOT_FOUND, (name, hidden.value.details())


def test_the_cli_lists_items_and_classes_and_exports_with_a_progress_bar(stack, admin, scans, tmp_path, monkeypatch, capsys):
    from radlab.cli import main

    running, home = stack
    dataset, spleen_item, _ = scans
    monkeypatch.setenv("RADLAB_URL", running.grpc_addr)
    monkeypatch.setenv("RADLAB_TOKEN", issue_token(token_key(home, None), subject="admin-1", role="admin", tenant=TENANT))
    assert main(["items", "list", dataset, "--text", spleen_item.display_name[:6]]) == 0
    assert spleen_item.item_id in capsys.readouterr().out
    assert main(["classes", "list", dataset]) == 0
    assert "Spleen (SCT 78961009)" in capsys.readouterr().out
    out = tmp_path / "labels.zip"
    assert main(["labels", "export", dataset, str(out), "--format", "nifti", "--wait"]) == 0
    printed = capsys.readouterr()
    assert "exporting" in printed.err and "100" in printed.err
    assert "labels.csv" in zipfile.ZipFile(out).namelist()
    assert main(["labels", "import", spleen_item.item_id, str(tmp_path / "missing.nii.gz")]) == 1
    assert "missing.nii.gz" in capsys.readouterr().err
    assert main(["audit", "export", "--dataset", dataset]) == 0
    assert '"action": "dataset.created"' in capsys.readouterr().out


def label_voxels(client: Client, annotation_id: str) -> dict[int, int]:
    found = annotation(client, annotation_id, include_measurements=True).label_measurements
    return {entry.label_value: entry.measurement.voxels for entry in found}


@pytest.mark.parametrize("label_format, suffix", [
    (pb.LABEL_FORMAT_DARWIN, ".json"), (pb.LABEL_FORMAT_RTSTRUCT, ".rtstruct.dcm"), (pb.LABEL_FORMAT_COCO, "annotations.json"),
])
def test_every_export_format_imports_back_to_the_same_labels(admin, scans, label_format, suffix):
    """Each submitted annotation goes out in the format and comes back in through ImportLabels: the same voxels per
    class (RTSTRUCT's contours within 1 %); items the format cannot express are listed as skipped."""
    dataset, spleen_item, ct_item = scans
    archive = export_archive(admin, dataset, label_format, selection=pb.ANNOTATION_SELECTION_ALL_SUBMITTED)
    manifest = json.loads(archive.read("manifest.json"))
    compared = 0
    for entry in manifest["annotations"]:
        skipped = {s["annotation_id"] for s in manifest["skipped"]}
        original = label_voxels(admin, entry["annotation_id"])
        if entry["annotation_id"] in skipped or not original:
            continue
        name = "annotations.json" if label_format == pb.LABEL_FORMAT_COCO else f"{entry['item_id']}/{entry['annotation_id']}{suffix}"
        back = admin.annotation.ImportLabels(pb.ImportLabelsRequest(
            item_id=entry["item_id"], format=label_format, data=archive.read(name), file_name=name.rsplit("/", 1)[-1]))
        again = label_voxels(admin, back.annotation_id)
        assert set(again) == set(original), name
        for value, count in original.items():
            assert again[value] == pytest.approx(count, rel=0.01 if label_format == pb.LABEL_FORMAT_RTSTRUCT else 0), (name, value)
        compared += 1
    assert compared >= (1 if label_format == pb.LABEL_FORMAT_RTSTRUCT else 2)
    if label_format == pb.LABEL_FORMAT_RTSTRUCT:
        assert spleen_item.item_id in {s["item_id"] for s in manifest["skipped"]}  # built from NIfTI: no instances to cite


def test_annotators_see_only_the_items_of_their_tasks_and_only_their_own_annotations(stack, admin, annotator, scans):
    """bob holds no task: the items are closed to him. rita reviews the spleen once annotator-1 submitted it: she sees
    the item and every annotation on it; annotator-1 sees only their own (blind reading)."""
    dataset, spleen_item, ct_item = scans
    with client_for(stack, "bob", "annotator") as bob:
        assert bob.list_items(dataset) == []
        with pytest.raises(grpc.RpcError) as closed:
            bob.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id))
        assert closed.value.code() is grpc.StatusCode.PERMISSION_DENIED and "claim its task" in closed.value.details()
    every = {a.annotation_id: a.annotator for a in admin.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations}
    mine = [a.annotation_id for a in annotator.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations]
    assert set(mine) == {key for key, who in every.items() if who == "annotator-1"} and len(every) > len(mine)
    with pytest.raises(grpc.RpcError) as hidden:
        annotation(annotator, next(key for key, who in every.items() if who != "annotator-1"))
    assert hidden.value.code() is grpc.StatusCode.NOT_FOUND
    assert [item.item_id for item in annotator.list_items(dataset)] == [spleen_item.item_id]
    with client_for(stack, "rita", "reviewer") as rita:
        review = wait_until(lambda: [t for t in rita.list_tasks(dataset_id=dataset, item_id=spleen_item.item_id)
                                     if t.stage_id == "review"], "the spleen's review task")[0]
        rita.claim_task(task_id=review.task_id)
        seen = {a.annotation_id for a in rita.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations}
        assert seen == set(every)
        with pytest.raises(grpc.RpcError) as closed:
            rita.annotation.GetItem(pb.GetItemRequest(item_id=ct_item.item_id))
        assert closed.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_a_models_prediction_becomes_its_annotation_every_slice_predicted_and_seen_by_annotators(stack, admin, annotator, scans, spleen):
    """The training service is played by the test (tests/predictions.py: a label array and PredictionsReady on the
    stack's bus, as training does): annotation's handling alone, without a model; test_training_pipeline runs real ones."""
    from tests.predictions import publish_prediction

    running, home = stack
    dataset, spleen_item, _ = scans
    mask, affine = spleen
    publish_prediction(home, TENANT, spleen_item, dataset, mask, affine, "p-1", "model-7@v2")
    predicted = wait_until(lambda: [a for a in annotator.annotation.GetItem(pb.GetItemRequest(item_id=spleen_item.item_id)).item.annotations
                                    if a.model_id == "model-7@v2"] or None, "the model's annotation")[0]
    origins = annotation(annotator, predicted.annotation_id).slice_origins
    assert {(o.provenance, o.source) for o in origins} == {(label_pb2.SLICE_PROVENANCE_PREDICTED, "model-7@v2")}
    assert sorted(o.slice_index for o in origins) == sorted({int(k) for k in np.flatnonzero(mask.any(axis=(1, 2)))})
