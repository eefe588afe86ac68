#!/usr/bin/env bash
# The real local services every test, the demo and a developer by hand run against:
# etcd + kube-apiserver + kube-controller-manager + kube-scheduler, a real node (containerd,
# kubelet and kube-proxy in a network namespace of its own: hack/node.sh) and kwok (one fake
# Node, for what needs many pods), Apache Kafka in KRaft mode, PostgreSQL and Mosquitto, each
# a process with its own data directory under .cache/stack/. Host processes reach the
# services on 127.0.0.1; pods reach them on the node's host address ($HOST_IP).
#
#   hack/stack.sh up [SERVICE...]      build what is missing, start, wait until really ready
#   hack/stack.sh down [SERVICE...]    stop what this script started (by recorded pid)
#   hack/stack.sh restart SERVICE...   down then up, data kept
#   hack/stack.sh status               one line per service (exit 3 if any is stopped)
#   hack/stack.sh pin | unpin          keep the stack up through `down` (shared by several sessions)
#   hack/stack.sh crds                 (re)install crds/ and crds/third-party/ into the API server
#   hack/stack.sh env                  export lines: eval "$(hack/stack.sh env)"
#   hack/stack.sh logs SERVICE         the tail of a service's log
#
# Services: node-net etcd apiserver controller-manager scheduler containerd kubelet kube-proxy
# kwok kafka postgres mosquitto.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# SENSORPIPE_STACK_DIR lets a second, independent stack run beside the usual one (tests of
# stack.sh itself do that, so they never disturb the stack the other tests share).
STACK="${SENSORPIPE_STACK_DIR:-$CACHE_DIR/stack}"
PIDS="$STACK/pids"
LOGS="$STACK/logs"
PORTS_FILE="$STACK/ports.env"
PKI="$STACK/pki"
mkdir -p "$PIDS" "$LOGS"

ALL_SERVICES=(node-net etcd apiserver controller-manager scheduler containerd kubelet kube-proxy
  kwok kafka postgres mosquitto)
K8S_BIN="$CACHE_DIR/bin/kubernetes-$KUBERNETES_VERSION"
ETCD_BIN="$CACHE_DIR/bin/etcd-$ETCD_VERSION/etcd"
KWOK_BIN="$CACHE_DIR/bin/kwok-$KWOK_VERSION/kwok"
HELM_DIR="$CACHE_DIR/bin/helm-$HELM_VERSION"
KAFKA_JARS="$CACHE_DIR/jars/kafka-$KAFKA_VERSION"
SPARK_JARS_DIR="$CACHE_DIR/jars/spark-$SPARK_VERSION-delta-$DELTA_VERSION"
KUBECONFIG_FILE="$STACK/admin.kubeconfig"
PG_BIN=""
for v in 17 16 15; do [[ -x /usr/lib/postgresql/$v/bin/postgres ]] && { PG_BIN=/usr/lib/postgresql/$v/bin; break; }; done
# shellcheck source=node.sh
source "$HACK_DIR/node.sh"

