"""End-to-end fault suite: the whole pipeline on real services while they fail, in turn.

A SensorPipeline with a few hundred simulated devices and one node running the real firmware
under simavr runs through the local runner's own parts (the same children the runner starts,
the same configs the operator's ConfigMaps carry), while the operator reconciles the same
spec against the real API server. Meanwhile the suite stops and restarts the Kafka broker,
kills the fleet's gateway with SIGKILL, kills the Spark driver, kills the operator, stops
PostgreSQL, and power-cycles the firmware node (simavr keeps no EEPROM between runs, so the
node restarts its sequence numbers at 0, as a hobby sketch does on every power cycle).
Crashed children are restarted the way their Kubernetes restart policy would.

At the end, checked independently of the code under test (the lake is read from its Delta
log with pyarrow, the simulator's deterministic signal is regenerated):
- every reading the devices produced is in the lake exactly once, by (device, boot, seq):
  the firmware node's readings of both boots, the reboot counted once by its gateway;
- the aggregates in PostgreSQL equal a plain-Python computation over the lake;
- the dead-letter topic holds exactly the injected bad lines;
- the SensorPipeline is Ready again.
A table of faults and of lost and doubled readings is printed.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from sensorpipe_contract.identity import API_VERSION, KIND
from sensorpipe_edge.simulation import DEFAULT_STREAMS, Faults, Fleet
from sensorpipe_local import lakeread, probes, processes, progress, topicread
from sensorpipe_local.localize import LocalOptions, localize
from sensorpipe_local.runner import create_topics, free_port, resolve_tools
from sensorpipe_local.supervisor import Running, Supervisor, log_tail
from sensorpipe_local.workdir import AGGREGATES_TABLE, READINGS_TABLE, WorkDir
from sensorpipe_operator.manifest import load
from sensorpipe_operator.model.pipeline import Pipeline
from tests.conftest import ROOT, kubectl, wait_until
from tests.integration.edge.helpers import scrape

# `faults`: run alone with make test-faults.
pytestmark = [pytest.mark.e2e, pytest.mark.faults]

DEVICES = 200
INTERVAL_S = 4
SEED = 11
CORRUPT_RATE = 0.002
WINDOW_S = 30
WATERMARK_S = 120
FLEET = "fleet"  # the simulated gateway; its devices are named fleet-NNNNN
FIRMWARE_NODE = "bench"
FIRMWARE_CORRUPTIONS = 3
FIRMWARE_REBOOTS = 1
FIRMWARE_BUILD = ROOT / "firmware" / "build"  # `make setup` builds it (make firmware)
SETTLE_S = 25  # data flowing between two faults


def manifest(name: str, namespace: str, bootstrap: str) -> dict[str, Any]:
    streams = [
        {
            "name": s.name,
            "fields": [
                {
                    k: v
                    for k, v in {"name": f.name, "type": f.type, "min": f.min, "max": f.max}.items()
                    if v is not None
                }
                for f in s.fields.values()
            ],
        }
        for s in DEFAULT_STREAMS.values()
    ]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "kafka": {
                "bootstrapServers": bootstrap,
                "topicBackend": "admin",
                "topicDefaults": {"partitions": 3, "replicas": 1, "minInSyncReplicas": 1},
            },
            "streams": streams,
            "gateways": [
                {
                    "name": FLEET,
                    "source": {
                        "type": "simulated",
                        "simulated": {
                            "devices": DEVICES,
                            "interval": f"{INTERVAL_S}s",
                            "seed": SEED,
                            "faults": {"corrupt": CORRUPT_RATE},
                        },
                    },
                }
            ],
            "processing": {
                "triggerInterval": "5s",
                "window": f"{WINDOW_S}s",
                "watermark": f"{WATERMARK_S}s",
                "sinks": {
                    "lake": {"format": "delta", "path": "/data/lake"},
                    "postgres": {
                        "secretRef": {"name": "pg", "key": "dsn"},
                        "table": "sensor_aggregates",
                    },
                    "aggregatesTopic": True,
                },
            },
        },
    }


@dataclass
class Fault:
    name: str
    started: float
    recovered: float = 0.0
    note: str = ""


@dataclass
class Harness:
    """The pipeline's processes, restarted after a crash the way a restart policy would."""

    workdir: WorkDir
    children: list[processes.Child]
    supervisor: Supervisor
    restarts: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)  # restarts by the restart policy
    procs: dict[str, Running] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: set[str] = field(default_factory=set)  # killed on purpose: not restarted by policy

    def start(self, child: processes.Child) -> None:
        if child.kind == "firmware" and child.wait_for is not None:
            child.wait_for.parent.mkdir(parents=True, exist_ok=True)
            child.wait_for.unlink(missing_ok=True)
            self.workdir.firmware_control(FIRMWARE_NODE).write_text(
                processes.firmware_control_text()
            )
        running = self.supervisor.start(child)
        self.supervisor.wait_usable(running, timeout=60)
        self.procs[child.name] = running

    def start_all(self) -> None:
        for child in self.children:
            self.start(child)

    def kill(self, name: str) -> None:
        """SIGKILL a child's whole process group (a JVM under pyspark dies with it)."""
        with self.lock:
            self.held.add(name)
            running = self.procs[name]
            with suppress(ProcessLookupError):
                os.killpg(running.proc.pid, signal.SIGKILL)
            running.proc.wait()

    def restart(self, name: str) -> None:
        with self.lock:
            old = self.procs[name]
            if old in self.supervisor.running:
                self.supervisor.running.remove(old)
            self.restarts[name] += 1
            self.start(next(c for c in self.children if c.name == name))
            self.held.discard(name)

    def alive(self, name: str) -> bool:
        return self.procs[name].proc.poll() is None

    def restart_crashed(self) -> None:
        """Kubernetes restarts a crashed pod; this does the same for a crashed child."""
        while not self.stopping.wait(2):
            for name in list(self.procs):
                with self.lock:
                    crashed = name not in self.held and not self.alive(name)
                if crashed and not self.stopping.is_set():
                    self.crashes[name] += 1
                    self.restart(name)


