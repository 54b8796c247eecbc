"""`radlab up` on Kafka, MinIO and PostgreSQL instead of the embedded adapters: the same flow works."""

from __future__ import annotations

from radlab.client import Client
from shared.auth import issue_token
from shared.stack import Stack

KEY = "real-servers-test-signing-key-0123456789"


def test_a_dataset_gets_its_workflow_over_kafka_and_postgresql(tmp_path, kafka_url, minio_url, postgres_database_url):
    """CreateDataset → outbox in PostgreSQL → Kafka → workflow's consumer group → workflow in PostgreSQL."""
    env = {
        "RADLAB_BUS": f"{kafka_url}?session_timeout_ms=3000",
        "RADLAB_STORE": minio_url,
        "RADLAB_DB": postgres_database_url,
        "RADLAB_TOKEN_KEY": KEY,
    }
    with Stack(tmp_path, env=env) as stack:
        admin = issue_token(KEY, subject="ops", role="admin", tenant="hospital-real")
        with Client(stack.grpc_addr, admin) as client:
            assert set(client.health().values()) == {"SERVING"}
            dataset = client.create_dataset("CT on real servers")
            workflow = client.wait_for_workflow(dataset.dataset_id, timeout_s=60)
            assert [stage.stage_id for stage in workflow.stages] == ["annotate", "review", "complete"]
            assert [d.dataset_id for d in client.list_datasets()] == [dataset.dataset_id]
    assert stack.process.returncode == 0
    assert not (tmp_path / "db").exists() and not (tmp_path / "bus.sqlite").exists()
