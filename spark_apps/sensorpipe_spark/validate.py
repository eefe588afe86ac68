"""Parse Kafka records into readings and decide, per record, whether it is valid and why not.

Everything here is a column expression, so parsing and validation run inside Spark's JVM
at the speed of `from_json`, with no Python round trip per record. A valid record is parsed
once, into the typed struct derived from the reading schema and the spec's fields: it is
valid when every check that the typed values can answer passes and the document has no key
beyond those the typed struct holds (:func:`_happy`). Only a record that fails this is
diagnosed: parsed again into text maps that keep every key as written, where comparing the
two tells a missing key from a key of the wrong type, which a single parse cannot. The
first failing check, in a fixed order, gives the record its dead-letter reason
(docs/contracts.md §3). The diagnosis sits in the untaken branch of a CASE, which Spark
evaluates per row only when its condition holds, so no filter re-runs it for valid rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sensorpipe_contract.fields import MAX_INTEGER, SPARK_TYPES
from sensorpipe_contract.runtime import StreamSpec
from sensorpipe_spark.config import JobConfig
from sensorpipe_spark.schema import VALUES_PROPERTY, PropertyRule, ReadingSchema

_SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "integer": T.LongType(),
    "number": T.DoubleType(),
    "boolean": T.BooleanType(),
}
# A field's values parse into the Spark type its rules name (sensorpipe_contract.fields):
# a JSON number with a fraction does not parse into bigint, which makes it wrong_type.
_SQL_TYPES: dict[str, T.DataType] = {
    "double": T.DoubleType(),
    "bigint": T.LongType(),
    "boolean": T.BooleanType(),
}
# from_json accepts a map type at run time; its type hints only name struct and array.
_TEXT_MAP: Any = T.MapType(T.StringType(), T.StringType())


class SchemaConflict(ValueError):
    """Two streams declare the same field name with different types."""


def value_fields(streams: Iterable[StreamSpec]) -> dict[str, str]:
    """Every field name across the streams with its type; one name must keep one type."""
    types: dict[str, str] = {}
    for stream in streams:
        for f in stream.fields:
            known = types.setdefault(f.name, f.type)
            if known != f.type:
                raise SchemaConflict(
                    f"field {f.name!r} is {known} in one stream, {f.type} in another"
                )
    return types


def reading_struct(schema: ReadingSchema, streams: Iterable[StreamSpec]) -> T.StructType:
    """The typed Spark schema of a reading: the file's properties, `values` from the spec."""
    values = T.StructType(
        [
            T.StructField(name, _SQL_TYPES[SPARK_TYPES[kind]])
            for name, kind in value_fields(streams).items()
        ]
    )
    return T.StructType(
        [
            T.StructField(p.name, values if p.name == VALUES_PROPERTY else _SPARK_TYPES[p.type])
            for p in schema.properties
        ]
    )


def _names(column: Column) -> Column:
    return F.concat_ws(",", F.sort_array(column))


def _property_checks(
    schema: ReadingSchema, typed: Column, keys: Column, text: Column
) -> list[tuple[Column, Column]]:
    """(failed?, detail) pairs for the schema's top-level rules, in a stable order."""
    checks: list[tuple[Column, Column]] = [
        (text.isNull(), F.lit("not a JSON object")),
    ]
    if not schema.additional_properties:
        extra = F.array_except(keys, F.array(*[F.lit(n) for n in schema.names]))
        checks.append(
            (F.size(extra) > 0, F.concat(F.lit("unexpected properties: "), _names(extra)))
        )
    for name in sorted(schema.required):
        checks.append((text[name].isNull(), F.lit(f"missing required property {name}")))
    for rule in schema.properties:
        checks.extend(_rule_checks(rule, typed[rule.name], text[rule.name]))
    return checks


def _rule_checks(rule: PropertyRule, value: Column, raw: Column) -> list[tuple[Column, Column]]:
    checks: list[tuple[Column, Column]] = []
    if rule.name != VALUES_PROPERTY:
        checks.append(
            (
                raw.isNotNull() & value.isNull(),
                F.lit(f"property {rule.name} is not of type {rule.type}"),
            )
        )
    if rule.const is not None:
        checks.append(
            (value != F.lit(rule.const), F.lit(f"property {rule.name} must be {rule.const!r}"))
        )
    if rule.pattern is not None:
        checks.append(
            (
                ~value.rlike(rule.pattern),
                F.lit(f"property {rule.name} does not match {rule.pattern}"),
            )
        )
    if rule.minimum is not None:
        checks.append(
            (value < F.lit(rule.minimum), F.lit(f"property {rule.name} is below {rule.minimum}"))
        )
    if rule.maximum is not None:
        checks.append(
            (value > F.lit(rule.maximum), F.lit(f"property {rule.name} is above {rule.maximum}"))
        )
    return checks


