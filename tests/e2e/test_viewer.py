"""The web viewer in Debian's headless Chromium (driven by Playwright, WebGL on SwiftShader) against a real `radlab up`
serving the built viewer through its HTTP gateway, on the MSD spleen CT with its manual mask.

An annotator opens their task and sees three views of the right anatomy (each compared with the server's own render
of the same slice, physical aspect ratio included; screenshots kept in build/artefacts/viewer/), scrolls, applies a
preset, paints the spleen with the brush on two key slices, fills between, saves and reloads: the label the viewer
shows equals what the API holds, drawn slices as drawn and the slices between as the platform filled them. Then a
reviewer rejects it from the viewer with a comment, and the annotator's worklist shows the task back with it.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import grpc
import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from radlab.annotation.v1 import annotation_service_pb2 as pb
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.type.v1 import geometry_pb2, label_pb2
from radlab.workflow.v1 import workflow_service_pb2 as wpb
from shared.grid import PLANES, plane_axis
from shared.stack import Stack, free_port
from shared.volumes import from_nifti, to_nifti
from tests.browser import chromium, wait_ready
from tests.conftest import installed_tool, wait_until

TENANT = "hospital-a"
SPLEEN = "ivadomed_spleen/ct_scan"
SPLEEN_CT = f"{SPLEEN}/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MASK = f"{SPLEEN}/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "build" / "artefacts" / "viewer"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    built = subprocess.run([str(REPO / "scripts" / "viewer.sh")], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, f"scripts/viewer.sh could not build the viewer:\n{built.stderr[-3000:]}"
    home = tmp_path_factory.mktemp("home")
    http = f"127.0.0.1:{free_port()}"
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": "", "RADLAB_HTTP_ADDR": http}) as running:
        yield running, home, f"http://{http}"


def token_for(stack, subject: str, role: str) -> str:
    return issue_token(token_key(stack[1], None), subject=subject, role=role, tenant=TENANT)


@pytest.fixture(scope="module")
def scan(stack, data_dir):
    """(dataset, spleen item, manual mask [k, j, i]) once the CT is an item with a spleen class; annotator-1 holds its task."""
    admin = Client(stack[0].grpc_addr, token_for(stack, "admin-1", "admin"))
    annotator = Client(stack[0].grpc_addr, token_for(stack, "annotator-1", "annotator"))
    dataset = admin.create_dataset("viewer e2e").dataset_id
    admin.create_class(dataset, "spleen", value=1)
    admin.upload(data_dir / SPLEEN_CT, dataset)
    item = admin.wait_for_items(dataset, 1, timeout_s=180)[0]
    task = wait_until(lambda: annotator.list_tasks(dataset_id=dataset, item_id=item.item_id), "the annotate task")[0]
    annotator.claim_task(task_id=task.task_id)
    mask, _ = from_nifti(data_dir / SPLEEN_MASK)
    return dataset, item, task.task_id, mask.astype(bool)


@pytest.fixture(scope="module")
def browser():
    with chromium(installed_tool("chromium")) as launched:
        yield launched


def open_viewer(browser, stack, token: str, fragment: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack[2]}/viewer/#token={token}&{fragment}")
    return page, errors


def server_slice(stack, token: str, volume_id: str, plane: str, index: int, preset: str) -> np.ndarray:
    request = urllib.request.Request(
        f"{stack[2]}/api/v1/volumes/{volume_id}/slices/{plane}/{index}.png?window_preset={preset}",
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as answer:
        return np.asarray(Image.open(io.BytesIO(answer.read())).convert("L"), dtype=np.float64)


def compare_view(page, stack, token: str, item, view: str, preset: str, plane: str = "") -> tuple[float, float, float]:
    """(correlation of the view's pixels with the server's render of the same slice, the rendered row:column length
    ratio, the physical one): the server's PNG of `plane` (default: the view's own) is mapped onto the page through
    three voxel corners the viewer reports."""
    shape = list(item.volume_ref.geometry.shape)  # [k, j, i]
    spacing = list(item.volume_ref.geometry.spacing)
    plane = plane or view
    voxel = page.evaluate(f"() => window.radlab.voxelOf('{view}')")  # [i, j, k]
    fixed = plane_axis(np.array(item.volume_ref.geometry.affine).reshape(4, 4), plane)
    index = int(round(voxel[2 - fixed]))
    expected = server_slice(stack, token, item.volume_id, plane, index, preset)
    rows_axis, columns_axis = [axis for axis in (0, 1, 2) if axis != fixed]  # the PNG's rows and columns, array order

    def page_point(row: int, column: int) -> np.ndarray:
        kji = [index] * 3
        kji[rows_axis], kji[columns_axis] = row, column
        return np.array(page.evaluate(f"() => window.radlab.pagePoint('{view}', {kji[2]}, {kji[1]}, {kji[0]})"))

    origin = page_point(0, 0)
    down = (page_point(shape[rows_axis] - 1, 0) - origin) / (shape[rows_axis] - 1)
    across = (page_point(0, shape[columns_axis] - 1) - origin) / (shape[columns_axis] - 1)
    box = page.locator(f"#view-{view}").bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(page.locator(f"#view-{view}").screenshot())).convert("L"), dtype=np.float64)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(shot.astype(np.uint8)).save(ARTEFACTS / f"{view}.png")
    Image.fromarray(expected.astype(np.uint8)).save(ARTEFACTS / f"{view}-server.png")
    # Every screenshot pixel → (row, column) of the server's slice, by inverting the page = origin + r·down + c·across map.
    ys, xs = np.mgrid[0 : shot.shape[0], 0 : shot.shape[1]]
    scale = shot.shape[1] / box["width"]
    page_xy = np.stack([xs / scale + box["x"], ys / scale + box["y"]], axis=-1) - origin
    to_rc = np.linalg.inv(np.stack([down, across], axis=1))
    rc = np.rint(page_xy @ to_rc.T).astype(int)
    inside = (rc[..., 0] >= 2) & (rc[..., 0] < expected.shape[0] - 2) & (rc[..., 1] >= 2) & (rc[..., 1] < expected.shape[1] - 2)
    assert inside.sum() > 5000, f"the {view} view shows almost none of the slice"
    mapped = expected[rc[..., 0][inside], rc[..., 1][inside]]
    correlation = float(np.corrcoef(shot[inside], mapped)[0, 1])
    rendered = np.linalg.norm(down) / np.linalg.norm(across)
    physical = spacing[rows_axis] / spacing[columns_axis]
    return correlation, rendered, physical


def stroke(page, view_voxels: list[tuple[int, int, int]]) -> None:
    """A mouse drag through voxels (i, j, k) of the axial view's current slice."""
    points = [page.evaluate(f"() => window.radlab.pagePoint('axial', {i}, {j}, {k})") for i, j, k in view_voxels]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def annotation_per_slice(client: Client, annotation_id: str, slices: int) -> np.ndarray:
    """Label voxels per axial slice of the annotation's current version, read through the API."""
    got = client.annotation.GetAnnotation(pb.GetAnnotationRequest(
        annotation_id=annotation_id, plane=geometry_pb2.PLANE_AXIAL, slice_indices=list(range(slices))))
    counts = np.zeros(slices, dtype=int)
    for piece in got.slices:
        if piece.mask.encoding == label_pb2.MASK_ENCODING_RAW:
            counts[piece.slice_index] += int(np.count_nonzero(np.frombuffer(piece.mask.data, np.uint8)))
        else:
            counts[piece.slice_index] += int(np.count_nonzero(np.asarray(Image.open(io.BytesIO(piece.mask.data)))))
    return counts


