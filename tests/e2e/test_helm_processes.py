"""The chart wires the same processes the tests run: every Deployment and install Job `helm template` renders, started
as a local process exactly as rendered, carries a real CT scan from upload to an exported label.

The chart is rendered by the pinned helm with values pointing it at this session's real Kafka, MinIO and PostgreSQL
(a database of its own, made for this test: the chart's `config.db` names it). Each container's command, args and
environment are taken as rendered: plain values, ConfigMap references (looked up in the rendered ConfigMaps), `envFrom`,
and Secret references, resolved from Secrets this test holds under the `existingSecret` names and keys of values.yaml
(token key, anonymization key, PHI key, database password, store credentials); a reference the test does not hold
fails it. What a pod has that a local process lacks is made up in one place each:

- the image's own environment: the `ENV` of its stage of deploy/images/Dockerfile (and the stages it is built FROM),
  nothing of this test's; /opt/venv is this test's virtualenv, so `radlab` and `python` resolve there first on PATH as
  in the image; /tmp (HOME; the chart's emptyDir) an empty folder of the process's own;
- the image's paths: what the Dockerfile puts at an absolute path is taken from the checkout (deploy/images/jobs.py
  for /opt/radlab/jobs.py, viewer/dist for /opt/radlab/viewer) — the only place an entry point differs;
- the pod's own address: every declared container port gets a free loopback port, rewritten where the rendered
  environment names it (`0.0.0.0:<port>`, or the bare port); a container port no variable names fails the test, so
  the ports the probes, Services and Prometheus annotations use are the ones the process listens on;
- cluster DNS: each rendered Service's name (`<name>.<namespace>.svc:<port>`, as RADLAB_GATEWAY_TARGETS names them)
  becomes 127.0.0.1 and the local port of the container port its targetPort names.

The Jobs run first, as their pre-install hooks ask (topics created on the real Kafka with the partitions from values;
each service's schema migrated on the real PostgreSQL); then the Deployments, one process each, each waited for by its
own rendered startup and readiness probes (gRPC health, or the gateway's HTTP /healthz) and its metrics port as the
Prometheus annotation names it. The SDK reaches each service at its own process (as a client behind an ingress that
routes by gRPC service would); one call goes through the gateway process. At the end every process gets SIGTERM and
must exit 0 within the pod's terminationGracePeriodSeconds.

Isolation on the shared servers: a fresh database (so fresh schemas), a tenant of its own and unique dataset names.
Topic names, consumer groups (`radlab.<service>`) and bucket names are fixed by the code (DESIGN.md: the event's type
is its topic), so those are shared with other tests of the session; every object key and event subject is a new id.

Not reproduced locally, so not proven here: the kubelet running the probes (this test calls them itself), NetworkPolicy
enforcement, the read-only root filesystem and non-root user (stood in for by an empty working directory that must
stay empty), resource limits, replicas and autoscalers (one process per Deployment), ServiceAccounts, the image
builds themselves, and password authentication to PostgreSQL (the test server trusts loopback, so the rendered
RADLAB_DB_PASSWORD reaches the process but is not checked by the server). Training runs no Ray here (config.ray is
empty: Ray inside the pod, started only when a run asks, and none does)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import grpc
import nibabel as nib
import numpy as np
import pytest
import sqlalchemy as sa
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kafka import KafkaAdminClient

from radlab.annotation.v1 import annotation_service_pb2 as annotation_pb
from radlab.client import Client
from radlab.tokens import issue_token
from shared.bus.kafka import KafkaBus
from shared.stack import free_port, routed_client
from tests.conftest import REPO, wait_until
from tests.e2e.test_annotation_pipeline import SPLEEN_CT, SPLEEN_MASK
from tests.unit import test_helm_chart, test_helm_deploy
from tests.unit.test_helm_chart import CHART, render
from tests.unit.test_helm_deploy import DOCKERFILE

pytestmark = pytest.mark.timeout(1800)  # a cold helm build, as in test_helm_chart; the test itself takes well under 2 min

TOKEN_KEY = secrets.token_urlsafe(48)
TENANT = f"helm-processes-{uuid.uuid4().hex[:8]}"
PARTITIONS, DEAD_LETTER_PARTITIONS = 3, 1  # topics.* in the values below; one broker, so replication 1
STARTUP_S = 90.0  # every process on two cores at once: training imports torch
COMPONENT = "app.kubernetes.io/component"

# The chart's unit tests' fixtures: the pinned helm, and deploy/images/jobs.py loaded as a module.
helm = test_helm_chart.helm
jobs_script = test_helm_deploy.jobs_script


@dataclass
class Process:
    """One rendered container run as a local process."""

    kind: str  # Deployment or Job
    component: str
    pod: dict  # the rendered pod spec
    argv: list[str]
    env: dict[str, str]
    annotations: dict[str, str]  # the pod template's
    ports: dict[str | int, int] = field(default_factory=dict)  # container port (name and number) → loopback port
    root: Path | None = None  # its working directory: the image's root filesystem, which must stay unwritten
    log: Path | None = None
    popen: subprocess.Popen | None = None

    @property
    def container(self) -> dict:
        (container,) = self.pod["containers"]
        return container

    def start(self, base: Path) -> None:
        self.root, scratch = base / "root" / self.component, base / "tmp" / self.component
        self.root.mkdir(parents=True, exist_ok=True)
        scratch.mkdir(parents=True, exist_ok=True)
        self.log = base / f"{self.component}.log"
        with open(self.log, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv, cwd=self.root, env={"TMPDIR": str(scratch)} | image_env(self.container["image"], scratch) | self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def tail(self) -> str:
        return f"{self.kind} {self.component}, exit {self.popen.poll()}; its log ends:\n" + self.log.read_text()[-4000:]


# --- the rendered objects as local processes ---------------------------------------------------------------------


def secret_data(minio_url: str, db_password: str) -> dict[tuple[str, str], str]:
    """The Secrets a platform team creates before installing, under the names and keys values.yaml's `existingSecret`
    entries give, with this session's credentials."""
    store = urlsplit(minio_url)
    given = {
        "tokenKey": TOKEN_KEY,
        "phiKey": base64.b64encode(os.urandom(32)).decode(),
        "anonKey": secrets.token_urlsafe(48),
        "databasePassword": db_password,
        "objectStoreAccessKey": unquote(store.username),
        "objectStoreSecretKey": unquote(store.password),
    }
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["secrets"]
    return {(defaults[name]["existingSecret"], defaults[name]["key"]): value for name, value in given.items()
            if defaults[name]["existingSecret"]}


