# The stack's real node: containerd, the kubelet and kube-proxy. Sourced by stack.sh, never run.
#
# The node lives in a network namespace of its own, joined to the host by a veth pair:
#   host side  10.200.N.1 ($HOST_IP)  - the address on which pods reach the API server, Kafka,
#                                      PostgreSQL and Mosquitto of this stack
#   node side  10.200.N.2 ($NODE_IP)  - the kubelet's address, which the API server dials
# Inside it, the CNI bridge cni0 (10.244.N.1/24) carries the pods. The namespace has no
# default route, only the veth's /30, so pod traffic cannot leave the machine: pods reach
# each other, Service IPs (kube-proxy's rules live in the namespace too) and $HOST_IP, and
# nothing else. The host routes 10.244.N.0/24 to the node, so the API server's proxy (and
# a developer) can reach pod IPs; pods' traffic to the host is masqueraded to $NODE_IP, the
# one address PostgreSQL trusts. Two stacks (N differs) never meet.
#
# Names in pods resolve only through the in-cluster `kubernetes` Service's environment
# variables: every address the stack hands to a pod (Kafka, PostgreSQL, MQTT, the API server)
# is an IP, so no DNS server runs. The kubelet's resolv.conf is empty; pods that use a
# Service name would need CoreDNS, which nothing here does.
#
# Processes run as the stack's other services do (recorded pid, log under $LOGS), entering
# the namespace with nsenter --net only: containerd and the kubelet must share the host's
# mount namespace, so that the volumes the kubelet mounts are the ones containerd binds.

NODE_NAME=sensorpipe-node
CONTAINERD_DIR="$STACK/containerd"
CONTAINERD_SOCK="$CONTAINERD_DIR/containerd.sock"
KUBELET_DIR="$STACK/kubelet"
NODE_PKI="$PKI/node"

node_vars() {
  NETNS="sensorpipe-$NODE_NET"
  HOST_IP="10.200.$NODE_NET.1"
  NODE_IP="10.200.$NODE_NET.2"
  HOST_VETH="spnode$NODE_NET"
  CGROUP_ROOT="/sensorpipe-$NODE_NET"
  POD_CIDR="10.244.$NODE_NET.0/24"
}

# The lowest N whose namespace and host address no one uses (another stack, or anything else).
free_node_net() {
  local n
  for n in $(seq 0 250); do
    [[ -e /var/run/netns/sensorpipe-$n ]] && continue
    ip -4 -o addr show | grep -q " 10\.200\.$n\.1/" && continue
    echo "$n"; return 0
  done
  die "no free 10.200.N.0/30 for the node's network"
}

in_node() { nsenter --net="/var/run/netns/$NETNS" "$@"; }

node_net_up() { [[ -e /var/run/netns/$NETNS ]] && ip link show "$HOST_VETH" >/dev/null 2>&1; }

start_node_net() {
  ip netns add "$NETNS"
  ip link add "$HOST_VETH" type veth peer name eth0 netns "$NETNS"
  ip addr add "$HOST_IP/30" dev "$HOST_VETH"
  ip link set "$HOST_VETH" up
  in_node ip addr add "$NODE_IP/30" dev eth0
  in_node ip link set eth0 up
  in_node ip link set lo up
  # Forwarding between the pods, the bridge and the veth happens inside the namespace only;
  # the host's own forwarding setting is left as it is.
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  in_node iptables -t nat -A POSTROUTING -s "$POD_CIDR" -d "$HOST_IP/32" -j MASQUERADE
  ip route add "$POD_CIDR" via "$NODE_IP" dev "$HOST_VETH"
}

stop_node_net() {
  [[ -e /var/run/netns/$NETNS ]] && ip netns del "$NETNS"
  # Deleting the namespace destroys its end of the pair and so the pair; this is for a
  # half-made one.
  ip link del "$HOST_VETH" 2>/dev/null || true
}

# A certificate from the stack's CA: cert NAME CN O [SAN].
node_cert() {
  local name=$1 cn=$2 org=$3 san=${4:-}
  [[ -f $NODE_PKI/$name.crt ]] && return 0
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn${org:+/O=$org}" \
    -keyout "$NODE_PKI/$name.key" -out "$NODE_PKI/$name.csr"
  if [[ -n $san ]]; then printf 'subjectAltName=%s\n' "$san" >"$NODE_PKI/$name.ext"; else : >"$NODE_PKI/$name.ext"; fi
  openssl x509 -req -in "$NODE_PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -extfile "$NODE_PKI/$name.ext" -out "$NODE_PKI/$name.crt"
}

