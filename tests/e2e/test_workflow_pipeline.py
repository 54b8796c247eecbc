"""Workflows through a real `radlab up`, on the MSD spleen CT: two blind readers (the manual label, and it eroded by
1 mm) agree, measured as a direct computation measures them, and STAPLE's merge carries the item to review; a reader
10 mm off is disputed and a senior reader picks a reader; the reader statistics show both items. A webhook stage
delivers signed payloads to a real local HTTP receiver and waits for its signed answer.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass

import grpc
import numpy as np
import pytest
from scipy import ndimage

from radlab.annotation.v1 import annotation_service_pb2 as annotation
from radlab.client import Client
from radlab.tokens import issue_token, token_key
from radlab.workflow.v1 import workflow_service_pb2 as pb
from shared import agreement
from shared.grid import array_spacing
from shared.stack import Stack
from shared.volumes import from_nifti, to_nifti
from tests.conftest import wait_until

TENANT = "hospital-a"
SPLEEN = "ivadomed_spleen/ct_scan"
SPLEEN_CT = f"{SPLEEN}/sub-spleen2/ct/sub-spleen2_ct.nii.gz"
SPLEEN_MASK = f"{SPLEEN}/derivatives/labels/sub-spleen2/ct/sub-spleen2_ct_seg-manual.nii.gz"
TOLERANCE_MM = 2.0


@dataclass(frozen=True)
class LabelFile:
    data: np.ndarray
    affine: np.ndarray


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with Stack(home, env={"RADLAB_ANON_KEY": "", "RADLAB_PHI_KEY": ""}) as running:
        yield running, home


def client_for(stack, subject: str, role: str) -> Client:
    running, home = stack
    return Client(running.grpc_addr, issue_token(token_key(home, None), subject=subject, role=role, tenant=TENANT))


@pytest.fixture(scope="module")
def readers(data_dir, tmp_path_factory):
    """The manual spleen label, and what the second reader draws on each item: it eroded by 1 mm, or shifted 10 mm."""
    mask, affine = from_nifti(data_dir / SPLEEN_MASK)
    mask = mask > 0
    spacing = array_spacing(affine)
    radius = [max(1, round(1.0 / s)) if s <= 1.0 else 0 for s in spacing]
    ball = np.ones([2 * r + 1 for r in radius], dtype=bool)
    eroded = ndimage.binary_erosion(mask, structure=ball)
    shifted = np.roll(mask, round(10.0 / spacing[2]), axis=2)
    folder = tmp_path_factory.mktemp("readers")
    files = {}
    for name, labels in (("manual", mask), ("eroded", eroded), ("shifted", shifted)):
        files[name] = to_nifti(LabelFile(labels.astype(np.uint8), affine), folder / f"{name}.nii.gz")
    return files, {"manual": mask, "eroded": eroded}, spacing


def consensus_stages() -> list[pb.Stage]:
    limits = [pb.MeasureLimit(measure=pb.AGREEMENT_MEASURE_DICE, limit=0.8),
              pb.MeasureLimit(measure=pb.AGREEMENT_MEASURE_HD95, limit=3.0)]
    return [
        pb.Stage(stage_id="read", kind=pb.STAGE_KIND_CONSENSUS, consensus=pb.ConsensusSettings(
            annotator_count=2, limits=limits, surface_tolerance_mm=TOLERANCE_MM, merge=pb.MERGE_METHOD_STAPLE)),
        pb.Stage(stage_id="adjudicate", kind=pb.STAGE_KIND_REVIEW),
        pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE),
    ]


def read(client: Client, dataset: str, path, stage: str = "read") -> str:
    """Claim the next task of the dataset's consensus stage, import the label file as a new annotation, hand it in."""
    workflow = client.workflow.ListWorkflows(pb.ListWorkflowsRequest(dataset_id=dataset)).workflows[-1]
    task = client.claim_task(workflow_id=workflow.workflow_id, stage_id=stage)
    done = client.import_labels(task.item_id, path, mapping={"1": 1})
    client.annotation.SubmitAnnotation(annotation.SubmitAnnotationRequest(annotation_id=done.annotation_id, version=done.version))
    return done.annotation_id


