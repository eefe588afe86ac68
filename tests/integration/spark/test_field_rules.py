"""Spark gives every value of the contract's table the verdict the gateway gives it
(tests/field_cases.py; the gateway's side: tests/unit/contract/test_field_rules.py): an
integer field's 1.5 is refused at both ends, never passed by one and dead-lettered by the
other."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import SparkSession

from sensorpipe_spark import config, schema, streaming, validate
from tests.field_cases import CASES, document, verdict
from tests.integration.spark import helpers as h

pytestmark = pytest.mark.integration


def test_spark_gives_the_contracts_verdict_to_every_value(spark: SparkSession) -> None:
    doc = {**document("rules"), "processing": {"checkpointPath": "/unused"}}
    del doc["gateway"]
    cfg = config.from_document(doc)
    when = dt.datetime.now(dt.UTC)
    rows = [
        (
            None,
            json.dumps(h.reading(f"d{i}", stream, i, h.T0, {stream: value})).encode(),
            f"rules.{stream}",
            0,
            i,
            when,
        )
        for i, (stream, value) in enumerate(CASES)
    ]
    records = spark.createDataFrame(rows, streaming.KAFKA_COLUMNS)
    validated = validate.parse_and_validate(records, cfg, schema.load())
    got = {r["seq"]: r["reason"] for r in validated.select("seq", "reason").collect()}
    expected = {i: verdict(stream, value) for i, (stream, value) in enumerate(CASES)}
    assert got == expected
