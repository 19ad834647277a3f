# zkbench — common tasks. `make help` lists them.
GO       ?= go
BIN      ?= bin
PKGS     ?= ./...
# The whole suite must stay well under CI's 30-minute budget on 2 cores.
TEST_TIMEOUT ?= 20m

.PHONY: help build print-ldflags test test-short run bench bench-compare bench-before-after lint fuzz clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The commit the binaries are built from, for `zkbench version` and every
# result: the toolchain's own VCS stamp is off where GOFLAGS holds
# -buildvcs=false (internal/version says more).
VERSION_PKG = github.com/zkbench/zkbench/internal/version
LDFLAGS ?= -X $(VERSION_PKG).revision=$(shell git rev-parse HEAD 2>/dev/null) \
	-X $(VERSION_PKG).modified=$(shell git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)

build: ## build zkserver, zkbench and zknoop into ./bin
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

print-ldflags: ## the -ldflags that stamp the commit (for go build by hand)
	@echo '$(LDFLAGS)'

# -p 1: test packages run one at a time. Many of them start real server
# processes (Go and Java ensembles); on two cores, two such packages at once
# starve each other's servers into timeouts that test nothing.
test: ## vet and run every test (needs Debian's zookeeper, python3-kazoo; .ci/run installs them)
	$(GO) vet $(PKGS)
	$(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

test-short: ## the fast subset: no long soaks
	$(GO) test -short -count=1 $(PKGS)

run: build ## the main job: a short benchmark on a local 3-server Go ensemble
	$(BIN)/zkbench run

bench: ## micro-benchmarks (codec, tree, wal)
	$(GO) test -run '^$$' -bench . -benchmem ./server/...

# Go vs Java at SIZES servers x READS % reads, REPS repetitions, the no-op
# bound, CPU per operation, memory, start-up and profiles of the Go server:
# about 20 minutes with the defaults. `zkbench compare --help` says more.
SIZES ?= 1,3,7
READS ?= 0,70,100
REPS  ?= 3
# The Go server runs from bin/zkserver, as users run it (and as the --go-variant
# builds do): launched from zkbench's larger binary its RSS is ~10 MiB higher.
COMPARE = $(BIN)/zkbench compare --sizes $(SIZES) --reads $(READS) --reps $(REPS) --warmup 1s --duration 5s \
	--go-command '$(abspath $(BIN))/zkserver start-foreground'

bench-compare: build ## Go vs Java ZooKeeper throughput/latency/CPU/memory ratios -> out/bench-compare/<time>-compare-*/
	$(COMPARE) --bound --profile 1:100,1:70,1:0,3:0 --out out/bench-compare

# The working tree's Go server against its build at BASE (a git revision),
# in the same run: e.g. make bench-before-after BASE=HEAD~1 SIZES=1 READS=0,100
bench-before-after: build ## Go server before/after ratios against BASE=rev -> out/bench-compare/before-after/
	@test -n "$(BASE)" || { echo 'bench-before-after: give BASE=<git revision>, e.g. make bench-before-after BASE=HEAD~1'; exit 2; }
	rm -rf $(BIN)/base && mkdir -p $(BIN)/base/src
	git archive $(BASE) | tar -x -C $(BIN)/base/src
	cd $(BIN)/base/src && $(GO) build -o ../zkserver ./cmd/zkserver
	$(COMPARE) --impl go --go-variant 'go-before=$(abspath $(BIN))/base/zkserver start-foreground' --out out/bench-compare/before-after

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

fuzz: ## a short run of every fuzz target
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 30s ./server/proto

clean: ## remove build output
	rm -rf $(BIN)