def spark_processing(harness: Harness) -> bool:
    """The Spark job is alive and its ingest query has committed a batch: it really runs."""
    commits = harness.workdir.checkpoints / "ingest" / "commits"
    return harness.alive(processes.SPARK_CHILD) and commits.is_dir() and any(commits.iterdir())


class SparkStateReporter(threading.Thread):
    """Plays the spark-operator's part for the local Spark job: the SparkApplication's state
    is RUNNING while the job processes data, as the spark-operator would report it."""

    def __init__(self, namespace: str, name: str, running: Callable[[], bool]) -> None:
        super().__init__(daemon=True)
        self.namespace, self.name, self.running = namespace, name, running
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(3):
            state = "RUNNING" if self.running() else "SUBMITTED"
            with suppress(AssertionError):
                kubectl(
                    "-n",
                    self.namespace,
                    "patch",
                    "sparkapplication",
                    self.name,
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    json.dumps(
                        {"status": {"applicationState": {"state": state}, "driverInfo": {}}}
                    ),
                )


def start_operator(namespace: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "sensorpipe-operator"),
                "--namespace",
                namespace,
                "--metrics-port",
                "0",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def condition(namespace: str, name: str, ctype: str) -> str:
    out = kubectl("-n", namespace, "get", "sensorpipeline", name, "-o", "json")
    for cond in json.loads(out).get("status", {}).get("conditions", []):
        if cond["type"] == ctype:
            return str(cond["status"])
    return ""


def lake_readings(pipeline: Pipeline) -> list[dict[str, Any]]:
    table = lakeread.read_table(Path(pipeline.processing.sinks.lake_path) / READINGS_TABLE)
    assert table is not None, "the lake has no readings table"
    rows: list[dict[str, Any]] = table.select(
        ["device_id", "stream", "boot", "seq", "event_time", "values"]
    ).to_pylist()
    return rows


def identity(row: dict[str, Any]) -> tuple[str, int, int]:
    """(device, boot epoch, seq): a reading's identity within its stream."""
    return row["device_id"], row["boot"] or 0, row["seq"]


def reboots_counted(port: int) -> float:
    """What a gateway's sensorpipe_gateway_device_reboots_total says, over its devices."""
    return sum(
        v for k, v in scrape(port).items() if k.startswith("sensorpipe_gateway_device_reboots")
    )


def between_bursts(port: int) -> None:
    """Return just after the firmware node's once-a-second burst of lines reached its
    gateway: a power cycle then cuts no line in half (which would be a dead letter)."""

    def lines_in() -> float:
        return sum(
            v for k, v in scrape(port).items() if k.startswith("sensorpipe_gateway_readings_in")
        )

    before = lines_in()
    wait_until("a burst of the firmware node", lambda: lines_in() > before, 30, 0.02)
    time.sleep(0.3)


def independent_aggregates(
    rows: list[dict[str, Any]],
) -> dict[tuple[str, str, str, int], tuple[int, float, float, float, float | None]]:
    """count, min, max, mean and sample stddev per (device, stream, field, window start ms)."""
    values: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    win = WINDOW_S * 1000
    for r in rows:
        start = r["event_time"] // win * win
        for fname, v in r["values"]:
            values[(r["device_id"], r["stream"], fname, start)].append(float(v))
    out = {}
    for key, xs in values.items():
        n = len(xs)
        mean = sum(xs) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else None
        out[key] = (n, min(xs), max(xs), mean, sd)
    return out


