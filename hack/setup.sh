#!/usr/bin/env bash
# Installs and builds everything the local services, the tests and the demo need, once:
# Debian packages, the virtual environment, the Go-built control plane and helm, the
# Maven-fetched jars and the firmware. Quick when .cache/ is warm.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start=$SECONDS
apt_install postgresql mosquitto mosquitto-clients openssl curl \
  gcc-avr avr-libc arduino-core-avr libsimavr-dev simavr libelf-dev pkg-config
bash "$HACK_DIR/venv.sh"
bash "$HACK_DIR/build-go-tools.sh" all
bash "$HACK_DIR/fetch-jars.sh"
if [[ -f $ROOT_DIR/firmware/Makefile ]]; then
  step firmware make -C "$ROOT_DIR/firmware"
fi
log "setup complete in $((SECONDS - start))s"