def rendered_env(resources: list[dict], container: dict, secret: dict[tuple[str, str], str]) -> dict[str, str]:
    """The container's environment as the kubelet would build it from the rendered objects and the Secrets."""
    configs = {r["metadata"]["name"]: r.get("data", {}) for r in resources if r["kind"] == "ConfigMap"}

    def config_value(name: str, key: str) -> str:
        assert name in configs, f"{container['name']} reads ConfigMap {name}, which the chart does not render"
        assert key in configs[name], f"{container['name']} reads {key} from ConfigMap {name}, which lacks it"
        return configs[name][key]

    def secret_value(name: str, key: str) -> str:
        assert (name, key) in secret, f"{container['name']} reads Secret {name} key {key}, which no existingSecret names"
        return secret[(name, key)]

    env = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            env |= {prefix + k: v for k, v in configs[source["configMapRef"]["name"]].items()}
        else:
            env |= {prefix + k: v for (s, k), v in secret.items() if s == source["secretRef"]["name"]}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
        elif "configMapKeyRef" in entry["valueFrom"]:
            env[entry["name"]] = config_value(entry["valueFrom"]["configMapKeyRef"]["name"], entry["valueFrom"]["configMapKeyRef"]["key"])
        else:
            env[entry["name"]] = secret_value(entry["valueFrom"]["secretKeyRef"]["name"], entry["valueFrom"]["secretKeyRef"]["key"])
    return env


