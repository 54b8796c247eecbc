"""The chart as a platform team installs it, in its three profiles (default, values-single-node.yaml,
ci/everything-values.yaml): schema-valid manifests, hardened pods, least-privilege network policies, and settings the
code reads back.

Each profile is rendered once per session. What needs a real cluster (the pods starting, NetworkPolicies enforced,
the KubeRay and Prometheus Operator CRDs accepting their resources) or a container engine (building deploy/images/
Dockerfile) cannot run here: these tests check the rendered objects and the Dockerfile's text instead."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import types

import kubernetes_validate
import pytest

from radlab import SERVICES
from services.ingestion.sources import parse_sources
from shared import metrics
from shared.config import Settings
from tests.conftest import REPO
from services.gateway.calls import parse_targets
from tests.unit.test_helm_chart import (  # noqa: F401 (helm: a fixture)
    CHART, GATEWAY, RELEASE, SINGLE_NODE, config_map, env_of, helm, of_kind, render, run_helm,
)

pytestmark = pytest.mark.timeout(1800)  # the first helm build, as in test_helm_chart

EVERYTHING = CHART / "ci" / "everything-values.yaml"
PROFILES = {"default": (), "single-node": ("-f", str(SINGLE_NODE)), "everything": ("-f", str(EVERYTHING))}
KUBERNETES_VERSION = "1.37.0"  # the version scripts/tools.sh builds helm to assume
# Custom resources kubernetes-validate has no schema for; their CRDs come from the operators' own charts, which
# cannot be fetched here. The tests below check the fields the chart sets on them.
CUSTOM_RESOURCES = {
    ("ray.io/v1", "RayCluster"): "KubeRay's CRD",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "the Prometheus Operator's CRD",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "the Prometheus Operator's CRD",
}
TOKEN_KEY = "k" * 48
DOCKERFILE = REPO / "deploy" / "images" / "Dockerfile"


@pytest.fixture(scope="session")
def profiles(helm):
    """Each profile's rendered resources, by profile name."""
    return {name: render(helm, *options) for name, options in PROFILES.items()}


@pytest.fixture(scope="session")
def jobs_script():
    """deploy/images/jobs.py, the install Jobs' entry point, loaded as a module."""
    spec = importlib.util.spec_from_file_location("radlab_install_jobs", REPO / "deploy" / "images" / "jobs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pod_specs(resources):
    """(resource name, pod spec) of every workload: Deployments, StatefulSets, Jobs and the RayCluster's pods."""
    for resource in resources:
        kind, name = resource["kind"], resource["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "Job"):
            yield name, resource["spec"]["template"]["spec"]
        elif kind == "RayCluster":
            yield f"{name}/head", resource["spec"]["headGroupSpec"]["template"]["spec"]
            for group in resource["spec"]["workerGroupSpecs"]:
                yield f"{name}/{group['groupName']}", group["template"]["spec"]


def resolved_env(resources, deployment) -> dict[str, str]:
    """A Deployment's environment as its container would see it: ConfigMap references looked up in the rendered
    ConfigMaps, Secret references given a stand-in key."""
    configs = {r["metadata"]["name"]: r["data"] for r in resources if r["kind"] == "ConfigMap"}
    env = {}
    for name, entry in env_of(deployment).items():
        if "value" in entry:
            env[name] = entry["value"]
        elif "configMapKeyRef" in entry["valueFrom"]:
            reference = entry["valueFrom"]["configMapKeyRef"]
            env[name] = configs[reference["name"]][reference["key"]]
        else:
            env[name] = TOKEN_KEY
    return env


def code_reads() -> set[str]:
    """Every RADLAB_* variable the server code names (Settings.from_env and the credentials read where used)."""
    names = set()
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "services").rglob("*.py"), REPO / "radlab" / "tokens.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"RADLAB_[A-Z0-9_]+", node.value):
                names.add(node.value)
    return names


# --- lint and schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["single-node", "everything"])
def test_lint_passes_with_each_profile(helm, profile):
    """helm lint --strict accepts the chart with each profile's values (the defaults are linted in test_helm_chart)."""
    result = run_helm(helm, "lint", "--strict", str(CHART), *PROFILES[profile])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("profile", PROFILES)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(profiles, profile):
    """Every rendered object validates, strictly (no unknown fields), against the Kubernetes 1.37 OpenAPI schemas
    kubernetes-validate ships, offline; the custom resources are skip-listed with the reason in CUSTOM_RESOURCES."""
    checked = set()
    for resource in profiles[profile]:
        key = (resource["apiVersion"], resource["kind"])
        if key in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{resource['kind']} {resource['metadata']['name']}: {error.message} at {list(error.path)}")
        checked.add(resource["kind"])
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget", "Job"} <= checked


def test_profiles_render_what_they_promise(profiles):
    """Defaults: external infrastructure, no custom resources. Single node: Kafka, MinIO and PostgreSQL in the
    release. Everything: the RayCluster, ServiceMonitor, PrometheusRule, dashboard and autoscalers."""
    kinds = {name: {r["kind"] for r in resources} for name, resources in profiles.items()}
    assert not kinds["default"] & {"StatefulSet", "RayCluster", "ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler"}
    assert set(of_kind(profiles["single-node"], "StatefulSet")) == {"kafka", "minio", "postgresql"}
    assert {"RayCluster", "ServiceMonitor", "PrometheusRule", "HorizontalPodAutoscaler"} <= kinds["everything"]
    assert "dashboard" in {r["metadata"]["labels"]["app.kubernetes.io/component"] for r in profiles["everything"]}


# --- pods ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_is_hardened_and_sized(profiles, profile):
    """Every container of every workload: non-root, read-only root filesystem, no privilege escalation, all
    capabilities dropped, a RuntimeDefault seccomp profile, CPU and memory requests and a memory limit, and no
    Kubernetes API token mounted."""
    for name, pod in pod_specs(profiles[profile]):
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert security["allowPrivilegeEscalation"] is False, (name, container["name"])
            assert security["capabilities"]["drop"] == ["ALL"], (name, container["name"])
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), (name, container["name"])
            assert "memory" in container["resources"]["limits"], (name, container["name"])
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, (name, "a read-only root needs a writable /tmp")


