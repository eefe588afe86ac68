"""The validation's query plan parses each reading once on the happy path.

Spark's optimizer may copy an expression into every place that uses it (filter pushdown,
project collapsing, JSON field pruning): on Spark 4.0 that made about 96 `from_json` out of
the validation's 3. This reads the optimized plan of the validated readings, with and without
the `reason IS NULL` filter that the lake and the alert path apply, and counts the JSON parses
a row pays for unconditionally: those outside an untaken branch (the rest of a CASE after its
first condition, the right side of AND/OR, the rest of a COALESCE after its first argument).
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sensorpipe_spark import config, schema, streaming, validate
from tests.integration.spark import helpers as h

# Children evaluated only when an earlier one did not settle the result.
_FIRST_ONLY = {"CaseWhen", "Coalesce", "If", "And", "Or"}


def _seq(s: Any) -> list[Any]:
    return [s.apply(i) for i in range(s.size())]


def _parses(expr: Any) -> int:
    """`from_json` nodes of ``expr`` that run for every row."""
    name = expr.getClass().getSimpleName()
    own = int(name == "JsonToStructs" or expr.prettyName() == "from_json")
    children = _seq(expr.children())
    if name in _FIRST_ONLY:
        children = children[:1]
    return own + sum(_parses(c) for c in children)


def unconditional_parses(df: DataFrame) -> int:
    """JSON parses per row that the optimized plan of ``df`` runs whatever the row."""

    def walk(plan: Any) -> int:
        here = sum(_parses(e) for e in _seq(plan.expressions()))
        return here + sum(walk(c) for c in _seq(plan.children()))

    return walk(df._jdf.queryExecution().optimizedPlan())


def test_a_valid_reading_is_parsed_once(spark: SparkSession) -> None:
    cfg = config.from_document(h.pipeline_doc("plan", "127.0.0.1:9", "/x/lake", "/x/ck", None))
    records = spark.createDataFrame([], streaming.KAFKA_COLUMNS)
    validated = validate.parse_and_validate(records, cfg, schema.load())
    valid = validated.filter(F.col("reason").isNull())
    plan = valid._jdf.queryExecution().optimizedPlan().toString()
    assert unconditional_parses(validated) == 1, plan
    assert unconditional_parses(valid) == 1, plan
    # the diagnosis is still there, for the rows that fail
    assert plan.count("from_json(") >= 2, plan
