#!/usr/bin/env bash
# Builds the Kubernetes control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl) and the real node's kubelet and kube-proxy, etcd, kwok and helm from the Go module proxy into
# .cache/bin/<tool>-<version>/, and the project's own device plugin (hack/deviceplugin) into
# .cache/bin/deviceplugin-<source hash>/. Idempotent: a binary that exists is kept.
# Kubernetes' own go.mod points its staging modules at local folders, so it is
# built through a small wrapper module that replaces each with its published tag.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Concurrent callers (make targets, developers) wait for one another instead of building twice.
exec 8>"$CACHE_DIR/.build-go-tools.lock"
flock 8

BIN_ROOT="$CACHE_DIR/bin"
SRC_ROOT="$CACHE_DIR/src"
mkdir -p "$BIN_ROOT" "$SRC_ROOT"
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0

build_kubernetes() {
  local out="$BIN_ROOT/kubernetes-$KUBERNETES_VERSION"
  local want=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  local all=1
  for b in "${want[@]}"; do [[ -x $out/$b ]] || all=0; done
  ((all)) && return 0
  local mod="$SRC_ROOT/kubernetes-$KUBERNETES_VERSION"
  mkdir -p "$mod" "$out"
  step k8s-gomod-download go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION"
  local gomod
  gomod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod"
  [[ -f $gomod ]] || die "k8s.io/kubernetes $KUBERNETES_VERSION go.mod not found at $gomod"
  local staging
  staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging/ {print $1}' "$gomod")
  [[ -n $staging ]] || die "no staging replaces found in $gomod"
  {
    echo "module sensorpipe.dev/k8sbuild"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    for s in $staging; do echo "replace $s => $s $KUBERNETES_STAGING_VERSION"; done
  } >"$mod/go.mod"
  cat >"$mod/tools.go" <<'GO'
//go:build tools

// Package k8sbuild only pins the commands built from k8s.io/kubernetes.
package k8sbuild

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
  local major minor
  major=$(echo "$KUBERNETES_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$KUBERNETES_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  (cd "$mod" && step k8s-mod-tidy go mod tidy -e)
  (cd "$mod" && step k8s-build go build -v -trimpath -ldflags "$ldflags" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
}

build_etcd() {
  local out="$BIN_ROOT/etcd-$ETCD_VERSION"
  [[ -x $out/etcd ]] && return 0
  local mod="$SRC_ROOT/etcd-$ETCD_VERSION"
  mkdir -p "$mod" "$out"
  cat >"$mod/go.mod" <<GOMOD
module sensorpipe.dev/etcdbuild

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$mod/main.go" <<'GO'
// Command etcd runs etcd's own entry point, built from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$mod" && step etcd-mod-tidy go mod tidy && step etcd-build go build -v -trimpath -ldflags "-s -w" -o "$out/etcd" .)
}

build_go_install() {  # name module version
  local name=$1 module=$2 version=$3
  local out="$BIN_ROOT/$name-$version"
  [[ -x $out/$name ]] && return 0
  mkdir -p "$out"
  step "$name-build" env GOBIN="$out" go install -v -trimpath -ldflags "-s -w" "$module@$version"
}

build_helm() {
  local out="$BIN_ROOT/helm-$HELM_VERSION"
  [[ -x $out/helm ]] && return 0
  mkdir -p "$out"
  # helm prints its version from these variables; without them `helm version` says v3.x-dev.
  step helm-build env GOBIN="$out" go install -v -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

# The project's serial device plugin (hack/deviceplugin), keyed by its sources so that an edit
# rebuilds. Prints the binary's path, for the tests that start it.
DEVICEPLUGIN_SRC="$HACK_DIR/deviceplugin"
deviceplugin_bin() {
  local hash
  hash=$(cat "$DEVICEPLUGIN_SRC"/go.mod "$DEVICEPLUGIN_SRC"/go.sum "$DEVICEPLUGIN_SRC"/*.go | sha256sum | cut -c1-12)
  echo "$BIN_ROOT/deviceplugin-$hash/sensorpipe-device-plugin"
}

build_deviceplugin() {
  local bin
  bin=$(deviceplugin_bin)
  if [[ ! -x $bin ]]; then
    mkdir -p "$(dirname "$bin")"
    # vetted and its tests run once per source hash, before the binary exists
    (cd "$DEVICEPLUGIN_SRC" && step deviceplugin-check bash -c 'go vet ./... && go test ./...' &&
      step deviceplugin-build go build -trimpath -ldflags "-s -w" -o "$bin.part" . &&
      mv "$bin.part" "$bin")
  fi
  echo "$bin"
}

which=${1:-all}
case $which in
  kubernetes) build_kubernetes ;;
  etcd) build_etcd ;;
  kwok) build_go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" ;;
  helm) build_helm ;;
  deviceplugin) build_deviceplugin ;;
  all)
    build_etcd
    build_go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
    build_helm
    build_kubernetes
    build_deviceplugin >/dev/null
    ;;
  *) die "unknown tool '$which' (kubernetes, etcd, kwok, helm, deviceplugin, all)" ;;
esac
log "go tools ready: $which"