@pytest.mark.parametrize("profile", PROFILES)
def test_every_long_running_container_has_all_three_probes(profiles, profile):
    """Deployments probe gRPC health on the port RADLAB_GRPC_ADDR names (the gateway its HTTP port); the in-chart
    StatefulSets probe their server. (KubeRay adds its own probes to the Ray pods; Jobs run to completion.)"""
    resources = profiles[profile]
    grpc_port = int(config_map(resources)["data"]["RADLAB_GRPC_ADDR"].rsplit(":", 1)[1])
    for kind in ("Deployment", "StatefulSet"):
        for name, workload in of_kind(resources, kind).items():
            (container,) = workload["spec"]["template"]["spec"]["containers"]
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert probe in container, (name, probe)
                if kind == "Deployment" and name == GATEWAY:
                    assert container[probe]["httpGet"]["port"] == "http", probe
                elif kind == "Deployment":
                    assert container[probe]["grpc"]["port"] == grpc_port, (name, probe)


def test_images_are_one_per_service_and_ray_runs_trainings(profiles):
    """Each service runs its own image; the RayCluster's head and workers run training's (one Python, one Ray)."""
    resources = profiles["everything"]
    images = {}
    for name, deployment in of_kind(resources, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        images[name] = container["image"]
    assert images == {name: f"ghcr.io/radlab/radlab-{name}:0.1.0" for name in (*SERVICES, GATEWAY)}
    for name, pod in pod_specs(resources):
        if name.startswith(f"{RELEASE}-radlab-ray/"):
            assert {c["image"] for c in pod["containers"]} == {images["training"]}, name


def test_pod_disruption_budgets_cover_each_service(profiles):
    """One PodDisruptionBudget per service and the gateway, selecting exactly its pods."""
    resources = profiles["default"]
    budgets = of_kind(resources, "PodDisruptionBudget")
    assert set(budgets) == {*SERVICES, GATEWAY}
    for name, deployment in of_kind(resources, "Deployment").items():
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"]
        assert budgets[name]["spec"]["maxUnavailable"] == 1


def test_service_accounts_are_one_per_service_without_a_token(profiles):
    """Each service's pods run as their own ServiceAccount, which mounts no API token."""
    resources = profiles["default"]
    accounts = {r["metadata"]["name"]: r for r in resources if r["kind"] == "ServiceAccount"}
    for name, deployment in of_kind(resources, "Deployment").items():
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert account == f"{RELEASE}-radlab-{name}"
        assert accounts[account]["automountServiceAccountToken"] is False


# --- settings the code reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_each_service_gets_only_settings_the_code_reads_and_they_parse(profiles, profile):
    """Every RADLAB_* variable a Deployment sets is one the server code reads; Settings.from_env accepts each
    service's environment as rendered and reads back the chart's bus, store, database and ports."""
    resources = profiles[profile]
    known = code_reads()
    common = config_map(resources)["data"]
    for name, deployment in of_kind(resources, "Deployment").items():
        if name == GATEWAY:
            continue
        env = resolved_env(resources, deployment)
        radlab_variables = {variable for variable in env if variable.startswith("RADLAB_")}
        assert radlab_variables <= known, (name, radlab_variables - known)
        assert {"RADLAB_BUS", "RADLAB_STORE", "RADLAB_DB", "RADLAB_GRPC_ADDR", "RADLAB_TOKEN_KEY"} <= radlab_variables
        settings = Settings.from_env(env)
        assert (settings.bus_url, settings.store_url, settings.db_url) == (
            common["RADLAB_BUS"], common["RADLAB_STORE"], common["RADLAB_DB"],
        )
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert int(settings.grpc_addr.rsplit(":", 1)[1]) == ports["grpc"]
        assert settings.metrics_port == ports["http-metrics"] and settings.metrics_host == "0.0.0.0"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_gateway_gets_only_settings_the_code_reads_and_reaches_each_enabled_service(profiles, profile):
    """Every RADLAB_* variable of the gateway is one the code reads; Settings.from_env accepts them, its HTTP address
    is its container's http port, and its targets are each service's own Service on the gRPC port."""
    resources = profiles[profile]
    gateway = of_kind(resources, "Deployment")[GATEWAY]
    env = resolved_env(resources, gateway)
    assert {variable for variable in env if variable.startswith("RADLAB_")} <= code_reads()
    settings = Settings.from_env(env)
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert settings.http_addr == f"0.0.0.0:{ports['http']}" and settings.metrics_port == ports["http-metrics"]
    assert parse_targets(settings.gateway_targets, settings.services_url) == {
        name: f"{RELEASE}-radlab-{name}.radlab.svc:50051" for name in of_kind(resources, "Deployment") if name != GATEWAY
    }
    assert settings.token_key == TOKEN_KEY


def test_single_node_services_reach_the_in_chart_infrastructure(profiles):
    """With values-single-node.yaml the URLs name the release's own Kafka, MinIO and PostgreSQL Services, on the
    ports those Services expose."""
    resources = profiles["single-node"]
    common = config_map(resources)["data"]
    services = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Service"}
    for component, variable in (("kafka", "RADLAB_BUS"), ("minio", "RADLAB_STORE"), ("postgresql", "RADLAB_DB")):
        service = services[f"{RELEASE}-radlab-{component}"]
        (port,) = service["spec"]["ports"]
        host = f"{RELEASE}-radlab-{component}.radlab.svc:{port['port']}"
        assert host in common[variable], (variable, common[variable])
    statefulsets = of_kind(resources, "StatefulSet")
    kafka_env = {e["name"]: e.get("value") for e in statefulsets["kafka"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert kafka_env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{RELEASE}-radlab-kafka.radlab.svc:9092"
    postgres_env = {e["name"]: e for e in statefulsets["postgresql"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert postgres_env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "radlab-database", "key": "password"}


def test_dicom_entrances_are_off_by_default(profiles):
    """Without dicom.enabled ingestion gets no RADLAB_DICOM_* setting, no DICOM port and no DICOM Service."""
    resources = profiles["default"]
    ingestion = of_kind(resources, "Deployment")["ingestion"]
    assert not [variable for variable in env_of(ingestion) if variable.startswith("RADLAB_DICOM")]
    (container,) = ingestion["spec"]["template"]["spec"]["containers"]
    assert {port["name"] for port in container["ports"]} == {"grpc", "http-metrics"}
    assert f"{RELEASE}-radlab-ingestion-dicom" not in {r["metadata"]["name"] for r in resources}


def test_dicom_entrances_expose_the_ports_the_code_serves(profiles):
    """dicom.enabled: ingestion's RADLAB_DICOM_* settings parse back (the sources too), its container and its DICOM
    Service expose exactly the C-STORE and STOW-RS ports it will serve, and only the PACS CIDRs reach them."""
    resources = profiles["everything"]
    ingestion = of_kind(resources, "Deployment")["ingestion"]
    settings = Settings.from_env(resolved_env(resources, ingestion))
    sources = parse_sources(settings.dicom_sources)
    assert {title: (s.tenant, s.dataset_id) for title, s in sources.items()} == {
        "PACS1": ("hospital-a", "ds-ct"), "MODALITY_MR1": ("hospital-a", "ds-mr"),
    }
    assert (settings.dicom_ae_title, settings.dicom_quiet_s) == ("RADLAB", 30.0)
    served = {"dicom": settings.dicom_port, "dicomweb": settings.dicomweb_port}
    (container,) = ingestion["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": 50051, "http-metrics": 9464, **served}
    (service,) = [r for r in resources if r["kind"] == "Service" and r["metadata"]["name"] == f"{RELEASE}-radlab-ingestion-dicom"]
    assert {port["name"]: port["port"] for port in service["spec"]["ports"]} == served
    assert service["spec"]["loadBalancerSourceRanges"] == ["10.20.0.0/24", "10.30.4.7/32"]
    assert service["spec"]["externalTrafficPolicy"] == "Local"
    for name, deployment in of_kind(resources, "Deployment").items():
        if name != "ingestion":
            assert not [variable for variable in env_of(deployment) if variable.startswith("RADLAB_DICOM")], name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--set", "services.ingestion.dicom.enabled=true"), "services.ingestion.dicom.sources: bind at least one"),
        (("--set", "services.ingestion.dicom.enabled=true", "--set", "services.ingestion.dicom.sources.PACS1=nodataset"),
         "is not tenant/dataset_id"),
        (("--set", "services.ingestion.dicom.enabled=true", "--set", "services.ingestion.dicom.sources.PACS1=t/d",
          "--set", "services.ingestion.dicom.port=0", "--set", "services.ingestion.dicom.dicomwebPort=0"),
         "set dicom.enabled=false instead"),
        (("--set", "services.ingestion.extraEnv.RADLAB_DICOM_SOURCES=A=t/d"), "extraEnv.RADLAB_DICOM_SOURCES"),
    ],
)
def test_dicom_settings_the_code_would_refuse_fail_the_render(helm, options, message):
    result = run_helm(helm, "template", RELEASE, str(CHART), *options)
    assert result.returncode != 0 and message in result.stderr, result.stderr


# --- network policies ----------------------------------------------------------------------------------


def egress_ports(policy) -> set[int]:
    return {port["port"] for rule in policy["spec"]["egress"] for port in rule.get("ports", [])}


def test_network_policies_let_each_service_reach_only_its_dependencies(profiles):
    """Each service's pods (and only they) are selected; ingress is gRPC and metrics (plus ingestion's DICOM ports
    from the PACS CIDRs alone); egress is DNS and the ports the bus, store and database URLs name, Ray for training,
    HTTPS for workflow's webhooks and each service's extraEgress. The services never call one another, so no rule
    opens another service's pods."""
    resources = profiles["everything"]
    policies = of_kind(resources, "NetworkPolicy")
    deployments = of_kind(resources, "Deployment")
    assert set(policies) == set(deployments)
    for name, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert policy["spec"]["podSelector"] == deployments[name]["spec"]["selector"]
        ingress = {port["port"]: rule.get("from") for rule in policy["spec"]["ingress"] for port in rule["ports"]}
        if name == GATEWAY:
            continue  # test_the_gateway_reaches_only_the_services_grpc_ports
        expected = {"grpc", "http-metrics"} | ({"dicom", "dicomweb"} if name == "ingestion" else set())
        assert set(ingress) == expected, name
        if name == "ingestion":
            assert ingress["dicom"] == ingress["dicomweb"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}, {"ipBlock": {"cidr": "10.30.4.7/32"}}]
        # kafka://kafka-0.kafka:9093,kafka-1.kafka:9094; s3://…?secure=true (443); postgresql://…:6432
        expected_egress = {53, 9093, 9094, 443, 6432} | ({10001} if name == "training" else set())
        assert egress_ports(policy) == expected_egress, name
        for rule in policy["spec"]["egress"]:
            for peer in rule.get("to", []):
                component = peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
                assert component not in SERVICES, (name, "a service never calls another service")


def test_network_policies_select_the_in_chart_infrastructure_by_its_pods(profiles):
    """With the single-node profile the bus, store and database egress goes to the release's own Kafka, MinIO and
    PostgreSQL pods (by their labels) on their ports, not to any address; those pods accept only the release's pods
    on that port and reach nothing but DNS."""
    resources = profiles["single-node"]
    statefulsets = of_kind(resources, "StatefulSet")
    policies = of_kind(resources, "NetworkPolicy")
    assert set(policies) == {*SERVICES, GATEWAY} | set(statefulsets)
    for component, statefulset in statefulsets.items():
        policy = policies[component]["spec"]
        assert policy["podSelector"] == statefulset["spec"]["selector"]
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"port": "client", "protocol": "TCP"}]
        assert ingress["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "radlab",
                                                                    "app.kubernetes.io/instance": RELEASE}}}]
        assert egress_ports(policies[component]) == {53}
    for name in SERVICES:
        policy = policies[name]
        targets = {}
        for rule in policy["spec"]["egress"]:
            for peer in rule.get("to", []):
                labels = peer.get("podSelector", {}).get("matchLabels")
                if labels:
                    targets[labels["app.kubernetes.io/component"]] = ({p["port"] for p in rule["ports"]}, labels)
        assert set(targets) == {"kafka", "minio", "postgresql"}, name
        for component, (ports, labels) in targets.items():
            pod = statefulsets[component]["spec"]["template"]
            assert labels.items() <= pod["metadata"]["labels"].items()
            assert ports == {p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}


