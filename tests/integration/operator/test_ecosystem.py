"""sensorpipe on today's ecosystem, on the real API server: the KafkaTopic API version the
cluster serves, kstatus conditions through a restart and a failure, and the agreement of
``kubectl wait`` and kstatus with them. Strimzi and the spark-operator are played by writing
status exactly as they do (thirdparty.py)."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from sensorpipe_contract.identity import OPERATOR_MANAGER
from sensorpipe_operator.kube import KINDS, PIPELINES, Kube
from sensorpipe_operator.model.pipeline import parse
from sensorpipe_operator.scaling.actuate import Actuator
from sensorpipe_operator.scaling.targets import targets
from tests.conftest import kubectl

from .harness import (
    children,
    condition,
    create_pipeline,
    get_pipeline,
    make_ready_as_strimzi_and_spark_operator,
    pipeline,
    pods_on_the_real_node,
    wait_condition,
    wait_for,
)
from .operator_process import OperatorProcess
from .thirdparty import kind_of, spark_status, strimzi_release

pytestmark = pytest.mark.integration
TIMEOUT = 60


def kstatus(body: dict[str, Any] | None) -> str:
    """The status kstatus (sigs.k8s.io/cli-utils, what Flux and kubectl-based tools use)
    computes for a custom resource: a stale observedGeneration is InProgress, Stalled=True is
    Failed, Reconciling=True InProgress, Ready=True Current, Ready=False InProgress."""
    if body is None:
        return "NotFound"
    st = body.get("status") or {}
    if st.get("observedGeneration", 0) != body["metadata"]["generation"]:
        return "InProgress"
    conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
    if conds.get("Stalled") == "True":
        return "Failed"
    if conds.get("Reconciling") == "True":
        return "InProgress"
    return "Current" if conds.get("Ready") == "True" else "InProgress"


def _running(admin: Kube, ns: str, name: str, op: OperatorProcess) -> str:
    """Wait for the pipeline's SparkApplication, play both controllers to Ready, wait for the
    pipeline to be Ready; the application's name."""
    app = f"{name}-processing"
    wait_for(
        lambda: ("SparkApplication", app) in children(admin, ns, name),
        TIMEOUT,
        "the SparkApplication",
        op,
    )
    make_ready_as_strimzi_and_spark_operator(admin, ns, name)
    _ready(admin, ns, name, op)
    return app


def _ready(admin: Kube, ns: str, name: str, op: OperatorProcess) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = get_pipeline(admin, ns, name)
        return body if kstatus(body) == "Current" else None

    return wait_for(probe, TIMEOUT, f"{name} Ready for its generation", op)


@pytest.mark.parametrize(("release", "version"), [("1", "v1"), ("0.48", "v1beta2")])
def test_topics_are_applied_in_the_version_the_cluster_serves(
    admin,
    operator_identity,
    kube_namespace,
    kafka_bootstrap,
    node_images,
    tmp_path: Path,
    release,
    version,
):
    """Strimzi 1.x serves KafkaTopic only as v1, 0.48 only as v1beta2: the operator finds
    which by discovery, applies its topics in it, and the pipeline reaches Ready."""
    with strimzi_release(admin, release):
        op = OperatorProcess(
            operator_identity[0], [kube_namespace], tmp_path / "op.log", images=node_images
        ).start()
        try:
            create_pipeline(admin, pipeline("farm", kube_namespace, kafka_bootstrap))

            def topics() -> list[dict[str, Any]] | None:
                found = [
                    o
                    for (k, _), o in children(admin, kube_namespace, "farm").items()
                    if k == "KafkaTopic"
                ]
                return found if len(found) >= 5 else None

            found = wait_for(topics, TIMEOUT, f"topics as {version}", op)
            for topic in found:
                applied = {
                    m["apiVersion"]
                    for m in topic["metadata"]["managedFields"]
                    if m["manager"] == OPERATOR_MANAGER
                }
                assert applied == {f"kafka.strimzi.io/{version}"}, topic["metadata"]["name"]
            make_ready_as_strimzi_and_spark_operator(admin, kube_namespace, "farm")
            _ready(admin, kube_namespace, "farm", op)
        finally:
            op.stop()


def test_without_a_kafkatopic_api_the_condition_says_what_is_missing(
    admin, operator_identity, kube_namespace, kafka_bootstrap, node_images, tmp_path: Path
):
    with strimzi_release(admin, None):
        op = OperatorProcess(
            operator_identity[0], [kube_namespace], tmp_path / "op.log", images=node_images
        ).start()
        try:
            create_pipeline(admin, pipeline("farm", kube_namespace, kafka_bootstrap))
            topics = wait_condition(
                admin, kube_namespace, "farm", "TopicsReady", "KafkaTopicAPIMissing", op
            )
            assert "kafka.strimzi.io/v1 or v1beta2" in topics["message"]
            assert "topicBackend: admin" in topics["message"]
            body = get_pipeline(admin, kube_namespace, "farm")
            assert (condition(body, "Stalled") or {}).get("status") == "True"
            assert kstatus(body) == "Failed"
        finally:
            op.stop()