# ---------------------------------------------------------------- ports and pids

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_in_use() {
  python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

# Ports are chosen once and kept, so a kubeconfig or DSN a user copied stays valid across
# down/up; a kept port that something else took meanwhile is replaced.
PORT_NAMES=(ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KAFKA_PORT KAFKA_POD_PORT KAFKA_CONTROLLER_PORT
  PG_PORT MQTT_PORT)
load_ports() {
  [[ -f $PORTS_FILE ]] && source "$PORTS_FILE"
  local name changed=0
  for name in "${PORT_NAMES[@]}"; do
    if [[ -z ${!name:-} ]]; then
      printf -v "$name" '%s' "$(free_port)"; changed=1
    fi
  done
  if [[ -z ${NODE_NET:-} ]]; then NODE_NET=$(free_node_net); changed=1; fi
  node_vars
  if ((changed)); then
    {
      for name in "${PORT_NAMES[@]}" NODE_NET; do
        echo "$name=${!name}"
      done
    } >"$PORTS_FILE"
  fi
}

pid_of() { [[ -f $PIDS/$1.pid ]] && cat "$PIDS/$1.pid"; }

running() {
  [[ $1 == node-net ]] && { node_net_up; return; }
  local pid
  pid=$(pid_of "$1") || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

# launch NAME CMD...: start CMD in its own session, detached, output to its log, pid recorded.
launch() {
  local name=$1; shift
  : >"$LOGS/$name.log"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

fail_with_log() {
  local name=$1 why=$2
  log "ERROR: $name $why; last lines of $LOGS/$name.log:"
  tail -n 40 "$LOGS/$name.log" >&2 || true
  exit 1
}

# wait_for NAME SECONDS CMD...: poll CMD until it succeeds; fail with the log tail if the
# process died or the time ran out.
wait_for() {
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    running "$name" || fail_with_log "$name" "exited during start-up"
    ((SECONDS < deadline)) || fail_with_log "$name" "not ready after ${secs}s"
    sleep 0.5
  done
}

stop_service() {
  local name=$1 pid
  [[ $name == node-net ]] && { stop_node_net; return 0; }
  pid=$(pid_of "$name") || return 0
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  fi
  rm -f "$PIDS/$name.pid"
  [[ $name == containerd ]] && stop_node_leftovers
  return 0
}

# ---------------------------------------------------------------- prerequisites

# What a service needs built before it can start.
prerequisites() {
  case $1 in
    etcd) echo "$ETCD_BIN" ;;
    apiserver) echo "$K8S_BIN/kube-apiserver $K8S_BIN/kubectl" ;;
    controller-manager) echo "$K8S_BIN/kube-controller-manager" ;;
    scheduler) echo "$K8S_BIN/kube-scheduler" ;;
    kwok) echo "$KWOK_BIN" ;;
    containerd) echo "/usr/bin/containerd /usr/sbin/runc /usr/lib/cni/bridge /usr/bin/podman /bin/busybox" ;;
    kubelet) echo "$K8S_BIN/kubelet" ;;
    kube-proxy) echo "$K8S_BIN/kube-proxy /usr/sbin/iptables /usr/sbin/conntrack" ;;
    kafka) echo "$KAFKA_JARS/.complete $ROOT_DIR/.venv/bin/python" ;;
    postgres) echo "/usr/lib/postgresql" ;;
    mosquitto) echo "/usr/sbin/mosquitto /usr/bin/mosquitto_pub" ;;
  esac
}

# Runs the (idempotent, but not instant) set-up only when something the requested services
# need is missing, so `up` of a built stack starts at once.
ensure_built() {
  local s f
  for s in "$@"; do
    for f in $(prerequisites "$s"); do
      if [[ ! -e $f ]]; then
        bash "$HACK_DIR/setup.sh"
        PG_BIN=""
        for v in 17 16 15; do
          [[ -x /usr/lib/postgresql/$v/bin/postgres ]] && { PG_BIN=/usr/lib/postgresql/$v/bin; break; }
        done
        return 0
      fi
    done
  done
}

# The API server's certificates, service-account keys and the admin's static token,
# made once per stack directory.
ensure_pki() {
  [[ -f $PKI/.complete ]] && return 0
  rm -rf "$PKI"; mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sensorpipe-local-ca" \
      -keyout ca.key -out ca.crt
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr
    printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' "$HOST_IP" >san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out apiserver.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    echo "$(openssl rand -hex 24),admin,admin-uid,system:masters" >tokens.csv
  ) >"$LOGS/pki.log" 2>&1 || fail_with_log pki "could not make certificates"
  touch "$PKI/.complete"
}

write_kubeconfig() {
  local token
  token=$(cut -d, -f1 "$PKI/tokens.csv")
  cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sensorpipe-local
  cluster:
    server: https://$HOST_IP:$APISERVER_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: sensorpipe-local
  context: {cluster: sensorpipe-local, user: admin}
current-context: sensorpipe-local
EOF
}

kubectl_() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# ---------------------------------------------------------------- services

