"""The chart's dashboard and alert rules query only what the code exports.

The exported names come from the components' own Prometheus registries (the operator's
default registry once its metric modules are imported, and the gateway's registry as
``make_registry`` builds it), never from reading their source, so a renamed metric fails here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from deploy.render import CHART, helm_template, parse_documents
from sensorpipe_edge.metrics import Stats, make_registry

pytestmark = pytest.mark.unit

DASHBOARD = json.loads((CHART / "files" / "dashboards" / "sensorpipe.json").read_text())
METRIC = re.compile(r"\bsensorpipe_\w+")
# Sample names a family of each type exposes (its name has no `_total` of its own).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def sample_names(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def operator_metrics() -> set[str]:
    import sensorpipe_operator.metrics
    import sensorpipe_operator.scaling.publish  # noqa: F401

    return sample_names(REGISTRY)


def gateway_metrics() -> set[str]:
    registry, _ = make_registry(Stats())
    return sample_names(registry)


def exported() -> set[str]:
    return operator_metrics() | gateway_metrics()


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def rules(helm: str) -> list[dict[str, Any]]:
    docs = parse_documents(helm_template(helm, "-f", str(CHART / "ci" / "monitoring-values.yaml")))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_counters_follow_prometheus_naming_and_builds_are_told():
    names = exported()
    for counter in (
        "sensorpipe_gateway_readings_in_total",
        "sensorpipe_gateway_rejected_total",
        "sensorpipe_gateway_device_readings_total",
        "sensorpipe_consumer_topic_records_total",
        "sensorpipe_consumer_committed_records_total",
        "sensorpipe_scaling_actions_total",
    ):
        assert counter in names, counter
    assert "sensorpipe_build_info" in operator_metrics()
    assert "sensorpipe_build_info" in gateway_metrics()
    # Rates are Prometheus' job: no pre-computed rate gauges remain.
    assert not {n for n in names if n.endswith("_rate")}


def test_dashboard_queries_only_metrics_the_code_exports():
    queried = {name for expr in dashboard_queries() for name in METRIC.findall(expr)}
    assert queried
    missing = queried - exported()
    assert not missing, f"the dashboard queries metrics nobody exports: {sorted(missing)}"


def test_dashboard_has_namespace_and_pipeline_variables_and_data_path_panels():
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert {"datasource", "namespace", "pipeline"} <= variables.keys()
    for name in ("namespace", "pipeline"):
        assert set(METRIC.findall(variables[name]["query"]["query"])) <= exported()
    titles = {p["title"] for p in DASHBOARD["panels"]}
    for wanted in (
        "Readings in per second",
        "Rejected per second, by reason",
        "Gateway spool",
        "Consumer lag",
        "Producer latency (gateway to Kafka ack)",
    ):
        assert wanted in titles, wanted
    data_path = DASHBOARD["panels"][: [p["title"] for p in DASHBOARD["panels"]].index("Operator")]
    for panel in data_path:
        for target in panel.get("targets", []):
            assert "$namespace" in target["expr"], target
            assert "$pipeline" in target["expr"], target


def test_alert_rules_cover_the_pipeline_failures(rules: list[dict[str, Any]]):
    assert {r["alert"] for r in rules} == {
        "SensorPipelineNotReady",
        "SensorPipelineLagGrowing",
        "SensorPipelineDeadLetters",
        "SensorPipelineGatewaySpooling",
        "SensorPipelineDeviceSilent",
    }
    for rule in rules:
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_alert_rules_query_only_metrics_the_code_exports(rules: list[dict[str, Any]]):
    queried = {name for r in rules for name in METRIC.findall(r["expr"])}
    assert "sensorpipe_gateway_device_readings_total" in queried
    missing = queried - exported()
    assert not missing, f"alert rules query metrics nobody exports: {sorted(missing)}"


def test_an_unknown_metric_is_caught():
    """The checks above can fail: a name no registry exports is told apart."""
    assert "sensorpipe_consumer_input_rate" not in exported()
    assert "sensorpipe_gateway_readings_in" not in exported()  # a counter without `_total`