@contextmanager
def watching_status(admin: Kube, ns: str, name: str) -> Iterator[list[dict[str, str]]]:
    """Every distinct (phase, Ready, Reconciling, Stalled) the pipeline shows while the block
    runs, polled as fast as the API server answers, and as it stands when the block ends (a
    poll in flight then may have read the status from before the block's last wait)."""
    seen: list[dict[str, str]] = []
    stop = threading.Event()

    def record() -> None:
        body = get_pipeline(admin, ns, name) or {}
        st = body.get("status") or {}
        snap = {"phase": st.get("phase", "")}
        for ctype in ("Ready", "Reconciling", "Stalled"):
            cond = condition(body, ctype) or {}
            snap[ctype] = f"{cond.get('status')}/{cond.get('reason')}"
        if not seen or seen[-1] != snap:
            seen.append(snap)

    def run() -> None:
        while not stop.is_set():
            record()
            stop.wait(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        record()


def _play_restart(
    admin: Kube, ns: str, app: str, seen: list[dict[str, str]], op: OperatorProcess
) -> None:
    """What the spark-operator does on any spec change: INVALIDATING, PENDING_RERUN,
    SUBMITTED, RUNNING, each written to status; each in-between state shows as Reconciling."""
    kind = kind_of(admin, "SparkApplication")
    assert kind is not None
    for state in ("INVALIDATING", "PENDING_RERUN", "SUBMITTED"):
        admin.merge_patch(kind, ns, app, spark_status(state), "status")
        wait_for(
            lambda: (seen and seen[-1]["Reconciling"] == "True/SparkRestarting")
            or (seen and seen[-1]["Reconciling"] == "True/SparkSubmitted"),
            TIMEOUT,
            f"Reconciling while {state}",
            op,
        )
    admin.merge_patch(kind, ns, app, spark_status("RUNNING"), "status")


def test_a_spec_change_and_an_autoscaler_step_reconcile_back_to_ready_never_degraded(
    admin, stack, shared_namespace, kafka_bootstrap, shared_operator
):
    name = "restart"
    scaling = {
        "enabled": True,
        "target": "spark",
        "minReplicas": 1,
        "maxReplicas": 4,
        "scaleDownStabilization": "1h",
    }
    manifest = pipeline(name, shared_namespace, kafka_bootstrap, scaling=scaling)
    create_pipeline(admin, manifest)
    app = _running(admin, shared_namespace, name, shared_operator)
    spark = KINDS["SparkApplication"]

    def spark_generation() -> int:
        found = admin.get(spark, shared_namespace, app)
        return int(found["metadata"]["generation"]) if found else 0

    with watching_status(admin, shared_namespace, name) as seen:
        # 1. A spec change that reaches the job (its config hash annotation changes).
        before = spark_generation()
        admin.merge_patch(
            PIPELINES, shared_namespace, name, {"spec": {"processing": {"triggerInterval": "20s"}}}
        )
        wait_for(lambda: spark_generation() > before, TIMEOUT, "the new spec", shared_operator)
        _play_restart(admin, shared_namespace, app, seen, shared_operator)
        _ready(admin, shared_namespace, name, shared_operator)
        # 2. An autoscaler step: its own actuation code raises the executor floor.
        before = spark_generation()
        target = targets(parse(manifest["spec"], name, shared_namespace))[0]
        Actuator(admin).set(shared_namespace, target, 2)
        assert spark_generation() > before
        _play_restart(admin, shared_namespace, app, seen, shared_operator)
        _ready(admin, shared_namespace, name, shared_operator)
    phases = {s["phase"] for s in seen}
    assert phases <= {"Ready", "Progressing"}, seen
    assert not [s for s in seen if s["Stalled"].startswith("True")], seen
    assert any(s["Reconciling"] == "True/SparkRestarting" for s in seen), seen
    assert seen[-1]["Ready"] == "True/Ready"
    # Ready again with the gateway and the consumer running as pods on the real node.
    running = pods_on_the_real_node(admin, shared_namespace, name, stack["NODE_NAME"])
    assert len(running) == 2, running


def _events(admin: Kube, ns: str, name: str) -> list[client.CoreV1Event]:
    items = client.CoreV1Api(admin.api).list_namespaced_event(ns).items
    return [e for e in items if e.involved_object.name == name]


def test_a_failed_application_is_stalled_with_a_warning_event_and_kubectl_wait_agrees(
    admin, shared_namespace, kafka_bootstrap, shared_operator
):
    name = "broken"
    create_pipeline(admin, pipeline(name, shared_namespace, kafka_bootstrap))
    app = _running(admin, shared_namespace, name, shared_operator)
    ref = f"sensorpipelines.iot.sensorpipe.dev/{name}"
    kubectl("wait", "-n", shared_namespace, "--for=condition=Ready", ref, "--timeout=30s")

    kind = kind_of(admin, "SparkApplication")
    assert kind is not None
    error = "driver container failed with ExitCode: 1, Reason: Error"
    admin.merge_patch(kind, shared_namespace, app, spark_status("FAILED", 3, error), "status")
    stalled = wait_condition(
        admin, shared_namespace, name, "Stalled", "SparkFailed", shared_operator
    )
    assert stalled["status"] == "True"
    assert error in stalled["message"]
    body = get_pipeline(admin, shared_namespace, name)
    assert kstatus(body) == "Failed"
    assert (condition(body, "Ready") or {}).get("status") == "False"
    assert (condition(body, "Reconciling") or {}).get("status") == "False"

    warning: Callable[[], list[Any]] = lambda: [  # noqa: E731
        e
        for e in _events(admin, shared_namespace, name)
        if e.type == "Warning" and e.reason == "PhaseDegraded"
    ]
    found = wait_for(warning, TIMEOUT, "a Warning event PhaseDegraded", shared_operator)
    assert error in found[0].message
    # kubectl wait agrees: Stalled is met at once, Ready is not.
    kubectl("wait", "-n", shared_namespace, "--for=condition=Stalled", ref, "--timeout=10s")
    out = kubectl(
        "wait", "-n", shared_namespace, "--for=condition=Ready", ref, "--timeout=2s", check=False
    )
    assert "condition met" not in out
    # The printer column shows Ready's message.
    table = kubectl("get", "-n", shared_namespace, ref)
    assert "SparkApplication FAILED" in table


def _counter(op: OperatorProcess, name: str, **labels: str) -> float:
    """One sample of the operator's /metrics, 0 when it has none yet."""
    with urllib.request.urlopen(op.metrics_url, timeout=5) as resp:
        text = resp.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and line.split("}")[0][len(name) + 1 :] == want:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_deleting_a_pipeline_stops_its_resync_and_scaling_polls(
    admin, operator_identity, kube_namespace, kafka_bootstrap, node_images, tmp_path: Path
):
    """The periodic work runs from one operator-wide loop per job over the pipelines the watch
    has shown; a deleted pipeline leaves it at once (no finalizer, no kopf timer). The
    counters of the resync reconciles and of the loops' runs move while the pipeline exists
    and stand still once it is gone."""
    op = OperatorProcess(
        operator_identity[0], [kube_namespace], tmp_path / "op.log", resync=0.5, images=node_images
    ).start()
    try:
        scaling = {"enabled": True, "target": "consumers", "pollInterval": "1s"}
        create_pipeline(admin, pipeline("gone", kube_namespace, kafka_bootstrap, scaling=scaling))

        def counters() -> tuple[float, float, float]:
            return (
                _counter(op, "sensorpipe_reconciles_total", trigger="timer", result="ok"),
                _counter(op, "sensorpipe_loop_runs_total", job="resync"),
                _counter(op, "sensorpipe_loop_runs_total", job="scaling"),
            )

        start = counters()
        wait_for(
            lambda: all(b >= a + 3 for a, b in zip(start, counters(), strict=True)),
            TIMEOUT,
            "resync reconciles and scaling polls of the live pipeline",
            op,
        )
        client.CustomObjectsApi(admin.api).delete_namespaced_custom_object(
            PIPELINES.group, PIPELINES.version, kube_namespace, PIPELINES.plural, "gone"
        )
        wait_for(
            lambda: get_pipeline(admin, kube_namespace, "gone") is None,
            TIMEOUT,
            "the pipeline deleted (no finalizer holds it)",
            op,
        )
        # The operator has seen the DELETED event once its gauges count no pipeline; from
        # then on the counters stand still, over a window of many resync and poll intervals.
        wait_for(
            lambda: sum(
                _counter(op, "sensorpipe_pipelines", phase=p)
                for p in ("Progressing", "Ready", "Degraded", "Failed")
            )
            == 0,
            TIMEOUT,
            "the operator to forget the pipeline",
            op,
        )
        before = counters()
        time.sleep(5)  # the observed window itself: 10 resync intervals, 5 poll intervals
        assert counters() == before, op.tail()
    finally:
        op.stop()
