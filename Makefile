# zkbench — common tasks. `make help` lists them.
GO       ?= go
BIN      ?= bin
PKGS     ?= ./...
# The whole suite must stay well under CI's 30-minute budget on 2 cores.
TEST_TIMEOUT ?= 20m

.PHONY: help build print-ldflags test test-short run bench bench-compare bench-before-after bench-agents lint fuzz clean

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
# REGIMES=sync,pipelined runs the whole comparison once per regime (sync: one
# request in flight per client, as Kafka brokers and lock recipes; pipelined:
# OUTSTANDING in flight); empty, one run at OUTSTANDING. WARMUP=auto waits
# for a steady throughput (Java's JIT needs ~6 s at 60 x 1).
REGIMES ?=
OUTSTANDING ?= 100
WARMUP ?= 1s
# The Go server runs from bin/zkserver, as users run it (and as the --go-variant
# builds do): launched from zkbench's larger binary its RSS is ~10 MiB higher.
COMPARE = $(BIN)/zkbench compare --sizes $(SIZES) --reads $(READS) --reps $(REPS) --warmup $(WARMUP) --duration 5s \
	--outstanding $(OUTSTANDING) $(if $(REGIMES),--regimes $(REGIMES)) \
	--go-command '$(abspath $(BIN))/zkserver start-foreground'

bench-compare: build ## Go vs Java ZooKeeper throughput/latency/CPU/memory ratios -> out/bench-compare/<time>-compare-*/
	$(COMPARE) --bound --profile 1:100,1:70,1:0,3:0 --out out/bench-compare

# The working tree's Go server against its build at BASE (a git revision),
# in the same run: e.g. make bench-before-after BASE=HEAD~1 SIZES=1 READS=0,100
# (REGIMES=sync,pipelined for both regimes, OUTSTANDING=1 for the sync one alone)
bench-before-after: build ## Go server before/after ratios against BASE=rev -> out/bench-compare/before-after/
	@test -n "$(BASE)" || { echo 'bench-before-after: give BASE=<git revision>, e.g. make bench-before-after BASE=HEAD~1'; exit 2; }
	rm -rf $(BIN)/base && mkdir -p $(BIN)/base/src
	git archive $(BASE) | tar -x -C $(BIN)/base/src
	cd $(BIN)/base/src && $(GO) build -o ../zkserver ./cmd/zkserver
	$(COMPARE) --impl go --go-variant 'go-before=$(abspath $(BIN))/base/zkserver start-foreground' --out out/bench-compare/before-after

# Issue 18's figure: a 3-server Go ensemble on three hosts of a `zkbench lab`
# (network namespaces on one bridge; needs root and iproute2), driven from one
# client host and from two, AGENT_REPS times each, the order alternating, under
# flock so that no other benchmark runs at once. Every run directory has
# agents.json (each agent's ops/s, driver cores, CPU s per 10k ops, bottleneck
# note) and servers.json (each server's CPU); summary.tsv lists them all.
# AGENT_CLIENT_CPU=0.5 gives each client host half a core (a cgroup quota),
# as a small client machine would have; empty, the hosts share every CPU.
AGENT_REPS ?= 3
AGENT_CLIENT_CPU ?=
AGENT_LOAD ?= --clients 60 --warmup 2s --duration 10s
AGENT_LAB  ?= zkbbench
AGENT_OUT  ?= out/bench-agents
bench-agents: build ## 3 Go servers on lab hosts, load from 1 vs 2 client hosts -> out/bench-agents/<time>/ (root)
	flock /tmp/zkbench-bench.lock bash -ec '\
	z=$(abspath $(BIN))/zkbench; lab="--name $(AGENT_LAB)"; coord=198.18.0.1:2191/bench; \
	out=$(abspath $(AGENT_OUT))/$$(date -u +%Y%m%dT%H%M%S); mkdir -p $$out; \
	cpu=$(AGENT_CLIENT_CPU); $$z lab up $$lab --hosts coord,s1,s2,s3,c1,c2 $${cpu:+--cpu c1=$$cpu,c2=$$cpu}; trap "$$z lab down $$lab" EXIT; \
	$$z lab exec $$lab coord -- $$z coordinator --addr 198.18.0.1 --port 2191 >$$out/coord.log 2>&1 & \
	for i in $$(seq 100); do $$z lab exec $$lab coord -- bash -c "</dev/tcp/198.18.0.1/2191" 2>/dev/null && break; sleep 0.1; done; \
	for s in 2 3 4; do h=s$$((s-1)); $$z lab exec $$lab $$h -- $$z agent --coord $$coord --name $$h --addr 198.18.0.$$s >$$out/agent-$$h.log 2>&1 & done; \
	for h in c1 c2; do $$z lab exec $$lab $$h -- $$z agent --coord $$coord --name $$h --no-server >$$out/agent-$$h.log 2>&1 & done; \
	printf "client-hosts\trep\trun-ops/s\tagent\tagent-ops/s\tp99-ms\tdriver-cores\tCPU-s/10k-ops\tnote\tservers-CPU-s\n" >$$out/summary.tsv; \
	for rep in $$(seq $(AGENT_REPS)); do \
	  order="1 2"; [ $$((rep % 2)) = 0 ] && order="2 1"; \
	  for n in $$order; do \
	    cl=c1; [ $$n = 2 ] && cl=c1,c2; \
	    echo "rep $$rep, $$n client host(s): $$(uptime)" | tee -a $$out/runs.log; \
	    $$z lab exec $$lab coord -- $$z run --agents $$coord --server-agents s1,s2,s3 --client-agents $$cl $(AGENT_LOAD) --out $$out/$$n-client | tee -a $$out/runs.log; \
	    d=$$(ls -td $$out/$$n-client/*/ | head -1); \
	    sc=$$(jq -r "[.[].cpu_seconds] | map(tostring) | join(\" \")" $$d/servers.json); \
	    jq -r --arg n $$n --arg rep $$rep --arg sc "$$sc" "(map(.throughput) | add | floor) as \$$all | .[] | [\$$n, \$$rep, \$$all, .name, (.throughput|floor), (.p99_ns/1e4|floor/100), (.driver.cpu_cores*100|floor/100), (.driver.cpu_per_10k_ops*1000|floor/1000), (.bottleneck // \"\" | split(\":\")[0]), \$$sc] | @tsv" $$d/agents.json >>$$out/summary.tsv; \
	  done; \
	done; \
	column -t -s "	" $$out/summary.tsv; echo "$$out"'

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

fuzz: ## a short run of every fuzz target
	$(GO) test -run '^$$' -fuzz FuzzDecodeRequest -fuzztime 30s ./server/proto

clean: ## remove build output
	rm -rf $(BIN)