start_etcd() {
  launch etcd "$ETCD_BIN" --name sensorpipe --data-dir "$STACK/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "sensorpipe=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync \
    --quota-backend-bytes 2147483648 --log-level warn
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  mkdir -p "$STACK/apiserver"
  # Audit only writes, with metadata: benchmarks count the operator's API writes from it.
  cat >"$STACK/apiserver/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: None
EOF
  launch apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address "$HOST_IP" --advertise-address "$HOST_IP" --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode Node,RBAC \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --kubelet-client-certificate "$NODE_PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$NODE_PKI/apiserver-kubelet-client.key" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
    --audit-policy-file "$STACK/apiserver/audit-policy.yaml" --audit-log-path "$STACK/apiserver/audit.log" \
    --audit-log-maxsize 200 --audit-log-maxbackup 1 \
    --enable-priority-and-fairness=false --profiling=false --v=1
  wait_for apiserver 120 curl -fsS --cacert "$PKI/ca.crt" "https://$HOST_IP:$APISERVER_PORT/readyz"
  write_kubeconfig
}

start_controller_manager() {
  launch controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=false --controllers '*,-node-ipam-controller,-node-lifecycle-controller' \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10 --v=1
  # Ready when it has made the default ServiceAccount of the default namespace.
  wait_for controller-manager 90 kubectl_ get serviceaccount default -n default
}

start_scheduler() {
  launch scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_FILE" --authentication-kubeconfig "$KUBECONFIG_FILE" \
    --authorization-kubeconfig "$KUBECONFIG_FILE" \
    --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false --v=1
  wait_for scheduler 60 bash -c "grep -q 'Starting Kubernetes Scheduler\|Attempting to acquire leader\|Started scheduler' '$LOGS/scheduler.log' || kill -0 \$(cat '$PIDS/scheduler.pid')"
}

start_kwok() {
  launch kwok "$KWOK_BIN" --kubeconfig "$KUBECONFIG_FILE" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --cidr=10.0.0.1/24 --node-ip=10.0.0.1
  kubectl_ apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    sensorpipe.dev/edge: "true"
status:
  allocatable: {cpu: "64", memory: 256Gi, pods: "500"}
  capacity: {cpu: "64", memory: 256Gi, pods: "500"}
EOF
  wait_for kwok 60 bash -c "[[ \$('$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
  # The API server taints a new Node not-ready; the node lifecycle controller, which would lift
  # the taint once kwok reports Ready, is off (the Node is fake), so lift it here.
  kubectl_ taint node kwok-node-0 node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  wait_for kwok 30 bash -c "! '$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get node kwok-node-0 -o jsonpath='{.spec.taints}' | grep -q not-ready"
}

KAFKA_JAVA=(java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
  -Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info
  -cp "$KAFKA_JARS/*")

start_kafka() {
  local dir="$STACK/kafka"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,PODS://$HOST_IP:$KAFKA_POD_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,PODS://$HOST_IP:$KAFKA_POD_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PODS:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.segment.bytes=67108864
EOF
  if [[ ! -f $dir/data/meta.properties ]]; then
    local id
    id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOGS/kafka.log" | tail -n 1)
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone -t "$id" -c "$dir/server.properties" \
      >>"$LOGS/kafka-format.log" 2>&1 || fail_with_log kafka-format "could not format the KRaft storage"
  fi
  launch kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$dir/server.properties"
  wait_for kafka 120 "$ROOT_DIR/.venv/bin/python" "$HACK_DIR/kafka_ready.py" "127.0.0.1:$KAFKA_PORT"
}

# PostgreSQL refuses to run as root, so as root it runs as Debian's `postgres` user; setpriv
# execs, so the recorded pid is the postmaster's.
AS_PG_USER=()
[[ $(id -u) == 0 ]] && AS_PG_USER=(setpriv --reuid=postgres --regid=postgres --init-groups)