def test_the_gateway_reaches_only_the_services_grpc_ports_and_they_admit_it(helm, profiles):
    """The gateway takes HTTP from httpClients and metrics scrapes, and reaches DNS and the enabled services' pods on
    their gRPC port, nothing else; with apiClients narrowed, each service still admits the gateway's pods."""
    resources = profiles["everything"]
    policy = of_kind(resources, "NetworkPolicy")[GATEWAY]["spec"]
    assert policy["podSelector"] == of_kind(resources, "Deployment")[GATEWAY]["spec"]["selector"]
    assert {port["port"]: rule.get("from") for rule in policy["ingress"] for port in rule["ports"]} == {
        "http": [{"podSelector": {}}], "http-metrics": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
    }
    assert egress_ports(of_kind(resources, "NetworkPolicy")[GATEWAY]) == {53, 50051}
    (to_services,) = [rule for rule in policy["egress"] if rule["ports"] == [{"port": 50051, "protocol": "TCP"}]]
    (peer,) = to_services["to"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "radlab", "app.kubernetes.io/instance": RELEASE}
    assert peer["podSelector"]["matchExpressions"] == [{"key": "app.kubernetes.io/component", "operator": "In", "values": sorted(SERVICES)}]
    narrowed = of_kind(render(helm, "--set", "networkPolicy.apiClients[0].ipBlock.cidr=10.9.0.0/16"), "NetworkPolicy")
    for name in SERVICES:
        grpc_from = [rule["from"] for rule in narrowed[name]["spec"]["ingress"] if rule["ports"][0]["port"] == "grpc"][0]
        assert grpc_from == [{"ipBlock": {"cidr": "10.9.0.0/16"}}, {"podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "radlab", "app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": GATEWAY}}}]


def test_store_url_without_a_port_opens_the_port_the_s3_client_uses(helm):
    """s3://host means port 80 to the S3 client, s3://host?secure=true port 443: the policy opens that one."""
    for url, port in (("s3://s3.example.org", 80), ("s3://s3.example.org?secure=true", 443)):
        policies = of_kind(render(helm, "--set", f"config.store={url}"), "NetworkPolicy")
        assert port in egress_ports(policies["annotation"]) and ({80, 443} - {port}).isdisjoint(egress_ports(policies["annotation"]))


# --- scaling -----------------------------------------------------------------------------------------


def test_autoscalers_own_the_replicas_of_the_consumers_they_scale(profiles):
    """A HorizontalPodAutoscaler per service with autoscaling on, scaling its Deployment on CPU and, where set, on
    radlab_consumer_lag_records per pod (the gauge the consumers really export); such a Deployment leaves replicas to
    it."""
    resources = profiles["everything"]
    scalers = of_kind(resources, "HorizontalPodAutoscaler")
    deployments = of_kind(resources, "Deployment")
    assert set(scalers) == {"ingestion", "anonymization"}
    for name, scaler in scalers.items():
        assert scaler["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployments[name]["metadata"]["name"]}
        assert "replicas" not in deployments[name]["spec"]
        assert scaler["spec"]["maxReplicas"] <= 6  # topics.partitions
    lag = [m for m in scalers["ingestion"]["spec"]["metrics"] if m["type"] == "Pods"]
    assert [m["pods"]["metric"]["name"] for m in lag] == [metrics.CONSUMER_LAG._name]
    assert not [m for m in scalers["anonymization"]["spec"]["metrics"] if m["type"] == "Pods"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--set", "services.workflow.autoscaling.enabled=true", "--set", "services.workflow.autoscaling.maxReplicas=7"),
         "exceeds topics.partitions"),
        (("--set", "services.training.autoscaling.enabled=true"), "only the event consumers"),
    ],
)
def test_autoscaling_beyond_what_the_bus_can_feed_fails_the_render(helm, options, message):
    result = run_helm(helm, "template", RELEASE, str(CHART), *options)
    assert result.returncode != 0 and message in result.stderr, result.stderr


# --- install jobs --------------------------------------------------------------------------------------


def jobs_of(resources):
    return {r["metadata"]["labels"]["app.kubernetes.io/component"]: r for r in resources if r["kind"] == "Job"}


def test_topic_and_migration_jobs_run_before_the_upgrade(profiles):
    """A topic Job with partitions and replication from values, and one migration Job per service in that service's
    image with its database URL; hooks before install with external infrastructure, after it with the in-chart one
    (which does not exist before), and before every upgrade."""
    for profile, (partitions, replication, when) in {"default": ("6", "3", "pre-install,pre-upgrade"),
                                                     "single-node": ("2", "1", "post-install,pre-upgrade")}.items():
        resources = profiles[profile]
        jobs = jobs_of(resources)
        assert set(jobs) == {"topics", *(f"migrate-{name}" for name in SERVICES)}
        common = config_map(resources)["data"]
        for component, job in jobs.items():
            assert job["metadata"]["annotations"]["helm.sh/hook"] == when
            (container,) = job["spec"]["template"]["spec"]["containers"]
            assert container["command"] == ["python", "/opt/radlab/jobs.py"]
            env = {e["name"]: e.get("value") for e in container["env"]}
            if component == "topics":
                assert container["args"] == ["topics", "--partitions", partitions, "--dead-letter-partitions", "1",
                                             "--replication-factor", replication]
                assert env["RADLAB_BUS"] == common["RADLAB_BUS"]
            else:
                service = component.removeprefix("migrate-")
                assert container["args"] == ["migrate", service]
                assert container["image"] == f"ghcr.io/radlab/radlab-{service}:0.1.0"
                assert env["RADLAB_DB"] == common["RADLAB_DB"]


def test_topic_job_creates_every_topic_the_services_consume(jobs_script):
    """The topics the Job creates are every event type the services publish, by full proto name, and include each
    one a service's handlers subscribe to; messages that are only parts of events get no topic."""
    from services.annotation import handlers as annotation
    from services.anonymization import handlers as anonymization
    from services.ingestion import handlers as ingestion
    from services.interpolation import handlers as interpolation
    from services.training import handlers as training
    from services.workflow import handlers as workflow

    topics = set(jobs_script.event_types())
    ports = types.SimpleNamespace(db=None)  # the handler maps close over it; nothing is called
    consumed = set()
    for module in (annotation, anonymization, ingestion, interpolation, training, workflow):
        consumed |= set(module.event_handlers(ports, "radlab.test"))
    assert consumed <= topics, consumed - topics
    assert {"radlab.ingestion.v1.ScanUploaded", "radlab.workflow.v1.TrainingRequested"} <= topics
    assert not {"radlab.workflow.v1.TrainingExample", "radlab.interpolation.v1.FilledSlices"} & topics


def test_migration_job_brings_a_service_schema_up_to_date_once(jobs_script, tmp_path):
    """`jobs.py migrate SERVICE` creates that service's tables and records its migrations, as the service does on
    start, and a second run changes nothing. (SQLite here; the chart runs it against PostgreSQL, which the
    integration suite covers through the same Database class.)"""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path}"
    jobs_script.migrate(url, "workflow")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'workflow'}.sqlite")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        recorded = set(conn.execute(sa.text("select name from schema_migrations")).scalars())
    assert {"tasks", "outbox", "processed_events", "schema_migrations"} <= tables
    from services.workflow import store

    assert recorded == {name for name, _table, _step in store.migrations}
    jobs_script.migrate(url, "workflow")
    with engine.connect() as conn:
        assert set(conn.execute(sa.text("select name from schema_migrations")).scalars()) == recorded
    engine.dispose()


