#!/usr/bin/env bash
# `make test`: every tier, the failed one named. Tier 2 (the Worker in one local workerd,
# over HTTP) takes most of the time, with about one core busy and much of it waiting on
# timers. Tier 1 (the host tests) and the compile of tier 3's wasm-bindgen tests need no
# Worker, so they run beside it, at the lowest CPU priority so they take only what tier 2
# leaves; their output is kept and printed after tier 2's. Whichever of the two fails first
# stops the other. Tiers 3, 4 and 5 then run one after another.
set -uo pipefail
cd "$(dirname "$0")/.."
make_=("${MAKE:-make}" --no-print-directory)

fail() {
  echo "FAILED tier: $1"
  exit 1
}

# Both are built before tier 2 starts, so nothing that runs beside it (nor wrangler's build
# command, which `make dev` and dev.test run) builds them at the same time.
"${make_[@]}" build || fail "http (the Worker's and the client's build)"

beside=$(mktemp)
groups=()
stop() {
  for group in "${groups[@]}"; do kill -TERM -- "-$group" 2>/dev/null; done
  rm -f "$beside"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "== tier 1 (host tests) and the compile of tier 3's wasm tests run beside tier 2; their output follows it"
# Each in a process group of its own (setsid), so stopping one stops everything it started.
setsid nice -n 19 bash -c '"$@" test-host || exit 1; "$@" wasm-tests || exit 2' beside "${make_[@]}" \
  >"$beside" 2>&1 &
host=$!
setsid "${make_[@]}" test-http &
http=$!
groups=("$host" "$http")

wait -n -p first "$host" "$http"
status=$?
if [ "$first" = "$host" ]; then
  host_status=$status
  if [ "$host_status" -ne 0 ]; then
    kill -TERM -- "-$http" 2>/dev/null
    echo "# tier 2 stopped: a tier that ran beside it failed"
  else
    wait "$http"
    http_status=$?
  fi
else
  http_status=$status
  [ "$http_status" -eq 0 ] || fail "http (Worker in local workerd)"
  wait "$host"
  host_status=$?
fi
groups=()
cat "$beside"
case "$host_status" in
  0) ;;
  2) fail "browser (the compile of the client's wasm-bindgen tests)" ;;
  *) fail "host (cargo test)" ;;
esac
[ "$http_status" -eq 0 ] || fail "http (Worker in local workerd)"

"${make_[@]}" test-browser || fail "browser (client in headless Chromium)"
"${make_[@]}" test-api || fail "api (schemathesis against the Worker)"
"${make_[@]}" test-load || fail "load (64 concurrent uploads)"
echo "all test tiers passed"
