"""The runtime config document resolves into the jobs' settings, with only local overrides."""

import copy

import pytest

from sensorpipe_contract.runtime import AlertSpec, ContractError, PostgresSink
from sensorpipe_spark import config, session
from tests.streams import HOT_THRESHOLD

pytestmark = pytest.mark.unit

DOC = {
    "version": 1,
    "pipeline": {"name": "farm", "namespace": "iot"},
    "kafka": {"bootstrapServers": "k:9092", "authentication": None},
    "topics": {
        "streams": {"climate": "farm.climate-x", "motion": "farm.motion"},
        "deadLetter": "farm.dl",
        "aggregates": "farm.agg",
        "alerts": "farm.al",
    },
    "streams": [
        {
            "name": "climate",
            "fields": [
                {"name": "temperature", "type": "number", "unit": "Cel", "min": -40, "max": 80},
                {"name": "humidity", "type": "number", "min": 0, "max": 100},
            ],
        },
        {"name": "motion", "fields": [{"name": "motion", "type": "boolean"}]},
    ],
    "processing": {
        "triggerInterval": 5.0,
        "window": 900.0,
        "watermark": 600.0,
        "checkpointPath": "/data/checkpoints/iot/farm",
        "alerts": {
            "thresholds": [HOT_THRESHOLD],
            "anomaly": {"enabled": True, "zScore": 4, "history": 1800.0, "minSamples": 10},
            "jump": {"enabled": True, "maxDelta": {"temperature": 10}},
            "stuck": {"enabled": False, "after": 60.0},
            "silence": {"enabled": True, "after": 120.0},
        },
        "sinks": {
            "lake": {"format": "delta", "path": "/data/lake"},
            "postgres": {"dsnEnv": "PG_DSN", "table": "agg"},
            "aggregatesTopic": True,
        },
    },
}


def test_document_resolves_topics_fields_and_rules():
    cfg = config.from_document(DOC)
    assert cfg.pipeline == "farm"
    assert [s.topic for s in cfg.streams] == ["farm.climate-x", "farm.motion"]
    assert cfg.dead_letter_topic == "farm.dl"
    assert cfg.aggregates_topic == "farm.agg"
    climate, motion = cfg.stream("climate"), cfg.stream("motion")
    assert climate is not None
    assert motion is not None
    assert climate.fields[0].max == 80.0
    assert motion.fields[0].is_boolean
    assert cfg.stream("nope") is None
    assert cfg.alerts.thresholds[0].above == 70.0
    assert cfg.alerts.z_score == 4.0
    assert cfg.alerts.max_delta == {"temperature": 10.0}
    assert not cfg.alerts.stuck_enabled
    assert cfg.alerts.silence_after == 120.0
    assert cfg.checkpoint_path == "/data/checkpoints/iot/farm"
    assert cfg.checkpoint("ingest") == "/data/checkpoints/iot/farm/ingest"
    assert cfg.readings_path == "/data/lake/readings"
    assert cfg.lake_format == "delta"
    assert cfg.postgres == PostgresSink(dsn_env="PG_DSN", table="agg")


def test_overrides_change_only_local_paths_and_endpoints():
    cfg = config.from_document(DOC).with_overrides(
        lake_path="/tmp/l/",
        checkpoint_path="/tmp/c",
        bootstrap_servers="127.0.0.1:1",
        pg_dsn_env="X",
    )
    assert cfg.aggregates_path == "/tmp/l/aggregates"
    assert cfg.checkpoint("alerts") == "/tmp/c/alerts"
    assert cfg.bootstrap_servers == "127.0.0.1:1"
    assert cfg.postgres is not None
    assert cfg.postgres.dsn_env == "X"
    assert cfg.window == 900.0


def test_optional_sinks_and_rules_take_the_contract_defaults():
    doc = copy.deepcopy(DOC)
    doc["processing"] = {"checkpointPath": "/c", "sinks": {"aggregatesTopic": False}}
    cfg = config.from_document(doc)
    assert cfg.aggregates_topic is None
    assert cfg.postgres is None
    assert cfg.alerts == AlertSpec()
    assert not cfg.alerts.jump_enabled  # as the CRD and the operator's model


@pytest.mark.parametrize("name", ["deadLetter", "aggregates", "alerts"])
def test_names_come_from_the_document_only(name):
    doc = copy.deepcopy(DOC)
    del doc["topics"][name]  # type: ignore[attr-defined]
    with pytest.raises(ContractError, match=f"topics.{name} is missing"):
        config.from_document(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {k: v for k, v in DOC.items() if k != "pipeline"},
        {**DOC, "streams": []},
        {k: v for k, v in DOC.items() if k != "kafka"},
        {k: v for k, v in DOC.items() if k != "processing"},
        {**DOC, "processing": {"checkpointPath": "/c", "sinks": {"lake": {"format": "csv"}}}},
        {**DOC, "processing": {"window": 1.0}},  # no checkpointPath
    ],
)
def test_incomplete_documents_are_refused(doc):
    with pytest.raises(ContractError):
        config.from_document(doc)


def test_a_parquet_lake_is_accepted():
    doc = copy.deepcopy(DOC)
    doc["processing"]["sinks"]["lake"]["format"] = "parquet"  # type: ignore[index]
    cfg = config.from_document(doc)
    assert cfg.lake_format == "parquet"
    assert cfg.readings_path == "/data/lake/readings"


def test_max_offsets_per_trigger_is_read_and_must_be_positive():
    assert config.from_document(DOC).max_offsets_per_trigger is None
    doc = copy.deepcopy(DOC)
    doc["processing"]["maxOffsetsPerTrigger"] = 5000  # type: ignore[index]
    assert config.from_document(doc).max_offsets_per_trigger == 5000
    doc["processing"]["maxOffsetsPerTrigger"] = 0  # type: ignore[index]
    with pytest.raises(ContractError, match="positive integer"):
        config.from_document(doc)


def test_a_local_master_gets_one_shuffle_partition_per_core():
    assert session.local_cores("local[2]") == 2
    assert session.local_cores("local") == 1
    assert session.local_cores("local[3, 4]") == 3
    assert session.partitions(2)["spark.sql.shuffle.partitions"] == "2"
    with pytest.raises(ValueError, match="not a local Spark master"):
        session.local_cores("k8s://x")