def _switch(key: Column, cases: Iterable[tuple[str, Column]]) -> Column:
    """A CASE expression: the value of the first case whose match equals ``key``, else null."""
    expr: Column | None = None
    for match, value in cases:
        expr = F.when(key == match, value) if expr is None else expr.when(key == match, value)
    if expr is None:
        raise ValueError("no cases")
    return expr


def _field_failures(
    streams: tuple[StreamSpec, ...], stream: Column, typed: Column, raw: Column
) -> tuple[Column, Column, Column]:
    """Comma-joined field names with the wrong type or a sensor error (NaN, ±inf), and the
    out-of-range details; each empty when no field fails."""
    wrong: list[Column] = []
    broken: list[Column] = []
    outside: list[Column] = []
    for s in streams:
        on = stream == s.name
        for f in s.fields:
            v = typed[f.name]
            unparsed = raw[f.name].isNotNull() & v.isNull()
            if f.is_integer:  # the contract's bound, beyond which bigint would still parse
                unparsed = unparsed | (F.abs(v) >= F.lit(MAX_INTEGER))
            wrong.append(F.when(on & unparsed, F.lit(f.name)))
            if f.is_boolean:
                continue
            broken.append(F.when(on & (F.isnan(v) | (F.abs(v) == float("inf"))), F.lit(f.name)))
            bounds: list[Column] = []
            if f.min is not None:
                bounds.append(v < F.lit(f.min))
            if f.max is not None:
                bounds.append(v > F.lit(f.max))
            for b in bounds:
                outside.append(
                    F.when(
                        on & b,
                        F.format_string(
                            f"{f.name}=%s outside [{f.min}, {f.max}]", v.cast("string")
                        ),
                    )
                )

    # concat_ws skips nulls and, unlike array_compact, is compiled by whole-stage codegen.
    def joined(sep: str, items: list[Column]) -> Column:
        return F.concat_ws(sep, *items) if items else F.lit("")

    return joined(",", wrong), joined(",", broken), joined("; ", outside)


# A JSON key is a string followed by a colon: every key matches, and a colon inside a string
# value can only add matches, so as many matches as known keys present means no other key.
_KEY = r'"\s*:'


def _present(columns: Iterable[Column]) -> Column:
    """How many of ``columns`` are not null."""
    return sum((F.when(c.isNotNull(), 1).otherwise(0) for c in columns), F.lit(0))


def _happy(
    text_value: Column,
    utf8: Column,
    typed: Column,
    schema: ReadingSchema,
    streams: tuple[StreamSpec, ...],
    typed_only: list[Column],
) -> Column:
    """True when the record is valid, from its typed parse alone; false when it may not be.

    Holds when the value is a UTF-8 JSON object, every required property parsed to its type,
    none of the ``typed_only`` checks failed, the stream's fields are all there and no other
    stream's, and the document has exactly as many keys as the typed struct has non-null
    values, so nothing was dropped by the parse as unknown or of the wrong type.
    """
    values = typed[VALUES_PROPERTY]
    stream = typed["stream"]
    fields = value_fields(streams)
    own = F.lit(False)
    for s in streams:
        names = {f.name for f in s.fields}
        complete = F.lit(True)
        for name in fields:
            complete = complete & (
                values[name].isNotNull() if name in names else values[name].isNull()
            )
        own = F.when(stream == s.name, complete).otherwise(own)
    known = _present([typed[p.name] for p in schema.properties]) + _present(
        [values[name] for name in fields]
    )
    cond = (
        utf8
        & F.ltrim(text_value).startswith("{")
        & typed.isNotNull()
        & own
        & (F.regexp_count(text_value, F.lit(_KEY)) == known)
    )
    for name in schema.required:
        cond = cond & typed[name].isNotNull()
    for failed in typed_only:
        cond = cond & ~F.coalesce(failed, F.lit(False))
    return cond


