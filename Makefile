# urlstash: build, run and test the Worker. Every target installs what it needs, idempotently.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PORT ?= 8787
STATE_DIR := .wrangler/state
# `make dev`'s credentials are random, made for each checkout on first use and read back
# afterwards: the dev Worker answers any web page (CORS `*`) and can fetch from the
# developer's own network, so a key published in a README would let any site one visits
# use it. The API key is kept in $(DEV_KEY_FILE); the admin token and the link secret in
# .dev.vars (gitignored; make dev reads its secrets from it; DEV_VARS moves it, for
# tests only). The fixed defaults of earlier versions count as none.
DEV_VARS := .dev.vars
DEV_KEY_FILE = $(STATE_DIR)/dev-api-key
DEV_KEY_SEEDED = $(STATE_DIR)/dev-key-seeded
random_hex = $(shell od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
dev_var = $(filter-out dev-admin-token-change-me dev-link-secret-change-me,$(shell sed -n 's/^$(1)=//p' $(DEV_VARS) 2>/dev/null))
ifeq ($(origin DEV_API_KEY),undefined)
DEV_API_KEY := $(or $(shell cat $(DEV_KEY_FILE) 2>/dev/null),dev_$(random_hex))
endif
# The admin API's bearer token for `make dev` and `make key`. Deployed Workers take theirs
# from `wrangler secret put ADMIN_TOKEN`.
ifeq ($(origin ADMIN_TOKEN),undefined)
ADMIN_TOKEN := $(or $(call dev_var,ADMIN_TOKEN),admin_$(random_hex))
endif
# The key private links are signed with, for `make dev`. Deployed Workers take theirs from
# `wrangler secret put LINK_SECRET`.
ifeq ($(origin LINK_SECRET),undefined)
LINK_SECRET := $(or $(call dev_var,LINK_SECRET),$(random_hex))
endif
# `make dev` serves samples/ on this loopback port and lets the Worker fetch it.
SAMPLE_PORT ?= 8788
WRANGLER_ARGS ?=
# Property-test cases per property: a few hundred in `make test` (about 20 s in all), long
# in `make fuzz` (the authority's interleavings cost more per case than names and URLs).
PROPTEST_CASES ?= 512
FUZZ_CASES ?= 1000000
FUZZ_AUTHORITY_CASES ?= 50000
# Longest one node test file may run (node 20's --test-timeout bounds a file run in a process
# of its own, not each test in it; the jobs file, with its 1 GiB job, is the longest): a hang
# fails its file.
TEST_TIMEOUT_MS ?= 900000
SCHEMATHESIS_VERSION := 4.32.5
VENV := .tools/venv

WORKER_BUILD_VERSION := 0.8.7
# Where `cargo install` puts tools (CARGO_HOME's bin, as on the rust images; else ~/.cargo/bin).
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
# Installs into CARGO_BIN whatever cargo's config says, over a binary of another version (run
# only when the version found is not the one named: a cached bin without cargo's record of it
# would otherwise be refused).
CARGO_INSTALL := cargo install --locked --force --root $(or $(CARGO_HOME),$(HOME)/.cargo)
# The last resort: the tool's own dependencies resolved again from the registry, when one its
# lock file names cannot be selected from the registry's index (seen here with
# wasm-bindgen-cli 0.2.130's webpki-roots 1.0.11, which the index these machines reach
# does not list). Said on stderr when it is taken: the tool is then built from newer
# dependencies than its authors locked.
CARGO_INSTALL_RESOLVED := echo "make: the locked install failed; installing with its dependencies resolved again" >&2; $(filter-out --locked,$(CARGO_INSTALL))
# The wasm-bindgen CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION = $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/version = |"/, ""); print}' Cargo.lock)
WRANGLER := node_modules/.bin/wrangler
WORKER_SOURCES := $(shell find src -name '*.rs') build.rs openapi.yaml Cargo.toml Cargo.lock
# Panic locations in the wasm name source files: the checkout's and the cargo registry's
# paths are cut from them, so no build machine's directories ship in the Worker or the npm
# package, and a build from another checkout gives the same bytes.
WASM_RUSTFLAGS := --remap-path-prefix=$(or $(CARGO_HOME),$(HOME)/.cargo)/registry/src/= --remap-path-prefix=$(CURDIR)/=

export WASM_BINDGEN_BIN := $(CARGO_BIN)/wasm-bindgen
# wrangler (seed-dev-key, make dev, the tests' KV seeding) would report each command's use to
# Cloudflare and save an opt-in in $HOME: no network but the package registries here.
export WRANGLER_SEND_METRICS := false

.PHONY: help tools build pkg dev seed-dev-key dev-vars dev-env key test test-host wasm-tests test-http test-browser test-api test-load test-keys chromium gdb python fuzz clean

help:
	@echo "make dev     build and run the Worker on http://127.0.0.1:$(PORT) (web app at /) with a seeded dev key"
	@echo "make test    run every test tier (host; HTTP; browser; schemathesis; load)"
	@echo "make build   build the Worker into build/ and the browser client into pkg/ (and www/pkg/)"
	@echo "make pkg     build only the browser client's npm package into pkg/ (and www/pkg/)"
	@echo "make bench   measure this Worker against the reference and floor Workers (writes BENCHMARKS.md)"
	@echo "make clean   remove the builds, .tools/ and .wrangler/ (make dev's local files, keys and dev key too)"
	@echo "make fuzz    the property tests, long ($(FUZZ_CASES) cases each; $(FUZZ_AUTHORITY_CASES) for the key authority's interleavings)"
	@echo 'make dev-env the dev Worker'"'"'s BASE, KEY and ADMIN as shell assignments: eval "$$(make -s dev-env)"'
	@echo "make key NAME=alice [MAX_BYTES=n] [MAX_FILES=n] [PORT=n | REMOTE=1 | BASE_URL=https://... ADMIN_TOKEN=...]"
	@echo "             create an API key through the admin API (default: the local make dev)"
	@echo "variables: PORT ($(PORT)), SAMPLE_PORT ($(SAMPLE_PORT)), WRANGLER_ARGS, and DEV_API_KEY, ADMIN_TOKEN,"
	@echo "           LINK_SECRET (default: random for this checkout, made by the first make dev; the key and"
	@echo "           the admin token are printed by it, all three kept in .wrangler/state and .dev.vars)"

## Tools -----------------------------------------------------------------------------------

# Each check runs every time (a `--version` call, or rustup's list): a tool replaced since
# (another project's `cargo install`, another CARGO_HOME, a new rustup toolchain) is noticed,
# and installed again only when it is not the version named here.
.PHONY: .tools/wasm32 .tools/worker-build .tools/wasm-bindgen .tools/schemathesis .tools/lock
tools: .tools/wasm32 .tools/worker-build .tools/wasm-bindgen .tools/lock node_modules/.package-lock.json

.tools/wasm32:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

.tools/worker-build:
	@# worker-build prints its bare version ("0.8.7"); older ones prefixed their name.
	@v="$$($(CARGO_BIN)/worker-build --version 2>/dev/null)"; if [ "$${v#worker-build }" != "$(WORKER_BUILD_VERSION)" ]; then \
	  $(CARGO_INSTALL) worker-build --version $(WORKER_BUILD_VERSION) \
	  || $(CARGO_INSTALL) worker-build --version $(WORKER_BUILD_VERSION) \
	  || { $(CARGO_INSTALL_RESOLVED) worker-build --version $(WORKER_BUILD_VERSION); }; fi

# Tried twice (a registry that failed a moment), the same pinned dependencies both times,
# then with them resolved again.
.tools/wasm-bindgen:
	@if [ "$$($(WASM_BINDGEN_BIN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  $(CARGO_INSTALL) wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) \
	  || $(CARGO_INSTALL) wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) \
	  || { $(CARGO_INSTALL_RESOLVED) wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); }; fi

# Cargo.lock answers for Cargo.toml: a lock that would have to change fails here, rather than
# being rewritten quietly (the wasm-bindgen CLI's version is read from it). The builds and
# tests pass --locked too.
.tools/lock:
	@cargo metadata --locked --format-version 1 >/dev/null

node_modules/.package-lock.json: package-lock.json
	@# npm's report to stderr: `eval "$$(make -s dev-env)"` reads stdout.
	npm ci --no-audit --no-fund >&2
	@touch $@

# schemathesis and everything it needs (PyPI, pinned in tests/api/constraints.txt) in a venv
# of its own; checked every time, installed when a version differs.
.tools/schemathesis: python
	@mkdir -p .tools
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	@if ! $(VENV)/bin/python tests/api/pinned.py tests/api/constraints.txt 2>/dev/null; then \
	  $(VENV)/bin/pip install --quiet --disable-pip-version-check -c tests/api/constraints.txt schemathesis==$(SCHEMATHESIS_VERSION); fi

## Build -----------------------------------------------------------------------------------

build: build/index.js pkg

build/index.js: $(WORKER_SOURCES) | .tools/wasm32 .tools/worker-build .tools/wasm-bindgen node_modules/.package-lock.json
	RUSTFLAGS='$(WASM_RUSTFLAGS)' WASM_OPT_BIN=$(CURDIR)/node_modules/.bin/wasm-opt $(CARGO_BIN)/worker-build --release --features server --locked
	@# worker-build's wasm-bindgen keeps the name section after its wasm-opt pass: strip it here
	@# (same features as Cargo.toml's wasm-opt; workerd's V8 cannot read compact imports).
	node_modules/.bin/wasm-opt build/index_bg.wasm --all-features --disable-compact-imports \
	  --strip-debug --strip-producers -o build/index_bg.wasm
	@touch $@

# The browser client: the crate with `client` only, size-tuned profile, wasm-bindgen --target web.
CLIENT_WASM := $(or $(CARGO_TARGET_DIR),target)/wasm32-unknown-unknown/client/urlstash.wasm
CLIENT_SOURCES := $(WORKER_SOURCES) client/package.mjs client/upload_error.js client/timer.js client/README.md LICENSE

pkg: pkg/package.json www/pkg/package.json

pkg/package.json: $(CLIENT_SOURCES) | .tools/wasm32 .tools/wasm-bindgen
	RUSTFLAGS='$(WASM_RUSTFLAGS)' cargo build --locked --profile client --target wasm32-unknown-unknown --no-default-features --features client --lib
	rm -rf pkg
	$(WASM_BINDGEN_BIN) --target web --remove-name-section --remove-producers-section --out-dir pkg --out-name urlstash $(CLIENT_WASM)
	node client/package.mjs

www/pkg/package.json: pkg/package.json
	node client/package.mjs

## Run -------------------------------------------------------------------------------------

# The dev key `k_dev`: its KV record (only its SHA-256 is stored) is seeded into local KV
# once, and a record already there is kept with whatever the admin API changed in it (name,
# rate limit...; its quota, status and webhook secret are its authority's, in local storage). A new DEV_API_KEY replaces the old one, which stops working. The key
# itself goes to $(DEV_KEY_FILE), for `make dev` to print it again; the hash of the key seeded
# to $(DEV_KEY_SEEDED): a record gone from KV with that hash there was revoked, and is not
# seeded again (a revoke is final; the authority would refuse it while the list showed it).
# A read is made again when it fails (`Value not found` is not a failure): the wrangler CLI
# meets the running make dev's runtime writing the same files now and then (SQLITE_BUSY),
# and a failed read must not look like a revoked key.
seed-dev-key: tools
	@set -e; mkdir -p $(STATE_DIR) && printf '%s\n' '$(DEV_API_KEY)' > $(DEV_KEY_FILE); \
	kv() { $(WRANGLER) kv key "$$@" --local --persist-to $(STATE_DIR) --binding API_KEYS; }; \
	get() { for try in 1 2 3 4 5; do if out=$$(kv get "$$1" 2>/dev/null); then printf '%s' "$$out"; return 0; fi; \
	  sleep $$try; done; echo "make dev: the local KV could not be read ($$1)" >&2; return 1; }; \
	hash=$$(printf '%s' '$(DEV_API_KEY)' | sha256sum | cut -d' ' -f1); \
	found=$$(get "$$hash"); \
	case "$$found" in '{'*) printf '%s\n' "$$hash" > $(DEV_KEY_SEEDED); exit 0 ;; esac; \
	if [ "$$(cat $(DEV_KEY_SEEDED) 2>/dev/null)" = "$$hash" ]; then \
	  echo "make dev: k_dev was revoked (final); to start over: rm -rf $(STATE_DIR) $(DEV_VARS)" >&2; exit 0; fi; \
	old=$$(get id:k_dev); \
	if [[ "$$old" =~ ^[0-9a-f]{64}$$ ]]; then kv delete "$$old" >/dev/null; fi; \
	record='{"id":"k_dev","name":"dev","created":"2026-01-01T00:00:00+00:00","disabled":false}'; \
	kv put "$$hash" "$$record" >/dev/null; \
	kv put id:k_dev "$$hash" --metadata "$$record" >/dev/null; \
	printf '%s\n' "$$hash" > $(DEV_KEY_SEEDED)

# make dev reads secrets from $(DEV_VARS) (.dev.vars, gitignored). Its ADMIN_TOKEN and LINK_SECRET lines
# are set to $(ADMIN_TOKEN) and $(LINK_SECRET), other lines kept; the file is rewritten only
# when it changes.
dev-vars:
	@{ grep -v '^ADMIN_TOKEN=\|^LINK_SECRET=' $(DEV_VARS) 2>/dev/null || true; \
	  printf 'ADMIN_TOKEN=%s\nLINK_SECRET=%s\n' '$(ADMIN_TOKEN)' '$(LINK_SECRET)'; } > $(DEV_VARS).new
	@if cmp -s $(DEV_VARS).new $(DEV_VARS); then rm $(DEV_VARS).new; else mv $(DEV_VARS).new $(DEV_VARS); fi

# The dev Worker's base URL and credentials as shell assignments, for the README's examples:
# eval "$$(make -s dev-env)". Makes them first if no make dev has yet.
dev-env: seed-dev-key dev-vars
	@printf 'BASE=http://127.0.0.1:%s KEY=%s ADMIN=%s\n' '$(PORT)' '$(DEV_API_KEY)' '$(ADMIN_TOKEN)'

# Also serves samples/ on 127.0.0.1:$(SAMPLE_PORT) (stopped with the Worker), the one private
# origin the dev Worker may fetch; WRANGLER_ARGS (`--var NAME:VALUE` ...) come last and can
# override it. scripts/dev.mjs runs wrangler's dev engine without the devtools inspector.
dev: tools python build seed-dev-key dev-vars
	@echo "urlstash on http://127.0.0.1:$(PORT) (web app at /)  API key: $(DEV_API_KEY)  admin token: $(ADMIN_TOKEN)"
	@echo "sample origin on http://127.0.0.1:$(SAMPLE_PORT)/sample.png"
	@python3 -m http.server --bind 127.0.0.1 --directory samples $(SAMPLE_PORT) >/dev/null 2>&1 & sample=$$!; \
	trap 'kill $$sample 2>/dev/null' EXIT INT TERM; \
	sleep 0.5; kill -0 $$sample 2>/dev/null || { \
	  echo "the sample origin could not start on 127.0.0.1:$(SAMPLE_PORT) (port in use? set SAMPLE_PORT=...)" >&2; exit 1; }; \
	node scripts/dev.mjs --ip 127.0.0.1 --port $(PORT) --persist-to $(STATE_DIR) --dev-vars $(DEV_VARS) \
	  --var PRIVATE_FETCH_ALLOWLIST:127.0.0.1:$(SAMPLE_PORT) $(WRANGLER_ARGS)

# An API key from the admin API of a running Worker: the local `make dev` by default,
# BASE_URL=... (or REMOTE=1 with PUBLIC_BASE_URL set) for a deployed one.
key: node_modules/.package-lock.json
	@NAME='$(NAME)' MAX_BYTES='$(MAX_BYTES)' MAX_FILES='$(MAX_FILES)' REMOTE='$(REMOTE)' PORT='$(PORT)' \
	  BASE_URL='$(BASE_URL)' BASE_URL_GIVEN='$(if $(BASE_URL),1,)' ADMIN_TOKEN='$(ADMIN_TOKEN)' \
	  ADMIN_TOKEN_IS_DEFAULT='$(if $(filter file,$(origin ADMIN_TOKEN)),1,)' node scripts/make-key.mjs

## Test ------------------------------------------------------------------------------------

# Every tier, the failed one named; tests/tiers.sh runs tiers side by side where they need
# nothing of each other (see there).
test: tools chromium gdb .tools/schemathesis
	@MAKE='$(MAKE)' tests/tiers.sh

test-host:
	@echo "== tier 1: host tests (cargo test; property tests at PROPTEST_CASES=$(PROPTEST_CASES))"
	PROPTEST_CASES=$(PROPTEST_CASES) cargo test --locked --all-targets
	cargo test --locked --lib --no-default-features --features client client::

# The client's wasm-bindgen tests, compiled only (tier 3's wasm.test runs them against a
# Worker it starts; its URLs change only the test crate, which then builds in a second).
wasm-tests:
	cargo test --locked --no-run --target wasm32-unknown-unknown --no-default-features --features client --test client

# Two files at once (each on a runtime and origin of its own), the two longest first.
test-http: build gdb
	@echo "== tier 2: the Worker in local workerd, over HTTP, against a loopback origin"
	node tests/run.mjs --files-at-once=2 --test-concurrency=1 --test-timeout=$(TEST_TIMEOUT_MS) \
	  tests/http/jobs.test.mjs tests/http/authority.test.mjs tests/http/

# Only the keys, quotas, key authority and file management tests (host and HTTP); all of them
# also run in `test`.
test-keys: build
	cargo test --locked --lib -- core::admin core::listing core::batch core::ttl_cache
	PROPTEST_CASES=$(PROPTEST_CASES) cargo test --locked --test authority --test authority_list --test flow_quota --test prop_authority --test prop_keyed
	node tests/run.mjs --test-concurrency=1 --test-timeout=$(TEST_TIMEOUT_MS) tests/http/keys.test.mjs tests/http/quota.test.mjs \
	  tests/http/files.test.mjs tests/http/authority.test.mjs tests/http/expiry.test.mjs

# gdb names a runtime stuck in V8's message loop from its backtraces
# (tests/http/support/crash.mjs), so that tests/run.mjs runs its file again; checked on every
# run, installed only when missing.
gdb:
	@command -v gdb >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y gdb; }

