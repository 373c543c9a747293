# Switchyard: run `make` for the list of targets.

SHELL       := /bin/bash
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0
PKGS        ?= ./...
DB          ?= data/switchyard.db
FUZZTIME    ?= 5m
# Real FreeSWITCH nodes the scenario suite runs on in parallel (its
# scenarios mostly wait on the nodes' clocks: alone on 2 cores, 8 nodes
# took 155 s, 12 took 122 s, 16 took 116 s), and where each run of the
# suite writes its one-line result.
FS_NODES    ?= 12
SUMMARY     ?= $(CURDIR)/.scenario-summary
# Where the store suite's output waits while the real-node suite runs.
STORE_LOG   ?= $(CURDIR)/.store-suite.log
REALNODE_FLAGS ?=
# The race detector instruments our code and every Go library it calls,
# but not the SQLite engine: modernc.org's is C translated into Go, runs
# thousands of its own lines a statement, and made every SQLite-backed
# test about three times slower under -race while checking none of ours
# (the dialer's package 46 s -> 15 s, the race pass 461 s -> 346 s). Go's
# own synchronisation, which the engine's locks use, is still seen.
RACE        ?= -race -gcflags='modernc.org/...=-race=false'
# The end-to-end tests that start real nodes: they run in the real-node
# phase, beside the scenario suite, not in the race pass.
REALNODE_E2E := ^(TestServeOnRealNode|TestServeRealNodesTwoInstances)$$
E2E_LOG     ?= $(CURDIR)/.realnode-e2e.log

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run Switchyard on the embedded default (SQLite, demo account, flows and ExoPhones)
	@mkdir -p $(dir $(DB))
	$(GO) run ./cmd/switchyard serve -demo -db $(DB) -egress-allow loopback

.PHONY: build
build: ## Build bin/switchyard
	$(GO) build -o bin/switchyard ./cmd/switchyard

.PHONY: test
test: lint ## Lint, then run every test with -race (SQLite always; PostgreSQL via TEST_DATABASE_URL, else a throwaway local cluster)
	@if [ -z "$$TEST_DATABASE_URL" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		exec .ci/with-postgres $(MAKE) --no-print-directory test/race; \
	fi; \
	$(MAKE) --no-print-directory test/race

.PHONY: test/race
test/race: ## Run every test with -race against the databases the environment offers, then the scenario suite on real FreeSWITCH
	@if [ -n "$$TEST_DATABASE_URL" ]; then echo "tests: PostgreSQL at $${TEST_DATABASE_URL%%\?*}"; \
		else echo "tests: no TEST_DATABASE_URL and no PostgreSQL server here: the PostgreSQL store suite will SKIP"; fi
	@rm -f $(SUMMARY)
	SWITCHYARD_SCENARIO_SUMMARY=$(SUMMARY) $(GO) test $(RACE) -count=1 -skip '$(REALNODE_E2E)' $$($(GO) list $(PKGS) | grep -v '/orchestrator/store$$')
	@# The store suite runs while the real nodes play their calls: that
	@# phase mostly waits on FreeSWITCH's clocks, so the two share the
	@# machine without slowing each other much.
	@$(GO) test $(RACE) -count=1 -v ./orchestrator/store/ > $(STORE_LOG) 2>&1 & store=$$!; \
		$(MAKE) --no-print-directory test/realnode; realnode=$$?; \
		wait $$store; storerc=$$?; \
		echo "store suite, per database:"; \
		grep -E '^(--- |ok|FAIL|panic)|^\s+[a-z_]+\.go:[0-9]+:|store suite: running on' $(STORE_LOG); \
		echo "scenario suite, per node:"; cat $(SUMMARY); \
		[ $$storerc -eq 0 ] && [ $$realnode -eq 0 ]

.PHONY: test/realnode
test/realnode: ## Run the scenario suite on real FreeSWITCH (FS_NODES nodes from the archive: SWITCHYARD_FS_ARCHIVE, else ../shared/freeswitch; or the node at SWITCHYARD_FS_ESL) and, beside it, serve's end-to-end tests on nodes of their own
	@# Without -race: the same code ran under it in the emulator pass;
	@# here the node is the judge of the protocol (REALNODE_FLAGS=-race
	@# to have both). Both wait on the nodes' clocks far more than they
	@# use the CPU, so they share the machine. Every scenario runs at
	@# once (-parallel above their number) and waits for a node, which
	@# goes to the longest waiting first.
	@$(GO) test $(REALNODE_FLAGS) -count=1 -v -run '$(REALNODE_E2E)' ./cmd/switchyard > $(E2E_LOG) 2>&1 & e2e=$$!; \
		SWITCHYARD_FS=archive SWITCHYARD_FS_NODES=$(FS_NODES) SWITCHYARD_SCENARIO_SUMMARY=$(SUMMARY) \
			$(GO) test $(REALNODE_FLAGS) -count=1 -parallel 128 -timeout 15m ./orchestrator/scenario; scenario=$$?; \
		wait $$e2e; e2erc=$$?; \
		echo "serve on real nodes:"; \
		if [ $$e2erc -eq 0 ]; then grep -E '^(--- |ok)' $(E2E_LOG); else cat $(E2E_LOG); fi; \
		[ $$scenario -eq 0 ] && [ $$e2erc -eq 0 ]

.PHONY: test/short
test/short: ## Run the tests without -race and without PostgreSQL
	$(GO) test -count=1 $(PKGS)

.PHONY: bench
bench: ## Run the benchmarks (PostgreSQL ones on a throwaway local cluster when one can be started)
	@if [ -z "$$TEST_DATABASE_URL" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		exec .ci/with-postgres $(MAKE) --no-print-directory bench/run; \
	fi; \
	$(MAKE) --no-print-directory bench/run

.PHONY: bench/run
bench/run: ## Run the benchmarks against the databases the environment offers
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Every parser of outside input has a fuzz target (their seeds run in
# make test): package and target, one pair per line.
FUZZ_TARGETS := \
	./flows:FuzzLoad \
	./api:FuzzRequest \
	./orchestrator/routing:FuzzParseAnswer \
	./orchestrator/dialstr:FuzzContactHasNoDialStringSyntax \
	./orchestrator/esl:FuzzFrameReader \
	./orchestrator/esl:FuzzParse \
	./orchestrator/esl:FuzzParseJSON \
	./orchestrator/esl:FuzzParsePlain \
	./orchestrator/fsim:FuzzReadCommand \
	./orchestrator/fsim:FuzzSession

.PHONY: fuzz
fuzz: ## Fuzz every parser of outside input, FUZZTIME each (default 5m)
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t#*:} in $${t%%:*}"; \
		$(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME); \
	done

.PHONY: lint
lint: ## go vet, staticcheck (pinned) and a gofmt check
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: fmt
fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

.PHONY: db/reset
db/reset: ## Delete the local SQLite database used by make run
	rm -f $(DB) $(DB)-wal $(DB)-shm
