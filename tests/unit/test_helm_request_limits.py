"""The chart's request and slice limits reach the services as whole numbers the code reads back.

Every service gets the request limits, ingestion alone the slice limits."""

import pytest

from shared import config as settings
from shared.validation import RequestLimits
# The chart's own fixtures (helm, default_render) and helpers, so both files render it the same way.
from tests.unit.test_helm_chart import (  # noqa: F401
    CHART, GATEWAY, RELEASE, config_map, default_render, env_of, helm, of_kind, render, run_helm,
)

pytestmark = pytest.mark.timeout(1800)
REQUEST_VARIABLES = ("RADLAB_REQUEST_MAX_NAME_CHARS", "RADLAB_REQUEST_MAX_TEXT_CHARS", "RADLAB_REQUEST_MAX_REPEATED")
SLICE_VARIABLES = ("RADLAB_THUMBNAIL_MAX_SIZE", "RADLAB_SLICE_MAX_PIXELS")


def limit_settings(resources) -> dict[str, str]:
    """The limit variables as rendered, checking that every service reads the request limits from the common
    ConfigMap and ingestion alone the slice limits, from its own."""
    common, ingestion = config_map(resources), config_map(resources, "ingestion")
    for name, deployment in of_kind(resources, "Deployment").items():
        env = env_of(deployment)
        if name == GATEWAY:  # it checks nothing itself: the services check each request it forwards
            assert not set(env) & {*REQUEST_VARIABLES, *SLICE_VARIABLES}
            continue
        for variable in (*REQUEST_VARIABLES, *SLICE_VARIABLES):
            if variable in REQUEST_VARIABLES or name == "ingestion":
                config = common if variable in REQUEST_VARIABLES else ingestion
                assert env[variable]["valueFrom"]["configMapKeyRef"] == {"name": config["metadata"]["name"], "key": variable}
            else:
                assert variable not in env, (name, variable)
    return {variable: common["data"][variable] for variable in REQUEST_VARIABLES} | {
        variable: ingestion["data"][variable] for variable in SLICE_VARIABLES
    }


def test_limits_default_to_the_codes_defaults(default_render):
    rendered = limit_settings(default_render)
    parsed = settings.Settings.from_env(rendered)
    assert RequestLimits.of(parsed) == RequestLimits()
    assert (parsed.thumbnail_max_size, parsed.slice_max_pixels) == (
        settings.DEFAULT_THUMBNAIL_MAX_SIZE, settings.DEFAULT_SLICE_MAX_PIXELS,
    )


def test_limit_overrides_reach_the_services_as_whole_numbers(helm, tmp_path):
    values = tmp_path / "limits.yaml"
    values.write_text("config:\n  requests:\n    maxTextChars: 1048576\n  slices:\n    maxPixels: 67108864\n")
    rendered = limit_settings(render(helm, "-f", str(values), "--set", "config.slices.thumbnailMaxSize=512"))
    assert (rendered["RADLAB_REQUEST_MAX_TEXT_CHARS"], rendered["RADLAB_SLICE_MAX_PIXELS"]) == ("1048576", "67108864")
    assert rendered["RADLAB_THUMBNAIL_MAX_SIZE"] == "512"


@pytest.mark.parametrize("setting", ["config.requests.maxRepeated=0", "config.slices.maxPixels=-1",
                                     "config.requests.maxNameChars=2.5"])
def test_a_limit_that_is_not_a_whole_number_above_0_fails_with_a_message(helm, setting):
    result = run_helm(helm, "template", RELEASE, str(CHART), "--set", setting)
    assert result.returncode != 0 and "must be a whole number above 0" in result.stderr
