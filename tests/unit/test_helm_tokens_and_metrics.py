"""The chart's token settings (longest lifetime, previous keys for a rotation) and where its pods expose metrics."""

from __future__ import annotations

import pytest

from shared.config import Settings
from tests.unit.test_helm_chart import (  # noqa: F401 (helm: a fixture)
    CHART, RELEASE, config_map, env_of, helm, of_kind, render, run_helm,
)

pytestmark = pytest.mark.timeout(1800)  # the first helm build, as in test_helm_chart


def config_of(resources) -> dict[str, str]:
    return config_map(resources)["data"]


def test_metrics_are_served_on_the_pods_address_said_outright(helm):
    """The code keeps metrics on gRPC's interface; the chart says 0.0.0.0 for both, so Prometheus reaches the pods."""
    resources = render(helm)
    assert config_of(resources)["RADLAB_METRICS_HOST"] == "0.0.0.0"
    for deployment in of_kind(resources, "Deployment").values():
        assert env_of(deployment)["RADLAB_METRICS_HOST"]["valueFrom"]["configMapKeyRef"]["key"] == "RADLAB_METRICS_HOST"
    assert Settings.from_env(config_of(resources)).metrics_host == "0.0.0.0"


def test_every_service_gets_the_longest_token_lifetime_the_code_reads_back(helm):
    """config.tokenMaxTtlDays (default 90, the code's own) reaches every service; what it renders parses back."""
    for days, expected in ((None, 90.0), ("7.5", 7.5)):
        resources = render(helm, *(("--set", f"config.tokenMaxTtlDays={days}") if days else ()))
        assert Settings.from_env(config_of(resources)).token_max_ttl_s == expected * 86400
        for deployment in of_kind(resources, "Deployment").values():
            assert "RADLAB_TOKEN_MAX_TTL_DAYS" in env_of(deployment)


@pytest.mark.parametrize("days", ["0", "-1", "1e9"])
def test_a_longest_token_lifetime_out_of_bounds_fails_the_render(helm, days):
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", f"config.tokenMaxTtlDays={days}")
    assert result.returncode != 0 and "config.tokenMaxTtlDays must be a number of days above 0" in result.stderr


def test_previous_token_keys_come_from_a_secret_only_during_a_rotation(helm):
    """No RADLAB_TOKEN_PREVIOUS_KEYS by default; set, it is a secretKeyRef in every service, like the signing key."""
    for deployment in of_kind(render(helm), "Deployment").values():
        assert "RADLAB_TOKEN_PREVIOUS_KEYS" not in env_of(deployment)
    rotating = render(helm, "--set", "secrets.previousTokenKeys.existingSecret=radlab-token-key")
    for deployment in of_kind(rotating, "Deployment").values():
        previous = env_of(deployment)["RADLAB_TOKEN_PREVIOUS_KEYS"]
        assert previous["valueFrom"]["secretKeyRef"] == {"name": "radlab-token-key", "key": "previous-token-keys"}
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", "extraEnv.RADLAB_TOKEN_PREVIOUS_KEYS=oops")
    assert result.returncode != 0 and "extraEnv.RADLAB_TOKEN_PREVIOUS_KEYS" in result.stderr