def image_paths() -> dict[str, Path]:
    """Where this checkout holds what the Dockerfile puts at an absolute path of an image, by that path: the files it
    copies from the repository, and what its other stages build (the virtualenv: this test's own; the viewer)."""
    text = DOCKERFILE.read_text()
    paths = {target: REPO / source for source, target in re.findall(r"^COPY (\S+) (/\S+)$", text, re.MULTILINE)
             if (REPO / source).is_file()}
    built = {"/opt/venv": Path(sys.executable).parent.parent, "/viewer/dist": REPO / "viewer" / "dist"}
    for source, target in re.findall(r"^COPY --from=\S+ (\S+) (/\S+)$", text, re.MULTILINE):
        assert source in built, f"the Dockerfile copies {source} from a stage this test does not know how to stand in for"
        paths[target] = built[source]
    return paths


def image_env(image: str, scratch: Path) -> dict[str, str]:
    """The environment an image gives its process (the Dockerfile's ENV of its stage and the stages it is built FROM),
    its paths made local: /tmp (the chart's emptyDir) a folder of the process's own (TMPDIR too, as /tmp is the
    image's temp folder), ${PATH} this machine's. Nothing else of this test's environment reaches the process."""
    stages = {match[1]: match for match in re.findall(r"^FROM (\S+) AS (\S+)\n(.*?)(?=^FROM |\Z)",
                                                       DOCKERFILE.read_text(), re.MULTILINE | re.DOTALL)}
    stage = image.rsplit(":", 1)[0].rsplit("/", 1)[1].removeprefix("radlab-")
    assert stage in stages, f"{image}: deploy/images/Dockerfile has no stage {stage}"
    chain = []
    while stage in stages:
        chain.insert(0, stages[stage][2])
        stage = stages[stage][0]
    local = {"/tmp": scratch, **image_paths()}
    env = {}
    for body in chain:
        for line in re.findall(r"^ENV ((?:.*\\\n)*.*)$", body, re.MULTILINE):
            for name, value in re.findall(r"(\w+)=(\S+)", line):
                for path in sorted(local, key=len, reverse=True):
                    value = re.sub(rf"(?<![^:]){re.escape(path)}(?=/|:|$)", str(local[path]), value)
                env[name] = value.replace("${PATH}", os.environ["PATH"])
    return env


def processes(resources: list[dict], secret: dict[tuple[str, str], str]) -> list[Process]:
    """Every rendered Job and Deployment as a Process (argv with the image's paths, environment as rendered)."""
    in_image = image_paths()  # an entry point whose path differs here: deploy/images/jobs.py at /opt/radlab/jobs.py
    found = []
    for resource in resources:
        if resource["kind"] in ("Job", "Deployment"):
            pod = resource["spec"]["template"]["spec"]
            (container,) = pod["containers"]
            argv = [str(in_image.get(part, part)) for part in container["command"] + container.get("args", [])]
            found.append(Process(resource["kind"], resource["metadata"]["labels"][COMPONENT], pod, argv,
                                 rendered_env(resources, container, secret),
                                 resource["spec"]["template"]["metadata"].get("annotations") or {}))
    return found