def test_two_readers_agree_and_a_disputed_item_is_adjudicated(stack, readers, data_dir, monkeypatch, capsys):
    files, masks, spacing = readers
    with client_for(stack, "manager-1", "manager") as manager, client_for(stack, "alice", "annotator") as alice, \
            client_for(stack, "bob", "annotator") as bob, client_for(stack, "sam", "reviewer") as sam, \
            client_for(stack, "admin-1", "admin") as admin:
        items = {}
        for case in ("agree", "dispute"):
            dataset = admin.create_dataset(f"consensus {case}").dataset_id
            manager.create_class(dataset, "spleen", value=1)
            manager.wait_for_workflow(dataset)
            manager.workflow.CreateWorkflow(pb.CreateWorkflowRequest(dataset_id=dataset, name="two readers",
                                                                     stages=consensus_stages()))
            admin.upload(data_dir / SPLEEN_CT, dataset)
            [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
            items[case] = (dataset, item.item_id)

        dataset, item = items["agree"]
        wait_until(lambda: len(manager.list_tasks(item_id=item)) == 2 or None, "two reader tasks")
        read(alice, dataset, files["manual"])
        with pytest.raises(grpc.RpcError) as twice:
            alice.claim_task(workflow_id=manager.list_tasks(item_id=item)[0].workflow_id, stage_id="read")
        assert twice.value.code() is grpc.StatusCode.NOT_FOUND  # her second task would not be blind
        read(bob, dataset, files["eroded"])
        result = wait_until(lambda: _result(manager, item), "the consensus of the agreeing readers", timeout_s=120)
        assert result.state == pb.CONSENSUS_STATE_REACHED
        [verdict] = result.classes
        direct = agreement.surface_agreement(masks["manual"], masks["eroded"], TOLERANCE_MM, spacing)
        assert verdict.dice == pytest.approx(agreement.dice(masks["manual"], masks["eroded"]), abs=1e-9)
        assert (verdict.hd95_mm, verdict.surface_dice) == (pytest.approx(direct.hd95, abs=1e-9), pytest.approx(direct.surface_dice, abs=1e-9))
        progress = wait_until(lambda: (p := manager.workflow.GetItemProgress(pb.GetItemProgressRequest(item_id=item)))
                              .stage_id == "adjudicate" and p, "the merge carrying the item on")
        merged = admin.annotation.GetAnnotation(annotation.GetAnnotationRequest(annotation_id=progress.annotation_id)).annotation
        assert merged.annotator == "radlab.consensus" and merged.state == annotation.ANNOTATION_STATE_SUBMITTED

        dataset, item = items["dispute"]
        wait_until(lambda: len(manager.list_tasks(item_id=item)) == 2 or None, "two reader tasks")
        chosen = read(alice, dataset, files["manual"])
        read(bob, dataset, files["shifted"])
        result = wait_until(lambda: _result(manager, item), "the consensus of the disputing readers", timeout_s=120)
        assert result.state == pb.CONSENSUS_STATE_DISPUTED
        assert any("hd95_mm" in shortfall for shortfall in result.classes[0].shortfalls)
        review = wait_until(lambda: [t for t in sam.list_tasks(item_id=item) if t.stage_id == "adjudicate"], "the adjudication task")[0]
        with pytest.raises(grpc.RpcError) as reader_adjudicates:
            alice.workflow.ClaimTask(pb.ClaimTaskRequest(task_id=review.task_id))
        assert reader_adjudicates.value.code() is grpc.StatusCode.PERMISSION_DENIED  # annotators do not adjudicate
        sam.claim_task(task_id=review.task_id)
        version = admin.annotation.GetAnnotation(annotation.GetAnnotationRequest(annotation_id=chosen)).annotation.version
        sam.workflow.SubmitReview(pb.SubmitReviewRequest(task_id=review.task_id, decision=pb.REVIEW_DECISION_ACCEPT,
                                                         chosen_annotation_id=chosen, annotation_version=version))
        done = manager.workflow.GetItemProgress(pb.GetItemProgressRequest(item_id=item))
        assert (done.stage_id, done.annotation_id) == ("done", chosen)

        def scored_twice():
            found = {r.reader: r for r in manager.workflow.ListReaderStats(pb.ListReaderStatsRequest()).readers}
            return found if {found.get(name, pb.ReaderStats()).items for name in ("alice", "bob")} == {2} else None

        stats = wait_until(scored_twice, "both readers scored on both items")
        assert stats["alice"].mean_dice > stats["bob"].mean_dice

        workflow_id = manager.workflow.ListWorkflows(pb.ListWorkflowsRequest(dataset_id=dataset)).workflows[-1].workflow_id
        by_stage = {s.stage_id: s for s in manager.workflow.GetWorkflowStats(pb.GetWorkflowStatsRequest(workflow_id=workflow_id)).stages}
        assert (by_stage["read"].disputed, by_stage["read"].passed, by_stage["adjudicate"].passed, by_stage["done"].items) == (1, 0, 1, 1)
        assert by_stage["read"].mean_seconds > 0
        running, _ = stack
        with urllib.request.urlopen(f"http://127.0.0.1:{running.metrics_port}/metrics") as response:
            scraped = response.read().decode()
        assert 'radlab_workflow_stage_exits_total{outcome="disputed",stage_kind="consensus"} 1.0' in scraped
        assert 'radlab_workflow_stage_exits_total{outcome="passed",stage_kind="consensus"} 1.0' in scraped
        assert 'radlab_workflow_items{stage_kind="complete"} 1.0' in scraped

        from radlab.cli import main

        monkeypatch.setenv("RADLAB_URL", running.grpc_addr)
        monkeypatch.setenv("RADLAB_TOKEN", issue_token(token_key(stack[1], None), subject="m", role="manager", tenant=TENANT))
        capsys.readouterr()
        assert main(["consensus", item]) == 0 and main(["workflows", "stats", workflow_id]) == 0
        printed = capsys.readouterr().out
        assert "disputed" in printed and "DISAGREED: " in printed and "hd95_mm" in printed
        assert "reader alice: 1 item(s), mean Dice 1.000" in printed  # this dataset's: the disputed item


def _result(client: Client, item: str):
    try:
        return client.workflow.GetConsensusResult(pb.GetConsensusResultRequest(item_id=item)).consensus_result
    except grpc.RpcError as error:
        if error.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise


class Receiver:
    """A real HTTP receiver on loopback that checks each delivery's signature as a webhook's owner would."""

    def __init__(self, secret: bytes):
        import http.server
        import threading

        from services.workflow.domain import webhooks

        received, seen = [], set()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    message = webhooks.verify(secret, body, self.headers.get(webhooks.SIGNATURE_HEADER), time.time(), seen=seen)
                except webhooks.WebhookRefused:
                    self.send_response(403)
                else:
                    seen.add(message["delivery_id"])
                    received.append(message)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_webhook_stage_delivers_signed_payloads_and_waits_for_a_signed_answer(stack, readers, data_dir):
    """annotate → webhook (waits) → complete: the receiver verifies each payload; its signed answer rejects (back to
    the annotator with the comment), a replayed answer is refused, a second answer passes the item on."""
    import uuid

    from services.workflow.domain import webhooks

    files, _, _ = readers
    secret = b"a-webhook-secret-of-some-length"
    receiver = Receiver(secret)
    stages = [pb.Stage(stage_id="annotate", kind=pb.STAGE_KIND_ANNOTATE),
              pb.Stage(stage_id="qa-robot", kind=pb.STAGE_KIND_WEBHOOK, webhook=pb.WebhookSettings(
                  url=receiver.url, secret=secret.decode(), wait_for_answer=True)),
              pb.Stage(stage_id="done", kind=pb.STAGE_KIND_COMPLETE)]
    try:
        with client_for(stack, "manager-1", "manager") as manager, client_for(stack, "alice", "annotator") as alice, \
                client_for(stack, "admin-1", "admin") as admin:
            dataset = admin.create_dataset("webhook").dataset_id
            manager.create_class(dataset, "spleen", value=1)
            manager.wait_for_workflow(dataset)
            workflow = manager.workflow.CreateWorkflow(pb.CreateWorkflowRequest(dataset_id=dataset, name="robot qa", stages=stages)).workflow
            assert workflow.stages[1].webhook.secret == "********"
            with pytest.raises(grpc.RpcError) as bad_url:
                manager.workflow.CreateWorkflow(pb.CreateWorkflowRequest(dataset_id=dataset, name="bad", stages=[
                    stages[0], pb.Stage(stage_id="qa-robot", kind=pb.STAGE_KIND_WEBHOOK, webhook=pb.WebhookSettings(
                        url="ftp://example.org/hook", secret=secret.decode())), stages[2]]))
            assert bad_url.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "qa-robot" in bad_url.value.details()
            admin.upload(data_dir / SPLEEN_CT, dataset)
            [item] = admin.wait_for_items(dataset, 1, timeout_s=120)
            wait_until(lambda: manager.list_tasks(item_id=item.item_id) or None, "the annotate task")
            read(alice, dataset, files["manual"], stage="annotate")
            [payload] = wait_until(lambda: receiver.received[:] or None, "the signed delivery")
            assert (payload["item_id"], payload["stage_id"], payload["callback_url"]) == (
                item.item_id, "qa-robot", "radlab.workflow.v1.WorkflowService/AnswerWebhook")

            def answer(outcome: str, delivery_id: str):
                body = json.dumps({"delivery_id": delivery_id, "task_id": payload["task_id"], "outcome": outcome,
                                   "comment": "the tip of the spleen is cut"}).encode()
                return manager.workflow.AnswerWebhook(pb.AnswerWebhookRequest(
                    body=body, signature=webhooks.sign(secret, body, time.time())))

            first = str(uuid.uuid4())
            answer("reject", first)
            rework = wait_until(lambda: [t for t in alice.list_tasks(item_id=item.item_id, assignee="me")
                                         if t.state == pb.TASK_STATE_ASSIGNED], "the rework task")[0]
            assert (rework.comment, rework.stage_id) == ("the tip of the spleen is cut", "annotate")
            with pytest.raises(grpc.RpcError) as replay:
                answer("reject", first)
            assert replay.value.code() is grpc.StatusCode.PERMISSION_DENIED
            annotation_id = manager.workflow.GetItemProgress(pb.GetItemProgressRequest(item_id=item.item_id)).annotation_id
            current = alice.annotation.GetAnnotation(annotation.GetAnnotationRequest(annotation_id=annotation_id)).annotation
            alice.annotation.SubmitAnnotation(annotation.SubmitAnnotationRequest(annotation_id=annotation_id, version=current.version))
            payload = wait_until(lambda: receiver.received[1] if len(receiver.received) > 1 else None, "the second delivery")
            answer("pass", str(uuid.uuid4()))
            done = manager.workflow.GetItemProgress(pb.GetItemProgressRequest(item_id=item.item_id))
            assert done.stage_id == "done"
    finally:
        receiver.close()
