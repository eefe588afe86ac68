import json
from typing import Any

import pytest

from sensorpipe_contract.identity import CONFIG_HASH_ANNOTATION
from sensorpipe_operator import runtime_config as rc
from sensorpipe_operator.builders import (
    autoscaled_fields,
    configmap,
    consumer,
    desired_children,
    gateway,
    kafkatopic,
    rolebinding,
    serviceaccount,
    sparkapp,
)
from sensorpipe_operator.model.errors import SpecError
from sensorpipe_operator.model.pipeline import Pipeline, parse
from sensorpipe_operator.settings import Images

from .specs import full, minimal, with_change

pytestmark = pytest.mark.unit
IMAGES = Images(gateway="gw:1", spark="spark:1", consumer="cons:1")
LABELS = {
    "app.kubernetes.io/managed-by": "sensorpipe",
    "app.kubernetes.io/name": "sensorpipe",
    "app.kubernetes.io/instance": "farm",
    "iot.sensorpipe.dev/pipeline": "farm",
}


def _p(spec: dict[str, Any] | None = None) -> Pipeline:
    return parse(spec or full(), "farm", "iot")


def test_every_child_is_labelled_and_namespaced():
    children = desired_children(_p(), IMAGES)
    kinds = [c["kind"] for c in children]
    assert kinds.count("KafkaTopic") == 6  # 3 streams + dead letter, aggregates, alerts
    assert kinds.count("SparkApplication") == 1
    assert kinds.count("Deployment") == 2  # one gateway, one consumer
    assert kinds.count("ConfigMap") == 2
    assert kinds.count("ServiceAccount") == 4
    assert kinds.count("RoleBinding") == 1
    for child in children:
        assert child["metadata"]["namespace"] == "iot"
        assert LABELS.items() <= child["metadata"]["labels"].items()
        assert child["metadata"]["labels"]["app.kubernetes.io/component"]
    names = [(c["kind"], c["metadata"]["name"]) for c in children]
    assert len(names) == len(set(names))


def test_admin_backend_writes_no_kafkatopics():
    spec = with_change(full(), "kafka.topicBackend", "admin")
    assert not [c for c in desired_children(_p(spec), IMAGES) if c["kind"] == "KafkaTopic"]


def test_kafkatopics_carry_cluster_label_partitions_and_config():
    topics = {t["spec"]["topicName"]: t for t in kafkatopic.build(_p())}
    assert set(topics) == {
        "farm.climate",
        "farm.distance",
        "farm.motion",
        "farm.deadletter",
        "farm.aggregates",
        "farm.alerts",
    }
    climate = topics["farm.climate"]
    assert climate["apiVersion"] == "kafka.strimzi.io/v1"
    assert climate["metadata"]["name"] == "farm-stream-climate"
    assert climate["metadata"]["labels"]["strimzi.io/cluster"] == "sensors"
    assert climate["spec"]["partitions"] == 6
    assert climate["spec"]["replicas"] == 3
    assert climate["spec"]["config"] == {
        "retention.ms": 604800000,
        "min.insync.replicas": 2,
        "cleanup.policy": "delete",
    }


def test_stream_partitions_and_topic_overrides_reach_kafkatopic():
    spec = with_change(full(), "streams.1.partitions", 12)
    spec = with_change(spec, "streams.1.topic", "raw_distance")
    spec = with_change(spec, "processing.sinks.aggregatesTopic", False)
    topics = {t["metadata"]["name"]: t for t in kafkatopic.build(_p(spec))}
    assert topics["farm-stream-distance"]["spec"] == {
        **topics["farm-stream-distance"]["spec"],
        "partitions": 12,
        "topicName": "raw_distance",
    }
    assert "farm-aggregates" not in topics