start_postgres() {
  [[ -n $PG_BIN ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  local dir="$STACK/postgres"
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$dir"
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    "${AS_PG_USER[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOGS/postgres-initdb.log" 2>&1 || fail_with_log postgres-initdb "initdb failed"
  fi
  # Pods arrive from the node's address (their traffic to the host is masqueraded to it).
  grep -q "sensorpipe node" "$dir/data/pg_hba.conf" ||
    printf 'host all all %s/32 trust # sensorpipe node\n' "$NODE_IP" >>"$dir/data/pg_hba.conf"
  launch postgres "${AS_PG_USER[@]}" "$PG_BIN/postgres" -D "$dir/data" -h "127.0.0.1,$HOST_IP" -p "$PG_PORT" -k "$dir" \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200
  wait_for postgres 60 "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -U postgres
  if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='sensorpipe'" 2>/dev/null | grep -q 1; then
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE sensorpipe" >/dev/null \
      || fail_with_log postgres "could not create database sensorpipe"
  fi
}

start_mosquitto() {
  local dir="$STACK/mosquitto"
  mkdir -p "$dir/data"
  cat >"$dir/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
listener $MQTT_PORT $HOST_IP
allow_anonymous true
persistence true
persistence_location $dir/data/
autosave_interval 1
max_queued_messages 100000
user $(id -un)
EOF
  launch mosquitto mosquitto -c "$dir/mosquitto.conf"
  wait_for mosquitto 30 mqtt_round_trip
}

# A real publish/subscribe through the broker, not just an open port.
mqtt_round_trip() {
  local msg="ready-$RANDOM$RANDOM" out
  out=$(mktemp)
  mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t "sensorpipe/ready/$msg" -C 1 -W 5 >"$out" 2>/dev/null &
  local sub=$!
  sleep 0.3
  mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t "sensorpipe/ready/$msg" -m "$msg" -q 1 >/dev/null 2>&1 || true
  wait "$sub" || true
  grep -qx "$msg" "$out"
  local rc=$?
  rm -f "$out"
  return $rc
}

start_one() {
  local name=$1
  if running "$name"; then return 0; fi
  log "starting $name"
  case $name in
    etcd) start_etcd ;;
    apiserver) start_apiserver ;;
    controller-manager) start_controller_manager ;;
    scheduler) start_scheduler ;;
    node-net) start_node_net ;;
    containerd) start_containerd ;;
    kubelet) start_kubelet ;;
    kube-proxy) start_kube_proxy ;;
    kwok) start_kwok ;;
    kafka) start_kafka ;;
    postgres) start_postgres ;;
    mosquitto) start_mosquitto ;;
    *) die "unknown service '$name' (${ALL_SERVICES[*]})" ;;
  esac
}

