"""Renders deploy/helm/radlab with the pinned helm and checks what the chart would deploy."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from shared import config as settings
from shared.grpcserver import LIVENESS
from tests.conftest import REPO

CHART = REPO / "deploy" / "helm" / "radlab"
SINGLE_NODE = CHART / "values-single-node.yaml"
RELEASE = "lab"
SERVICES = {"ingestion", "anonymization", "annotation", "workflow", "interpolation", "training"}
GATEWAY = "gateway"  # the HTTP gateway: a Deployment beside the services, not one of them
WORKLOADS = SERVICES | {GATEWAY}
SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
GRPC_PORT = 50051
UPLOAD_VARIABLES = (
    "RADLAB_UPLOAD_MAX_BYTES", "RADLAB_UPLOAD_MAX_RATIO", "RADLAB_UPLOAD_MAX_FILES", "RADLAB_UPLOAD_TTL_S",
)

# A cold helm build takes minutes on a small machine, longer than the suite's default timeout.
pytestmark = pytest.mark.timeout(1800)


def _documents(text):
    """The non-empty documents of a multi-document YAML stream as helm prints it."""
    return [document for document in yaml.safe_load_all(text) if document]


# --- helm --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm():
    """Path of the pinned helm binary, built by scripts/tools.sh on first use."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "tools.sh"), "helm"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, f"scripts/tools.sh helm failed:\n{result.stderr}"
    path = Path(result.stdout.strip())
    assert path.is_file(), f"scripts/tools.sh helm printed {result.stdout!r}, which is not a file"
    return path


def run_helm(helm, *args):
    """Runs helm from the repository root and returns the finished process."""
    return subprocess.run([str(helm), *args], cwd=REPO, capture_output=True, text=True)


def render(helm, *options):
    """Renders the chart with extra helm options and returns the resources, failing on any helm error."""
    result = run_helm(helm, "template", RELEASE, str(CHART), "--namespace", "radlab", *options)
    assert result.returncode == 0, f"helm template {' '.join(options)} failed:\n{result.stderr}"
    return _documents(result.stdout)


def of_kind(resources, kind):
    """The resources of one kind, keyed by their app.kubernetes.io/component label."""
    return {r["metadata"]["labels"]["app.kubernetes.io/component"]: r for r in resources if r["kind"] == kind}