def test_annotate_fill_save_reload_and_review_in_the_browser(stack, scan, browser):
    dataset, item, task_id, manual = scan
    annotator_token = token_for(stack, "annotator-1", "annotator")
    page, errors = open_viewer(browser, stack, annotator_token, f"item={item.item_id}&task={task_id}")
    wait_ready(page)
    timings = page.evaluate("() => window.radlab.timings")
    assert timings["mprMs"] > 0 and page.evaluate("() => window.radlab.bytes") > 0

    # Three views of the right anatomy: each agrees with the server's render of its slice, at its physical aspect.
    page.keyboard.press("1")  # the soft-tissue preset (the NIfTI carries no modality: both default to percentiles)
    assert page.evaluate("() => window.radlab.properties('axial').voiRange") == {"lower": -160, "upper": 240}
    for view in ("axial", "coronal", "sagittal"):
        correlation, rendered, physical = compare_view(page, stack, annotator_token, item, view, "CT_ABDOMEN")
        assert correlation > 0.9, f"{view}: the view does not show the server's slice (r = {correlation:.3f})"
        assert rendered == pytest.approx(physical, rel=0.02), f"{view}: squashed ({rendered:.3f} vs {physical:.3f})"

    # Scrolling moves one slice per notch; a preset changes the window (the lung window is much wider).
    page.evaluate("() => window.radlab.jump(10)")
    before = page.evaluate("() => window.radlab.voxelOf('axial')")[2]
    page.locator("#view-axial").hover()
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(300)
    after = page.evaluate("() => window.radlab.voxelOf('axial')")[2]
    assert abs(round(after) - round(before)) == 1
    page.keyboard.press("2")
    assert page.evaluate("() => window.radlab.window") == {"center": -600, "width": 1500, "preset": "CT_LUNG"}
    page.keyboard.press("1")

    # The 3D toggle shows a volume rendering in place of the MPR, and toggles back.
    page.click("#toggle-3d")
    page.wait_for_selector("#view-3d:not([hidden])")
    page.wait_for_timeout(1000)
    rendering = np.asarray(Image.open(io.BytesIO(page.locator("#view-3d").screenshot())).convert("L"))
    assert rendering.std() > 10, "the 3D view is blank"
    page.click("#toggle-3d")
    page.wait_for_selector("#view-3d", state="hidden")

    # Paint the spleen on two key slices with the brush, then fill between them.
    keys = (8, 16)
    page.keyboard.press("b")
    page.fill("#brush-size", "12")
    page.dispatch_event("#brush-size", "change")
    for k in keys:
        page.evaluate(f"() => window.radlab.jump({k})")
        page.wait_for_timeout(200)
        js, is_ = np.nonzero(manual[k])
        centre_j, centre_i = int(js.mean()), int(is_.mean())
        stroke(page, [(centre_i - 6, centre_j, k), (centre_i + 6, centre_j, k), (centre_i, centre_j + 6, k)])
    drawn = page.evaluate("() => window.radlab.labelSummary()")["perSlice"]
    assert [k for k, count in enumerate(drawn) if count] == list(keys), "the brush painted outside the two key slices"
    page.click("#fill")
    page.wait_for_function("() => window.radlab.filled !== undefined", timeout=120_000)
    assert page.evaluate("() => window.radlab.filled") is True, page.text_content("#messages")
    shown = np.array(page.evaluate("() => window.radlab.labelSummary()")["perSlice"])
    assert all(shown[k] > 0 for k in range(keys[0], keys[1] + 1)), f"a slice between the keys is empty: {shown}"
    assert shown[: keys[0]].sum() == 0 and shown[keys[1] + 1 :].sum() == 0
    page.evaluate("() => window.radlab.jump(12)")
    assert "interpolated" in page.text_content("#provenance")

    # Save and reload: what the viewer shows is what the API holds, slice by slice.
    annotator = Client(stack[0].grpc_addr, annotator_token)
    annotation_id = wait_until(lambda: [a.annotation_id for a in annotator.annotation.GetItem(
        pb.GetItemRequest(item_id=item.item_id)).item.annotations], "the annotation")[0]
    held = annotation_per_slice(annotator, annotation_id, manual.shape[0])
    assert np.array_equal(held, shown)
    page.reload()
    wait_ready(page)
    reloaded = page.evaluate("() => window.radlab.labelSummary()")
    assert np.array_equal(np.array(reloaded["perSlice"]), held)
    page.click("#submit")
    page.wait_for_function("() => window.radlab.submitted === true", timeout=30_000)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "annotated.png"))

    # A reviewer opens the next review task and rejects it with a comment; it goes back to the annotator with it.
    reviewer_token = token_for(stack, "reviewer-1", "reviewer")
    reviewer = Client(stack[0].grpc_addr, reviewer_token)
    wait_until(lambda: reviewer.list_tasks(dataset_id=dataset, stage_id="review") or None, "the review task")
    review_page, review_errors = open_viewer(browser, stack, reviewer_token, "")
    review_page.wait_for_selector("[data-next$='/review']")
    review_page.click("[data-next$='/review']")
    wait_ready(review_page)
    review_page.fill("#review-comment", "the lower pole is missing")
    review_page.click("#reject")
    review_page.wait_for_function("() => window.radlab.reviewed === 'REVIEW_DECISION_REJECT'", timeout=30_000)
    rework = wait_until(lambda: [t for t in annotator.list_tasks(dataset_id=dataset, item_id=item.item_id)
                                 if t.stage_id == "annotate" and t.state != wpb.TASK_STATE_COMPLETED] or None,
                        "the rework task")[0]
    assert rework.comment == "the lower pole is missing"
    page.goto(f"{stack[2]}/viewer/")
    page.wait_for_function("() => window.radlab.worklist === true", timeout=30_000)
    assert "the lower pole is missing" in page.text_content("#tasks")
    assert errors == [] and review_errors == [], errors + review_errors
    (ARTEFACTS / "timings.json").write_text(json.dumps(timings, indent=2))


