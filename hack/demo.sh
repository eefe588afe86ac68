#!/usr/bin/env bash
# `make demo`: the whole pipeline on this machine.
#  1. start the real local services (hack/stack.sh up);
#  2. run the operator against the local API server and apply the demo SensorPipeline, so
#     `kubectl get sp` shows it reconciled (topics through the Admin API, gateway Deployments
#     made available by kwok, the SparkApplication reported running while the local job runs);
#  3. run the same spec with the local runner: a simulated fleet, one firmware node under
#     simavr, the Spark streaming job, PostgreSQL and Delta sinks, a live dashboard;
#  4. end with the report: counts in and out, aggregates per device, alerts, plots (PNG, HTML).
# DEMO_DURATION (seconds of data, default 120) sets how long the devices send.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
DEMO_DURATION=${DEMO_DURATION:-120}
WORK="$CACHE_DIR/demo"
rm -rf "$WORK"; mkdir -p "$WORK"
start=$SECONDS
SERVICES="the local services" APPLY="the operator and the pipeline on the API server"
RUN="the run: ${DEMO_DURATION}s of readings, then Spark catches up" FOLLOW="the operator follows the run's end"
REPORT="the report"
stage_plan "$SERVICES" "$APPLY" "$RUN" "$FOLLOW" "$REPORT"

stage "$SERVICES"
started_stack=0
if ! bash "$HACK_DIR/stack.sh" status >/dev/null; then
  bash "$HACK_DIR/stack.sh" up
  started_stack=1
fi
eval "$(bash "$HACK_DIR/stack.sh" env)"

operator_pid=""
spark_reporter_pid=""
ready_waiter_pid=""
# quit_on_term: in a background loop of this script, end quietly on TERM. A command running in
# the foreground (a kubectl patch) finishes first, so it never lands after what the script
# writes next; waits go through `pause`, which TERM cuts short. Killing the loop's children
# instead made bash print a bare "Terminated".
quit_on_term() { trap '[[ -z ${paused:-} ]] || kill "$paused" 2>/dev/null; exit 0' TERM; }
pause() { sleep "$1" & paused=$!; wait "$paused"; paused=""; }
# stop_background PID: stop such a loop and wait until it has.
stop_background() {
  [[ -n $1 ]] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_background "$spark_reporter_pid"
  stop_background "$ready_waiter_pid"
  if [[ -n $operator_pid ]]; then
    kill -TERM "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  fi
  if ((started_stack)) && [[ -z ${DEMO_KEEP_STACK:-} ]]; then bash "$HACK_DIR/stack.sh" down; fi
  exit $rc
}
trap cleanup EXIT INT TERM

stage "$APPLY"
log "rendering the demo pipeline for Kafka at $KAFKA_BOOTSTRAP"
sed "s|\${KAFKA_BOOTSTRAP}|$KAFKA_BOOTSTRAP|" hack/demo/pipeline.yaml >"$WORK/pipeline.yaml"
.venv/bin/sensorpipe validate -f "$WORK/pipeline.yaml"
# A stack kept from an earlier demo still holds its topics; a new run starts from nothing.
.venv/bin/sensorpipe-local reset -f "$WORK/pipeline.yaml" --work-dir "$WORK/run"

log "starting the operator against the local API server (log: $WORK/operator.log)"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create secret generic demo-pg --from-literal=dsn="$PG_DSN" \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
.venv/bin/sensorpipe-operator --namespace demo --metrics-port 0 >"$WORK/operator.log" 2>&1 &
operator_pid=$!
kubectl apply --server-side -f "$WORK/pipeline.yaml"

# The local runner plays the spark-operator's part for its own job: while that job's
# process is alive and its ingest query has started (Spark writes the checkpoint's metadata
# file when a query starts), the SparkApplication's state says RUNNING, as the spark-operator
# says once the driver runs; before that, SUBMITTED. (Waiting for the first committed batch
# instead kept a loaded machine's demo SUBMITTED until its data had all arrived.)
report_spark_state() {
  quit_on_term
  local app=""
  while [[ -z $app ]]; do
    app=$(kubectl -n demo get sparkapplications -l iot.sensorpipe.dev/pipeline=demo -o name 2>/dev/null | head -n 1)
    pause 1
  done
  while true; do
    local state=SUBMITTED pidf="$WORK/run/pids/spark.pid" started="$WORK/run/checkpoints/ingest/metadata"
    if [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null && [[ -f $started ]]; then
      state=RUNNING
    fi
    kubectl -n demo patch "$app" --subresource=status --type=merge \
      -p "{\"status\":{\"applicationState\":{\"state\":\"$state\"},\"driverInfo\":{}}}" >/dev/null 2>&1 || true
    pause 5
  done
}
report_spark_state &
spark_reporter_pid=$!

stage "$RUN"
log "the local runner prints a line of counts every few seconds (work dir: $WORK/run)"
.venv/bin/sensorpipe-local run -f "$WORK/pipeline.yaml" --work-dir "$WORK/run" \
  --duration "$DEMO_DURATION" --firmware-node bench-node --firmware-build firmware/build \
  --dashboard-port 0 --drain-timeout 900 \
  --pg-dsn "$PG_DSN" &
run_pid=$!

# Ready needs the Spark job up, which takes the runner a little while (longer on a loaded
# machine: then the wait goes on beside the run and says when Ready came).
if kubectl -n demo wait sp/demo --for condition=Ready --timeout=300s >/dev/null; then
  log "the operator reports the pipeline Ready:"
else
  log "the pipeline is not Ready yet (Spark is still starting; a line follows when it is):"
  wait_ready() {
    quit_on_term
    kubectl -n demo wait sp/demo --for condition=Ready --timeout=1200s >/dev/null & paused=$!
    wait "$paused" && log "the operator reports the pipeline Ready after $((SECONDS - start))s"
  }
  wait_ready &
  ready_waiter_pid=$!
fi
kubectl -n demo get sp demo
kubectl -n demo get kafkatopics,sparkapplications,deployments,configmaps -l iot.sensorpipe.dev/pipeline=demo 2>/dev/null || true

wait "$run_pid"
stop_background "$ready_waiter_pid"
ready_waiter_pid=""
stage "$FOLLOW"
# The run has stopped its Spark job: say so as the spark-operator would for a driver that
# ended, and show the operator following (a streaming pipeline without its job is not Ready).
stop_background "$spark_reporter_pid"
spark_reporter_pid=""
app=$(kubectl -n demo get sparkapplications -l iot.sensorpipe.dev/pipeline=demo -o name | head -n 1)
kubectl -n demo patch "$app" --subresource=status --type=merge \
  -p '{"status":{"applicationState":{"state":"COMPLETED"},"driverInfo":{}}}' >/dev/null
cond='.status.conditions[?(@.type=="Ready")]' spark='.status.conditions[?(@.type=="ProcessingReady")]'
for _ in $(seq 60); do  # the operator's next status write, within a minute
  [[ $(kubectl -n demo get sp demo -o jsonpath="{$spark.message}") == *COMPLETED* ]] && break
  sleep 1
done
log "the run is over and its Spark job stopped with it; the operator reports:"
kubectl -n demo get sp demo -o custom-columns="NAME:.metadata.name,READY:$cond.status,REASON:$cond.reason,PROCESSING:$spark.message"
stage "$REPORT"
log "plots per device first, then the summary (the runner's \"summary:\" line above): $WORK/run/report/report.html"
log "demo finished in $(fmt_secs $((SECONDS - start)))"
