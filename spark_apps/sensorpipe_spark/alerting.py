"""Running :mod:`sensorpipe_spark.detect` per device inside Structured Streaming's state.

`applyInPandasWithState` keeps one JSON state document per (device, stream) in the query's
checkpointed state store, so a restarted job continues with each device's history. The
event-time timeout of that state is what detects a silent device: the detector sets a
deadline of last reading + `silence.after`, and Spark calls back once the watermark (the
other devices' progress) has passed it.

The input is the validated readings straight from Kafka, not the lake: an alert then waits
for one micro-batch instead of two (ingest's lake commit, then this query's). Kafka may
deliver a reading twice; the detector remembers sequence numbers until the watermark passes
them, and Spark drops anything older than the watermark before it reaches the state, so
each reading is judged once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, cast

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming.state import GroupState, GroupStateTimeout

from sensorpipe_spark.config import JobConfig
from sensorpipe_spark.detect import Alert, Detector, Rules

ALERT_SCHEMA = T.StructType(
    [
        T.StructField("v", T.IntegerType()),
        T.StructField("pipeline", T.StringType()),
        T.StructField("device_id", T.StringType()),
        T.StructField("stream", T.StringType()),
        T.StructField("field", T.StringType()),
        T.StructField("kind", T.StringType()),
        T.StructField("rule", T.StringType()),
        T.StructField("severity", T.StringType()),
        T.StructField("value", T.DoubleType()),
        T.StructField("threshold", T.DoubleType()),
        T.StructField("event_time", T.LongType()),
        T.StructField("detected_at", T.LongType()),
        T.StructField("message", T.StringType()),
    ]
)
STATE_SCHEMA = T.StructType([T.StructField("doc", T.StringType())])


def _frame(pipeline: str, alerts: list[Alert]) -> pd.DataFrame:
    now = int(time.time() * 1000)
    rows = [{"v": 1, "pipeline": pipeline, **asdict(a), "detected_at": now} for a in alerts]
    return pd.DataFrame(rows, columns=ALERT_SCHEMA.fieldNames())


def make_handler(pipeline: str, rules: Rules) -> Any:
    """The function `applyInPandasWithState` calls for each (device_id, stream) group."""

    def handle(
        key: tuple[str, str], frames: Iterator[pd.DataFrame], state: GroupState
    ) -> Iterator[pd.DataFrame]:
        device_id, stream = key
        doc = json.loads(state.get[0]) if state.exists else None
        det = Detector(rules, device_id, stream, doc)
        watermark = state.getCurrentWatermarkMs()
        det.forget_before(watermark)
        if state.hasTimedOut:
            alerts = det.silence(watermark)
        else:
            alerts = []
            batch = pd.concat(list(frames), ignore_index=True)
            for (t, boot, seq), group in batch.groupby(["event_time", "boot", "seq"], sort=True):
                values = dict(zip(group["field"], group["value"], strict=True))
                alerts.extend(
                    det.observe(
                        int(cast(int, t)), values, int(cast(int, seq)), int(cast(int, boot))
                    )
                )
        state.update((json.dumps(det.state, separators=(",", ":")),))
        deadline = det.silence_deadline()
        if deadline is not None and not det.state.get("silent"):
            state.setTimeoutTimestamp(max(deadline, state.getCurrentWatermarkMs() + 1))
        if alerts:
            yield _frame(pipeline, alerts)

    return handle


def alerts(readings: DataFrame, cfg: JobConfig) -> DataFrame:
    """Streaming valid readings (device_id, stream, boot, seq, event_time, values) → alert
    records (docs/contracts.md §3)."""
    long = readings.select(
        "device_id",
        "stream",
        F.coalesce(F.col("boot"), F.lit(0).cast("long")).alias("boot"),
        "seq",
        "event_time",
        F.timestamp_millis("event_time").alias("event_ts"),
        F.explode("values").alias("field", "value"),
    ).withWatermark("event_ts", f"{int(cfg.watermark * 1000)} milliseconds")
    return long.groupBy("device_id", "stream").applyInPandasWithState(
        make_handler(cfg.pipeline, Rules.from_config(cfg)),
        ALERT_SCHEMA,
        STATE_SCHEMA,
        "append",
        GroupStateTimeout.EventTimeTimeout,
    )