def test_sparkapplication_runs_the_streaming_job():
    app = sparkapp.build(_p(), "spark:1")
    spec = app["spec"]
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert app["metadata"]["name"] == "farm-processing"
    assert spec["type"] == "Python"
    assert (
        spec["mainApplicationFile"] == "local:///opt/sensorpipe/spark_apps/sensorpipe_spark/main.py"
    )
    assert spec["arguments"] == ["stream", "--config", "/etc/sensorpipe/pipeline.json"]
    assert spec["image"] == "spark:1"
    assert spec["sparkVersion"] == "4.2.0"
    assert spec["deps"]["packages"] == [
        "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0",
        "io.delta:delta-spark_4.2_2.13:4.4.0",
    ]
    assert spec["restartPolicy"] == {"type": "Always"}
    assert (
        spec["sparkConf"]["spark.sql.streaming.checkpointLocation"] == "/data/checkpoints/iot/farm"
    )
    assert spec["driver"]["serviceAccount"] == "farm-spark"
    assert spec["executor"]["serviceAccount"] == "farm-spark-executor"
    assert spec["driver"]["memory"] == "1g"
    assert spec["executor"]["memory"] == "2g"
    assert spec["executor"]["instances"] == 1
    assert "dynamicAllocation" not in spec
    assert spec["volumes"] == [{"name": "config", "configMap": {"name": "farm-config"}}]
    assert {"name": "PG_DSN", "valueFrom": {"secretKeyRef": {"name": "pg", "key": "dsn"}}} in spec[
        "driver"
    ]["env"]
    assert {
        "name": "KAFKA_USERNAME",
        "valueFrom": {"secretKeyRef": {"name": "kafka-user", "key": "username"}},
    } in spec["executor"]["env"]


def test_cluster_run_sets_shuffle_partitions_from_cores_and_the_rocksdb_state_store():
    spec = with_change(full(), "processing.executor", {"instances": 3, "cores": 2})
    conf = sparkapp.build(_p(spec), "spark:1")["spec"]["sparkConf"]
    assert conf["spark.sql.shuffle.partitions"] == "6"
    assert conf["spark.default.parallelism"] == "6"
    assert conf["spark.sql.streaming.stateStore.providerClass"] == (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    )
    assert conf["spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled"] == "true"
    # autoscaled: sized for the ceiling, since the checkpoint keeps the count for good
    scaled = with_change(with_change(spec, "scaling.target", "spark"), "scaling.maxReplicas", 5)
    conf = sparkapp.build(_p(scaled), "spark:1")["spec"]["sparkConf"]
    assert conf["spark.sql.shuffle.partitions"] == "10"


def test_max_offsets_per_trigger_reaches_the_job_config():
    doc = rc.render(_p(with_change(full(), "processing.maxOffsetsPerTrigger", 5000)))
    assert doc["processing"]["maxOffsetsPerTrigger"] == 5000
    assert rc.render(_p())["processing"]["maxOffsetsPerTrigger"] is None


def test_sparkapplication_options():
    spec = with_change(
        full(), "processing.restartPolicy", {"type": "OnFailure", "onFailureRetries": 7}
    )
    spec = with_change(spec, "processing.sinks.lake.format", "parquet")
    spec = with_change(spec, "processing.sinks.postgres", None)
    spec = with_change(spec, "processing.image", "mine:2")
    spec = with_change(spec, "kafka.authentication", None)
    spec = with_change(spec, "scaling.target", "spark")
    spec = with_change(spec, "scaling.minReplicas", 2)
    app = sparkapp.build(_p(spec), "spark:1")["spec"]
    assert app["restartPolicy"] == {
        "type": "OnFailure",
        "onFailureRetries": 7,
        "onFailureRetryInterval": 10,
        "onSubmissionFailureRetries": 5,
        "onSubmissionFailureRetryInterval": 20,
    }
    assert app["deps"]["packages"] == ["org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0"]
    assert "spark.sql.extensions" not in app["sparkConf"]
    assert app["image"] == "mine:2"
    assert "env" not in app["driver"]
    # The floor is the autoscaler's: the operator declares dynamic allocation and its ceiling,
    # and names the floor a new application starts at apart, so that no apply reverts it.
    assert app["dynamicAllocation"] == {"enabled": True, "maxExecutors": 6}
    assert "instances" not in app["executor"]
    assert sparkapp.autoscaled(_p(spec)) == {
        "spec": {"dynamicAllocation": {"minExecutors": 2, "initialExecutors": 2}}
    }
    zero = _p(with_change(spec, "scaling.minReplicas", 0))
    assert sparkapp.autoscaled(zero) == {
        "spec": {"dynamicAllocation": {"minExecutors": 0, "initialExecutors": 1}}
    }
    assert sparkapp.autoscaled(_p()) is None  # target consumers
    # before Delta 4.1 the artifact did not name the Spark line
    old = sparkapp.build(_p(with_change(full(), "processing.sparkVersion", "4.0.1")), "s")["spec"]
    assert old["deps"]["packages"] == [
        "org.apache.spark:spark-sql-kafka-0-10_2.13:4.0.1",
        "io.delta:delta-spark_2.13:4.0.0",
    ]


