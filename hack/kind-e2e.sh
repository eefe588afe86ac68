#!/usr/bin/env bash
# End-to-end on a real cluster, for users and machines that have Docker (the development
# machines of this project have none; there the same suites run on the local control plane
# of hack/stack.sh):
#
#   1. create a kind cluster with one labelled edge node,
#   2. install Strimzi and the spark-operator with their own Helm charts, and a one-broker
#      KRaft Kafka cluster "sensors",
#   3. build the three images (operator, edge, Spark) and `kind load` them,
#   4. install charts/sensorpipe with those images,
#   5. apply examples/minimal.yaml, wait for its Ready condition and for a record on its
#      aggregates topic,
#   6. run the chart and operator pytest suites with KUBECONFIG pointing at the kind cluster.
#
# Usage: hack/kind-e2e.sh [--keep] [--skip-build] [--no-tests]
#   --keep        leave the cluster running afterwards (delete: kind delete cluster --name NAME)
#   --skip-build  reuse images already loaded into the cluster
#   --no-tests    stop after step 5
# Needs: docker, kind, helm, kubectl on PATH (helm and kubectl: bash hack/build-go-tools.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Pinned versions of what only this script uses.
KIND_NODE_IMAGE="kindest/node:v1.34.0"
STRIMZI_CHART_VERSION="1.2.0"   # serves kafka.strimzi.io/v1 only
SPARK_OPERATOR_CHART_VERSION="2.5.2"
KAFKA_CR_VERSION="4.3.1"   # a Kafka version that Strimzi 1.2 supports

CLUSTER="${KIND_CLUSTER_NAME:-sensorpipe-e2e}"
TAG="e2e"
KEEP=0 BUILD=1 TESTS=1
for arg in "$@"; do
  case $arg in
    --keep) KEEP=1 ;;
    --skip-build) BUILD=0 ;;
    --no-tests) TESTS=0 ;;
    *) die "unknown argument $arg (--keep, --skip-build, --no-tests)" ;;
  esac
done

for tool in docker kind helm kubectl; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH (this script needs Docker and kind)"
done
docker info >/dev/null 2>&1 || die "docker is installed but its daemon does not answer"

WORK="$CACHE_DIR/kind-e2e"
mkdir -p "$WORK"
export KUBECONFIG="$WORK/kubeconfig"

