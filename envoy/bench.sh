#!/usr/bin/env bash
# Throughput through real Envoy, side by side in one run: no auth filter versus the verifier filter.
# One Envoy worker with a direct response behind it, wrk on the other core, alternating A/B rounds,
# medians. Run by `make bench`, which builds the binaries first and passes their paths in:
#   ENVOY_BIN ISSUER_BIN FILTER_WASM   (ROUNDS, DURATION, CONNECTIONS may be overridden)
set -euo pipefail
: "${ENVOY_BIN:?}" "${ISSUER_BIN:?}" "${FILTER_WASM:?}"
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-16}
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "bench: $1 never answered" >&2; exit 1; }

# A real issuer and a real token: the filter fetches the JWKS from it like in production.
issuer_port=$(free_port)
db="sqlite://$work/issuer.db"
"$ISSUER_BIN" serve --database-url "$db" --public-addr "127.0.0.1:$issuer_port" --admin-addr 127.0.0.1:0 \
  >"$work/issuer.out" 2>"$work/issuer.log" &
pids+=($!)
wait_http "http://127.0.0.1:$issuer_port/ready"
secret=$("$ISSUER_BIN" client create svc.bench --scope "instruments:read" --database-url "$db" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
token=$(curl -sf -u "svc.bench:$secret" -d grant_type=client_credentials "http://127.0.0.1:$issuer_port/oauth/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# $1 = with filter (yes/no), $2 = listener port, $3 = admin port
envoy_yaml() {
  local filter=""
  if [ "$1" = yes ]; then
    local config
    config=$(python3 -c 'import json,sys; print(json.dumps(json.dumps({
      "providers": {"local": {"issuer": "http://127.0.0.1:'"$issuer_port"'", "audiences": ["quantjourney"],
        "remote_jwks": {"cluster": "issuer", "path": "/.well-known/jwks.json"}}},
      "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "local", "scopes": ["instruments:read"]}}]})))')
    filter="
          - name: envoy.filters.http.wasm
            typed_config:
              '@type': type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: verifier
                fail_open: false
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: $FILTER_WASM}}}
                configuration: {'@type': type.googleapis.com/google.protobuf.StringValue, value: $config}"
  fi
  cat <<YAML
admin: {address: {socket_address: {address: 127.0.0.1, port_value: $3}}}
static_resources:
  listeners:
  - address: {socket_address: {address: 127.0.0.1, port_value: $2}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: ok}}}]}
          http_filters:$filter
          - name: envoy.filters.http.router
            typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: issuer
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: issuer
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $issuer_port}}}}]}]
YAML
}

# Prints requests/s for one configuration.
run_one() {
  local port admin pid rps
  port=$(free_port); admin=$(free_port)
  envoy_yaml "$1" "$port" "$admin" >"$work/envoy-$1.yaml"
  taskset -c 0 "$ENVOY_BIN" -c "$work/envoy-$1.yaml" --concurrency 1 --disable-hot-restart -l warn \
    >"$work/envoy-$1.log" 2>&1 &
  pid=$!
  wait_http "http://127.0.0.1:$admin/ready"
  # Warm up, and prove the configuration answers 200 with this token before measuring it.
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/instruments")
  [ "$code" = 200 ] || { echo "bench: $1 answered $code" >&2; cat "$work/envoy-$1.log" >&2; exit 1; }
  rps=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" -H "authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/instruments" | awk '/Requests\/sec/ {print $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rps"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

none=(); ours=()
for round in $(seq "$ROUNDS"); do
  none+=("$(run_one no)")
  ours+=("$(run_one yes)")
  echo "round $round: no filter ${none[-1]} req/s, verifier ${ours[-1]} req/s" >&2
done
m_none=$(median "${none[@]}"); m_ours=$(median "${ours[@]}")
printf '\n%-48s %12s\n' "configuration (1 worker, direct response, wrk -c$CONNECTIONS)" "req/s (median)"
printf '%-48s %12.0f\n' "no auth filter" "$m_none"
printf '%-48s %12.0f\n' "verifier filter, ES256, same token every request" "$m_ours"
printf '\nratio verifier / no filter: %.3f   (%s rounds of %ss; wasm %s bytes)\n' \
  "$(python3 -c "print($m_ours/$m_none)")" "$ROUNDS" "$SECONDS_PER_RUN" "$(stat -c %s "$FILTER_WASM")"