# The kubelet's client (Node authorizer), its serving certificate, the API server's client to
# the kubelet, and kube-proxy's client (bound to system:node-proxier by the API server itself).
ensure_node_pki() {
  mkdir -p "$NODE_PKI"
  {
    node_cert kubelet-client "system:node:$NODE_NAME" system:nodes
    node_cert kubelet-serving "$NODE_NAME" "" "IP:$NODE_IP,DNS:$NODE_NAME"
    node_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
    node_cert kube-proxy system:kube-proxy ""
  } >"$LOGS/node-pki.log" 2>&1 || fail_with_log node-pki "could not make the node's certificates"
}

# kubeconfig NAME: a kubeconfig that authenticates with $NODE_PKI/NAME.{crt,key}.
node_kubeconfig() {
  cat >"$NODE_PKI/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sensorpipe-local
  cluster: {server: "https://$HOST_IP:$APISERVER_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$NODE_PKI/$1.crt", client-key: "$NODE_PKI/$1.key"}
contexts:
- name: default
  context: {cluster: sensorpipe-local, user: $1}
current-context: default
EOF
}

start_containerd() {
  mkdir -p "$CONTAINERD_DIR" "$STACK/cni/net.d"
  cat >"$STACK/cni/net.d/10-sensorpipe.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "sensorpipe",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$STACK/cni/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # restrict_oom_score_adj: the kubelet asks for negative OOM scores, which these machines do
  # not allow (no CAP_SYS_RESOURCE); without it every sandbox fails in runc create.
  cat >"$CONTAINERD_DIR/config.toml" <<EOF
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STACK/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "runc"
        SystemdCgroup = false
EOF
  launch containerd nsenter --net="/var/run/netns/$NETNS" containerd --config "$CONTAINERD_DIR/config.toml"
  wait_for containerd 60 ctr --address "$CONTAINERD_SOCK" version
  node_image "$PAUSE_IMAGE" pause_rootfs '["/pause"]' 65535:65535
  node_image "$TOOLBOX_IMAGE" toolbox_rootfs '["/bin/sh"]' 65534:65534
}

# Two small images the node always has, each made from a root filesystem built here (no
# registry), cached under .cache/images by what it is made of, and imported into the node's
# containerd: the sandbox ("pause") image, a static binary that sleeps until told to stop;
# and a toolbox with Debian's static busybox (sh, wget, nc, httpd), for tests and debugging.
PAUSE_SRC='#include <signal.h>
#include <unistd.h>
static void done(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, done); signal(SIGINT, done); for (;;) pause(); }'
PAUSE_IMAGE="localhost/sensorpipe-pause:$(printf '%s' "$PAUSE_SRC" | sha256sum | cut -c1-12)"
BUSYBOX_VERSION=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null | tr -c 'A-Za-z0-9.\n' '-')
TOOLBOX_IMAGE="localhost/sensorpipe-toolbox:${BUSYBOX_VERSION:-none}"

pause_rootfs() {
  printf '%s\n' "$PAUSE_SRC" >"$1/../pause.c"
  gcc -static -Os -o "$1/pause" "$1/../pause.c"
}

toolbox_rootfs() {
  mkdir -p "$1/bin" "$1/tmp"
  cp /bin/busybox "$1/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$1/bin/$applet"
  done
}

# node_image REF ROOTFS_FN ENTRYPOINT USER: build (once) and import an image into containerd.
node_image() {
  local ref=$1 fn=$2 entrypoint=$3 user=$4
  local dir="$CACHE_DIR/images/${ref##*/}"
  dir=${dir//:/-}
  if [[ ! -f $dir/image.tar ]]; then
    rm -rf "$dir"; mkdir -p "$dir/rootfs"
    {
      "$fn" "$dir/rootfs" &&
        tar -C "$dir/rootfs" -c . | podman import --change "ENTRYPOINT $entrypoint" \
          --change "USER $user" - "$ref" &&
        podman save --format docker-archive -o "$dir/image.tar.part" "$ref" &&
        mv "$dir/image.tar.part" "$dir/image.tar"
    } >"$LOGS/image-${fn%_rootfs}.log" 2>&1 || fail_with_log "image-${fn%_rootfs}" "could not build $ref"
  fi
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$dir/image.tar" \
    >>"$LOGS/image-${fn%_rootfs}.log" 2>&1 || fail_with_log "image-${fn%_rootfs}" "could not import $ref"
}

# Each cgroup v1 hierarchy gets the node's root cgroup, so that two stacks' kubelets never
# share /kubepods. cpuset needs its cpus and mems before any task can join.
make_cgroup_root() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ $c == */unified/ ]] && continue
    mkdir -p "$c${CGROUP_ROOT#/}"
  done
  local cs=/sys/fs/cgroup/cpuset
  if [[ -d $cs ]]; then
    cat "$cs/cpuset.cpus" >"$cs${CGROUP_ROOT}/cpuset.cpus"
    cat "$cs/cpuset.mems" >"$cs${CGROUP_ROOT}/cpuset.mems"
  fi
}

