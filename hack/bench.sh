#!/usr/bin/env bash
# Runs every benchmark of the project against the real local services and writes
# .cache/bench/results.json and .cache/bench/results.md (see tests/bench/results.py).
# Each benchmark is a module tests/bench/bench_<part>.py, run in its own process.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT_DIR"
started_stack=0
if ! bash "$HACK_DIR/stack.sh" status >/dev/null; then
  bash "$HACK_DIR/stack.sh" up
  started_stack=1
fi
cleanup() { ((started_stack)) && bash "$HACK_DIR/stack.sh" down; }
trap cleanup EXIT
eval "$(bash "$HACK_DIR/stack.sh" env)"
failed=()
shopt -s nullglob
for bench in tests/bench/bench_*.py; do
  mod=$(basename "$bench" .py)
  log "benchmark $mod"
  if ! .venv/bin/python -m "tests.bench.$mod"; then
    failed+=("$mod")
  fi
done
echo
cat .cache/bench/results.md 2>/dev/null || log "no results were recorded"
((${#failed[@]} == 0)) || die "benchmarks failed: ${failed[*]}"