def test_a_models_pre_label_is_outlined_and_accepted_in_the_browser(stack, browser, data_dir):
    """A model's prediction on an item is outlined when the annotator opens it; "Accept outlined" makes it the
    annotator's own labels, submitted slice by slice equal to the prediction. The model is played by the test
    (tests/predictions.py); test_training_pipeline runs real models."""
    from tests.predictions import publish_prediction

    running, home, _ = stack
    admin = Client(running.grpc_addr, token_for(stack, "admin-1", "admin"))
    token = token_for(stack, "annotator-2", "annotator")
    annotator = Client(running.grpc_addr, token)
    dataset = admin.create_dataset("viewer pre-label").dataset_id
    admin.create_class(dataset, "spleen", value=1)
    admin.upload(data_dir / SPLEEN_CT, dataset)
    item = admin.wait_for_items(dataset, 1, timeout_s=180)[0]
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    publish_prediction(home, TENANT, item, dataset, mask, affine, "p-viewer", "model-7@v2")
    wait_until(lambda: [a for a in admin.annotation.GetItem(pb.GetItemRequest(item_id=item.item_id)).item.annotations
                        if a.model_id == "model-7@v2"] or None, "the model's annotation")
    task = wait_until(lambda: annotator.list_tasks(dataset_id=dataset, item_id=item.item_id), "the annotate task")[0]
    annotator.claim_task(task_id=task.task_id)

    page, errors = open_viewer(browser, stack, token, f"item={item.item_id}&task={task.task_id}")
    wait_ready(page)
    assert "Pre-labels of model model-7@v2 are outlined" in page.text_content("#messages")
    page.click("#accept-fill")
    page.click("#submit")
    page.wait_for_function("() => window.radlab.submitted === true", timeout=30_000)
    own = [a for a in annotator.annotation.GetItem(pb.GetItemRequest(item_id=item.item_id)).item.annotations
           if a.annotator == "annotator-2" and not a.model_id]
    assert len(own) == 1
    expected = np.count_nonzero(mask.reshape(mask.shape[0], -1), axis=1)
    assert expected.sum() > 0 and np.array_equal(annotation_per_slice(annotator, own[0].annotation_id, mask.shape[0]), expected)
    assert errors == [], errors


