#!/usr/bin/env bash
# Throughput through real Envoy, side by side in one run: no auth filter, a no-op wasm filter, the
# verifier filter and Envoy's native jwt_authn (without and with its cache, and with RBAC for scopes),
# warm and cold, over the same keys and tokens. Run by `make bench`, which builds what it needs and
# passes the paths in:
#
#   ENVOY_BIN FILTER_WASM NOOP_WASM TOKENS_BIN
#
# and may be overridden:
#
#   ROUNDS (3)  DURATION (5, seconds per measured run)  WARMUP (1, seconds before each)
#   CONNECTIONS (16)  BASELINE_WASM (another build of the filter, e.g. the last release: each of ours'
#   configurations also runs with it, next to ours, and the report adds this build / baseline)
#   COLD_TOKENS (tokens per algorithm for the cold runs: 30,000 per second of
#   DURATION, at least 100,000; native jwt_authn verified about 15,000 EdDSA tokens a second here)
#
# Method. Every run starts a fresh Envoy (`--concurrency 1`, pinned to core 0, a direct response
# behind the filters, so no upstream) and drives it with `wrk -t1` pinned to core 1. Before a
# configuration is measured it must answer as it should (200 for valid ES256 and EdDSA tokens; where
# there is an auth filter 401 for no token, garbage and tampered signatures; 403 for a token lacking
# the scope where a scope is required), and any non-2xx answer during a measured run fails the
# benchmark: a misconfiguration cannot pass for a fast number. Each round runs every configuration
# once, the pairs being compared next to each other; every other round runs them in reverse order.
# The table gives medians over the rounds and each round's value; the ratios are ratios of medians.
#
# Keys and tokens are minted offline by envoy/bench-tokens (a fresh ES256 and Ed25519 key, one JWKS
# holding both public keys, handed to both filters inline). Warm runs cycle over 64 tokens; cold runs
# use each token once (envoy/bench/tokens.lua counts, and a cold run that ran out of tokens fails;
# the verifier's own cache counters, when it has them, are shown for the measured runs: a cold run
# must have no hits).
set -euo pipefail
: "${ENVOY_BIN:?}" "${FILTER_WASM:?}" "${NOOP_WASM:?}" "${TOKENS_BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-16}
COLD_TOKENS=${COLD_TOKENS:-$((DURATION * 30000 > 100000 ? DURATION * 30000 : 100000))}
WARM_TOKENS=64
for tool in wrk curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps-bench)" >&2; exit 1; }
done
for file in "$ENVOY_BIN" "$FILTER_WASM" "$NOOP_WASM" "$TOKENS_BIN" ${BASELINE_WASM:+"$BASELINE_WASM"}; do
  [[ -f $file ]] || { echo "bench: $file is missing; run \`make bench\`" >&2; exit 1; }
done

work=$(mktemp -d)
envoy_pid=
cleanup() {
  if [[ -n $envoy_pid ]]; then kill "$envoy_pid" 2>/dev/null || true; wait "$envoy_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "bench: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }

## keys and tokens #########################################################################################

tokens=$work/tokens
say "minting $WARM_TOKENS warm and $COLD_TOKENS cold tokens per algorithm (ES256, EdDSA)"
"$TOKENS_BIN" "$tokens" "$WARM_TOKENS" "$COLD_TOKENS"
es256=$(head -1 "$tokens/es256-warm.txt")
eddsa=$(head -1 "$tokens/eddsa-warm.txt")
noscope=$(head -1 "$tokens/es256-noscope.txt")
# The same token with one signature character changed (in the middle: every bit there is significant).
tamper() { python3 -c 'import sys; t=sys.argv[1]; i=t.rindex(".")+20; print(t[:i] + ("B" if t[i]=="A" else "A") + t[i+1:])' "$1"; }
es256_bad=$(tamper "$es256")
eddsa_bad=$(tamper "$eddsa")

## configurations ##########################################################################################

