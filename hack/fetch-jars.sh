#!/usr/bin/env bash
# Fetches the Kafka broker classpath and Spark's Kafka connector + Delta jars with Maven
# into .cache/jars/, keyed by version. Idempotent: a complete folder is kept.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Concurrent callers (make targets, developers) wait for one another instead of building twice.
exec 8>"$CACHE_DIR/.fetch-jars.lock"
flock 8

JARS="$CACHE_DIR/jars"
mkdir -p "$JARS"

fetch() {  # name pom-dir out-dir -Dprop=value...
  local name=$1 pom=$2 out=$3; shift 3
  [[ -f $out/.complete ]] && return 0
  rm -rf "$out"; mkdir -p "$out"
  step "jars-$name" mvn -B -q -s "$HACK_DIR/maven/settings.xml" -f "$pom/pom.xml" "$@" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out"
  touch "$out/.complete"
}

fetch kafka "$HACK_DIR/maven/kafka" "$JARS/kafka-$KAFKA_VERSION" \
  -Dkafka.version="$KAFKA_VERSION" -Dscala.binary="$KAFKA_SCALA"
fetch spark "$HACK_DIR/maven/spark" "$JARS/spark-$SPARK_VERSION-delta-$DELTA_VERSION" \
  -Dspark.version="$SPARK_VERSION" -Dspark.minor="${SPARK_VERSION%.*}" -Ddelta.version="$DELTA_VERSION"
log "jars ready under $JARS"