def test_tls_authentication_mounts_the_secret_where_the_config_says():
    spec = with_change(
        full(), "kafka.authentication", {"type": "tls", "secretRef": {"name": "kafka-tls"}}
    )
    p = _p(spec)
    dep = gateway.build(p, p.gateways[0], "gw:1")
    pod = dep["spec"]["template"]["spec"]
    assert {"name": "kafka-tls", "secret": {"secretName": "kafka-tls"}} in pod["volumes"]
    assert {"name": "kafka-tls", "mountPath": "/etc/sensorpipe/kafka-tls", "readOnly": True} in pod[
        "containers"
    ][0]["volumeMounts"]
    assert rc.render(p)["kafka"]["authentication"]["caFile"] == "/etc/sensorpipe/kafka-tls/ca.crt"


def test_serial_gateway_reads_the_device_without_privilege():
    p = _p()
    dep = gateway.build(p, p.gateways[0], "gw:1")
    assert dep["metadata"]["name"] == "farm-gw-bench"
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    box = pod["containers"][0]
    assert box["image"] == "gw:1"
    assert box["command"] == ["sensorpipe-gateway", "--config", "/etc/sensorpipe/pipeline.json"]
    assert box["securityContext"]["privileged"] is False
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["supplementalGroups"] == [20]
    assert {"name": "serial", "hostPath": {"path": "/dev/ttyUSB0", "type": "CharDevice"}} in pod[
        "volumes"
    ]
    assert {"name": "serial", "mountPath": "/dev/ttyUSB0"} in box["volumeMounts"]
    assert pod["nodeSelector"] == {"sensorpipe.dev/edge": "true"}
    assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert box["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert box["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }
    assert dep["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert pod["serviceAccountName"] == "farm-gateway"
    assert (
        dep["spec"]["selector"]["matchLabels"].items()
        <= dep["spec"]["template"]["metadata"]["labels"].items()
    )


def test_a_serial_gateway_with_a_device_plugin_resource_asks_for_it_and_mounts_nothing():
    spec = full()
    spec["gateways"][0]["source"]["serial"] = {"device": "/dev/ttyS0", "resource": "a.example/tty"}
    spec["gateways"][0]["resources"] = {"limits": {"memory": "64Mi"}}
    p = parse(spec, "farm", "iot")
    pod = gateway.build(p, p.gateways[0], "gw:1")["spec"]["template"]["spec"]
    box = pod["containers"][0]
    assert box["resources"]["limits"] == {"memory": "64Mi", "a.example/tty": "1"}
    assert not any("hostPath" in v for v in pod["volumes"])
    assert all(m["mountPath"] != "/dev/ttyS0" for m in box["volumeMounts"])
    assert box["securityContext"]["privileged"] is False
    assert pod["securityContext"]["supplementalGroups"] == [20]
    # the spec's own resources are not changed by the build
    assert p.gateways[0].resources == {"limits": {"memory": "64Mi"}}


def test_mqtt_and_simulated_gateways_need_no_device():
    spec = with_change(
        full(),
        "gateways",
        [
            {
                "name": "broker",
                "source": {
                    "type": "mqtt",
                    "mqtt": {"url": "tcp://m:1883", "credentialsSecretRef": {"name": "mq"}},
                },
                "replicas": 3,
                "image": "own:1",
                "tolerations": [{"key": "edge", "operator": "Exists"}],
            },
            {"name": "sim", "source": {"type": "simulated", "simulated": {"devices": 100}}},
        ],
    )
    p = _p(spec)
    mqtt, sim = (gateway.build(p, g, "gw:1") for g in p.gateways)
    mpod = mqtt["spec"]["template"]["spec"]
    assert mqtt["spec"]["replicas"] == 3
    assert "strategy" not in mqtt["spec"]
    assert "supplementalGroups" not in mpod["securityContext"]
    assert not [v for v in mpod["volumes"] if v["name"] == "serial"]
    assert mpod["containers"][0]["image"] == "own:1"
    assert mpod["tolerations"] == [{"key": "edge", "operator": "Exists"}]
    env = {e["name"]: e for e in mpod["containers"][0]["env"]}
    assert env["MQTT_USERNAME"]["valueFrom"]["secretKeyRef"] == {"name": "mq", "key": "username"}
    assert "nodeSelector" not in sim["spec"]["template"]["spec"]
    assert mqtt["spec"]["selector"] != sim["spec"]["selector"]


def test_consumer_deployment_and_autoscaler_ownership_of_replicas():
    p = _p()
    dep = consumer.build(p, p.consumers[0], "cons:1")
    box = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["metadata"]["name"] == "farm-consumer-notifier"
    assert box["command"] == ["sensorpipe-notify", "--config", "/etc/sensorpipe/pipeline.json"]
    # The group comes from the runtime document only (sensorpipe_contract.runtime).
    assert {"name": "SENSORPIPE_CONSUMER_NAME", "value": "notifier"} in box["env"]
    assert not any(e["name"] == "SENSORPIPE_CONSUMER_GROUP" for e in box["env"])
    assert "replicas" not in dep["spec"]  # scaling.enabled with target consumers
    assert consumer.autoscaled(p) == {"spec": {"replicas": 1}}  # where a new one starts
    unscaled = _p(with_change(full(), "scaling.enabled", False))
    assert consumer.build(unscaled, unscaled.consumers[0], "c")["spec"]["replicas"] == 1
    assert consumer.autoscaled(unscaled) is None


def test_consumer_pods_are_placed_where_the_spec_says_and_unplaced_otherwise():
    taint = {"key": "dedicated", "operator": "Equal", "value": "iot", "effect": "NoSchedule"}
    spec = with_change(full(), "consumers", [{"name": "notifier", "tolerations": [taint]}])
    spec["consumers"][0]["nodeSelector"] = {"pool": "iot"}
    placed = _p(spec)
    pod = consumer.build(placed, placed.consumers[0], "c")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "iot"}
    assert pod["tolerations"] == [taint]
    plain = consumer.build(_p(), _p().consumers[0], "c")["spec"]["template"]["spec"]
    assert "nodeSelector" not in plain
    assert "tolerations" not in plain
    with pytest.raises(SpecError, match=r"consumers\[0\]\.tolerations: must be a list of objects"):
        _p(with_change(full(), "consumers", [{"name": "n", "tolerations": ["x"]}]))