remove_cgroup_root() {
  local c
  for c in /sys/fs/cgroup/*/; do
    [[ -d $c${CGROUP_ROOT#/} ]] || continue
    find "$c${CGROUP_ROOT#/}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

start_kubelet() {
  # The kubelet binds sockets below its root (pod-resources/<10 digits> is the longest), and a
  # socket's path may hold 107 bytes: refuse a stack folder too deep for that, naming it.
  local longest="$KUBELET_DIR/root/pod-resources/0123456789"
  ((${#longest} <= 107)) ||
    die "the stack folder $STACK is too deep for the kubelet's sockets (${#longest} > 107 bytes in $longest): use a shorter SENSORPIPE_STACK_DIR or checkout path"
  mkdir -p "$KUBELET_DIR"
  node_kubeconfig kubelet-client
  make_cgroup_root
  : >"$KUBELET_DIR/resolv.conf"
  # cAdvisor sees no disk in this VM, so eviction and image GC must not act on its figures.
  cat >"$KUBELET_DIR/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$NODE_PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$NODE_PKI/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$CONTAINERD_SOCK"
cgroupDriver: cgroupfs
cgroupRoot: "$CGROUP_ROOT"
failSwapOn: false
failCgroupV1: false
enforceNodeAllocatable: []
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: "$KUBELET_DIR/resolv.conf"
podCIDR: "$POD_CIDR"
serializeImagePulls: false
maxPods: 110
rotateCertificates: false
registerNode: true
EOF
  # Tainted, so that only pods that ask for the real node run there (a toleration of
  # sensorpipe.dev/node=real); the rest keep landing on kwok's fake node as before.
  launch kubelet nsenter --net="/var/run/netns/$NETNS" "$K8S_BIN/kubelet" \
    --config "$KUBELET_DIR/config.yaml" --kubeconfig "$NODE_PKI/kubelet-client.kubeconfig" \
    --root-dir "$KUBELET_DIR/root" --cert-dir "$KUBELET_DIR/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "sensorpipe.dev/edge=true,sensorpipe.dev/node=real" \
    --register-with-taints "sensorpipe.dev/node=real:NoSchedule" --v=1
  wait_for kubelet 120 bash -c "[[ \$('$K8S_BIN/kubectl' --kubeconfig '$KUBECONFIG_FILE' get node $NODE_NAME -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
  # The node lifecycle controller is off (kwok's fake node would be evicted by it), so the
  # not-ready taint the API server puts on a new Node is lifted here once the node is Ready.
  kubectl_ taint node "$NODE_NAME" node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  # The node IPAM controller is off as well: record the CNI's pod range on the Node (it can
  # be set once), so that what the Node says is what its pods get.
  if [[ -z $(kubectl_ get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}') ]]; then
    kubectl_ patch node "$NODE_NAME" --type merge \
      -p "{\"spec\":{\"podCIDR\":\"$POD_CIDR\",\"podCIDRs\":[\"$POD_CIDR\"]}}" >/dev/null
  fi
}

start_kube_proxy() {
  node_kubeconfig kube-proxy
  cat >"$KUBELET_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$NODE_PKI/kube-proxy.kubeconfig"}
mode: iptables
clusterCIDR: "$POD_CIDR"
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0}
EOF
  launch kube-proxy nsenter --net="/var/run/netns/$NETNS" "$K8S_BIN/kube-proxy" \
    --config "$KUBELET_DIR/kube-proxy.yaml" --v=1
  wait_for kube-proxy 60 in_node curl -fsS http://127.0.0.1:10256/healthz
}

# What the kubelet and containerd leave when they stop: the containers' processes and
# shims (found by the pid files containerd keeps in this stack's state directory), mounts
# under this stack's directory (pod volumes, rootfs overlays, pod network namespaces) and
# the node's cgroups. Called once containerd has stopped.
stop_node_leftovers() {
  local f pid pids=()
  shopt -s nullglob
  for f in "$CONTAINERD_DIR"/state/io.containerd.runtime.v2.task/*/*/init.pid \
           "$CONTAINERD_DIR"/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null && pids+=("$pid")
  done
  # A shim containerd started but had not recorded yet (a sandbox in the making when the
  # kubelet stopped) is found by the socket it was given: this stack's, no other.
  local proc args
  for proc in /proc/[0-9]*; do
    args=$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null) || continue
    [[ $args == *" -address $CONTAINERD_SOCK "* ]] || continue
    pid=${proc#/proc/}
    kill -KILL "$pid" 2>/dev/null && pids+=("$pid")
  done
  shopt -u nullglob
  local deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  done
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | grep -F "$STACK/" | sort -r)
  remove_cgroup_root
}