install_crds() {
  local files=()
  shopt -s nullglob
  files=("$ROOT_DIR"/crds/*.yaml "$ROOT_DIR"/crds/third-party/*.yaml)
  shopt -u nullglob
  ((${#files[@]})) || return 0
  local args=()
  for f in "${files[@]}"; do args+=(-f "$f"); done
  kubectl_ apply --server-side --force-conflicts "${args[@]}" >"$LOGS/crds.log" 2>&1 \
    || fail_with_log crds "could not install the CRDs"
  kubectl_ wait --for condition=Established --timeout=60s crd --all >>"$LOGS/crds.log" 2>&1 \
    || fail_with_log crds "CRDs not established"
}

# ---------------------------------------------------------------- commands

# The requested services (all by default) in start order, whatever order they were named in,
# so that `up apiserver etcd` still starts etcd first.
check_services() {
  local want
  for want in "$@"; do
    [[ " ${ALL_SERVICES[*]} " == *" $want "* ]] || die "unknown service '$want' (${ALL_SERVICES[*]})"
  done
}

services_or_all() {
  local s
  for s in "${ALL_SERVICES[@]}"; do
    if (($# == 0)) || [[ " $* " == *" $s "* ]]; then echo "$s"; fi
  done
}

cmd_up() {
  # shellcheck disable=SC2046
  ensure_built $(services_or_all "$@")
  load_ports
  ensure_pki
  ensure_node_pki
  local s
  for s in $(services_or_all "$@"); do start_one "$s"; done
  [[ $# == 0 ]] && install_crds
  log "stack up: $(cmd_status | tr '\n' ' ')"
}

cmd_down() {
  load_ports
  local order=() s
  # A developer who shares one stack between several test sessions pins it with
  # `hack/stack.sh pin`: then a session's closing `down` leaves it running.
  if (($# == 0)) && [[ -f $STACK/pinned ]]; then
    log "stack is pinned ($STACK/pinned): not stopping it; 'hack/stack.sh unpin' first"
    return 0
  fi
  # Stop in reverse order of start, so nothing loses its dependency while still running.
  for s in $(services_or_all "$@"); do order=("$s" "${order[@]}"); done
  for s in "${order[@]}"; do stop_service "$s"; done
}

cmd_status() {
  load_ports
  local s rc=0
  for s in "${ALL_SERVICES[@]}"; do
    if [[ $s == node-net ]]; then
      if running "$s"; then echo "$s up netns=$NETNS host=$HOST_IP node=$NODE_IP"; else echo "$s down"; rc=3; fi
    elif running "$s"; then echo "$s running pid=$(pid_of "$s")"; else echo "$s stopped"; rc=3; fi
  done
  return $rc
}

spark_jars_csv() {
  # The connector and Delta jars minus those pyspark already ships (same artifact name).
  local pyspark_jars
  pyspark_jars=$("$ROOT_DIR/.venv/bin/python" -c 'import os,pyspark; print(os.path.join(os.path.dirname(pyspark.__file__),"jars"))' 2>/dev/null) || return 0
  local out=() j base
  shopt -s nullglob
  for j in "$SPARK_JARS_DIR"/*.jar; do
    base=$(basename "$j" | sed -E 's/-[0-9][^-]*(-[A-Za-z0-9.]+)?\.jar$//')
    compgen -G "$pyspark_jars/$base-[0-9]*.jar" >/dev/null && continue
    out+=("$j")
  done
  shopt -u nullglob
  (IFS=,; echo "${out[*]}")
}

cmd_env() {
  load_ports
  local token
  token=$(cut -d, -f1 "$PKI/tokens.csv" 2>/dev/null || true)
  cat <<EOF
export SENSORPIPE_ROOT='$ROOT_DIR'
export SENSORPIPE_STACK='$STACK'
export KUBECONFIG='$KUBECONFIG_FILE'
export KUBE_APISERVER='https://$HOST_IP:$APISERVER_PORT'
export KUBE_CA_FILE='$PKI/ca.crt'
export KUBE_ADMIN_TOKEN='$token'
export KUBE_AUDIT_LOG='$STACK/apiserver/audit.log'
export ETCD_ENDPOINT='http://127.0.0.1:$ETCD_PORT'
export KAFKA_BOOTSTRAP='127.0.0.1:$KAFKA_PORT'
export PG_DSN='postgresql://postgres@127.0.0.1:$PG_PORT/sensorpipe'
export MQTT_URL='mqtt://127.0.0.1:$MQTT_PORT'
export NODE_NAME='$NODE_NAME'
export NODE_HOST_IP='$HOST_IP'
export NODE_NETNS='$NETNS'
export NODE_TOOLBOX_IMAGE='$TOOLBOX_IMAGE'
export NODE_PLUGINS_REGISTRY='$KUBELET_DIR/root/plugins_registry'
export CONTAINERD_ADDRESS='$CONTAINERD_SOCK'
export POD_KAFKA_BOOTSTRAP='$HOST_IP:$KAFKA_POD_PORT'
export POD_PG_DSN='postgresql://postgres@$HOST_IP:$PG_PORT/sensorpipe'
export POD_MQTT_URL='mqtt://$HOST_IP:$MQTT_PORT'
export SENSORPIPE_KAFKA_JARS='$KAFKA_JARS'
export SENSORPIPE_SPARK_JARS='$(spark_jars_csv)'
export SENSORPIPE_BIN='$K8S_BIN:$HELM_DIR'
export PATH='$K8S_BIN:$HELM_DIR:$ROOT_DIR/.venv/bin:'"\$PATH"
EOF
}

cmd=${1:-status}
shift || true
[[ $cmd == logs ]] || check_services "$@"
case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  restart) cmd_down "$@"; load_ports; for s in $(services_or_all "$@"); do start_one "$s"; done ;;
  status) cmd_status ;;
  crds) load_ports; install_crds ;;
  pin) touch "$STACK/pinned" ;;
  unpin) rm -f "$STACK/pinned" ;;
  env) cmd_env ;;
  logs) tail -n "${LINES_:-60}" "$LOGS/${1:?service}.log" ;;
  *) die "usage: hack/stack.sh up|down|restart|status|env|logs|crds|pin|unpin [SERVICE...]" ;;
esac