def test_autoscaled_fields_name_the_scaled_children_and_their_starting_scale():
    consumers = _p(with_change(full(), "scaling.minReplicas", 2))
    assert autoscaled_fields(consumers) == {
        ("Deployment", "farm-consumer-notifier"): {"spec": {"replicas": 2}}
    }
    spark = _p(with_change(full(), "scaling.target", "spark"))
    assert autoscaled_fields(spark) == {
        ("SparkApplication", "farm-processing"): {
            "spec": {"dynamicAllocation": {"minExecutors": 1, "initialExecutors": 1}}
        }
    }
    assert autoscaled_fields(_p(with_change(full(), "scaling.enabled", False))) == {}
    children = {(c["kind"], c["metadata"]["name"]) for c in desired_children(spark, IMAGES)}
    assert set(autoscaled_fields(spark)) <= children


def test_configmaps_hold_the_runtime_config():
    p = _p()
    maps = {m["metadata"]["name"]: m for m in configmap.build(p)}
    shared = json.loads(maps["farm-config"]["data"]["pipeline.json"])
    gw = json.loads(maps["farm-gw-bench"]["data"]["pipeline.json"])
    assert "gateway" not in shared
    assert gw["gateway"] == {
        "name": "bench",
        "source": {"type": "serial", "serial": {"device": "/dev/ttyUSB0", "baudRate": 115200}},
    }
    assert {k: v for k, v in gw.items() if k != "gateway"} == shared


