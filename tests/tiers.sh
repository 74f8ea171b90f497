#!/usr/bin/env bash
# `make test`: every tier, the failed one named. The machines have two cores and tier 2 (the
# Worker in local workerd, over HTTP) takes most of the time, much of it waiting on timers,
# so tiers run side by side where they need nothing of each other:
# 1. the build of the Worker and the client (so nothing that runs later, wrangler's build
#    command in dev.test included, builds them at the same time);
# 2. tier 2, two test files at once, beside tier 1 (the host tests) and the compile of tier
#    3's wasm-bindgen tests, which run at the lowest CPU priority and take what tier 2 leaves;
# 3. tiers 3 and 4 side by side (each starts its own Worker);
# 4. tier 5 (load) alone.
# The first lane of each step prints as it goes; the others' output is kept and printed after
# it, in order (or when the run is stopped). The first failure stops the rest of its step and
# names its tier. A lane still running after LANE_LIMIT_S seconds (default 40 minutes; the
# slowest takes about 8) is stopped and fails, its tier named: a tier with no bound of its own
# (cargo test, schemathesis) cannot hold the run until CI's limit without a word.
set -uo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}

declare -A TIER=(
  [build]="http (the Worker's and the client's build, before tier 2)"
  [test-host]="host (cargo test)"
  [test-http]="http (Worker in local workerd)"
  [wasm-tests]="browser (the compile of the client's wasm-bindgen tests)"
  [test-browser]="browser (client in headless Chromium)"
  [test-api]="api (schemathesis against the Worker)"
  [test-load]="load (64 concurrent uploads)"
)

export LANE_LIMIT_S=${LANE_LIMIT_S:-2400}
# One lane: its make targets one after another, the one running written to "$1" (emptied when
# all passed); a watchdog stops the lane's whole process group at its time limit.
# (The watchdog's sleep holds no output open and ends with it.)
LANE='( trap "kill \$s 2>/dev/null; exit 0" TERM; sleep "$LANE_LIMIT_S" </dev/null >/dev/null 2>&1 & s=$!; wait $s
  echo "== stopped: ${*:3} still running after $LANE_LIMIT_S s" >&2; kill -TERM 0 ) &
watchdog=$!
for target in "${@:3}"; do echo "$target" >"$1"; "$2" --no-print-directory "$target" || exit 1; done
: >"$1"; kill "$watchdog" 2>/dev/null; exit 0'

groups=()
temps=()
held=()    # the kept output of the running step's lanes but the first
running=() # each running lane's file naming its target now
stop() {
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null; done
  groups=()
}
# Stopped from outside (CI's limit, Ctrl-C): the kept output is printed before it goes, and
# the tiers that were still running are named.
interrupted() {
  stop
  local out target
  for out in "${held[@]}"; do cat "$out"; done
  held=()
  for out in "${running[@]}"; do
    target=$(cat "$out" 2>/dev/null)
    [ -z "$target" ] || echo "STOPPED tier: ${TIER[$target]:-$target} (still running)"
  done
  exit 130
}
trap 'stop; rm -f "${temps[@]}"' EXIT
trap interrupted INT TERM

# Runs its lanes ("NICENESS TARGET...") at once, each in a process group of its own (setsid),
# so stopping a lane stops all it started. Returns once all passed; at the first failure, stops
# the others and exits naming the failed target's tier.
together() {
  local specs=("$@") pids=() outs=() fails=() spec i
  held=()
  for spec in "$@"; do
    local out fail
    out=$(mktemp)
    fail=$(mktemp)
    temps+=("$out" "$fail")
    outs+=("$out")
    fails+=("$fail")
    # shellcheck disable=SC2086 # the targets are words
    if [ ${#pids[@]} -eq 0 ]; then
      setsid nice -n "${spec%% *}" bash -c "$LANE" lane "$fail" "$make" ${spec#* } &
    else
      setsid nice -n "${spec%% *}" bash -c "$LANE" lane "$fail" "$make" ${spec#* } >"$out" 2>&1 &
      held+=("$out")
    fi
    pids+=($!)
  done
  groups=("${pids[@]}")
  running=("${fails[@]}")
  local left=("${pids[@]}") ended status
  while [ ${#left[@]} -gt 0 ]; do
    wait -n -p ended "${left[@]}"
    status=$?
    for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$ended" ] && break; done
    local rest=() pid
    for pid in "${left[@]}"; do [ "$pid" = "$ended" ] || rest+=("$pid"); done
    left=("${rest[@]}")
    if [ "$status" -ne 0 ]; then
      stop
      held=()
      [ "$i" -eq 0 ] || cat "${outs[$i]}"
      local target
      target=$(cat "${fails[$i]}")
      [ -n "$target" ] || target=${specs[$i]#* }
      echo "FAILED tier: ${TIER[$target]:-$target}"
      exit 1
    fi
  done
  groups=()
  held=()
  running=()
  for i in "${!pids[@]}"; do [ "$i" -eq 0 ] || cat "${outs[$i]}"; done
}

together "0 build"
echo "== tier 1 (host tests) and the compile of tier 3's wasm tests run beside tier 2; their output follows it"
together "0 test-http" "19 test-host wasm-tests"
echo "== tier 4 runs beside tier 3; its output follows it"
together "0 test-browser" "0 test-api"
together "0 test-load"
echo "all test tiers passed"