def parse_and_validate(records: DataFrame, cfg: JobConfig, schema: ReadingSchema) -> DataFrame:
    """Kafka records (topic, value, timestamp) → readings with `reason` and `detail`.

    `reason` is null for a valid reading and otherwise the first failing check's code;
    valid rows carry `values` as a map of field → double (booleans as 0/1) for the lake.
    """
    streams = cfg.streams
    struct = reading_struct(schema, streams)
    text_value = F.col("value").cast("string")
    df = records.select(
        F.col("topic"),
        F.col("timestamp").alias("kafka_ts"),
        F.col("value").alias("raw_value"),
        F.is_valid_utf8(text_value).alias("_utf8"),
        F.from_json(text_value, struct).alias("r"),
    )
    # the diagnosis's parses: expressions, not columns, so only the CASE branch runs them
    text = F.from_json(F.col("raw_value").cast("string"), _TEXT_MAP)
    vtext = F.from_json(text[VALUES_PROPERTY], _TEXT_MAP)
    typed = F.col("r")
    keys = F.map_keys(text)
    vkeys = F.coalesce(F.map_keys(vtext), F.array().cast("array<string>"))
    stream = typed["stream"]
    by_topic = _switch(F.col("topic"), [(s.topic, F.lit(s.name)) for s in streams])
    expected = _switch(
        stream, [(s.name, F.array(*[F.lit(f.name) for f in s.fields])) for s in streams]
    )
    missing = F.array_except(expected, vkeys)
    unknown = F.array_except(vkeys, expected)
    wrong, broken, outside = _field_failures(streams, stream, typed[VALUES_PROPERTY], vtext)

    checks: list[tuple[str, Column, Column]] = [
        ("not_utf8", ~F.col("_utf8"), F.lit("value is not valid UTF-8")),
    ]
    checks += [("schema_violation", c, d) for c, d in _property_checks(schema, typed, keys, text)]
    checks += [
        ("schema_violation", vtext.isNull(), F.lit("values is not an object")),
        ("unknown_stream", expected.isNull(), F.concat(F.lit("unknown stream "), stream)),
        (
            "unknown_stream",
            by_topic.isNull() | (by_topic != stream),
            F.concat(F.lit("stream "), stream, F.lit(" read from topic "), F.col("topic")),
        ),
        (
            "missing_field",
            F.size(missing) > 0,
            F.concat(F.lit("missing fields: "), _names(missing)),
        ),
        (
            "unknown_field",
            F.size(unknown) > 0,
            F.concat(F.lit("unknown fields: "), _names(unknown)),
        ),
        ("wrong_type", wrong != "", F.concat(F.lit("wrong type: "), wrong)),
        (
            "sensor_error",
            broken != "",
            F.concat(F.lit("sensor error value in: "), broken),
        ),
        ("out_of_range", outside != "", outside),
    ]
    # A failed check is only `true`; a check whose inputs are null (because an earlier one
    # failed) is skipped by coalesce, so the first real failure names the record.
    typed_only = [typed.isNull(), expected.isNull(), by_topic.isNull() | (by_topic != stream)]
    for rule in schema.properties:
        typed_only += [c for c, _ in _rule_checks(rule, typed[rule.name], typed[rule.name])]
    typed_wrong, typed_broken, typed_outside = _field_failures(
        streams, stream, typed[VALUES_PROPERTY], typed[VALUES_PROPERTY]
    )
    typed_only += [typed_wrong != "", typed_broken != "", typed_outside != ""]
    happy = _happy(
        F.col("raw_value").cast("string"), F.col("_utf8"), typed, schema, streams, typed_only
    )
    suspect = ~F.coalesce(happy, F.lit(False))  # a null (no value at all) is diagnosed too
    reason = F.when(suspect, F.coalesce(*[F.when(c, F.lit(code)) for code, c, _ in checks]))
    detail = F.when(suspect, F.coalesce(*[F.when(c, d) for _, c, d in checks]))

    fields = value_fields(streams)
    as_double = F.map_filter(
        F.create_map(
            *[
                x
                for name in fields
                for x in (F.lit(name), typed[VALUES_PROPERTY][name].cast("double"))
            ]
        ),
        lambda _k, v: v.isNotNull(),
    )
    return df.select(
        "topic",
        "kafka_ts",
        "raw_value",
        F.col("_utf8").alias("utf8"),
        *[typed[p.name].alias(p.name) for p in schema.properties if p.name != VALUES_PROPERTY],
        as_double.alias("values"),
        reason.alias("reason"),
        detail.alias("detail"),
    )
