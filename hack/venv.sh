#!/usr/bin/env bash
# Creates .venv and installs the contract package and the four components in editable mode
# with their test extras plus the lint and type tools. Re-runs only when a pyproject changes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VENV="$ROOT_DIR/.venv"
# Several make targets (and several developers) may run this at once: one at a time.
exec 9>"$CACHE_DIR/.venv.lock"
flock 9
STAMP="$VENV/.sensorpipe-stamp"
# edge's C extension is compiled by the install: its source counts like a pyproject.
want=$(cat "$ROOT_DIR"/contract/pyproject.toml "$ROOT_DIR"/operator/pyproject.toml \
  "$ROOT_DIR"/edge/pyproject.toml "$ROOT_DIR"/edge/setup.py \
  "$ROOT_DIR"/edge/sensorpipe_edge/_fastpath.c "$ROOT_DIR"/spark_apps/pyproject.toml \
  "$ROOT_DIR"/local/pyproject.toml "$HACK_DIR/requirements-dev.txt" | sha256sum | cut -c1-16)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]]; then exit 0; fi
[[ -x $VENV/bin/python ]] || step venv-create python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import pathlib, sys, sysconfig
sys.exit(not (pathlib.Path(sysconfig.get_paths()["include"]) / "Python.h").exists())' ||
  die "Python.h missing for $VENV/bin/python: edge's C extension needs the interpreter's headers (python3-dev)"
step venv-pip "$VENV/bin/python" -m pip install -q --upgrade pip==25.2
step venv-install "$VENV/bin/python" -m pip install -q \
  -e "$ROOT_DIR/contract" -e "$ROOT_DIR/operator[test]" -e "$ROOT_DIR/edge[test]" \
  -e "$ROOT_DIR/spark_apps[test]" -e "$ROOT_DIR/local[pipeline,test]" \
  -r "$HACK_DIR/requirements-dev.txt"
echo "$want" >"$STAMP"
log "virtual environment ready: $VENV"
