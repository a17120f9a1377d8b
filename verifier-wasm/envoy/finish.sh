#!/usr/bin/env bash
# Finishes a proxy-wasm filter for Envoy (`make build-filter` runs it on what cargo built):
#
#   finish.sh <cargo's.wasm> <filter.wasm>
#
# 1. Keeps only the exports Envoy has to call. The proxy-wasm SDK exports every callback of the
#    ABI, and Envoy enters the VM for each one a module exports: at the end of every request
#    `proxy_on_response_headers`, `proxy_on_response_body`, `proxy_on_log` and `proxy_on_done`,
#    each a VM entry that, for this filter, only returns. Envoy's host (proxy-wasm-cpp-host) skips
#    a callback the module does not export and answers as the SDK's default would (Continue,
#    done), so the filter keeps the request-header, context and root callbacks and nothing else.
#    The code only those callbacks reached goes with them (binaryen's wasm-metadce).
# 2. Optimises the result (binaryen's wasm-opt -O3, with the features rustc's wasm32 targets use)
#    without inlining: LLVM has inlined what pays already, and the very large functions binaryen's
#    inlining makes cost Envoy about 20 MiB more RSS (V8 compiles each with TurboFan, whose
#    memory for a large function is kept) for no measurable speed.
#
# Needs binaryen (Debian's package; `make deps-filter` installs it).
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: finish.sh <cargo's.wasm> <filter.wasm>" >&2; exit 2; }
in=$1 out=$2
for tool in wasm-metadce wasm-opt; do
  command -v "$tool" >/dev/null || { echo "finish.sh: $tool is missing (make deps-filter)" >&2; exit 1; }
done
# The exports Envoy calls: the VM's start, memory and allocator, the root context's callbacks
# (configuration, timer, fetch responses), and an HTTP stream's creation, request headers and end.
exports=(memory _initialize proxy_abi_version_0_2_1 proxy_on_memory_allocate proxy_on_vm_start
  proxy_on_configure proxy_on_tick proxy_on_http_call_response proxy_on_context_create
  proxy_on_request_headers proxy_on_delete)
features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  printf '[{"name": "envoy", "root": true, "reaches": ['
  sep=; for e in "${exports[@]}"; do printf '%s"%s"' "$sep" "$e"; sep=', '; done
  printf ']}'
  for e in "${exports[@]}"; do printf ',\n {"name": "%s", "export": "%s"}' "$e" "$e"; done
  printf ']\n'
} >"$work/graph.json"
wasm-metadce "${features[@]}" --graph-file "$work/graph.json" "$in" -o "$work/kept.wasm" >"$work/metadce.log"
wasm-opt "${features[@]}" -O3 --one-caller-inline-max-function-size=0 \
  --flexible-inline-max-function-size=0 --always-inline-max-function-size=0 --strip-debug --strip-producers "$work/kept.wasm" -o "$work/out.wasm"
mv "$work/out.wasm" "$out"
echo "finish.sh: $out: $(stat -c %s "$in") -> $(stat -c %s "$out") bytes, exports: ${exports[*]}"