# name -> label, Envoy variant (envoy/bench/envoy_config.py), checks, warm-up tokens, measured tokens, mode
names=()
declare -A label variant checks warmup_file measure_file mode wasm
add() {
  names+=("$1"); label[$1]=$2; variant[$1]=$3; checks[$1]=$4
  warmup_file[$1]=$tokens/$5.txt; measure_file[$1]=$tokens/$6.txt; mode[$1]=$7
  wasm[$1]=$FILTER_WASM
  # With a baseline build, the same configuration with it runs right after ours.
  if [[ -n ${BASELINE_WASM:-} && $1 == ours* ]]; then
    local base=base${1#ours}
    names+=("$base"); label[$base]="baseline${2#ours}"; variant[$base]=$3; checks[$base]=$4
    warmup_file[$base]=$tokens/$5.txt; measure_file[$base]=$tokens/$6.txt; mode[$base]=$7
    wasm[$base]=$BASELINE_WASM
  fi
}
add none          "no auth filter"                                  none         pass  es256-warm es256-warm cycle
add noop          "no-op wasm filter (returns Continue)"            noop         pass  es256-warm es256-warm cycle
add ours          "ours, warm (64 ES256 tokens reused)"             ours         auth  es256-warm es256-warm cycle
add native        "jwt_authn, no cache (same 64 tokens)"            native       auth  es256-warm es256-warm cycle
add native-cache  "jwt_authn, jwt_cache_config (same 64 tokens)"    native-cache auth  es256-warm es256-warm cycle
add ours-scope    "ours, scope rule (warm)"                         ours-scope   scope es256-warm es256-warm cycle
add native-rbac   "jwt_authn (cache, payload in metadata) + RBAC"   native-rbac  scope es256-warm es256-warm cycle
add ours-es256    "ours, cold ES256 (new token every request)"      ours         auth  es256-warm es256-cold once
add native-es256  "jwt_authn, cold ES256 (new token every request)" native       auth  es256-warm es256-cold once
add ours-eddsa    "ours, cold EdDSA (new token every request)"      ours         auth  eddsa-warm eddsa-cold once
add native-eddsa  "jwt_authn, cold EdDSA (new token every request)" native       auth  eddsa-warm eddsa-cold once

## one run #################################################################################################

declare -A rps mem_allocated mem_rss vm_count vm_gauge generated_max socket_errors cache_stats
wrapped=()

# $1 = expected status, $2 = what, rest = curl arguments
expect() {
  local want=$1 what=$2 got
  shift 2
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$port/api/v1/instruments") || got=000
  [[ $got == "$want" ]] || { cat "$work/envoy.log" >&2; fail "$name: $what answered $got, expected $want"; }
}

# $1 = duration, $2 = token file, $3 = mode; sets $out to wrk's output, checks it saw only 2xx.
drive() {
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$1s" -s "$here/bench/tokens.lua" \
    "http://127.0.0.1:$port/api/v1/instruments" -- "$2" "$3" 2>&1) || fail "$name: wrk failed: $out"
  local non2xx
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  [[ -z $non2xx ]] || { printf '%s\n' "$out" >&2; fail "$name: $non2xx responses were not 2xx"; }
}

# Prints the verifier's cache hit and miss counters ("0 0" when it has none). The filter adds its
# counts to Envoy's on a 100 ms timer, so wait for one first.
cache_counters() {
  sleep 0.3
  curl -sf "http://127.0.0.1:$1/stats?filter=^wasmcustom\.verifier\.cache\." |
    awk -F': ' '$1 ~ /hits$/ {h = $2} $1 ~ /misses$/ {m = $2} END {print h + 0, m + 0}'
}

run_one() {
  name=$1
  local admin r socket generated count h0 m0 h1 m1 stats
  port=$(free_port); admin=$(free_port)
  python3 "$here/bench/envoy_config.py" "${variant[$name]}" "$port" "$admin" "$tokens" "${wasm[$name]}" "$NOOP_WASM" \
    >"$work/envoy.json"
  taskset -c 0 "$ENVOY_BIN" -c "$work/envoy.json" --concurrency 1 --disable-hot-restart -l warn \
    >"$work/envoy.log" 2>&1 &
  envoy_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$admin/ready" >/dev/null || { cat "$work/envoy.log" >&2; fail "$name: Envoy never became ready"; }

  # Prove the configuration does what it claims before measuring it.
  expect 200 "a valid ES256 token" -H "authorization: Bearer $es256"
  expect 200 "a valid EdDSA token" -H "authorization: Bearer $eddsa"
  if [[ ${checks[$name]} != pass ]]; then
    expect 401 "no token"
    expect 401 "a garbage token" -H "authorization: Bearer not.a.token"
    expect 401 "a tampered ES256 token" -H "authorization: Bearer $es256_bad"
    expect 401 "a tampered EdDSA token" -H "authorization: Bearer $eddsa_bad"
  fi
  if [[ ${checks[$name]} == scope ]]; then
    expect 403 "a valid token without the scope" -H "authorization: Bearer $noscope"
  else
    expect 200 "a valid token without the scope" -H "authorization: Bearer $noscope"
  fi

  drive "$WARMUP" "${warmup_file[$name]}" cycle
  local before=
  [[ ${variant[$name]} != ours* ]] || before=$(cache_counters "$admin")
  drive "$DURATION" "${measure_file[$name]}" "${mode[$name]}"
  r=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  [[ -n $r ]] || { printf '%s\n' "$out" >&2; fail "$name: no Requests/sec in wrk's output"; }
  rps[$name]+="$r "
  socket=$(grep -o 'Socket errors:.*' <<<"$out" || true)
  [[ -z $socket ]] || { socket_errors[$name]+="${socket#Socket errors: }; "; say "$name: $socket"; }
  read -r generated count < <(sed -n 's/^bench-tokens: generated=\([0-9]*\) tokens=\([0-9]*\)$/\1 \2/p' <<<"$out") || true
  [[ -n $generated && -n $count ]] || fail "$name: tokens.lua reported nothing"
  if [[ ${mode[$name]} == once ]]; then
    if (( generated > ${generated_max[$name]:-0} )); then generated_max[$name]=$generated; fi
    if (( generated > count )); then
      wrapped+=("$name")
      say "$name: $generated requests over $count tokens: tokens were reused, this cold run is not cold (raise COLD_TOKENS)"
    fi
  fi

  # The verifier's own cache counters over the measured run, where it has them.
  if [[ -n $before ]]; then
    read -r h0 m0 <<<"$before"; read -r h1 m1 <<<"$(cache_counters "$admin")"
    cache_stats[$name]="hits $((h1 - h0)), misses $((m1 - m0))"
    if [[ ${mode[$name]} == once ]] && (( h1 > h0 )); then
      fail "$name: the verifier's cache had $((h1 - h0)) hits in a run where every token is new"
    fi
  fi
  # Memory after the warm run, for the configurations the memory report compares.
  if [[ $name == none || $name == noop || $name == ours ]]; then
    mem_allocated[$name]+="$(curl -sf "http://127.0.0.1:$admin/memory" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated"])') "
    mem_rss[$name]+="$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$envoy_pid/status") "
    stats=$(curl -sf "http://127.0.0.1:$admin/stats")
    vm_count[$name]=$(awk -F': ' '$1 == "wasm.envoy.wasm.runtime.v8.active" {print $2}' <<<"$stats")
    [[ $name != ours ]] || vm_gauge[$name]=$(grep -i 'vm_memory' <<<"$stats" | tr '\n' ' ' || true)
  fi

  kill "$envoy_pid"; wait "$envoy_pid" 2>/dev/null || true; envoy_pid=
  say "round $round/$ROUNDS  $(printf '%-50s %8s req/s' "${label[$name]}" "$r")"
}