# --- credentials ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_credentials_come_only_from_existing_secrets(profiles, profile):
    """No profile renders a Secret; every secretKeyRef names a Secret the values say already exists."""
    existing = {"radlab-token-key", "radlab-phi-key", "radlab-anon-key", "radlab-database", "radlab-object-store"}
    resources = profiles[profile]
    assert "Secret" not in {r["kind"] for r in resources}
    for name, pod in pod_specs(resources):
        for container in pod["containers"]:
            for entry in container.get("env", []):
                reference = entry.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    assert reference["name"] in existing, (name, entry["name"])


# --- observability ---------------------------------------------------------------------------------------


def recorded_metrics() -> dict[str, str]:
    """The metrics the code really records (a shared.metrics object whose .labels() is called in shared/ or
    services/, and the families a custom collector yields, e.g. training's and workflow's gauges read from their
    databases), by Prometheus name, with their type."""
    used, families = set(), {}
    for path in [*(REPO / "shared").rglob("*.py"), *(REPO / "services").rglob("*.py")]:
        text = path.read_text()
        used |= set(re.findall(r"\b([A-Z_]+)\.labels\(", text))
        families |= {name: kind.lower() for kind, name in re.findall(r"\b(Gauge|Counter|Summary)MetricFamily\(\s*\"(radlab_[a-z_]+)\"", text)}
    return families | {
        getattr(metrics, variable)._name: getattr(metrics, variable)._type
        for variable in used if hasattr(metrics, variable)
    }