cleanup() {
  local rc=$?
  if ((rc != 0)); then
    log "FAILED; operator log tail:"
    kubectl -n sensorpipe-system logs deployment/sensorpipe --tail=60 2>/dev/null || true
    kubectl get sensorpipelines -A -o wide 2>/dev/null || true
  fi
  if ((KEEP)); then
    log "cluster kept: export KUBECONFIG=$KUBECONFIG"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. cluster
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  cat >"$WORK/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
  - role: worker
    labels:
      sensorpipe.dev/edge: "true"
EOF
  step kind-create kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" \
    --config "$WORK/kind.yaml" --kubeconfig "$KUBECONFIG" --wait 180s
fi

# ---------------------------------------------------------------- 2. Strimzi, Kafka, spark-operator
kubectl create namespace kafka --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl create namespace iot --dry-run=client -o yaml | kubectl apply -f - >/dev/null
step strimzi-install helm upgrade --install strimzi \
  oci://quay.io/strimzi-helm/strimzi-kafka-operator --version "$STRIMZI_CHART_VERSION" \
  --namespace kafka --set watchAnyNamespace=true --wait --timeout 10m

kubectl apply -f - >/dev/null <<EOF
apiVersion: kafka.strimzi.io/v1
kind: KafkaNodePool
metadata:
  name: dual-role
  namespace: kafka
  labels: {strimzi.io/cluster: sensors}
spec:
  replicas: 1
  roles: [controller, broker]
  storage: {type: ephemeral}
---
apiVersion: kafka.strimzi.io/v1
kind: Kafka
metadata:
  name: sensors
  namespace: kafka
spec:
  kafka:
    version: $KAFKA_CR_VERSION
    listeners:
      - {name: plain, port: 9092, type: internal, tls: false}
    config:
      offsets.topic.replication.factor: 1
      transaction.state.log.replication.factor: 1
      transaction.state.log.min.isr: 1
      default.replication.factor: 1
      min.insync.replicas: 1
  entityOperator:
    topicOperator:
      watchedNamespace: iot
EOF

step spark-operator-install helm upgrade --install spark-operator spark-operator \
  --repo https://kubeflow.github.io/spark-operator --version "$SPARK_OPERATOR_CHART_VERSION" \
  --namespace spark-operator --create-namespace \
  --set "spark.jobNamespaces={iot}" --set webhook.enable=true --wait --timeout 10m

step kafka-ready kubectl -n kafka wait kafka/sensors --for=condition=Ready --timeout=15m

# ---------------------------------------------------------------- 3. images
if ((BUILD)); then
  # The Spark image copies the Kafka connector and Delta jars that fetch-jars.sh puts in .cache/jars/.
  bash "$HACK_DIR/fetch-jars.sh"
  for image in operator:operator/Dockerfile edge:edge/Dockerfile spark:spark_apps/Dockerfile; do
    name=${image%%:*} dockerfile=${image#*:}
    step "docker-build-$name" docker build -f "$ROOT_DIR/$dockerfile" -t "sensorpipe-$name:$TAG" "$ROOT_DIR"
    step "kind-load-$name" kind load docker-image "sensorpipe-$name:$TAG" --name "$CLUSTER"
  done
fi

# ---------------------------------------------------------------- 4. the chart
step chart-install helm upgrade --install sensorpipe "$ROOT_DIR/charts/sensorpipe" \
  --namespace sensorpipe-system --create-namespace \
  --set fullnameOverride=sensorpipe \
  --set image.repository=sensorpipe-operator --set image.tag="$TAG" --set image.pullPolicy=Never \
  --set childImages.gateway="sensorpipe-edge:$TAG" \
  --set childImages.consumer="sensorpipe-edge:$TAG" \
  --set childImages.spark="sensorpipe-spark:$TAG" \
  --wait --timeout 5m

# ---------------------------------------------------------------- 5. a pipeline, Ready, data
kubectl apply --server-side -n iot -f "$ROOT_DIR/examples/minimal.yaml" >/dev/null
# Short windows so that the first aggregate closes within minutes, not the example's 15.
kubectl -n iot patch sensorpipeline minimal --type merge \
  -p '{"spec":{"processing":{"window":"1m","watermark":"30s","triggerInterval":"10s"}}}' >/dev/null
step pipeline-ready kubectl -n iot wait sensorpipeline/minimal --for=condition=Ready --timeout=20m

broker=$(kubectl -n kafka get pods -l strimzi.io/cluster=sensors,strimzi.io/broker-role=true \
  -o jsonpath='{.items[0].metadata.name}')
step aggregates-data kubectl -n kafka exec "$broker" -- bin/kafka-console-consumer.sh \
  --bootstrap-server localhost:9092 --topic minimal.aggregates --from-beginning \
  --max-messages 1 --timeout-ms 600000
log "data arrived on minimal.aggregates: $(tail -n 1 "$CACHE_DIR/logs/aggregates-data.log")"

# ---------------------------------------------------------------- 6. the same suites, on kind
if ((TESTS)); then
  bash "$HACK_DIR/venv.sh"
  # SENSORPIPE_EXTERNAL_CLUSTER tells tests/conftest.py to use this KUBECONFIG instead of
  # starting the local API server.
  SENSORPIPE_EXTERNAL_CLUSTER=1 "$ROOT_DIR/.venv/bin/python" -m pytest -m integration \
    "$ROOT_DIR/tests/integration/chart" "$ROOT_DIR/tests/integration/operator"
fi
log "kind end-to-end passed"
