"""Two replicas of every service on Kafka, MinIO and PostgreSQL share each consumer group's partitions, and a burst of
uploads becomes exactly one volume, one item and one task each, also across a replica SIGKILLed mid-burst."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa

from bench.scale import PARTITIONS, TOKEN_KEY, handled, replica_env, scans, upload_burst
from radlab import SERVICES
from radlab.ingestion.v1 import ingestion_service_pb2 as ingestion
from radlab.tokens import issue_token
from shared.consumer import consumer_group
from shared.stack import Replicas, routed_client
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(600)

REPLICAS = 2
FIRST_BURST, SECOND_BURST = 12, 8
TENANT = f"scale-{uuid.uuid4().hex[:8]}"
# Each service of an upload's way to its task, and the event it consumes on that way.
PIPELINE = {
    "anonymization": "radlab.ingestion.v1.ScanUploaded",
    "ingestion": "radlab.anonymization.v1.ScanAnonymized",
    "annotation": "radlab.ingestion.v1.VolumeReady",
    "workflow": "radlab.annotation.v1.ItemAdded",
}


@pytest.fixture
def replicas(tmp_path, kafka_url, minio_url, postgres_database_url):
    """The chart's install Jobs (topics with PARTITIONS partitions, every schema migrated), then two `radlab serve
    SERVICE` processes of every service on a database of this test's own, each consumer group shared between them."""
    running = Replicas(tmp_path, SERVICES, REPLICAS, replica_env(kafka_url, minio_url, postgres_database_url))
    running.install(PARTITIONS)
    with running:
        yield running


def test_a_burst_through_two_replicas_of_every_service_is_handled_once_and_shared_between_them(
    replicas, postgres_database_url, tmp_path
):
    """Every group's partitions split between its two processes (each topic has PARTITIONS); 12 uploads at once become
    12 volumes, 12 items and 12 tasks, each fact published once, and both processes of each service on the way handled
    some. Then one process of each of those services is SIGKILLed while 8 more are on their way (annotation has made
    items of 2): after each group hands its partitions to the survivor, nothing is lost and nothing doubled."""
    groups = replicas.wait_for_partitions()
    split = {}
    for name, event_type in PIPELINE.items():
        held = groups[consumer_group(name)]
        split[name] = [sorted(partition for topic, partition in pairs if topic == event_type) for pairs in held.values()]
        assert len(split[name]) == REPLICAS and all(split[name]), (name, held)
        assert not set.intersection(*map(set, split[name])), f"{name}'s processes both hold a partition: {held}"
        assert len(set.union(*map(set, split[name]))) >= PARTITIONS, f"{event_type}: {split[name]}"

    files = scans(FIRST_BURST + SECOND_BURST, tmp_path)
    admin = issue_token(TOKEN_KEY, subject="ops", role="admin", tenant=TENANT)
    with routed_client(replicas.addresses(), admin) as client:
        dataset_id = client.create_dataset(f"scale {TENANT}").dataset_id
        client.wait_for_workflow(dataset_id, timeout_s=60)

        before = replicas.events_handled()
        uploads = upload_burst(client, dataset_id, files[:FIRST_BURST])
        wait_for_tasks(client, dataset_id, FIRST_BURST)
        assert_each_upload_made_one_of_everything(postgres_database_url, dataset_id, uploads)
        after = replicas.events_handled()
        for name, event_type in PIPELINE.items():
            counts = [after[(name, n)][(consumer_group(name), event_type)] - before[(name, n)][(consumer_group(name), event_type)]
                      for n in range(REPLICAS)]
            assert all(counts) and sum(counts) >= FIRST_BURST, f"{name}'s processes handled {counts} {event_type}"
            print(f"{name}: partitions {split[name]} of {event_type}, handled {counts}")

        victims = [replicas.processes[name][1] for name in PIPELINE]
        sent: list[str] = []
        second = threading.Thread(target=lambda: sent.extend(upload_burst(client, dataset_id, files[FIRST_BURST:])))
        second.start()
        made = (consumer_group("annotation"), PIPELINE["annotation"])
        wait_for_handled(replicas, *made, sum(counts[made] for counts in before.values()) + FIRST_BURST + 2)
        for victim in victims:
            victim.kill()
        print(f"second burst: replica 1 of {', '.join(PIPELINE)} SIGKILLed with {len(sent)} of {SECOND_BURST} uploads "
              f"returned and {SECOND_BURST - 2} of their scans not yet items")
        second.join(timeout=120)
        assert len(sent) == SECOND_BURST
        wait_for_tasks(client, dataset_id, FIRST_BURST + SECOND_BURST)
        assert_each_upload_made_one_of_everything(postgres_database_url, dataset_id, uploads + sent)
    stopped = replicas.stop()
    assert all(code == 0 for codes in stopped.values() for code in codes if code != -9), stopped


def wait_for_tasks(client, dataset_id: str, count: int, timeout_s: float = 180.0) -> None:
    """Until the dataset has `count` items and workflow `count` tasks for them: every upload all the way through."""
    client.wait_for_items(dataset_id, count, timeout_s=timeout_s)
    wait_until(lambda: len(client.list_tasks(dataset_id=dataset_id)) >= count, f"{count} tasks", timeout_s=timeout_s,
               interval_s=0.2)


def wait_for_handled(replicas: Replicas, group: str, event_type: str, count: int, timeout_s: float = 120.0) -> None:
    """Until the running processes together have handled `count` events of the type in `group` since they started, so
    a kill lands mid-burst."""
    wait_until(lambda: handled(replicas)[(group, event_type)] >= count, f"{count} {event_type} handled by {group}",
               timeout_s=timeout_s, interval_s=0.2)


def assert_each_upload_made_one_of_everything(db_url: str, dataset_id: str, uploads: list[str]) -> None:
    """In each service's own tables: every upload completed with exactly one volume, each volume exactly one item, each
    item exactly one task (at the first stage); and each fact on the way published exactly once per subject."""
    engine = sa.create_engine(sa.make_url(db_url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            def rows(query: str) -> list:
                return conn.execute(sa.text(query), {"dataset": dataset_id}).all()

            states = dict(rows("SELECT upload_id, state FROM ingestion.uploads WHERE dataset_id = :dataset"))
            volumes = rows("SELECT upload_id, volume_id FROM ingestion.volumes WHERE dataset_id = :dataset")
            items = rows("SELECT item_id, volume_id FROM annotation.items WHERE dataset_id = :dataset")
            tasks = rows("SELECT item_id, stage_id FROM workflow.tasks WHERE dataset_id = :dataset")
            published = published_subjects(conn)
    finally:
        engine.dispose()
    assert len(set(uploads)) == len(uploads), "two uploads of the burst were merged into one"
    assert sorted(states) == sorted(uploads)
    assert set(states.values()) == {ingestion.UPLOAD_STATE_COMPLETED}, states
    assert sorted(upload for upload, _ in volumes) == sorted(uploads), "an upload with no volume, or with two"
    assert sorted(volume for _, volume in items) == sorted(volume for _, volume in volumes), "a volume with no item, or two"
    assert sorted(item for item, _ in tasks) == sorted(item for item, _ in items), "an item with no task, or two"
    assert {stage for _, stage in tasks} == {"annotate"}
    for topic in ("radlab.ingestion.v1.ScanUploaded", "radlab.anonymization.v1.ScanAnonymized",
                  "radlab.ingestion.v1.VolumeReady", "radlab.annotation.v1.ItemAdded"):
        subjects = published[topic]
        assert len(subjects) == len(uploads) == len(set(subjects)), f"{topic}: {len(subjects)} published for {len(uploads)} uploads"


def published_subjects(conn) -> dict[str, list[str]]:
    """The subjects of the events this test's tenant published, by topic, from every service's outbox (a row each)."""
    published: dict[str, list[str]] = {}
    for service in SERVICES:
        for topic, key, headers in conn.execute(sa.text(f'SELECT topic, key, headers FROM "{service}".outbox')):
            if json.loads(headers).get("ce_tenant") == TENANT:
                published.setdefault(topic, []).append(key)
    return published