def expected_fleet_lines(ticks: range) -> tuple[set[tuple[str, int]], set[str]]:
    """What the simulated fleet sent in ``ticks``, regenerated from its seed: the (device,
    seq) of every intact line, and the text of every line the fault injection corrupted (a
    line differs from the clean fleet's exactly when it was corrupted)."""
    clean = Fleet(DEVICES, INTERVAL_S * 1000, SEED, prefix=FLEET)
    faulty = Fleet(
        DEVICES, INTERVAL_S * 1000, SEED, faults=Faults(corrupt=CORRUPT_RATE), prefix=FLEET
    )
    valid: set[tuple[str, int]] = set()
    bad: set[str] = set()
    for tick in ticks:
        for (device_id, seq, want), (_d, _s, sent) in zip(
            clean.readings(tick), faulty.readings(tick), strict=True
        ):
            if sent == want:
                valid.add((device_id, seq))
            else:
                bad.add(sent.decode().rstrip("\r\n"))
    return valid, bad


@pytest.mark.timeout(2700)  # Spark's start-up and catch-up on two cores dominate
def test_nothing_lost_or_doubled_through_faults(
    stack, kube_namespace, kafka_restart, service_control, capsys
):
    ns = kube_namespace
    name = f"faults-{secrets.token_hex(3)}"
    work = ROOT / ".cache" / "e2e" / name
    workdir = WorkDir(work)
    workdir.create()
    doc = manifest(name, ns, stack["KAFKA_BOOTSTRAP"])
    spec_file = work / "pipeline.yaml"
    spec_file.write_text(yaml.safe_dump(doc))
    pipeline = localize(
        load(spec_file),
        LocalOptions(
            bootstrap=stack["KAFKA_BOOTSTRAP"],
            workdir=workdir,
            pg_dsn=stack["PG_DSN"],
            firmware_node=FIRMWARE_NODE,
        ),
    )
    create_topics(pipeline)
    ports = {g.name: free_port() for g in pipeline.gateways}
    children = processes.build(
        pipeline, workdir, resolve_tools(pipeline, FIRMWARE_BUILD), ports, stack["PG_DSN"]
    )
    harness = Harness(workdir, children, Supervisor(workdir, dict(os.environ)))

    # The operator reconciles the same spec against the API server.
    kubectl("-n", ns, "create", "secret", "generic", "pg", f"--from-literal=dsn={stack['PG_DSN']}")
    operator_log = work / "logs" / "operator.log"
    operator = start_operator(ns, operator_log)
    kubectl("apply", "--server-side", "-f", str(spec_file))
    spark_app = wait_until(
        "the operator to create the SparkApplication",
        lambda: kubectl("-n", ns, "get", "sparkapplications", "-o", "name").strip(),
        timeout=120,
    ).split("/")[-1]

    faults: list[Fault] = []
    reporter = SparkStateReporter(ns, spark_app, lambda: spark_processing(harness))
    restarter = threading.Thread(target=harness.restart_crashed, daemon=True)
    fw_control = workdir.firmware_control(FIRMWARE_NODE)
    try:
        harness.start_all()
        reporter.start()
        restarter.start()
        # Spark's start-up is the slow part; faults begin once data really reaches the lake.
        wait_until(
            # On a loaded 2-core machine Spark's JVM alone has taken three minutes to start.
            "the Spark job to commit its first batch",
            lambda: spark_processing(harness),
            1200,
            5,
        )
        wait_until("the pipeline to be Ready", lambda: condition(ns, name, "Ready") == "True", 300)
        t0 = time.monotonic()

        def settle() -> None:
            time.sleep(SETTLE_S)

        def corrupt_firmware_line(i: int) -> None:
            text = fw_control.read_text()
            fw_control.write_text(
                re.sub(r"^corrupt=.*\n", "", text, flags=re.M) + f"corrupt=tok{i}\n"
            )

        settle()
        corrupt_firmware_line(1)
        f = Fault("Kafka broker stopped for 15 s, restarted", time.monotonic() - t0)
        kafka_restart(15)
        f.recovered = time.monotonic() - t0
        faults.append(f)

        settle()
        corrupt_firmware_line(2)
        f = Fault("fleet gateway killed (SIGKILL), restarted", time.monotonic() - t0)
        harness.kill(processes.gateway_child(FLEET))
        time.sleep(3)
        harness.restart(processes.gateway_child(FLEET))
        f.recovered = time.monotonic() - t0
        faults.append(f)

        settle()
        f = Fault("Spark driver killed (SIGKILL), restarted", time.monotonic() - t0)
        harness.kill(processes.SPARK_CHILD)
        time.sleep(2)
        harness.restart(processes.SPARK_CHILD)
        f.recovered = time.monotonic() - t0
        faults.append(f)

        settle()
        f = Fault("operator killed (SIGKILL), restarted", time.monotonic() - t0)
        os.killpg(operator.pid, signal.SIGKILL)
        operator.wait()
        operator = start_operator(ns, operator_log)
        f.recovered = time.monotonic() - t0
        faults.append(f)

        settle()
        corrupt_firmware_line(3)
        f = Fault("PostgreSQL stopped for 10 s, restarted", time.monotonic() - t0)
        service_control("down", "postgres")
        time.sleep(10)
        service_control("up", "postgres")
        f.recovered = time.monotonic() - t0
        faults.append(f)

        settle()
        fw_child = processes.firmware_child(FIRMWARE_NODE)
        between_bursts(ports[FIRMWARE_NODE])
        f = Fault("firmware node power-cycled (sequence restarts at 0)", time.monotonic() - t0)
        harness.kill(fw_child)
        time.sleep(2)
        harness.restart(fw_child)
        wait_until(
            "the gateway to count the reboot",
            lambda: reboots_counted(ports[FIRMWARE_NODE]) >= FIRMWARE_REBOOTS,
            120,
        )
        f.recovered = time.monotonic() - t0
        faults.append(f)
        settle()
        fw_reboots = reboots_counted(ports[FIRMWARE_NODE])

        # The devices stop; the gateways flush and stop gracefully (before the firmware).
        harness.stopping.set()
        restarter.join()
        harness.supervisor.stop(kinds=("gateway",))
        harness.supervisor.stop(kinds=("firmware",))
        assert harness.alive(processes.SPARK_CHILD), (
            "the Spark job is not running after the faults:\n"
            + log_tail(workdir.log(processes.SPARK_CHILD))
        )
        lake = Path(pipeline.processing.sinks.lake_path)
        offsets = probes.TopicOffsets(pipeline.kafka.bootstrap_servers)
        wait_until(
            "Spark to process everything published",
            lambda: stream_lag(pipeline, offsets) == 0
            and probes.aggregates_caught_up(
                lake / READINGS_TABLE,
                lake / AGGREGATES_TABLE,
                lambda when: offsets.written_since(pipeline.aggregates_topic, when),
            ),
            timeout=900,
            interval=5,
        )
        wait_until(
            "the pipeline to be Ready again", lambda: condition(ns, name, "Ready") == "True", 180
        )
    finally:
        harness.stopping.set()
        reporter.stop.set()
        harness.supervisor.stop()
        with suppress(ProcessLookupError):
            os.killpg(operator.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            operator.wait(20)
        with suppress(ProcessLookupError):
            os.killpg(operator.pid, signal.SIGKILL)

    rows = lake_readings(pipeline)
    by_key = Counter(identity(r) for r in rows)
    doubled = sum(n - 1 for n in by_key.values() if n > 1)

    # The fleet: regenerate what it sent between its first and last complete tick.
    fleet_rows = [r for r in rows if r["device_id"].startswith(f"{FLEET}-")]
    last_tick: dict[str, int] = {}
    for r in fleet_rows:
        last_tick[r["device_id"]] = max(last_tick.get(r["device_id"], -1), r["seq"] // 3)
    first = min(r["seq"] // 3 for r in fleet_rows)
    last = min(last_tick.values())
    assert len(last_tick) == DEVICES, f"only {len(last_tick)} of {DEVICES} devices reached the lake"
    expected_valid, expected_bad = expected_fleet_lines(range(first, last + 1))
    fleet_in_lake = {(dev, seq) for dev, boot, seq in by_key if boot == 0}  # it never reboots
    fleet_lost = expected_valid - fleet_in_lake

    # The firmware node, per boot: contiguous sequence numbers from the first one read (lines
    # sent before the gateway opened the port are not on the wire), except the corrupted
    # lines, which must be in the dead-letter topic instead.
    fw_boots: dict[int, list[int]] = defaultdict(list)
    for dev, boot, seq in sorted(by_key):
        if not dev.startswith(f"{FLEET}-"):
            fw_boots[boot].append(seq)
    assert fw_boots, "no reading of the firmware node reached the lake"
    fw_gaps = {
        boot: sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
        for boot, seqs in fw_boots.items()
    }
    fw_lost = sum(len(g) for g in fw_gaps.values())

    dead = [
        v
        for _t, v in topicread.read_all(
            pipeline.kafka.bootstrap_servers, [pipeline.dead_letter_topic]
        )
    ]
    fleet_dead = {d["raw"] for d in dead if d.get("gateway") == FLEET}
    fw_dead = [d for d in dead if d.get("gateway") == FIRMWARE_NODE]

    aggregates = _compare_aggregates(stack["PG_DSN"], name, rows)

    lost_total = len(fleet_lost)
    table = [
        "",
        "fault suite: faults injected (seconds after data started)",
        *[f"  {f.started:6.1f}s -> {f.recovered:6.1f}s  {f.name}" for f in faults],
        f"  restarts: {dict(harness.restarts)}; of them after a crash (restart policy): "
        f"{dict(harness.crashes) or 'none'}",
        "| readings | expected | in lake | lost | doubled |",
        "| --- | --- | --- | --- | --- |",
        f"| fleet ({DEVICES} devices) | {len(expected_valid)} | "
        f"{len(expected_valid & fleet_in_lake)} | {lost_total} | {doubled} |",
        *[
            f"| firmware node boot {boot} seq {seqs[0]}..{seqs[-1]} | "
            f"{len(seqs) + len(fw_gaps[boot])} | {len(seqs)} | {len(fw_gaps[boot])}"
            f"{f' (corrupted: {FIRMWARE_CORRUPTIONS})' if boot == 0 else ''} | - |"
            for boot, seqs in sorted(fw_boots.items())
        ],
        f"firmware node reboots: {len(fw_boots) - 1} boot epochs after the first in the lake, "
        f"{fw_reboots:.0f} counted by its gateway (sensorpipe_gateway_device_reboots_total)",
        f"dead letters: fleet {len(fleet_dead)} of {len(expected_bad)} injected bad lines, "
        f"firmware {len(fw_dead)} of {FIRMWARE_CORRUPTIONS}",
        f"aggregates: {aggregates['compared']} final windows compared, "
        f"{len(aggregates['mismatches'])} mismatches",
        f"LOST: {lost_total}  DOUBLED: {doubled}",
    ]
    with capsys.disabled():
        print("\n".join(table))

    assert fleet_lost == set(), f"lost fleet readings: {sorted(fleet_lost)[:20]}"
    assert doubled == 0
    assert fw_lost == FIRMWARE_CORRUPTIONS, f"firmware gaps {fw_gaps}"
    assert sorted(fw_boots) == list(range(FIRMWARE_REBOOTS + 1)), sorted(fw_boots)
    assert fw_reboots == FIRMWARE_REBOOTS
    assert fw_boots[1][0] < fw_boots[0][-1], "the node's counter did not go back at the reboot"
    assert fleet_dead == expected_bad
    assert len(fw_dead) == FIRMWARE_CORRUPTIONS
    assert all(d["reason"] == "checksum_mismatch" for d in fw_dead), fw_dead
    assert aggregates["compared"] > 0
    assert aggregates["mismatches"] == []


def stream_lag(pipeline: Pipeline, offsets: probes.TopicOffsets) -> int | None:
    """Records on the stream topics that Spark has not processed yet (None: broker away)."""
    snap = progress.collect(pipeline, {}, offsets, time.monotonic())
    return None if snap.kafka_error else snap.lag


def _compare_aggregates(dsn: str, pipeline_name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    mine = independent_aggregates(rows)
    max_event = max(r["event_time"] for r in rows)
    final_before = max_event - (WATERMARK_S + 2 * WINDOW_S) * 1000
    with psycopg.connect(dsn) as conn:
        got = conn.execute(
            "SELECT device_id, stream, field, (extract(epoch from window_start) * 1000)::bigint,"
            " count, min, max, mean, stddev FROM sensor_aggregates WHERE pipeline = %s",
            (pipeline_name,),
        ).fetchall()
    theirs = {(d, s, f, int(ws)): (n, lo, hi, mean, sd) for d, s, f, ws, n, lo, hi, mean, sd in got}
    mismatches = []
    compared = 0
    for key, want in mine.items():
        if key[3] + WINDOW_S * 1000 > final_before:
            continue
        compared += 1
        have = theirs.get(key)
        if (
            have is None
            or have[0] != want[0]
            or not all(
                (a is None and b is None)
                or (
                    a is not None
                    and b is not None
                    and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                )
                for a, b in zip(have[1:], want[1:], strict=True)
            )
        ):
            mismatches.append((key, have, want))
    return {"compared": compared, "mismatches": mismatches[:20]}