def localize(resources: list[dict], deployments: list[Process]) -> None:
    """The one place a pod's address and cluster DNS become loopback: each container port gets a free local port,
    rewritten where the process's environment names it; each Service's DNS name and port becomes 127.0.0.1 and the
    local port of the container port it targets."""
    by_component = {process.component: process for process in deployments}
    for process in deployments:
        for port in process.container.get("ports", []):
            local = free_port()
            process.ports[port["name"]] = process.ports[port["containerPort"]] = local
    addresses = {}
    for service in (r for r in resources if r["kind"] == "Service"):
        target = by_component.get(service["spec"]["selector"][COMPONENT])
        if target is None:
            continue
        name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
        for port in service["spec"]["ports"]:
            local = f"127.0.0.1:{target.ports[port['targetPort']]}"
            for host in (f"{name}.{namespace}.svc.cluster.local", f"{name}.{namespace}.svc", f"{name}.{namespace}", name):
                addresses[f"{host}:{port['port']}"] = local
    for process in deployments:
        named = set()
        for variable, value in process.env.items():
            for dns in sorted(addresses, key=len, reverse=True):
                value = re.sub(rf"(?<![\w.-]){re.escape(dns)}(?!\d)", addresses[dns], value)
            for port in process.container.get("ports", []):
                number, local = port["containerPort"], process.ports[port["containerPort"]]
                if re.search(rf"^0\.0\.0\.0:{number}$", value) or value == str(number):
                    named.add(number)
                    value = f"127.0.0.1:{local}" if ":" in value else str(local)
            process.env[variable] = "127.0.0.1" if value == "0.0.0.0" else value
        declared = {port["containerPort"] for port in process.container.get("ports", [])}
        assert declared <= named, f"{process.component} declares ports {sorted(declared - named)} its environment never names"
        leftover = {k: v for k, v in process.env.items() if ".svc" in v or "0.0.0.0" in v}
        assert not leftover, f"{process.component}: addresses that name no rendered Service or port: {leftover}"


# --- probes --------------------------------------------------------------------------------------------------------