## rounds ##################################################################################################

say "$("$ENVOY_BIN" --version | grep -o 'version: [^ ]*')"
say "${#names[@]} configurations x $ROUNDS rounds x (${WARMUP}s warm-up + ${DURATION}s), wrk -t1 -c$CONNECTIONS"
for round in $(seq "$ROUNDS"); do
  order=("${names[@]}")
  if (( round % 2 == 0 )); then
    order=(); for (( i = ${#names[@]} - 1; i >= 0; i-- )); do order+=("${names[i]}"); done
  fi
  for name in "${order[@]}"; do run_one "$name"; done
done

## report ##################################################################################################

declare -A med
for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # word splitting intended: one value per round
  med[$name]=$(median ${rps[$name]})
done

echo
echo "Envoy $("$ENVOY_BIN" --version | grep -o 'version: [^ ]*' | cut -d/ -f2), 1 worker pinned to core 0, direct response;"
echo "wrk -t1 -c$CONNECTIONS pinned to core 1; $ROUNDS rounds x ${DURATION}s (after ${WARMUP}s warm-up), alternating order"
echo
printf '%-50s %9s %8s   %s\n' "configuration" "req/s" "vs none" "each round (req/s)"
printf '%-50s %9s %8s   %s\n' "" "(median)" "" ""
for name in "${names[@]}"; do
  printf '%-50s %9.0f %8s   %s\n' "${label[$name]}" "${med[$name]}" "$(div "${med[$name]}" "${med[none]}")" "${rps[$name]}"
done

echo
echo "targets (ratios of medians; in brackets each round's ratio, the two run back to back)"
misses=0
target() {
  local text=$1 a=$2 b=$3 want=$4 value verdict per=() i ra rb
  value=$(div "${med[$a]}" "${med[$b]}")
  read -r -a ra <<<"${rps[$a]}"; read -r -a rb <<<"${rps[$b]}"
  for i in "${!ra[@]}"; do per+=("$(div "${ra[i]}" "${rb[i]}")"); done
  if awk -v v="$value" -v w="$want" 'BEGIN {exit !(v >= w)}'; then verdict=PASS; else verdict=MISS; misses=$((misses + 1)); fi
  printf '  %-58s %6s  >= %-4s %s  [%s]\n' "$text" "$value" "$want" "$verdict" "${per[*]}"
}
target "warm: ours / jwt_authn without cache"                 ours       native       2.0
target "warm: ours / no-op wasm filter"                       ours       noop         0.8
target "same work: ours + scope / jwt_authn (cache) + RBAC"   ours-scope native-rbac  1.0
target "cold ES256: ours / jwt_authn"                         ours-es256 native-es256 0.5
target "cold EdDSA: ours / jwt_authn"                         ours-eddsa native-eddsa 0.6
echo "  for reference: no-op / none $(div "${med[noop]}" "${med[none]}"), ours / jwt_authn with cache $(div "${med[ours]}" "${med[native-cache]}"), jwt_authn cache / no cache $(div "${med[native-cache]}" "${med[native]}")"
if [[ -n ${BASELINE_WASM:-} ]]; then
  echo
  echo "this build against the baseline ($BASELINE_WASM, $(stat -c %s "$BASELINE_WASM") bytes): ratio of medians [each round, back to back]"
  for name in ours ours-scope ours-es256 ours-eddsa; do
    base=base${name#ours}
    read -r -a ra <<<"${rps[$name]}"; read -r -a rb <<<"${rps[$base]}"
    per=(); for i in "${!ra[@]}"; do per+=("$(div "${ra[i]}" "${rb[i]}")"); done
    printf '  %-58s %6s  [%s]\n' "${label[$name]} / baseline" "$(div "${med[$name]}" "${med[$base]}")" "${per[*]}"
  done
fi

echo
echo "cold runs: most requests generated in one run against tokens available (each token used at most once)"
for name in ours-es256 native-es256 ours-eddsa native-eddsa; do
  printf '  %-50s %8s of %s\n' "${label[$name]}" "${generated_max[$name]}" "$COLD_TOKENS"
done
for name in ours ours-scope ours-es256 ours-eddsa; do
  if [[ -n ${cache_stats[$name]:-} ]]; then
    printf '  %-50s %s\n' "verifier's token cache, ${label[$name]%% (*}" "${cache_stats[$name]} (measured run, last round)"
  fi
done

echo
# shellcheck disable=SC2086
{
  a_none=$(median ${mem_allocated[none]}); a_noop=$(median ${mem_allocated[noop]}); a_ours=$(median ${mem_allocated[ours]})
  r_none=$(median ${mem_rss[none]}); r_noop=$(median ${mem_rss[noop]}); r_ours=$(median ${mem_rss[ours]})
}
vms=${vm_count[ours]:-0}
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
per_vm() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f MiB", (n > 0 ? (a - b) / n : 0) / 1048576}'; }
echo "memory (after the warm run, median over rounds)"
echo "  wasm file: ours $(stat -c %s "$FILTER_WASM") bytes, no-op $(stat -c %s "$NOOP_WASM") bytes"
echo "  wasm VMs: $vms with ours, ${vm_count[noop]:-?} with the no-op filter (Envoy's gauge wasm.envoy.wasm.runtime.v8.active)"
printf '  %-36s %16s %16s\n' "" "admin allocated" "process RSS"
printf '  %-36s %16s %16s\n' "no auth filter" "$(mib "$a_none")" "$(mib "$r_none")"
printf '  %-36s %16s %16s\n' "no-op wasm filter" "$(mib "$a_noop")" "$(mib "$r_noop")"
printf '  %-36s %16s %16s\n' "ours, warm" "$(mib "$a_ours")" "$(mib "$r_ours")"
printf '  %-36s %16s %16s\n' "per VM: (ours - no filter) / $vms" "$(per_vm "$a_ours" "$a_none" "$vms")" "$(per_vm "$r_ours" "$r_none" "$vms")"
printf '  %-36s %16s %16s\n' "per VM: (ours - no-op) / $vms" "$(per_vm "$a_ours" "$a_noop" "$vms")" "$(per_vm "$r_ours" "$r_noop" "$vms")"
echo "  (allocated is Envoy's tcmalloc heap: V8's heaps and wasm linear memory are mapped outside it; RSS counts them)"
if [[ -n ${vm_gauge[ours]:-} ]]; then
  echo "  filter gauge: ${vm_gauge[ours]}"
fi

echo
echo "reproduce: make bench   (here ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS COLD_TOKENS=$COLD_TOKENS;"
echo "           any of them may be set in the environment, e.g. ROUNDS=5 DURATION=10 make bench)"
if [[ -n ${socket_errors[*]:-} ]]; then
  echo
  echo "note: wrk reported socket errors:"
  for name in "${!socket_errors[@]}"; do echo "  ${label[$name]}: ${socket_errors[$name]}"; done
fi
echo "$misses of 5 targets missed (a measurement: make bench fails only when a configuration misbehaves)"
if (( ${#wrapped[@]} )); then
  fail "cold runs ran out of tokens and reused them (${wrapped[*]}); raise COLD_TOKENS"
fi