def series_names(recorded: dict[str, str]) -> set[str]:
    """The series names Prometheus stores for those metrics (a counter's _total, a histogram's _bucket/_sum/_count)."""
    names = set()
    for name, kind in recorded.items():
        if kind == "counter":
            names.add(f"{name}_total")
        elif kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "summary":
            names |= {name, f"{name}_sum", f"{name}_count"}
        else:
            names.add(name)
    return names


def metrics_in(expression: str) -> set[str]:
    return set(re.findall(r"\bradlab_[a-z_]+\b", expression))


def test_alert_rules_use_only_metrics_the_code_records(profiles):
    """Dead letters, rising lag, a stalled pipeline, an outbox backlog, an unreachable dependency and RPC errors each
    have an alert, on series the services export."""
    (rule,) = [r for r in profiles["everything"] if r["kind"] == "PrometheusRule"]
    known = series_names(recorded_metrics())
    alerts = {a["alert"]: a for group in rule["spec"]["groups"] for a in group["rules"]}
    assert set(alerts) == {
        "RadlabDeadLetters", "RadlabConsumerLagRising", "RadlabPipelineStalled", "RadlabOutboxBacklog",
        "RadlabDependencyDown", "RadlabRpcErrors",
    }
    for name, alert in alerts.items():
        used = metrics_in(alert["expr"])
        assert used and used <= known, (name, used - known)
        assert 'namespace="radlab"' in alert["expr"]


