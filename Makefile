# portolan — `make test` is the one command that checks everything: it
# installs the system packages the tests need (scripts/deps.sh), then vets,
# checks formatting and runs every test. CI runs exactly this.

GO ?= go

.PHONY: test deps check build fuzz bench

test: deps check
	$(GO) test -count=1 ./...

deps:
	./scripts/deps.sh

check:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The version comes from the build information (module version, VCS
# revision); where the go command records no revision (a git worktree,
# GOFLAGS=-buildvcs=false) the ldflags give it.
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
MODIFIED ?= $(shell git status --porcelain 2>/dev/null | grep -q . && echo true)
build:
	$(GO) build -ldflags "-X main.vcsRevision=$(REVISION) -X main.vcsModified=$(MODIFIED)" -o portolan ./cmd/portolan

# Each fuzz target for a while; FUZZTIME=5m for longer.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./catalog -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./resolve -run '^$$' -fuzz FuzzExpand -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./target -run '^$$' -fuzz FuzzGenerate -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./target/nftables -run '^$$' -fuzz FuzzParseSets -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./reflector -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./reflector -run '^$$' -fuzz '^FuzzParseSIP$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./reflector -run '^$$' -fuzz '^FuzzDecodeReceived$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./reflector -run '^$$' -fuzz '^FuzzServe$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./probe -run '^$$' -fuzz '^FuzzFlags$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./probe -run '^$$' -fuzz '^FuzzDiffSIP$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./audit/nftjson -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./audit/nftjson -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./audit/iptsave -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
