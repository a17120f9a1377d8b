#!/usr/bin/env bash
# Throughput through real Envoy, side by side in one run: no auth filter, a no-op wasm filter, the
# verifier filter and Envoy's native jwt_authn (without and with its cache, and with RBAC for scopes),
# warm and cold, over the same keys and tokens. Run by `make bench`, which builds what it needs and
# passes the paths in:
#
#   ENVOY_BIN FILTER_WASM NOOP_WASM TOKENS_BIN
#
# and, when given, also runs (neither is compared with a target):
#
#   PROFILE_WASM   the filter built with `--features profile`: a warm run that reports where a cache
#                  hit's time goes (host calls by kind and count, our own code, allocations)
#   LEAN_NOOP_WASM the no-op filter finished like ours (only the callbacks ours exports): the floor
#                  for a filter that must see request headers, beside the plain SDK no-op
#
# and may be overridden:
#
#   ROUNDS (7)  DURATION (2, seconds per measured run)  WARMUP (1, seconds before each)
#   CONNECTIONS (16)  BASELINE_WASM (another build of the filter, e.g. the last release: each of ours'
#   configurations also runs with it, next to ours, and the report adds this build / baseline and
#   the baseline's own targets)
#   COLD_TOKENS (tokens per algorithm for the cold runs: 30,000 per second of
#   DURATION, at least 100,000; native jwt_authn verified about 15,000 EdDSA tokens a second here)
#   ONLY (names of configurations to run, e.g. "noop ours profile", for a quick look; the targets
#   whose pair did not run are left out)
#   OTHER_MAX (10: percent of one core other processes may use during a measured run), STEAL_MAX
#   (5: percent of the time the hypervisor may give the cores to other guests) and RETRIES (2: how
#   often a run over either is taken again before it is kept, marked)
#
# Method. Every run starts a fresh Envoy (`--concurrency 1`, pinned to core 0, a direct response
# behind the filters, so no upstream) and drives it with `wrk -t1` pinned to core 1. Before a
# configuration is measured it must answer as it should (200 for valid ES256 and EdDSA tokens; where
# there is an auth filter 401 for no token, garbage and tampered signatures; 403 for a token lacking
# the scope where a scope is required), and any non-2xx answer during a measured run fails the
# benchmark: a misconfiguration cannot pass for a fast number. Each round runs every configuration
# once, the pairs being compared next to each other; every other round runs them in reverse order.
# The table gives medians over the rounds, the spread (max - min over the median) and each round's
# value; the ratios are ratios of medians, shown with each round's ratio of the pair run back to back.
#
# Load. A ratio measured while something else uses the two cores is compressed towards 1, so the
# machine is watched: before the bench, its load average and busiest processes are printed; during
# each measured run, the CPU time the whole machine spent (/proc/stat: user, nice, system) less what
# Envoy and wrk spent (their own /proc counters) is what other processes used, as a percentage of one
# core, with the hypervisor's steal time beside it (other guests on the same host: on a shared
# virtual machine, the biggest source of noise). A run where others used more than OTHER_MAX percent,
# or steal was above STEAL_MAX, is taken again (up to RETRIES times) and, if still busy, kept and
# marked `!`; the report
# ends with these load notes, and says whether the figures were taken on a quiet machine.
#
# Keys and tokens are minted offline by envoy/bench-tokens (a fresh ES256 and Ed25519 key, one JWKS
# holding both public keys, handed to both filters inline). Warm runs cycle over 64 tokens; cold runs
# use each token once (envoy/bench/tokens.lua counts, and a cold run that ran out of tokens fails;
# the verifier's own cache counters, when it has them, are shown for the measured runs: a cold run
# must have no hits).
set -euo pipefail
: "${ENVOY_BIN:?}" "${FILTER_WASM:?}" "${NOOP_WASM:?}" "${TOKENS_BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-16}
COLD_TOKENS=${COLD_TOKENS:-$((DURATION * 30000 > 100000 ? DURATION * 30000 : 100000))}
OTHER_MAX=${OTHER_MAX:-10}
STEAL_MAX=${STEAL_MAX:-5}
RETRIES=${RETRIES:-2}
WARM_TOKENS=64
for tool in wrk curl taskset python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps-bench)" >&2; exit 1; }
done
for file in "$ENVOY_BIN" "$FILTER_WASM" "$NOOP_WASM" "$TOKENS_BIN" ${BASELINE_WASM:+"$BASELINE_WASM"} \
  ${PROFILE_WASM:+"$PROFILE_WASM"} ${LEAN_NOOP_WASM:+"$LEAN_NOOP_WASM"}; do
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
declare -A label variant checks warmup_file measure_file mode wasm noop_wasm
add() {
  names+=("$1"); label[$1]=$2; variant[$1]=$3; checks[$1]=$4
  warmup_file[$1]=$tokens/$5.txt; measure_file[$1]=$tokens/$6.txt; mode[$1]=$7
  wasm[$1]=$FILTER_WASM; noop_wasm[$1]=$NOOP_WASM
  # With a baseline build, the same configuration with it runs right after ours.
  if [[ -n ${BASELINE_WASM:-} && $1 == ours* ]]; then
    local base=base${1#ours}
    names+=("$base"); label[$base]="baseline${2#ours}"; variant[$base]=$3; checks[$base]=$4
    warmup_file[$base]=$tokens/$5.txt; measure_file[$base]=$tokens/$6.txt; mode[$base]=$7
    wasm[$base]=$BASELINE_WASM; noop_wasm[$base]=$NOOP_WASM
  fi
}
add none          "no auth filter"                                  none         pass  es256-warm es256-warm cycle
add noop          "no-op wasm filter (returns Continue)"            noop         pass  es256-warm es256-warm cycle
if [[ -n ${LEAN_NOOP_WASM:-} ]]; then
  add lean-noop   "no-op, only the callbacks ours exports"          noop         pass  es256-warm es256-warm cycle
  noop_wasm[lean-noop]=$LEAN_NOOP_WASM
fi
add ours          "ours, warm (64 ES256 tokens reused)"             ours         auth  es256-warm es256-warm cycle
add native        "jwt_authn, no cache (same 64 tokens)"            native       auth  es256-warm es256-warm cycle
add native-cache  "jwt_authn, jwt_cache_config (same 64 tokens)"    native-cache auth  es256-warm es256-warm cycle
add ours-scope    "ours, scope rule (warm)"                         ours-scope   scope es256-warm es256-warm cycle
add native-rbac   "jwt_authn (cache) + 4 claim headers + RBAC"      native-rbac  scope es256-warm es256-warm cycle
add ours-es256    "ours, cold ES256 (new token every request)"      ours         auth  es256-warm es256-cold once
add native-es256  "jwt_authn, cold ES256 (new token every request)" native       auth  es256-warm es256-cold once
add ours-eddsa    "ours, cold EdDSA (new token every request)"      ours         auth  eddsa-warm eddsa-cold once
add native-eddsa  "jwt_authn, cold EdDSA (new token every request)" native       auth  eddsa-warm eddsa-cold once
# Delegation: the provider also accepts chains (max_depth 4); plain tokens against depth-2 ones.
add deleg-plain   "delegation on, warm, plain tokens (64 ES256)"    ours-delegation auth es256-warm     es256-warm     cycle
add deleg-warm    "delegation on, warm, depth-2 delegated (64)"     ours-delegation auth delegated-warm delegated-warm cycle
add deleg-cold    "delegation on, cold ES256, depth-2 delegated"    ours-delegation auth delegated-warm delegated-cold once
if [[ -n ${PROFILE_WASM:-} ]]; then
  add profile       "ours, warm, profiling build (not compared)"       ours auth es256-warm es256-warm cycle
  add profile-es256 "ours, cold ES256, profiling build (not compared)" ours auth es256-warm es256-cold once
  add profile-eddsa "ours, cold EdDSA, profiling build (not compared)" ours auth eddsa-warm eddsa-cold once
  wasm[profile]=$PROFILE_WASM; wasm[profile-es256]=$PROFILE_WASM; wasm[profile-eddsa]=$PROFILE_WASM
fi
if [[ -n ${ONLY:-} ]]; then
  kept=()
  for name in "${names[@]}"; do [[ " $ONLY " != *" $name "* ]] || kept+=("$name"); done
  names=("${kept[@]}")
  (( ${#names[@]} )) || fail "ONLY=$ONLY names no configuration"
fi
# Configurations that forward the caller's identity upstream, and so must echo the same one.
declare -A identity=([ours]=1 [ours-scope]=1 [native-rbac]=1 [base]=1 [base-scope]=1 [profile]=1 [profile-es256]=1 [profile-eddsa]=1)

## machine load ############################################################################################

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
# CPU ticks of the machine: busy (user + nice + system; interrupts are left out, since the
# benchmark's own loopback traffic is accounted there) and the hypervisor's steal.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4, $9}' /proc/stat; }
# utime + stime of process $1 (its threads included), and of this shell's reaped children (wrk).
process_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0; }
children_ticks() { sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}'; }

load_start() {
  read -r load_busy0 load_steal0 < <(machine_ticks)
  load_envoy0=$(process_ticks "$envoy_pid"); load_children0=$(children_ticks)
  load_t0=$(date +%s%N)
}
# Sets other_pct (what other processes used, % of one core) and steal_pct over the run.
load_end() {
  local busy steal envoy children seconds
  read -r busy steal < <(machine_ticks)
  envoy=$(process_ticks "$envoy_pid"); children=$(children_ticks)
  envoy_ticks=$((envoy - load_envoy0))
  seconds=$(awk -v a="$load_t0" -v b="$(date +%s%N)" 'BEGIN {print (b - a) / 1e9}')
  other_pct=$(awk -v b=$((busy - load_busy0)) -v e=$((envoy - load_envoy0)) -v c=$((children - load_children0)) \
    -v s="$seconds" -v hz="$HZ" 'BEGIN {o = (b - e - c) / (s * hz) * 100; printf "%.1f", (o < 0 ? 0 : o)}')
  steal_pct=$(awk -v t=$((steal - load_steal0)) -v s="$seconds" -v hz="$HZ" 'BEGIN {printf "%.1f", t / (s * hz) * 100}')
}
# A run is busy when other processes, or other guests of the hypervisor (steal), took more than
# their share of the cores while it was measured.
busy() { awk -v o="$1" -v m="$OTHER_MAX" -v s="$2" -v t="$STEAL_MAX" 'BEGIN {exit !(o > m || s > t)}'; }

# The processes that used the most CPU over one second, besides this benchmark.
busiest() {
  python3 - "$$" <<'EOF'
import os, sys, time
def sample():
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, _, rest = f.read().rpartition(")")
            fields = rest.split()
            out[pid] = (head.partition("(")[2], int(fields[11]) + int(fields[12]))
        except (OSError, ValueError, IndexError):
            pass
    return out
hz = os.sysconf("SC_CLK_TCK")
a = sample(); time.sleep(1); b = sample()
use = sorted(((b[p][1] - a[p][1]) * 100 / hz, b[p][0]) for p in b if p in a and p != sys.argv[1])
top = [f"{name} {pct:.0f}%" for pct, name in reversed(use[-4:]) if pct >= 1]
print(", ".join(top) if top else "none above 1% of a core")
EOF
}

## one run #################################################################################################

declare -A rps cpu mem_allocated mem_rss vm_count vm_gauge generated_max socket_errors cache_stats others steals profile_stats
wrapped=()
marked=()
retried=0

# $1 = expected status, $2 = what, rest = curl arguments
expect() {
  local want=$1 what=$2 got
  shift 2
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$port/api/v1/instruments") || got=000
  [[ $got == "$want" ]] || { cat "$work/envoy.log" >&2; fail "$name: $what answered $got, expected $want"; }
}

# The identity the auth filter forwarded upstream for token $1, as the echo route reports it.
echoed() {
  curl -s -D - -o /dev/null -H "authorization: Bearer $1" "http://127.0.0.1:$port/bench/echo" |
    tr -d '\r' | sed -n 's/^x-bench-identity: //Ip'
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

start_envoy() {
  port=$(free_port); admin=$(free_port)
  python3 "$here/bench/envoy_config.py" "${variant[$name]}" "$port" "$admin" "$tokens" "${wasm[$name]}" "${noop_wasm[$name]}" \
    >"$work/envoy.json"
  taskset -c 0 "$ENVOY_BIN" -c "$work/envoy.json" --concurrency "${concurrency:-1}" --disable-hot-restart -l warn \
    >"$work/envoy.log" 2>&1 &
  envoy_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/ready" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$admin/ready" >/dev/null || { cat "$work/envoy.log" >&2; fail "$name: Envoy never became ready"; }
}

stop_envoy() { kill "$envoy_pid"; wait "$envoy_pid" 2>/dev/null || true; envoy_pid=; }

# Proves the configuration does what it claims before it is measured.
check_config() {
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
  if [[ -n ${identity[$name]:-} ]]; then
    local got
    got=$(echoed "$es256")
    [[ $got == "$expected_identity" ]] || fail "$name: forwarded identity '$got', expected '$expected_identity'"
  fi
}

run_one() {
  name=$1
  local admin r socket generated count h0 m0 h1 m1 stats attempt before mark=
  for (( attempt = 0; ; attempt++ )); do
    start_envoy
    check_config
    drive "$WARMUP" "${warmup_file[$name]}" cycle
    before=
    [[ ${variant[$name]} != ours* ]] || before=$(cache_counters "$admin")
    [[ $name != profile* ]] || curl -sf "http://127.0.0.1:$admin/stats?filter=^wasmcustom\.verifier\.profile\." >"$work/profile0"
    load_start
    drive "$DURATION" "${measure_file[$name]}" "${mode[$name]}"
    load_end
    if busy "$other_pct" "$steal_pct" && (( attempt < RETRIES )); then
      say "$name: others used ${other_pct}% of a core and the hypervisor stole ${steal_pct}% during the run; taking it again"
      retried=$((retried + 1))
      stop_envoy
      continue
    fi
    break
  done
  if busy "$other_pct" "$steal_pct"; then mark='!'; marked+=("$name (round $round: others ${other_pct}%, steal ${steal_pct}%)"); fi
  others[$name]+="$other_pct "
  steals[$name]+="$steal_pct "
  r=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  [[ -n $r ]] || { printf '%s\n' "$out" >&2; fail "$name: no Requests/sec in wrk's output"; }
  rps[$name]+="$r$mark "
  # Requests per second of Envoy's own CPU time: what a request costs, whatever the hypervisor or
  # other processes took from the core meanwhile (stolen time is not charged to a process).
  cpu[$name]+="$(awk -v n="$(awk '/ requests in / {print $1}' <<<"$out")" -v t="$envoy_ticks" -v hz="$HZ" \
    'BEGIN {printf "%.0f", (t > 0 ? n * hz / t : 0)}') "
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
  if [[ $name == profile* ]]; then
    curl -sf "http://127.0.0.1:$admin/stats?filter=^wasmcustom\.verifier\.profile\." >"$work/profile1"
    profile_stats[$name]=$(profile_report "$work/profile0" "$work/profile1")
  fi
  # Memory after the warm run, for the configurations the memory report compares.
  if [[ $name == none || $name == noop || $name == ours ]]; then
    mem_allocated[$name]+="$(curl -sf "http://127.0.0.1:$admin/memory" | python3 -c 'import json,sys; print(json.load(sys.stdin)["allocated"])') "
    mem_rss[$name]+="$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$envoy_pid/status") "
    stats=$(curl -sf "http://127.0.0.1:$admin/stats")
    vm_count[$name]=$(awk -F': ' '$1 == "wasm.envoy.wasm.runtime.v8.active" {print $2}' <<<"$stats")
    [[ $name != ours ]] || vm_gauge[$name]=$(grep -i 'vm_memory' <<<"$stats" | tr '\n' ' ' || true)
  fi

  stop_envoy
  say "round $round/$ROUNDS  $(printf '%-50s %8s req/s  (others %s%% of a core, steal %s%%)' "${label[$name]}" "$r$mark" "$other_pct" "$steal_pct")"
}

# The profiling build's counters over the measured run, per request (envoy/src/profile.rs names them).
profile_report() {
  python3 - "$1" "$2" <<'EOF'
import sys
def read(path):
    out = {}
    for line in open(path):
        key, _, value = line.partition(": ")
        try:
            out[key.strip().removeprefix("wasmcustom.verifier.profile.")] = int(value)
        except ValueError:
            pass
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
d = {k: b[k] - a.get(k, 0) for k in b}
n = d.get("requests", 0)
if not n:
    print("  (no requests were profiled)"); sys.exit()
clock = d.get("clock_overhead_ns", 0) / max(d.get("clock_overhead_samples", 1), 1)
print(f"  {n} requests; a host clock read costs {clock:.0f} ns (subtracted from each timing below)")
total = d.get("request_ns", 0) / n
print(f"  {'in on_http_request_headers, all told':44} {total:8.0f} ns  (with the profiling's own clock reads)")
host = 0.0
for kind in sorted({k.split('.')[1] for k in d if k.startswith('host.')}):
    calls = d.get(f"host.{kind}.calls", 0) / n
    if not calls:
        continue
    # The clock is the call that measures: its cost is the measured cost of a read.
    ns = calls * clock if kind == "clock" else d.get(f"host.{kind}.ns", 0) / n - calls * clock
    host += ns
    print(f"  {'  host call ' + kind:44} {ns:8.0f} ns  ({calls:.2f} per request, {ns / calls if calls else 0:.0f} ns each)")
calls = sum(d.get(f"host.{k}.calls", 0) for k in {k.split('.')[1] for k in d if k.startswith('host.')}) / n
steps = {k.split('.')[1] for k in d if k.startswith('step.')}
timings = calls + sum(d.get(f"step.{k}.calls", 0) for k in steps) / n
own = total - host - 2 * timings * clock
print(f"  {'  our own code (the rest, less the profiling)':44} {own:8.0f} ns")
for step in sorted(steps):
    ns = d.get(f"step.{step}.ns", 0) / n - clock
    print(f"  {'    of which ' + step:44} {ns:8.0f} ns")
    if step == "decide":
        # The core's stages, each timed from the previous one (the first from the call):
        # a cache hit passes rule, token, signature (the lookup) and the checks.
        for stage in ["rule", "token", "header", "keys", "signature", "claims", "revocation", "scopes"]:
            calls = d.get(f"stage.{stage}.calls", 0) / n
            if calls:
                ns = d.get(f"stage.{stage}.ns", 0) / n - calls * clock
                print(f"  {'      stage ' + stage + ' (up to its pass)':44} {ns:8.0f} ns")
print(f"  allocations: {d.get('allocs', 0) / n:.2f} per request, {d.get('alloc_bytes', 0) / n:.0f} bytes")
EOF
}

## rounds ##################################################################################################

say "$("$ENVOY_BIN" --version | grep -o 'version: [^ ]*')"
say "${#names[@]} configurations x $ROUNDS rounds x (${WARMUP}s warm-up + ${DURATION}s), wrk -t1 -c$CONNECTIONS"
load_before="load average $(cut -d' ' -f1-3 /proc/loadavg); busiest processes over 1 s: $(busiest)"
say "before: $load_before"
expected_identity="$(python3 -c 'import base64, json, sys; p = sys.argv[1].split(".")[1]; c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))); print(" | ".join([c["sub"], c["client_id"], c["scope"], c["iss"]]))' "$es256")"
for round in $(seq "$ROUNDS"); do
  order=("${names[@]}")
  if (( round % 2 == 0 )); then
    order=(); for (( i = ${#names[@]} - 1; i >= 0; i-- )); do order+=("${names[i]}"); done
  fi
  for name in "${order[@]}"; do run_one "$name"; done
done
# Memory: what one more worker VM costs, against what the process holds once whatever the number
# of VMs (V8 compiles a module once and its VMs share the code). Envoy with 1 and with 3 workers,
# each after a warm run whose connections reach every worker (the listener's reuse_port spreads
# them), for the no-op filter and ours.
declare -A probe_rss probe_vms
if [[ " ${names[*]} " == *" noop "* && " ${names[*]} " == *" ours "* ]]; then
  for name in noop ours; do
    for concurrency in 1 3; do
      start_envoy
      drive "$WARMUP" "${warmup_file[$name]}" cycle
      probe_rss[$name.$concurrency]=$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$envoy_pid/status")
      probe_vms[$name.$concurrency]=$(curl -sf "http://127.0.0.1:$admin/stats" | awk -F': ' '$1 == "wasm.envoy.wasm.runtime.v8.active" {print $2}')
      stop_envoy
    done
  done
  concurrency=1
fi
load_after="load average $(cut -d' ' -f1-3 /proc/loadavg); busiest processes over 1 s: $(busiest)"

## report ##################################################################################################

values() { tr -d '!' <<<"$1"; }
declare -A med cmed
for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # word splitting intended: one value per round
  med[$name]=$(median $(values "${rps[$name]}"))
  # shellcheck disable=SC2086
  cmed[$name]=$(median ${cpu[$name]})
done
spread() {
  # shellcheck disable=SC2086
  printf '%s\n' $(values "$1") | sort -g | awk -v m="$2" 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f%%", (m > 0 ? (hi - lo) / m * 100 : 0)}'
}

echo
echo "Envoy $("$ENVOY_BIN" --version | grep -o 'version: [^ ]*' | cut -d/ -f2), 1 worker pinned to core 0, direct response;"
echo "wrk -t1 -c$CONNECTIONS pinned to core 1; $ROUNDS rounds x ${DURATION}s (after ${WARMUP}s warm-up), alternating order"
echo
printf '%-50s %9s %8s %7s %10s %7s   %s\n' "configuration" "req/s" "vs none" "spread" "req/CPU-s" "spread" "each round (req/s; ! = others were busy)"
printf '%-50s %9s %8s %7s %10s %7s   %s\n' "" "(median)" "" "" "(median)" "" ""
for name in "${names[@]}"; do
  printf '%-50s %9.0f %8s %7s %10.0f %7s   %s\n' "${label[$name]}" "${med[$name]}" "$(div "${med[$name]}" "${med[none]:-0}")" \
    "$(spread "${rps[$name]}" "${med[$name]}")" "${cmed[$name]}" "$(spread "${cpu[$name]}" "${cmed[$name]}")" "${rps[$name]}"
done
echo "(req/CPU-s: requests per second of CPU time Envoy itself used, pinned to its core: the cost of a request,"
echo " which time stolen by the hypervisor or taken by other processes does not inflate)"

echo
echo "targets (ratios of medians; in brackets the lowest and highest of each round's ratio, the pair run back to back;"
echo "the verdict and the count of misses are on req/s, as the targets are stated; req/CPU-s says the same without the noise)"
misses=0
# One target: the ratio of medians of req/s (as the issue states it) and of req/CPU-s, each with
# the lowest and highest per-round ratio of the pair run back to back.
target() {
  local text=$1 a=$2 b=$3 want=$4 value cvalue verdict cverdict
  [[ -n ${med[$a]:-} && -n ${med[$b]:-} ]] || { printf '  %-54s not run\n' "$text"; return; }
  value=$(div "${med[$a]}" "${med[$b]}"); cvalue=$(div "${cmed[$a]}" "${cmed[$b]}")
  if awk -v v="$value" -v w="$want" 'BEGIN {exit !(v >= w)}'; then verdict=PASS; else verdict=MISS; misses=$((misses + 1)); fi
  if awk -v v="$cvalue" -v w="$want" 'BEGIN {exit !(v >= w)}'; then cverdict=PASS; else cverdict=MISS; fi
  printf '  %-54s >= %-4s  req/s %6s %s [%s]  req/CPU-s %6s %s [%s]\n' "$text" "$want" \
    "$value" "$verdict" "$(round_ratios "$(values "${rps[$a]}")" "$(values "${rps[$b]}")")" \
    "$cvalue" "$cverdict" "$(round_ratios "${cpu[$a]}" "${cpu[$b]}")"
}
# The lowest and highest of the per-round ratios of two lists of values.
round_ratios() {
  local ra rb i per=()
  read -r -a ra <<<"$1"; read -r -a rb <<<"$2"
  for i in "${!ra[@]}"; do per+=("$(div "${ra[i]}" "${rb[i]:-0}")"); done
  printf '%s\n' "${per[@]}" | sort -g | sed -n '1p;$p' | paste -sd' ' | sed 's/ / .. /'
}
targets() {
  local ours=$1 who=$2
  target "warm: $who / no-op wasm filter"                       "$ours"       noop         0.9
  target "same work: $who + scope / jwt_authn + headers + RBAC" "$ours-scope" native-rbac  1.0
  target "warm: $who / jwt_authn without cache"                 "$ours"       native       2.2
  target "cold ES256: $who / jwt_authn"                         "$ours-es256" native-es256 0.7
  target "cold EdDSA: $who / jwt_authn"                         "$ours-eddsa" native-eddsa 0.8
}
targets ours ours
target "delegation: depth-2 delegated / plain, warm"          deleg-warm    deleg-plain  0.95
[[ -z ${med[deleg-cold]:-} || -z ${med[ours-es256]:-} ]] ||
echo "  for reference: delegation, cold: depth-2 delegated / plain ES256 $(div "${med[deleg-cold]}" "${med[ours-es256]}") (req/CPU-s $(div "${cmed[deleg-cold]}" "${cmed[ours-es256]}"))"
[[ -z ${med[none]:-} || -z ${med[noop]:-} || -z ${med[ours]:-} || -z ${med[native]:-} || -z ${med[native-cache]:-} ]] ||
echo "  for reference: no-op / none $(div "${med[noop]}" "${med[none]}") (req/CPU-s $(div "${cmed[noop]}" "${cmed[none]}")), ours / jwt_authn with cache $(div "${med[ours]}" "${med[native-cache]}"), jwt_authn cache / no cache $(div "${med[native-cache]}" "${med[native]}")"
if [[ -n ${med[lean-noop]:-} && -n ${med[ours]:-} ]]; then
  echo "  the floor: ours / no-op with only ours' callbacks $(div "${med[ours]}" "${med[lean-noop]}") (req/CPU-s $(div "${cmed[ours]}" "${cmed[lean-noop]}")); that no-op / the SDK's no-op $(div "${med[lean-noop]}" "${med[noop]}") (req/CPU-s $(div "${cmed[lean-noop]}" "${cmed[noop]}"))"
fi
if [[ -n ${BASELINE_WASM:-} ]]; then
  echo
  echo "the baseline ($BASELINE_WASM, $(stat -c %s "$BASELINE_WASM") bytes), same targets, same run:"
  saved=$misses
  targets base baseline
  misses=$saved
  echo
  echo "this build against the baseline: ratios of medians [lowest .. highest of each round's, back to back]"
  for name in ours ours-scope ours-es256 ours-eddsa; do
    base=base${name#ours}
    [[ -n ${med[$name]:-} && -n ${med[$base]:-} ]] || continue
    printf '  %-54s req/s %6s [%s]  req/CPU-s %6s [%s]\n' "${label[$name]} / baseline" \
      "$(div "${med[$name]}" "${med[$base]}")" "$(round_ratios "$(values "${rps[$name]}")" "$(values "${rps[$base]}")")" \
      "$(div "${cmed[$name]}" "${cmed[$base]}")" "$(round_ratios "${cpu[$name]}" "${cpu[$base]}")"
  done
fi

echo
echo "cold runs: most requests generated in one run against tokens available (each token used at most once)"
for name in ours-es256 native-es256 ours-eddsa native-eddsa deleg-cold; do
  [[ -n ${med[$name]:-} ]] || continue
  printf '  %-50s %8s of %s\n' "${label[$name]}" "${generated_max[$name]}" "$COLD_TOKENS"
done
for name in ours ours-scope ours-es256 ours-eddsa; do
  if [[ -n ${cache_stats[$name]:-} ]]; then
    printf '  %-50s %s\n' "verifier's token cache, ${label[$name]%% (*}" "${cache_stats[$name]} (measured run, last round)"
  fi
done

for name in profile profile-es256 profile-eddsa; do
  [[ -n ${profile_stats[$name]:-} ]] || continue
  echo
  case $name in
    profile) echo "profile of a warm cache hit (the profiling build, last round; its throughput is not comparable):" ;;
    *) echo "profile of a cold request, ${name#profile-} (a new token: parse, verify, cache; the profiling build, last round):" ;;
  esac
  echo "${profile_stats[$name]}"
done

echo
if [[ -n ${med[none]:-} && -n ${med[noop]:-} && -n ${med[ours]:-} ]]; then
# shellcheck disable=SC2086
{
  a_none=$(median ${mem_allocated[none]}); a_noop=$(median ${mem_allocated[noop]}); a_ours=$(median ${mem_allocated[ours]})
  r_none=$(median ${mem_rss[none]}); r_noop=$(median ${mem_rss[noop]}); r_ours=$(median ${mem_rss[ours]})
}
vms=${vm_count[ours]:-0}
mib() { awk -v b="$1" 'BEGIN {printf "%.2f MiB", b / 1048576}'; }
per_vm() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f MiB", (n > 0 ? (a - b) / n : 0) / 1048576}'; }
echo "memory (after the warm run, median over rounds)"
echo "  wasm file: ours $(stat -c %s "$FILTER_WASM") bytes (target <= 500 KB), no-op $(stat -c %s "$NOOP_WASM") bytes"
echo "  wasm VMs: $vms with ours, ${vm_count[noop]:-?} with the no-op filter (Envoy's gauge wasm.envoy.wasm.runtime.v8.active)"
printf '  %-36s %16s %16s\n' "" "admin allocated" "process RSS"
printf '  %-36s %16s %16s\n' "no auth filter" "$(mib "$a_none")" "$(mib "$r_none")"
printf '  %-36s %16s %16s\n' "no-op wasm filter" "$(mib "$a_noop")" "$(mib "$r_noop")"
printf '  %-36s %16s %16s\n' "ours, warm" "$(mib "$a_ours")" "$(mib "$r_ours")"
printf '  %-36s %16s %16s\n' "per VM: (ours - no filter) / $vms" "$(per_vm "$a_ours" "$a_none" "$vms")" "$(per_vm "$r_ours" "$r_none" "$vms")"
printf '  %-36s %16s %16s\n' "per VM: (ours - no-op) / $vms" "$(per_vm "$a_ours" "$a_noop" "$vms")" "$(per_vm "$r_ours" "$r_noop" "$vms")"
echo "  (allocated is Envoy's tcmalloc heap: V8's heaps and wasm linear memory are mapped outside it; RSS counts them;"
echo "  the two 'per VM' lines divide by every VM, as if none shared anything: the lines below separate the two)"
if [[ -n ${vm_gauge[ours]:-} ]]; then
  echo "  filter gauge: ${vm_gauge[ours]}"
fi
fi
if [[ -n ${probe_rss[ours.3]:-} ]]; then
  extra() { awk -v a="${probe_rss[$1.3]}" -v b="${probe_rss[$1.1]}" -v m="${probe_vms[$1.3]}" -v n="${probe_vms[$1.1]}" \
    'BEGIN {printf "%.2f", (m > n ? (a - b) / (m - n) : 0) / 1048576}'; }
  echo "  one more worker VM (Envoy with 3 workers against 1, after a warm run reaching each):"
  for name in noop ours; do
    printf '    %-34s %s MiB RSS (%s VMs) -> %s MiB (%s VMs): %s MiB per VM\n' "${label[$name]%% (*}" \
      "$(awk -v b="${probe_rss[$name.1]}" 'BEGIN {printf "%.1f", b / 1048576}')" "${probe_vms[$name.1]}" \
      "$(awk -v b="${probe_rss[$name.3]}" 'BEGIN {printf "%.1f", b / 1048576}')" "${probe_vms[$name.3]}" "$(extra "$name")"
  done
  echo "    per VM over the no-op: $(awk -v a="$(extra ours)" -v b="$(extra noop)" 'BEGIN {printf "%.2f", a - b}') MiB (target <= 5 MiB);" \
    "held once per process over the no-op, whatever the VMs: $(awk -v a="${probe_rss[ours.1]}" -v b="${probe_rss[noop.1]}" -v x="$(extra ours)" -v y="$(extra noop)" -v n="${probe_vms[ours.1]}" \
      'BEGIN {printf "%.1f", (a - b) / 1048576 - (x - y) * n}') MiB"
fi

echo
echo "load notes ($NCPU cores; 'others' is the CPU other processes used during a measured run, % of one core)"
echo "  before: $load_before"
echo "  after:  $load_after"
all_others=""; all_steals=""
for name in "${names[@]}"; do all_others+="${others[$name]}"; all_steals+="${steals[$name]}"; done
# shellcheck disable=SC2086
echo "  during the measured runs: others median $(median $all_others)%, highest $(printf '%s\n' $all_others | sort -g | tail -1)%; steal median $(median $all_steals)%, highest $(printf '%s\n' $all_steals | sort -g | tail -1)%"
echo "  runs taken again because others were busy (> ${OTHER_MAX}% of a core) or steal was high (> ${STEAL_MAX}%): $retried; kept busy after $RETRIES retries: ${#marked[@]}"
for m in "${marked[@]}"; do echo "    ! $m"; done
if (( ${#marked[@]} == 0 )); then
  echo "  verdict: QUIET (no kept run had other processes above ${OTHER_MAX}% of a core or steal above ${STEAL_MAX}%)"
else
  echo "  verdict: NOT QUIET: ${#marked[@]} kept runs were taken while something else ran; such figures are compressed towards 1"
fi

echo
echo "reproduce: make bench   (here ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS COLD_TOKENS=$COLD_TOKENS;"
echo "           any of them may be set in the environment, e.g. ROUNDS=9 DURATION=3 make bench)"
if [[ -n ${socket_errors[*]:-} ]]; then
  echo
  echo "note: wrk reported socket errors:"
  for name in "${!socket_errors[@]}"; do echo "  ${label[$name]}: ${socket_errors[$name]}"; done
fi
echo "$misses of 5 targets missed (a measurement: make bench fails only when a configuration misbehaves)"
if (( ${#wrapped[@]} )); then
  fail "cold runs ran out of tokens and reused them (${wrapped[*]}); raise COLD_TOKENS"
fi