def test_dashboard_charts_every_metric_the_code_records_and_nothing_else(profiles):
    """The Grafana dashboard in the ConfigMap is valid JSON, and its queries together use each recorded metric and
    no series the services do not export."""
    (dashboard_map,) = [r for r in profiles["everything"] if r["kind"] == "ConfigMap" and r["metadata"]["name"].endswith("-dashboard")]
    assert dashboard_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dashboard_map["data"]["radlab-pipeline.json"])
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set().union(*(metrics_in(expression) for expression in expressions))
    recorded = recorded_metrics()
    assert used <= series_names(recorded), used - series_names(recorded)
    charted = {name for name in recorded if any(series.startswith(name) for series in used)}
    assert charted == set(recorded)


# --- images ----------------------------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, str]:
    """Each stage of deploy/images/Dockerfile by name, with its instructions."""
    stages = re.split(r"(?m)^FROM ", DOCKERFILE.read_text())[1:]
    return {stage.split("\n", 1)[0].split(" AS ")[1].strip(): stage for stage in stages}


def test_each_service_image_runs_what_the_chart_runs_as_the_chart_user(profiles):
    """One target per service whose command is the chart's `radlab serve <service>`, running as the chart's
    non-root uid, with the Jobs' script where the Jobs call it; only training's holds the training extra (torch,
    Ray). The images are not built here: no container engine or base image can be fetched."""
    stages = dockerfile_stages()
    deployments = of_kind(profiles["default"], "Deployment")
    assert "COPY deploy/images/jobs.py /opt/radlab/jobs.py" in stages["runtime"]
    for name in SERVICES:
        stage = stages[name]
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        pod = deployments[name]["spec"]["template"]["spec"]
        assert f'CMD {json.dumps(container["command"] + container["args"])}' in stage, name
        uid = pod["securityContext"]["runAsUser"]
        assert f"USER {uid}:{uid}" in stage, name
        assert stage.split("\n", 1)[0].startswith("runtime AS"), name
        venv = "training-venv" if name == "training" else "server-venv"
        assert f"COPY --from={venv} /opt/venv /opt/venv" in stage, name
    assert "[training]" in stages["training-venv"] and "[training]" not in stages["server-venv"]