def config_map(resources, component="config"):
    """A rendered ConfigMap by its component label: "config" is the settings every service shares, a service's name
    its own settings (those only it reads)."""
    (found,) = [r for r in resources if r["kind"] == "ConfigMap" and r["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def env_of(deployment):
    """The env list of a Deployment's only container, keyed by variable name."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.fixture(scope="session")
def default_render(helm):
    """The chart rendered with its default values."""
    return render(helm)


@pytest.fixture(scope="session")
def extras_render(helm):
    """The chart rendered with the ServiceMonitor, the RayCluster and its GPU workers on."""
    return render(
        helm,
        "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "rayCluster.enabled=true",
        "--set", "rayCluster.workerGroups.gpu.enabled=true",
    )


# --- lint --------------------------------------------------------------------------------------------


def test_lint_passes_with_default_values(helm):
    """helm lint --strict accepts the chart with values.yaml."""
    result = run_helm(helm, "lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_passes_with_single_node_values(helm):
    """helm lint --strict accepts the chart with values-single-node.yaml."""
    result = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(SINGLE_NODE))
    assert result.returncode == 0, result.stdout + result.stderr


# --- workloads ---------------------------------------------------------------------------------------


def test_default_values_deploy_each_service_once(default_render):
    """Seven Deployments and seven Services by default, the six services' and the gateway's, each running
    `radlab serve <its name>` in its own image."""
    deployments = of_kind(default_render, "Deployment")
    assert set(deployments) == WORKLOADS
    assert set(of_kind(default_render, "Service")) == WORKLOADS
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] + container["args"] == ["radlab", "serve", name]
        assert container["image"] == f"ghcr.io/radlab/radlab-{name}:0.1.0"


def test_disabled_service_gets_no_deployment_or_service(helm):
    """services.<name>.enabled=false leaves that service out and keeps the others."""
    resources = render(helm, "--set", "services.workflow.enabled=false")
    assert set(of_kind(resources, "Deployment")) == WORKLOADS - {"workflow"}
    assert set(of_kind(resources, "Service")) == WORKLOADS - {"workflow"}
    assert "workflow=" not in config_map(resources, GATEWAY)["data"]["RADLAB_GATEWAY_TARGETS"]
    without_gateway = render(helm, "--set", "gateway.enabled=false")
    assert GATEWAY not in {r["metadata"]["labels"]["app.kubernetes.io/component"] for r in without_gateway}


def test_unknown_service_name_is_refused(helm):
    """A services key that radlab cannot serve fails the render with the list of valid names."""
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", "services.ingest.enabled=true")
    assert result.returncode != 0
    assert 'no service called "ingest"' in result.stderr
    assert "ingestion" in result.stderr


def test_selectors_hold_name_instance_component_only(helm, default_render):
    """Selectors are name + instance + component, match the pods, and do not change with the version."""
    upgraded = render(helm, "--set", "image.tag=9.9.9")
    for name, deployment in of_kind(default_render, "Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector == {
            "app.kubernetes.io/name": "radlab",
            "app.kubernetes.io/instance": RELEASE,
            "app.kubernetes.io/component": name,
        }
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert pod_labels["app.kubernetes.io/version"] == "0.1.0"
        assert pod_labels["app.kubernetes.io/managed-by"] == "Helm"
        assert of_kind(upgraded, "Deployment")[name]["spec"]["selector"]["matchLabels"] == selector
    for name, service in of_kind(default_render, "Service").items():
        assert set(service["spec"]["selector"]) == SELECTOR_KEYS
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == name


def test_every_container_has_grpc_probes_on_50051(default_render):
    """Startup, liveness and readiness probes of every service use the native gRPC probe on port 50051: readiness the
    overall health (which follows the database, bus and store), startup and liveness the name that only says the
    process runs, so an unreachable dependency takes pods out of their Service without restarting them."""
    for name, deployment in of_kind(default_render, "Deployment").items():
        if name == GATEWAY:
            continue
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        for probe in ("startupProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": GRPC_PORT, "service": LIVENESS}, (deployment["metadata"]["name"], probe)
        assert container["readinessProbe"]["grpc"] == {"port": GRPC_PORT}, deployment["metadata"]["name"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports == {"grpc": GRPC_PORT, "http-metrics": 9464}


def test_gateway_is_probed_over_http_and_ready_only_while_the_services_answer(default_render):
    """Readiness asks /healthz (every service's gRPC health), startup and liveness the gateway alone (/docs), all on
    the container's http port, which RADLAB_HTTP_ADDR names."""
    gateway = of_kind(default_render, "Deployment")[GATEWAY]
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["command"] + container["args"] == ["radlab", "serve", GATEWAY]
    assert {port["name"]: port["containerPort"] for port in container["ports"]} == {"http": 8000, "http-metrics": 9464}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == container["livenessProbe"]["httpGet"] == {"path": "/docs", "port": "http"}
    assert config_map(default_render, GATEWAY)["data"]["RADLAB_HTTP_ADDR"] == "0.0.0.0:8000"
    (service,) = [s for name, s in of_kind(default_render, "Service").items() if name == GATEWAY]
    assert {port["name"]: port["port"] for port in service["spec"]["ports"]} == {"http": 8000, "http-metrics": 9464}


def test_common_settings_come_from_the_configmap(default_render):
    """Every service reads the shared RADLAB_* URLs from the chart's common ConfigMap."""
    config = config_map(default_render)
    assert config["data"]["RADLAB_BUS"] == "kafka://kafka:9092"
    assert config["data"]["RADLAB_STORE"] == "s3://minio:9000"
    assert config["data"]["RADLAB_DB"] == "postgresql://radlab@postgresql:5432/radlab"
    assert config["data"]["RADLAB_GRPC_ADDR"] == f"0.0.0.0:{GRPC_PORT}"
    assert config["data"]["RADLAB_METRICS_PORT"] == "9464"
    for name, deployment in of_kind(default_render, "Deployment").items():
        if name == GATEWAY:
            assert not {"RADLAB_BUS", "RADLAB_STORE", "RADLAB_DB"} & set(env_of(deployment))  # it reaches the services only
            continue
        env = env_of(deployment)
        for variable in ("RADLAB_BUS", "RADLAB_STORE", "RADLAB_DB", "RADLAB_GRPC_ADDR", "RADLAB_METRICS_PORT"):
            assert env[variable]["valueFrom"]["configMapKeyRef"] == {
                "name": config["metadata"]["name"],
                "key": variable,
            }


# --- credentials -------------------------------------------------------------------------------------


def test_token_key_comes_from_a_secret(default_render):
    """RADLAB_TOKEN_KEY is a secretKeyRef in every service and appears in no ConfigMap or Secret."""
    for deployment in of_kind(default_render, "Deployment").values():
        token = env_of(deployment)["RADLAB_TOKEN_KEY"]
        assert "value" not in token
        assert token["valueFrom"]["secretKeyRef"] == {"name": "radlab-token-key", "key": "token-key"}
    assert not [r for r in default_render if r["kind"] == "Secret"]
    for config in (r for r in default_render if r["kind"] == "ConfigMap"):
        assert "RADLAB_TOKEN_KEY" not in config["data"]


def test_dev_secret_value_goes_into_a_chart_secret_not_the_pod_spec(helm):
    """secrets.tokenKey.value creates the dev Secret and the pods reference it, never the clear value."""
    resources = render(helm, "--set", "secrets.tokenKey.value=dev-signing-key")
    (secret,) = [r for r in resources if r["kind"] == "Secret"]
    assert secret["metadata"]["name"] == f"{RELEASE}-radlab-dev"
    assert set(secret["data"]) == {"token-key"}
    for deployment in of_kind(resources, "Deployment").values():
        token = env_of(deployment)["RADLAB_TOKEN_KEY"]
        assert token["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": "token-key"}
        assert "dev-signing-key" not in json.dumps(deployment)


def test_missing_token_secret_fails_with_a_message(helm):
    """With neither an existing Secret nor a dev value for the token key, the render fails and says why."""
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", "secrets.tokenKey.existingSecret=")
    assert result.returncode != 0
    assert "secrets.tokenKey.existingSecret" in result.stderr


@pytest.mark.parametrize("credential", ["phiKey", "anonKey"])
def test_missing_anonymization_key_fails_with_a_message(helm, credential):
    """Anonymization's keys are required while it is enabled: without a Secret or dev value the render
    fails and says what to set; with anonymization disabled nothing needs them."""
    unset = f"secrets.{credential}.existingSecret="
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", unset)
    assert result.returncode != 0
    assert f"secrets.{credential}.existingSecret" in result.stderr
    resources = render(helm, "--set", unset, "--set", "services.anonymization.enabled=false")
    assert set(of_kind(resources, "Deployment")) == WORKLOADS - {"anonymization"}


@pytest.mark.parametrize(
    ("setting", "variable"),
    [
        ("services.workflow.extraEnv.RADLAB_TOKEN_KEY", "RADLAB_TOKEN_KEY"),
        ("extraEnv.RADLAB_ANON_KEY", "RADLAB_ANON_KEY"),
        ("services.ingestion.extraEnv.RADLAB_UPLOAD_TTL_S", "RADLAB_UPLOAD_TTL_S"),
    ],
)
def test_chart_managed_variables_cannot_be_set_through_extra_env(helm, setting, variable):
    """extraEnv may carry neither a credential in clear (RADLAB_TOKEN_KEY, RADLAB_ANON_KEY) nor a second copy
    of a chart-set setting."""
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", f"{setting}=oops")
    assert result.returncode != 0
    assert f"extraEnv.{variable}" in result.stderr


def test_extra_env_merges_global_and_service_values(helm):
    """Global extraEnv reaches every service; a service's own extraEnv wins on the same name."""
    resources = render(
        helm,
        "--set", "extraEnv.TZ=UTC",
        "--set", "extraEnv.OMP_NUM_THREADS=2",
        "--set", "services.training.extraEnv.OMP_NUM_THREADS=8",
    )
    deployments = of_kind(resources, "Deployment")
    assert env_of(deployments["training"])["OMP_NUM_THREADS"]["value"] == "8"
    assert env_of(deployments["workflow"])["OMP_NUM_THREADS"]["value"] == "2"
    assert all(env_of(d)["TZ"]["value"] == "UTC" for d in deployments.values())


def test_phi_key_reaches_anonymization_only(default_render):
    """Only the anonymization service gets the pseudonym-map key, from its own Secret."""
    for name, deployment in of_kind(default_render, "Deployment").items():
        env = env_of(deployment)
        if name == "anonymization":
            assert env["RADLAB_PHI_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "radlab-phi-key", "key": "phi-key"}
        else:
            assert "RADLAB_PHI_KEY" not in env, name


def test_anon_key_reaches_anonymization_only(default_render):
    """Every anonymization pod reads the keyed-hash key from the same Secret (one pseudonym per patient
    across replicas); no other service gets it."""
    for name, deployment in of_kind(default_render, "Deployment").items():
        env = env_of(deployment)
        if name == "anonymization":
            assert deployment["spec"]["replicas"] > 1
            assert "value" not in env["RADLAB_ANON_KEY"]
            assert env["RADLAB_ANON_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "radlab-anon-key", "key": "anon-key"}
        else:
            assert "RADLAB_ANON_KEY" not in env, name


def test_anon_key_dev_value_goes_into_the_chart_secret(helm):
    """secrets.anonKey.value lands in the dev Secret under anon-key, referenced by anonymization only."""
    resources = render(helm, "--set", "secrets.anonKey.value=dev-anonymization-key")
    (secret,) = [r for r in resources if r["kind"] == "Secret"]
    assert set(secret["data"]) == {"anon-key"}
    deployments = of_kind(resources, "Deployment")
    assert env_of(deployments["anonymization"])["RADLAB_ANON_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": secret["metadata"]["name"],
        "key": "anon-key",
    }
    assert all("dev-anonymization-key" not in json.dumps(d) for d in deployments.values())


# --- ingestion uploads -------------------------------------------------------------------------------


def upload_settings(resources):
    """The upload variables of ingestion's own ConfigMap, checking that ingestion reads each from it and no other
    service gets any."""
    config = config_map(resources, "ingestion")
    for name, deployment in of_kind(resources, "Deployment").items():
        env = env_of(deployment)
        for variable in UPLOAD_VARIABLES:
            if name == "ingestion":
                reference = env[variable]["valueFrom"]["configMapKeyRef"]
                assert reference == {"name": config["metadata"]["name"], "key": variable}
            else:
                assert variable not in env, (name, variable)
    return {variable: config["data"][variable] for variable in UPLOAD_VARIABLES}


def test_upload_settings_default_to_the_codes_defaults(default_render):
    """Without overrides ingestion gets exactly the defaults of shared/config.py, and they parse back to them."""
    rendered = upload_settings(default_render)
    assert rendered == {
        "RADLAB_UPLOAD_MAX_BYTES": "34359738368",
        "RADLAB_UPLOAD_MAX_RATIO": "200",
        "RADLAB_UPLOAD_MAX_FILES": "200000",
        "RADLAB_UPLOAD_TTL_S": "86400",
    }
    parsed = settings.Settings.from_env(rendered)
    assert parsed.upload_max_bytes == settings.DEFAULT_UPLOAD_MAX_BYTES
    assert parsed.upload_max_ratio == settings.DEFAULT_UPLOAD_MAX_RATIO
    assert parsed.upload_max_files == settings.DEFAULT_UPLOAD_MAX_FILES
    assert parsed.upload_ttl_s == settings.DEFAULT_UPLOAD_TTL_S


def test_upload_settings_overrides_reach_ingestion_as_plain_numbers(helm, tmp_path):
    """Overrides from a values file (where numbers are floats to helm) print as numbers the code reads, never 1e+12."""
    values = tmp_path / "uploads.yaml"
    values.write_text(
        "config:\n  uploads:\n"
        "    maxBytes: 1099511627776\n    maxRatio: 50.5\n    maxFiles: 10000000\n    ttlSeconds: 2000000\n"
    )
    rendered = upload_settings(render(helm, "-f", str(values)))
    assert rendered == {
        "RADLAB_UPLOAD_MAX_BYTES": "1099511627776",
        "RADLAB_UPLOAD_MAX_RATIO": "50.5",
        "RADLAB_UPLOAD_MAX_FILES": "10000000",
        "RADLAB_UPLOAD_TTL_S": "2000000",
    }
    parsed = settings.Settings.from_env(rendered)
    assert (parsed.upload_max_bytes, parsed.upload_max_ratio, parsed.upload_max_files, parsed.upload_ttl_s) == (
        1 << 40, 50.5, 10_000_000, 2_000_000.0,
    )
    rendered = upload_settings(
        render(helm, "--set", "config.uploads.maxBytes=1073741824", "--set", "config.uploads.ttlSeconds=3600")
    )
    assert rendered["RADLAB_UPLOAD_MAX_BYTES"] == "1073741824"
    assert rendered["RADLAB_UPLOAD_TTL_S"] == "3600"


@pytest.mark.parametrize("setting", ["maxBytes=32Gi", "maxFiles=0", "ttlSeconds=-1"])
def test_upload_setting_that_is_not_a_positive_number_fails_with_a_message(helm, setting):
    """A unit, zero or a negative number fails the render and names the value to fix."""
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", f"config.uploads.{setting}")
    assert result.returncode != 0
    assert f"config.uploads.{setting.split('=')[0]}" in result.stderr
    assert "above 0" in result.stderr


# --- training and Ray --------------------------------------------------------------------------------


def scratch_of(deployment):
    """The emptyDir behind /tmp of a Deployment's pods."""
    [volume] = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "tmp"]
    return volume["emptyDir"]


def test_ingestion_scratch_is_bounded_above_the_largest_upload(helm, default_render):
    """Ingestion spools whole uploads in /tmp: its emptyDir has a size limit above config.uploads.maxBytes (so a
    full disk evicts the pod instead of starving the node); the others stay unbounded unless set."""
    deployments = of_kind(default_render, "Deployment")
    limit = scratch_of(deployments["ingestion"])["sizeLimit"]
    assert limit.endswith("Gi") and int(limit[:-2]) << 30 > int(upload_settings(default_render)["RADLAB_UPLOAD_MAX_BYTES"])
    assert all(scratch_of(deployment) == {} for name, deployment in deployments.items() if name != "ingestion")
    custom = of_kind(render(helm, "--set", "services.interpolation.scratch.sizeLimit=2Gi"), "Deployment")
    assert scratch_of(custom["interpolation"]) == {"sizeLimit": "2Gi"}


def test_ray_address_reaches_training_only(default_render):
    """Training reads RADLAB_RAY from its own ConfigMap; the other services do not get it."""
    config = config_map(default_render, "training")
    assert config["data"]["RADLAB_RAY"] == "ray://raycluster-head-svc:10001"
    assert "RADLAB_RAY" not in config_map(default_render)["data"]
    for name, deployment in of_kind(default_render, "Deployment").items():
        env = env_of(deployment)
        if name == "training":
            assert env["RADLAB_RAY"]["valueFrom"]["configMapKeyRef"] == {"name": config["metadata"]["name"], "key": "RADLAB_RAY"}
        else:
            assert "RADLAB_RAY" not in env, name


def test_training_gpu_option_adds_a_gpu_limit_to_training_only(helm, default_render):
    """services.training.gpu.enabled adds nvidia.com/gpu to training's limits and nowhere else."""
    resources = render(helm, "--set", "services.training.gpu.enabled=true", "--set", "services.training.gpu.count=2")
    for name, deployment in of_kind(resources, "Deployment").items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        limits = container["resources"]["limits"]
        if name == "training":
            assert limits["nvidia.com/gpu"] == 2
            assert limits["memory"] == "8Gi"
        else:
            assert "nvidia.com/gpu" not in limits, name
    for deployment in of_kind(default_render, "Deployment").values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert "nvidia.com/gpu" not in container["resources"]["limits"]


def test_ray_cluster_and_service_monitor_are_off_by_default(default_render):
    """Without opting in, the chart needs no KubeRay or Prometheus Operator CRDs."""
    kinds = {r["kind"] for r in default_render}
    assert "RayCluster" not in kinds
    assert "ServiceMonitor" not in kinds


def test_ray_cluster_has_head_and_worker_groups_and_training_uses_it(extras_render):
    """rayCluster.enabled renders a ray.io/v1 RayCluster whose head training is pointed at."""
    (cluster,) = [r for r in extras_render if r["kind"] == "RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1"
    head = cluster["spec"]["headGroupSpec"]
    (head_container,) = head["template"]["spec"]["containers"]
    assert {port["containerPort"] for port in head_container["ports"]} >= {6379, 8265, 10001}
    assert all(isinstance(value, str) for value in head["rayStartParams"].values())
    groups = {group["groupName"]: group for group in cluster["spec"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    (gpu_worker,) = groups["gpu"]["template"]["spec"]["containers"]
    assert gpu_worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    (cpu_worker,) = groups["cpu"]["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" not in cpu_worker["resources"]["limits"]
    config = config_map(extras_render, "training")
    name = cluster["metadata"]["name"]
    assert config["data"]["RADLAB_RAY"] == f"ray://{name}-head-svc.radlab.svc:10001"


def test_service_monitor_scrapes_every_service_metrics_port(extras_render):
    """The ServiceMonitor selects all six Services and the gateway's and scrapes their http-metrics port at /metrics."""
    (monitor,) = [r for r in extras_render if r["kind"] == "ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" and endpoint["path"] == "/metrics"
    selector = monitor["spec"]["selector"]
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/component" and expression["operator"] == "In"
    assert set(expression["values"]) == WORKLOADS
    for service in of_kind(extras_render, "Service").values():
        assert selector["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert "http-metrics" in {port["name"] for port in service["spec"]["ports"]}


def test_pods_carry_prometheus_scrape_annotations(default_render):
    """Pods are annotated for annotation-based Prometheus discovery of port 9464 at /metrics."""
    for deployment in of_kind(default_render, "Deployment").values():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == "9464"
        assert annotations["prometheus.io/path"] == "/metrics"


# --- small clusters ----------------------------------------------------------------------------------


def test_single_node_values_run_one_small_pod_per_service(helm):
    """values-single-node.yaml gives one replica per service and of the gateway, no RayCluster and in-pod Ray for
    training."""
    resources = render(helm, "-f", str(SINGLE_NODE))
    deployments = of_kind(resources, "Deployment")
    assert set(deployments) == WORKLOADS
    assert {d["spec"]["replicas"] for d in deployments.values()} == {1}
    assert "RayCluster" not in {r["kind"] for r in resources}
    assert "RADLAB_RAY" not in config_map(resources)["data"]
    assert "RADLAB_RAY" not in config_map(resources, "training")["data"]
    assert "RADLAB_RAY" not in env_of(deployments["training"])
