# Developer and CI entry points. CI runs .ci/run, which runs `make test`.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 20s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test test-deps fuzz lint bench bench-cluster build chaos cross release

# The platforms `make release` ships and `make cross` (run by `make lint`) builds and vets.
PLATFORMS := linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
# Release files get the last commit's time as their modification time (reproducible).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

# The whole suite under the race detector (about a minute on 2 cores), then a short fuzz of the
# request decoder. scripts/test-deps.sh first installs kcat and kafkajs for broker/compat.
test: test-deps
	$(GO) test -race -count=1 -timeout 15m ./...
	@echo 'fetch and consume tests through the portable (non-sendfile) fetch path:'
	$(GO) test -tags gregor_portable -count=1 -run 'Fetch|Consume' ./broker/ ./broker/server/
	$(MAKE) --no-print-directory fuzz

test-deps:
	bash scripts/test-deps.sh

# Short fuzz runs; the seed corpora also run in every `go test`: the request decoder, the log's
# append path, produced batches under every codec, and the Connect REST API.
fuzz:
	$(GO) test -run=NONE -fuzz='^FuzzDecodeRequest$$' -fuzztime=$(FUZZTIME) ./broker/server/
	$(GO) test -run=NONE -fuzz='^FuzzAppend$$' -fuzztime=$(FUZZTIME) ./broker/log/
	$(GO) test -run=NONE -fuzz='^FuzzProduceBatch$$' -fuzztime=$(FUZZTIME) ./broker/log/
	$(GO) test -run=NONE -fuzz='^FuzzRESTAPI$$' -fuzztime=$(FUZZTIME) ./connect/

# gofmt and go vet must be clean; staticcheck runs when it can be fetched through the Go module
# proxy, and is skipped with a note otherwise (its findings still fail the target).
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
		echo '$(GO) run $(STATICCHECK) ./...'; \
		$(GO) run $(STATICCHECK) ./...; \
	else \
		echo 'lint: staticcheck could not be downloaded, skipped'; \
	fi
	@$(MAKE) --no-print-directory cross

# Build and vet (tests included) for every release platform, and the portable fetch path on this
# one: a compile error on any of them fails CI.
cross:
	@set -e; for p in $(PLATFORMS); do \
		echo "cross: $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	done
	$(GO) vet -tags gregor_portable ./broker/server/

# Reproducible release binaries in dist/ (two runs on one toolchain give the same SHA256SUMS):
# no cgo, no file paths, no build id, version from `git describe`, fixed modification times.
release:
	rm -rf dist && mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/gregor-$(VERSION)-$$os-$$arch$$ext; echo "release: $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOFLAGS=-buildvcs=false $(GO) build -trimpath \
			-ldflags '-s -w -buildid= -X main.version=$(VERSION)' -o $$out ./cmd/gregor; \
		touch -d @$(SOURCE_DATE_EPOCH) $$out 2>/dev/null || touch -t $$(date -r $(SOURCE_DATE_EPOCH) +%Y%m%d%H%M.%S) $$out; \
	done
	cd dist && (command -v sha256sum >/dev/null && sha256sum gregor-* || shasum -a 256 gregor-*) > SHA256SUMS
	touch -d @$(SOURCE_DATE_EPOCH) dist/SHA256SUMS 2>/dev/null || true
	@cat dist/SHA256SUMS

bench:
	$(GO) test -run=NONE -bench=. -benchmem ./broker/...

# Cluster figures of docs/benchmarks.md (not in CI, ~10 min on an idle 2-core machine): a 3-node RF=3 cluster against a single
# node, rounds alternated (scripts/bench.sh), then leader and controller failover times over kill -9
# (internal/testcluster/bench_test.go). Results in bench-out/cluster.md and bench-out/failover.txt.
bench-cluster:
	mkdir -p bench-out
	TARGETS="$${TARGETS:-gregor gregor-cluster}" CASE_NAMES="$${CASE_NAMES:-100B-acks_all 1KiB-acks_all}" bash scripts/bench.sh bench-out/cluster.md
	set -o pipefail; GREGOR_BENCH_FAILOVER=1 $(GO) test -count=1 -timeout 40m -v -run 'TestBench(Leader|Controller)Failover' ./internal/testcluster/ | tee bench-out/failover.txt

build:
	$(GO) build -o gregor ./cmd/gregor

# Jepsen-style fault run (not in CI; docs/chaos.md): idempotent acks=all producers and a reader
# while CHAOS_FAULTS faults (kill -9, SIGTERM, SIGSTOP, network cut, blackhole, isolation) hit the
# nodes one at a time, then every anomaly count. Any GREGOR_CHAOS_* variable in the environment
# (NODES, KINDS, DOWN, INTERVAL, RATE, PARTITIONS, PRODUCERS, READER_RESTART, SEED, RECOVER)
# reaches the test.
CHAOS_FAULTS ?= 60
CHAOS_TIMEOUT ?= 2h
chaos:
	$(GO) build -o .chaos-gregor ./cmd/gregor
	GREGOR_BINARY=$(CURDIR)/.chaos-gregor GREGOR_CHAOS_FAULTS=$(CHAOS_FAULTS) \
		$(GO) test -count=1 -v -timeout $(CHAOS_TIMEOUT) -run '^TestChaos$$' ./internal/chaos/; \
		status=$$?; rm -f .chaos-gregor; exit $$status
