#!/usr/bin/env bash
# Installs and builds everything the local services, the tests and the demo need, once:
# Debian packages, the virtual environment, the Go-built control plane, kubelet and helm,
# the Maven-fetched jars, the images and the firmware. Quick when .cache/ is warm.
# The downloads (pip, Maven) run beside the CPU-bound Go builds, which keeps a cold run short.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start=$SECONDS
progress_plan packages venv jars go-tools firmware
step packages apt_install graphviz postgresql mosquitto mosquitto-clients openssl curl \
  gcc-avr avr-libc arduino-core-avr libsimavr-dev simavr libelf-dev pkg-config \
  chromium chromium-driver \
  containerd runc containernetworking-plugins podman debootstrap iptables conntrack busybox-static

step venv bash "$HACK_DIR/venv.sh" & venv_pid=$!
step jars bash "$HACK_DIR/fetch-jars.sh" & jars_pid=$!
go_rc=0; venv_rc=0; jars_rc=0
(step go-tools bash "$HACK_DIR/build-go-tools.sh" all) || go_rc=$?
wait "$venv_pid" || venv_rc=$?
wait "$jars_pid" || jars_rc=$?
((go_rc == 0)) || die "building the Go tools failed (see above)"
((venv_rc == 0)) || die "creating the virtual environment failed (see above)"
((jars_rc == 0)) || die "fetching the jars failed (see above)"

# The operator, gateway and Spark images (podman, from a Debian base made here): after the
# venv and the jars, which the Spark image carries. Reused by tag when nothing changed.
bash "$HACK_DIR/images.sh" build

if [[ -f $ROOT_DIR/firmware/Makefile ]]; then
  step firmware make -C "$ROOT_DIR/firmware"
fi
progress_summary
log "setup complete in $((SECONDS - start))s"