# Python 3 with venv (make dev's sample origin, the API tier's venv); checked on every run,
# installed only when missing.
python:
	@command -v python3 >/dev/null && python3 -c 'import ensurepip' 2>/dev/null || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3 python3-venv; }

# Debian's Chromium and its chromedriver (no browser download works here); checked on every
# run, installed only when missing.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; fi

test-browser: build chromium gdb
	@echo "== tier 3: the browser client in headless Chromium (wasm-bindgen-test, package, Vite, web app)"
	node tests/run.mjs --test-concurrency=1 --test-timeout=$(TEST_TIMEOUT_MS) tests/browser/

test-api: build .tools/schemathesis
	@echo "== tier 4: schemathesis against the Worker, from its own /openapi.json"
	node tests/api/run.mjs $(VENV)/bin/schemathesis

test-load: build
	@echo "== tier 5: load: 64 concurrent uploads, 1 KiB to 20 MiB, every byte checked"
	node tests/run.mjs --test-timeout=$(TEST_TIMEOUT_MS) tests/load/

fuzz:
	@echo "== property tests, long: $(FUZZ_CASES) cases per property ($(FUZZ_AUTHORITY_CASES) for the key authority's interleavings)"
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --locked --release --test prop_url_policy --test prop_names
	PROPTEST_CASES=$(FUZZ_AUTHORITY_CASES) cargo test --locked --release --test prop_authority --test prop_keyed
clean:
	rm -rf build build-nodigest pkg www/pkg target/wasm32-unknown-unknown .wrangler .tools

## Bench -----------------------------------------------------------------------------------

# The project built without its SHA-256 digest (the crate's `no-digest` feature), which the
# bench runs beside the shipped build to price the digest; rebuilt only when sources change.
build-nodigest/index.js: $(WORKER_SOURCES) | .tools/wasm32 .tools/worker-build .tools/wasm-bindgen node_modules/.package-lock.json
	RUSTFLAGS='$(WASM_RUSTFLAGS)' WASM_OPT_BIN=$(CURDIR)/node_modules/.bin/wasm-opt $(CARGO_BIN)/worker-build --release --out-dir build-nodigest --features server,no-digest --locked
	node_modules/.bin/wasm-opt build-nodigest/index_bg.wasm --all-features --disable-compact-imports \
	  --strip-debug --strip-producers -o build-nodigest/index_bg.wasm
	@touch $@

.PHONY: bench
bench: tools build build-nodigest/index.js
	node bench/run.mjs