def test_service_accounts_only_for_present_parts():
    names = [
        a["metadata"]["name"]
        for a in serviceaccount.build(
            _p(minimal() | {"kafka": {"clusterRef": "c", "bootstrapServers": "k:9"}})
        )
    ]
    assert names == ["farm-spark", "farm-spark-executor"]
    accounts = serviceaccount.build(_p())
    names = [a["metadata"]["name"] for a in accounts]
    assert names == ["farm-spark", "farm-spark-executor", "farm-gateway", "farm-consumer"]
    # only the driver calls the API: every other account mounts no token
    assert [a["automountServiceAccountToken"] for a in accounts] == [True, False, False, False]


def test_spark_driver_rolebinding_grants_the_chart_clusterrole_to_its_account():
    binding = rolebinding.build(_p())
    assert binding["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert binding["metadata"]["name"] == "farm-spark"
    assert binding["metadata"]["namespace"] == "iot"
    assert LABELS.items() <= binding["metadata"]["labels"].items()
    # A ClusterRole bound by a RoleBinding: the rights hold in the pipeline's namespace only.
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "sensorpipe-spark-driver",
    }
    (subject,) = binding["subjects"]
    assert subject == {"kind": "ServiceAccount", "name": "farm-spark", "namespace": "iot"}
    driver = sparkapp.build(_p(), "spark:1")["spec"]["driver"]
    assert subject["name"] == driver["serviceAccount"]
    accounts = [a["metadata"]["name"] for a in serviceaccount.build(_p())]
    assert subject["name"] in accounts


def test_spark_driver_rights_are_bound_right_after_the_accounts():
    kinds = [c["kind"] for c in desired_children(_p(), IMAGES)]
    assert kinds[: kinds.index("RoleBinding") + 1] == ["ServiceAccount"] * 4 + ["RoleBinding"]
    minimal_spec = minimal() | {"kafka": {"clusterRef": "c", "bootstrapServers": "k:9"}}
    bare = [c["kind"] for c in desired_children(_p(minimal_spec), IMAGES)]
    assert bare[:3] == ["ServiceAccount", "ServiceAccount", "RoleBinding"]


def test_sparkapplication_keeps_the_driver_within_its_clusterrole():
    """The driver's ClusterRole grants no Services and no claims, so the driver must not try:
    its Service goes with the driver pod, and claims are neither owned nor reused."""
    conf = sparkapp.build(_p(), "spark:1")["spec"]["sparkConf"]
    assert conf["spark.kubernetes.driver.service.deleteOnTermination"] == "false"
    assert conf["spark.kubernetes.driver.ownPersistentVolumeClaim"] == "false"
    assert conf["spark.kubernetes.driver.reusePersistentVolumeClaim"] == "false"


def _digest_of(children: list[dict[str, Any]], kind: str, name: str) -> Any:
    for c in children:
        if c["kind"] == kind and c["metadata"]["name"] == name:
            if kind == "SparkApplication":
                return c["spec"]["driver"]["annotations"]
            return c["spec"]["template"]["metadata"]["annotations"]
    raise AssertionError(name)


