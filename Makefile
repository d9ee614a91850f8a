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

# Every fuzz target (func Fuzz* in any package, found by go test -list) for
# FUZZTIME each; FUZZTIME=5m for longer, FUZZ=regexp for some. The runner's
# "context deadline exceeded" flake is retried once; a crasher fails, after
# every target has run (scripts/fuzz.sh).
FUZZTIME ?= 30s
fuzz:
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" ./scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