def probe_passes(process: Process, probe: dict) -> bool:
    """One try of a rendered probe (gRPC health or HTTP GET) against the process's local ports."""
    if process.popen.poll() is not None:
        pytest.fail(f"{process.component} exited while starting\n{process.tail()}")
    if "grpc" in probe:
        with grpc.insecure_channel(f"127.0.0.1:{process.ports[probe['grpc']['port']]}") as channel:
            try:
                answer = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=probe["grpc"].get("service", "")), timeout=2)
            except grpc.RpcError:
                return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING
    request = probe["httpGet"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{process.ports[request['port']]}{request['path']}", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def wait_ready(process: Process) -> None:
    """The container's startup probe, then its readiness probe, then its metrics where Prometheus is told to scrape."""
    container = process.container
    for kind in ("startupProbe", "readinessProbe"):
        wait_until(lambda: probe_passes(process, container[kind]), f"{process.component}'s {kind}", timeout_s=STARTUP_S,
                   interval_s=0.25)
    if process.annotations.get("prometheus.io/scrape") == "true":
        port = process.ports[int(process.annotations["prometheus.io/port"])]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{process.annotations['prometheus.io/path']}", timeout=5) as answer:
            assert answer.status == 200 and b"# TYPE" in answer.read(), f"{process.component} serves no metrics there"


# --- the test ------------------------------------------------------------------------------------------------------


@pytest.fixture
def chart_values(tmp_path, kafka_url, minio_url, postgres_database_url):
    """values.yaml overrides for this session's servers: (values file, the database's URL, its password)."""
    store, database = urlsplit(minio_url), sa.make_url(postgres_database_url)
    values = {
        "config": {
            "bus": kafka_url,
            "store": f"s3://{store.hostname}:{store.port}",  # the keys come from the Secrets, as on a cluster
            "db": database.set(password=None).render_as_string(hide_password=False),
            "ray": "",
        },
        "topics": {"partitions": PARTITIONS, "deadLetterPartitions": DEAD_LETTER_PARTITIONS, "replicationFactor": 1},
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path, values["config"]["db"], database.password or ""


def run_jobs(jobs: list[Process], base: Path) -> dict[str, str]:
    """Start every install Job at once (each is independent), wait for each to succeed; their output by component."""
    for job in jobs:
        job.start(base)
    outputs = {}
    for job in jobs:
        try:
            job.popen.wait(timeout=120)  # the Jobs' activeDeadlineSeconds is 900: a cluster's cold start, not this
        except subprocess.TimeoutExpired:
            pytest.fail(f"Job {job.component} ran past its deadline\n{job.tail()}")
        assert job.popen.returncode == 0, job.tail()
        outputs[job.component] = job.log.read_text()
    return outputs


def check_topics(output: str, bus_url: str, wanted: list[str]) -> None:
    """Every event topic and its dead-letter topic is on the broker; those the Job made have the partitions of values."""
    created = re.search(r"created \d+ topics(?:: (.*))?", output)
    assert created, f"the topics Job said nothing of what it created:\n{output}"
    made = [name.strip() for name in (created.group(1) or "").split(",") if name.strip()]
    admin = KafkaAdminClient(bootstrap_servers=KafkaBus.from_url(bus_url).bootstrap_servers, client_id="radlab-test")
    try:
        assert {*wanted, *(f"{topic}.dlq" for topic in wanted)} <= set(admin.list_topics())
        for topic in admin.describe_topics(made) if made else []:
            name = topic.get("topic") or topic.get("name")
            expected = DEAD_LETTER_PARTITIONS if name.endswith(".dlq") else PARTITIONS
            assert len(topic["partitions"]) == expected, f"{name}: {len(topic['partitions'])} partitions, values say {expected}"
    finally:
        admin.close()


def test_the_rendered_jobs_and_deployments_carry_a_scan_from_upload_to_exported_label(
    helm, chart_values, jobs_script, kafka_url, minio_url, data_dir, tmp_path
):
    """Jobs then Deployments exactly as rendered, on the real servers: the spleen CT uploaded to ingestion's process
    becomes an item in annotation's (through anonymization's, over Kafka, in MinIO and PostgreSQL); its manual mask,
    imported and exported as NIfTI, comes back voxel for voxel; the gateway's process answers for annotation; every
    process stops on SIGTERM with exit 0, having written nothing outside its /tmp."""
    values, db_url, db_password = chart_values
    resources = render(helm, "-f", str(values))
    every = processes(resources, secret_data(minio_url, db_password))
    jobs = [p for p in every if p.kind == "Job"]
    deployments = {p.component: p for p in every if p.kind == "Deployment"}
    assert {"topics"} | {f"migrate-{name}" for name in deployments if name != "gateway"} == {j.component for j in jobs}
    hooks = {r["metadata"]["labels"][COMPONENT]: r["metadata"]["annotations"]["helm.sh/hook"] for r in resources if r["kind"] == "Job"}
    assert all("pre-install" in hook.split(",") for hook in hooks.values()), hooks  # so they run before the Deployments
    localize(resources, list(deployments.values()))
    started = time.monotonic()
    try:
        outputs = run_jobs(jobs, tmp_path)
        check_topics(outputs["topics"], kafka_url, jobs_script.event_types())
        with sa.create_engine(sa.make_url(db_url).set(drivername="postgresql+psycopg", password=db_password or None)).connect() as conn:
            schemas = set(conn.exec_driver_sql("SELECT schema_name FROM information_schema.schemata").scalars())
        assert {j.component.removeprefix("migrate-") for j in jobs if j.component != "topics"} <= schemas
        jobs_took = time.monotonic() - started

        for process in deployments.values():
            process.start(tmp_path)
        for process in deployments.values():
            wait_ready(process)
        settle_consumers(deployments, kafka_url)
        ready_took = time.monotonic() - started - jobs_took

        admin = issue_token(TOKEN_KEY, subject="platform-admin", role="admin", tenant=TENANT)
        addresses = {name: f"127.0.0.1:{process.ports['grpc']}" for name, process in deployments.items() if "grpc" in process.ports}
        with routed_client(addresses, admin) as client:
            carry_the_spleen(client, deployments["gateway"], admin, data_dir, tmp_path)
        flow_took = time.monotonic() - started - jobs_took - ready_took

        for process in deployments.values():
            process.popen.send_signal(signal.SIGTERM)
        for process in deployments.values():
            try:
                process.popen.wait(timeout=process.pod["terminationGracePeriodSeconds"])
            except subprocess.TimeoutExpired:
                pytest.fail(f"{process.component} outlived its grace period after SIGTERM\n{process.tail()}")
            assert process.popen.returncode == 0, process.tail()
        for process in every:
            assert not any(process.root.iterdir()), f"{process.component} wrote {sorted(process.root.iterdir())} outside /tmp"
        print(f"jobs {jobs_took:.1f} s, deployments ready {ready_took:.1f} s, scan to label {flow_took:.1f} s, "
              f"stop {time.monotonic() - started - jobs_took - ready_took - flow_took:.1f} s")
    except BaseException:
        print(f"each process's output: {tmp_path}/<component>.log")
        raise
    finally:
        for process in every:
            if process.popen is not None and process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()


def settle_consumers(deployments: dict[str, Process], bus_url: str, timeout_s: float = 60.0) -> None:
    """Wait until each consuming Deployment's consumer group is stable with every member holding partitions (a group
    still rebalancing would leave the first upload waiting on its next round, not on the wiring)."""
    from shared.consumer import consumer_group

    consumers = [name for name in deployments if name != "gateway"]
    bus = KafkaBus.from_url(bus_url)

    def unsettled() -> list[str]:
        return [name for name in consumers
                if not (members := bus.group_members(consumer_group(name))) or not all(members.values())]

    try:
        deadline = time.monotonic() + timeout_s
        while (stuck := unsettled()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not stuck, f"consumer groups not settled after {timeout_s:.0f} s: {stuck}"
    finally:
        bus.close()


def carry_the_spleen(client: Client, gateway: Process, token: str, data_dir: Path, tmp_path: Path) -> None:
    """Dataset and class; the CT uploaded until it is an item; its manual mask imported, submitted and exported as
    NIfTI, which equals the mask; the item listed through the gateway."""
    dataset = client.create_dataset(f"helm processes {uuid.uuid4().hex[:8]}").dataset_id
    spleen = client.create_class(dataset, "spleen")
    client.upload(data_dir / SPLEEN_CT, dataset)
    [item] = client.wait_for_items(dataset, 1, timeout_s=90)
    imported = client.import_labels(item.item_id, data_dir / SPLEEN_MASK, mapping={"1": spleen.value})
    client.annotation.SubmitAnnotation(annotation_pb.SubmitAnnotationRequest(annotation_id=imported.annotation_id,
                                                                             version=imported.version))
    export = client.export_labels(dataset, annotation_pb.LABEL_FORMAT_NIFTI, timeout_s=60)
    assert export.job.state == 3, export.job.error  # SUCCEEDED
    with urllib.request.urlopen(export.download_url) as response:
        archive = zipfile.ZipFile(io.BytesIO(response.read()))
    (tmp_path / "exported.nii.gz").write_bytes(archive.read(f"{item.item_id}/{imported.annotation_id}.nii.gz"))
    exported, manual = nib.load(tmp_path / "exported.nii.gz"), nib.load(data_dir / SPLEEN_MASK)
    assert np.array_equal(np.asarray(exported.dataobj), np.asarray(manual.dataobj))
    assert np.allclose(exported.affine, manual.affine, atol=1e-3)

    call = urllib.request.Request(
        f"http://127.0.0.1:{gateway.ports['http']}/api/v1/annotation/ListItems", method="POST",
        data=json.dumps({"datasetId": dataset}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=10) as answer:
        listed = json.loads(answer.read())
    assert [found["itemId"] for found in listed["items"]] == [item.item_id]