def test_a_kafka_source_gateway_consumes_with_the_pipelines_credentials_and_its_mapping():
    """A gateway fed by a foreign producer's topic: no device, the pipeline's Kafka
    credentials (it consumes as well as produces), its mapping in its own ConfigMap; a
    mapping change rolls that gateway only."""
    payload = {"stream": "climate", "deviceId": "device_id", "time": "timestamp", "timeUnit": "s"}
    source = {"type": "kafka", "kafka": {"topic": "iot_topic"}, "payload": payload}
    spec = with_change(full(), "gateways.0.source", source)
    sim = {"name": "sim", "source": {"type": "simulated"}}
    spec = with_change(spec, "gateways", [spec["gateways"][0], sim])
    p = _p(spec)
    dep = gateway.build(p, p.gateways[0], "gw:1")
    pod = dep["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "kafka-user"
    assert not [v for v in pod["volumes"] if v["name"] == "serial"]
    assert "strategy" not in dep["spec"]
    doc = json.loads(configmap.text(p, p.gateways[0]))
    assert doc["gateway"]["source"]["kafka"]["group"] == "farm.gateway.bench"
    assert doc["gateway"]["source"]["payload"]["timeUnit"] == "s"
    changed = _p(with_change(spec, "gateways.0.source.payload.timeUnit", "ms"))

    def digest(pipeline: Pipeline, i: int) -> str:
        built = gateway.build(pipeline, pipeline.gateways[i], "gw:1")
        return str(built["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION])

    assert digest(changed, 0) != digest(p, 0)
    assert digest(changed, 1) == digest(p, 1)


def test_a_processing_change_rolls_spark_but_not_gateways_or_consumers():
    before = desired_children(_p(), IMAGES)
    after = desired_children(_p(with_change(full(), "processing.window", "30m")), IMAGES)
    assert _digest_of(before, "Deployment", "farm-gw-bench") == _digest_of(
        after, "Deployment", "farm-gw-bench"
    )
    assert _digest_of(before, "Deployment", "farm-consumer-notifier") == _digest_of(
        after, "Deployment", "farm-consumer-notifier"
    )
    assert _digest_of(before, "SparkApplication", "farm-processing") != _digest_of(
        after, "SparkApplication", "farm-processing"
    )


def test_a_stream_change_rolls_every_reader():
    before = desired_children(_p(), IMAGES)
    after = desired_children(_p(with_change(full(), "streams.0.fields.0.max", 90)), IMAGES)
    for kind, name in [
        ("Deployment", "farm-gw-bench"),
        ("Deployment", "farm-consumer-notifier"),
        ("SparkApplication", "farm-processing"),
    ]:
        assert _digest_of(before, kind, name) != _digest_of(after, kind, name)


def test_the_webhook_url_comes_from_its_secret_never_the_config_map():
    """Issue #18: a webhook URL, token and all, sat in the runtime ConfigMap."""
    spec = full()
    spec["consumers"] = [
        {"name": "notifier", "webhookSecretRef": {"name": "hooks", "key": "slack"}},
        {"name": "logonly"},
    ]
    children = desired_children(parse(spec, "farm", "iot"), IMAGES)
    config_maps = json.dumps([c for c in children if c["kind"] == "ConfigMap"])
    assert "T0K3N" not in config_maps
    assert "hooks" not in config_maps
    by_name = {
        c["metadata"]["name"]: {
            e["name"]: e for e in c["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        for c in children
        if c["kind"] == "Deployment"
    }
    hook = by_name["farm-consumer-notifier"]["SENSORPIPE_WEBHOOK_URL"]
    assert hook["valueFrom"] == {"secretKeyRef": {"name": "hooks", "key": "slack"}}
    assert "SENSORPIPE_WEBHOOK_URL" not in by_name["farm-consumer-logonly"]
    inline = with_change(full(), "consumers", [{"name": "n", "webhookUrl": "https://h/T0K3N"}])
    with pytest.raises(SpecError, match=r"webhookUrl: an inline webhookUrl is refused"):
        parse(inline, "farm", "iot")