def jwt_id(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def test_a_revoked_sign_in_and_an_unreachable_server_lose_no_edit(stack, scan, browser):
    """The token is revoked while an edit is unsaved: saving asks for a new token and then saves the edit. The server
    cannot be reached (the page's requests aborted, as when the network drops): a banner says so, the save is retried
    and lands once it answers again."""
    dataset, item, _task, manual = scan
    admin = Client(stack[0].grpc_addr, token_for(stack, "admin-1", "admin"))
    first = token_for(stack, "admin-2", "admin")
    page, errors = open_viewer(browser, stack, first, f"item={item.item_id}")
    wait_ready(page)
    page.keyboard.press("b")
    js, is_ = np.nonzero(manual[20])
    page.evaluate("() => window.radlab.jump(20)")
    stroke(page, [(int(is_.mean()) - 4, int(js.mean()), 20), (int(is_.mean()) + 4, int(js.mean()), 20)])

    admin.annotation.RevokeToken(pb.RevokeTokenRequest(token_id=jwt_id(first)))
    revoked = Client(stack[0].grpc_addr, first)
    wait_until(lambda: _refused(revoked), "the revocation to reach the services")
    page.click("#save")
    page.wait_for_selector("dialog#sign-in[open]", timeout=30_000)
    assert page.evaluate("() => window.radlab.labelSummary()")["perSlice"][20] > 0  # the edit is still there
    page.fill("#sign-in-token", token_for(stack, "admin-2", "admin"))
    page.click("dialog#sign-in button")
    page.wait_for_function("() => /Saved 1 key slice/.test(document.querySelector('#messages').textContent)", timeout=30_000)

    page.evaluate("() => window.radlab.jump(21)")
    stroke(page, [(int(is_.mean()) - 4, int(js.mean()), 21), (int(is_.mean()) + 4, int(js.mean()), 21)])
    page.route("**/api/v1/**", lambda route: route.abort())
    page.click("#save")
    page.wait_for_selector("#banner:not([hidden])", timeout=30_000)
    assert "cannot be reached" in page.text_content("#banner")
    page.unroute("**/api/v1/**")
    page.wait_for_function("() => /Saved 1 key slice/.test(document.querySelector('#messages').textContent) && "
                           "document.querySelector('#banner').hidden", timeout=30_000)
    annotation_id = next(a.annotation_id for a in admin.annotation.GetItem(pb.GetItemRequest(item_id=item.item_id)).item.annotations
                         if not a.model_id)
    origins = admin.annotation.GetAnnotation(pb.GetAnnotationRequest(annotation_id=annotation_id)).slice_origins
    drawn = {origin.slice_index for origin in origins if origin.provenance == label_pb2.SLICE_PROVENANCE_DRAWN and origin.source == "admin-2"}
    assert {20, 21} <= drawn
    assert errors == [], errors


def _refused(client: Client) -> bool:
    try:
        client.annotation.ListDatasets(pb.ListDatasetsRequest())
    except grpc.RpcError as error:
        return error.code() is grpc.StatusCode.UNAUTHENTICATED
    return False


def test_a_volume_too_large_for_the_browser_opens_at_reduced_resolution_read_only(stack, scan, browser):
    """A memory budget below the volume's size (`#budget=1`, 1 MiB, for the spleen's 2.8 MB of 32-bit voxels): every
    third slice is shown with a notice, nothing can be drawn or saved, and the page never stays blank."""
    _dataset, item, _task, _manual = scan
    page, errors = open_viewer(browser, stack, token_for(stack, "admin-1", "admin"), f"item={item.item_id}&budget=1")
    wait_ready(page)
    assert page.evaluate("() => window.radlab.every") == 3
    assert "reduced resolution" in page.text_content("#messages")
    assert page.is_disabled("#save") and page.is_disabled("[data-tool=brush]")
    shot = np.asarray(Image.open(io.BytesIO(page.locator("#view-axial").screenshot())).convert("L"))
    assert shot.std() > 20, "the axial view is blank"
    assert errors == [], errors


def test_a_disputed_consensus_is_adjudicated_in_the_browser(stack, browser, data_dir, tmp_path):
    """Two blind readers (the manual spleen label, and it shifted 10 mm) disagree; the adjudicator opens the next
    adjudication task, sees the per-class agreement, shows reader 1's labels outlined and picks them."""
    manager = Client(stack[0].grpc_addr, token_for(stack, "manager-1", "manager"))
    admin = Client(stack[0].grpc_addr, token_for(stack, "admin-1", "admin"))
    dataset = admin.create_dataset("viewer adjudication").dataset_id
    manager.create_class(dataset, "spleen", value=1)
    manager.wait_for_workflow(dataset)
    limits = [wpb.MeasureLimit(measure=wpb.AGREEMENT_MEASURE_DICE, limit=0.8)]
    manager.workflow.CreateWorkflow(wpb.CreateWorkflowRequest(dataset_id=dataset, name="two readers", stages=[
        wpb.Stage(stage_id="read", kind=wpb.STAGE_KIND_CONSENSUS, consensus=wpb.ConsensusSettings(
            annotator_count=2, limits=limits, merge=wpb.MERGE_METHOD_STAPLE)),
        wpb.Stage(stage_id="adjudicate", kind=wpb.STAGE_KIND_REVIEW),
        wpb.Stage(stage_id="done", kind=wpb.STAGE_KIND_COMPLETE)]))
    admin.upload(data_dir / SPLEEN_CT, dataset)
    [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    shifted = to_nifti(SimpleNamespace(data=np.roll(mask > 0, 20, axis=2).astype(np.uint8), affine=affine),
                       tmp_path / "shifted.nii.gz")
    wait_until(lambda: len(manager.list_tasks(item_id=item.item_id)) == 2 or None, "two reader tasks")
    chosen = ""
    for reader, labels in (("alice", data_dir / SPLEEN_MASK), ("bob", shifted)):
        client = Client(stack[0].grpc_addr, token_for(stack, reader, "annotator"))
        workflow = client.workflow.ListWorkflows(wpb.ListWorkflowsRequest(dataset_id=dataset)).workflows[-1]
        client.claim_task(workflow_id=workflow.workflow_id, stage_id="read")
        done = client.import_labels(item.item_id, labels, mapping={"1": 1})
        client.annotation.SubmitAnnotation(pb.SubmitAnnotationRequest(annotation_id=done.annotation_id, version=done.version))
        chosen = chosen or done.annotation_id
    reviewer = token_for(stack, "sam", "reviewer")
    wait_until(lambda: [t for t in Client(stack[0].grpc_addr, reviewer).list_tasks(item_id=item.item_id)
                        if t.stage_id == "adjudicate"] or None, "the adjudication task", timeout_s=120)
    page, errors = open_viewer(browser, stack, reviewer, "")
    page.click("[data-next$='/adjudicate']")
    wait_ready(page)
    page.wait_for_function("() => window.radlab.dispute === 'CONSENSUS_STATE_DISPUTED'", timeout=30_000)
    assert "no" in page.text_content("#verdicts")  # the spleen is not agreed
    readers = page.eval_on_selector_all("[data-pick]", "buttons => buttons.map(b => b.dataset.pick)")
    assert chosen in readers and len(readers) == 2
    page.click(f"[data-show='{chosen}']")
    page.wait_for_function("() => window.radlab.labelSummary().perSlice.some(n => n > 0)", timeout=30_000)
    page.click(f"[data-pick='{chosen}']")
    page.wait_for_function(f"() => window.radlab.adjudicated === '{chosen}'", timeout=30_000)
    progress = wait_until(lambda: (p := manager.workflow.GetItemProgress(wpb.GetItemProgressRequest(item_id=item.item_id)))
                          .stage_id == "done" and p, "the item done")
    assert progress.annotation_id == chosen
    assert errors == [], errors


def test_a_radiograph_opens_in_one_view(stack, browser, tmp_path):
    """A single-slice image (pydicom's real CR chest radiograph) is one view in the plane it was acquired in, not three,
    and shows the server's render of that plane."""
    admin = Client(stack[0].grpc_addr, token_for(stack, "admin-1", "admin"))
    dataset = admin.create_dataset("viewer radiograph").dataset_id
    admin.upload(Path(get_testdata_file("RG1_UNCR.dcm")), dataset)
    [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
    token = token_for(stack, "admin-1", "admin")
    page, errors = open_viewer(browser, stack, token, f"item={item.item_id}")
    wait_ready(page)
    assert page.is_visible("#view-axial") and not page.is_visible("#view-coronal") and not page.is_visible("#view-sagittal")
    affine = np.array(item.volume_ref.geometry.affine).reshape(4, 4)
    [acquired] = [plane for plane in PLANES if plane_axis(affine, plane) == 0]  # the plane the image lies in
    correlation, rendered, physical = compare_view(page, stack, token, item, "axial", "MR_AUTO", acquired)
    assert correlation > 0.9 and rendered == pytest.approx(physical, rel=0.02)
    assert errors == [], errors