def test_the_gateway_image_holds_the_built_viewer_and_runs_what_the_chart_runs(profiles):
    """The gateway target runs `radlab serve gateway` as the chart's uid on the server virtualenv, with the viewer that a
    node stage built by `npm ci && npm run build` (at viewer/package-lock.json's pins) where RADLAB_VIEWER_DIR says."""
    stages = dockerfile_stages()
    gateway = of_kind(profiles["default"], "Deployment")[GATEWAY]["spec"]["template"]["spec"]
    (container,) = gateway["containers"]
    stage = stages[GATEWAY]
    assert stage.split("\n", 1)[0].startswith("runtime AS")
    assert f'CMD {json.dumps(container["command"] + container["args"])}' in stage
    uid = gateway["securityContext"]["runAsUser"]
    assert f"USER {uid}:{uid}" in stage and "COPY --from=server-venv /opt/venv /opt/venv" in stage
    assert "COPY --from=viewer /viewer/dist /opt/radlab/viewer" in stage and "ENV RADLAB_VIEWER_DIR=/opt/radlab/viewer" in stage
    viewer = stages["viewer"]
    assert "COPY viewer/package.json viewer/package-lock.json ./" in viewer
    assert viewer.index("RUN npm ci") < viewer.index("RUN npm run build")
    assert "viewer/node_modules" in (REPO / ".dockerignore").read_text().split()
    assert "RADLAB_VIEWER_DIR" in code_reads()


def test_the_server_images_dependency_set_holds_no_torch_or_ray():
    """The five server images install radlab-server without extras: its dependencies name neither torch nor Ray
    (they come only with the training extra)."""
    import tomllib

    server = tomllib.loads((REPO / "packaging" / "radlab-server" / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in server["dependencies"]}
    assert not names & {"torch", "ray", "torchvision", "monai"}
    training = {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower() for r in server["optional-dependencies"]["training"]}
    assert {"torch", "ray"} <= training


def test_ray_cluster_version_is_the_ray_the_training_image_installs(profiles):
    """KubeRay checks the head against rayCluster.rayVersion, and Ray client needs one Ray on both sides: it must be
    the ray requirements.lock pins for the training image."""
    (pinned,) = [line.split("==")[1] for line in (REPO / "requirements.lock").read_text().splitlines() if line.startswith("ray==")]
    (cluster,) = [r for r in profiles["everything"] if r["kind"] == "RayCluster"]
    assert cluster["spec"]["rayVersion"] == pinned
