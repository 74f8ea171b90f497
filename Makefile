# urlstash: build, run and test the Worker. Every target installs what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8787
DEV_API_KEY ?= dev-key-change-me
# `make dev` serves samples/ on this loopback port and lets the Worker fetch it.
SAMPLE_PORT ?= 8788
WRANGLER_ARGS ?=
# Property-test cases per property: short in `make test`, long in `make fuzz`.
PROPTEST_CASES ?= 64
FUZZ_CASES ?= 1000000
SCHEMATHESIS_VERSION := 4.32.5
VENV := .tools/venv

WORKER_BUILD_VERSION := 0.8.7
CARGO_BIN := $(HOME)/.cargo/bin
# The wasm-bindgen CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/version = |"/, ""); print}' Cargo.lock)
WRANGLER := node_modules/.bin/wrangler
STATE_DIR := .wrangler/state
WORKER_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock

export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen

.PHONY: help tools build dev seed-dev-key test test-host test-http test-api test-load fuzz clean

help:
	@echo "make dev     build and run the Worker on http://127.0.0.1:$(PORT) with a seeded dev key"
	@echo "make test    run every test tier (host, then the Worker in local workerd over HTTP)"
	@echo "make build   build the Worker into build/"
	@echo "make fuzz    the property tests, long ($(FUZZ_CASES) cases each)"
	@echo "variables: PORT ($(PORT)), SAMPLE_PORT ($(SAMPLE_PORT)), DEV_API_KEY ($(DEV_API_KEY)), WRANGLER_ARGS"

## Tools -----------------------------------------------------------------------------------

tools: .tools/wasm32 .tools/worker-build-$(WORKER_BUILD_VERSION) .tools/wasm-bindgen node_modules/.package-lock.json

.tools/wasm32:
	@mkdir -p .tools
	rustup target add wasm32-unknown-unknown
	@touch $@

.tools/worker-build-$(WORKER_BUILD_VERSION):
	@mkdir -p .tools
	@if [ "$$($(CARGO_BIN)/worker-build --version 2>/dev/null)" != "worker-build $(WORKER_BUILD_VERSION)" ]; then \
	  cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked; fi
	@touch $@

.tools/wasm-bindgen: Cargo.lock
	@mkdir -p .tools
	@if [ "$$($(WASM_BINDGEN_BIN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked \
	  || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi
	@touch $@

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# schemathesis (PyPI, pinned) in a venv of its own.
$(VENV)/schemathesis-$(SCHEMATHESIS_VERSION):
	@mkdir -p .tools
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@if [ "$$($(VENV)/bin/python -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$(SCHEMATHESIS_VERSION)" ]; then \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION); fi
	@touch $@

## Build -----------------------------------------------------------------------------------

build: build/index.js

build/index.js: $(WORKER_SOURCES) | .tools/wasm32 .tools/worker-build-$(WORKER_BUILD_VERSION) .tools/wasm-bindgen
	$(CARGO_BIN)/worker-build --release --no-opt --features server
	@touch $@

## Run -------------------------------------------------------------------------------------

# The dev key's KV record (only its SHA-256 is stored), seeded into local KV.
seed-dev-key: tools
	@hash=$$(printf '%s' '$(DEV_API_KEY)' | sha256sum | cut -d' ' -f1); \
	$(WRANGLER) kv key put --local --persist-to $(STATE_DIR) --binding API_KEYS "$$hash" \
	  '{"id":"k_dev","name":"dev","created":"2026-01-01T00:00:00+00:00","disabled":false}' >/dev/null

# Also serves samples/ on 127.0.0.1:$(SAMPLE_PORT) (stopped with the Worker), the one private
# origin the dev Worker may fetch; WRANGLER_ARGS come last and can override it.
dev: tools build seed-dev-key
	@echo "urlstash on http://127.0.0.1:$(PORT)  API key: $(DEV_API_KEY)"
	@echo "sample origin on http://127.0.0.1:$(SAMPLE_PORT)/sample.png"
	@python3 -m http.server --bind 127.0.0.1 --directory samples $(SAMPLE_PORT) >/dev/null 2>&1 & sample=$$!; \
	trap 'kill $$sample 2>/dev/null' EXIT INT TERM; \
	$(WRANGLER) dev --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE_DIR) \
	  --show-interactive-dev-session=false --var PRIVATE_FETCH_ALLOWLIST:127.0.0.1:$(SAMPLE_PORT) $(WRANGLER_ARGS)

## Test ------------------------------------------------------------------------------------

test: tools
	@$(MAKE) --no-print-directory test-host || { echo "FAILED tier: host (cargo test)"; exit 1; }
	@$(MAKE) --no-print-directory test-http || { echo "FAILED tier: http (Worker in local workerd)"; exit 1; }
	@$(MAKE) --no-print-directory test-api || { echo "FAILED tier: api (schemathesis against the Worker)"; exit 1; }
	@$(MAKE) --no-print-directory test-load || { echo "FAILED tier: load (64 concurrent uploads)"; exit 1; }
	@echo "all test tiers passed"

test-host:
	@echo "== tier 1: host tests (cargo test; property tests at PROPTEST_CASES=$(PROPTEST_CASES))"
	PROPTEST_CASES=$(PROPTEST_CASES) cargo test --all-targets

test-http: build
	@echo "== tier 2: the Worker in local workerd, over HTTP, against a loopback origin"
	node --test --test-concurrency=1 tests/http/

test-api: build $(VENV)/schemathesis-$(SCHEMATHESIS_VERSION)
	@echo "== tier 3: schemathesis against the Worker, from its own /openapi.json"
	node tests/api/run.mjs $(VENV)/bin/schemathesis

test-load: build
	@echo "== tier 4: load: 64 concurrent uploads, 1 KiB to 20 MiB, every byte checked"
	node --test tests/load/

fuzz:
	@echo "== property tests, long: $(FUZZ_CASES) cases per property"
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release --test prop_url_policy --test prop_names
clean:
	rm -rf build target/wasm32-unknown-unknown .wrangler .tools
