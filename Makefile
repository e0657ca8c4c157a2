# coffer's build and test entry points. `make check` is what CI runs (through .ci/run).
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Two cores on the project's machines: keep package parallelism modest.
GOTEST_P    ?= 2
# A count of executions, not a duration: Go 1.26's fuzz coordinator can fail a run whose
# -fuzztime duration ends while a worker is mid-call ("context deadline exceeded", no crasher;
# go.dev/issue/75804, fixed in Go 1.27). A count has no such deadline.
FUZZTIME    ?= 100000x

.PHONY: build server check fmt vet staticcheck test race fuzz e2e bench bench-smoke clean

build:
	$(GO) build -o bin/coffer ./cmd/coffer

# Start a ready server: embedded store in ./coffer-data, loopback, AWS CLI usable at once.
server:
	$(GO) run ./cmd/coffer server

# Every test, and the static checks: what CI runs. The benchmarks run briefly too, so that
# they cannot rot (as benchmarks: nothing here asserts a time).
check: fmt vet staticcheck race fuzz bench-smoke

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# All tests (unit, storage conformance on SQLite and PostgreSQL, server through aws-sdk-go-v2,
# end-to-end through the AWS CLI and boto3) with the race detector.
race:
	$(GO) test -race -count=1 -p $(GOTEST_P) -timeout 30m ./...

# The same tests without the race detector, for a quick local run.
test:
	$(GO) test -count=1 -p $(GOTEST_P) -timeout 20m ./...

# Each fuzz target runs briefly; a failure leaves its input under testdata/fuzz.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./awsapi
	$(GO) test -run='^$$' -fuzz='^FuzzParseAuthorization$$' -fuzztime=$(FUZZTIME) ./sigv4
	$(GO) test -run='^$$' -fuzz='^FuzzParsePresigned$$' -fuzztime=$(FUZZTIME) ./sigv4
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./policy
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeParams$$' -fuzztime=$(FUZZTIME) ./audit
	$(GO) test -run='^$$' -fuzz='^FuzzEvaluate$$' -fuzztime=$(FUZZTIME) ./policy
	$(GO) test -run='^$$' -fuzz='^FuzzParseBlob$$' -fuzztime=$(FUZZTIME) ./keyring
	$(GO) test -run='^$$' -fuzz='^FuzzParseShare$$' -fuzztime=$(FUZZTIME) ./seal
	$(GO) test -run='^$$' -fuzz='^FuzzRedact$$' -fuzztime=$(FUZZTIME) ./audit
	$(GO) test -run='^$$' -fuzz='^FuzzParseRecord$$' -fuzztime=$(FUZZTIME) ./audit
	$(GO) test -run='^$$' -fuzz='^FuzzParseRules$$' -fuzztime=$(FUZZTIME) ./rotation
	$(GO) test -run='^$$' -fuzz='^FuzzParseFile$$' -fuzztime=$(FUZZTIME) ./agent
	$(GO) test -run='^$$' -fuzz='^FuzzParseQuery$$' -fuzztime=$(FUZZTIME) ./agent

# The figures of docs/performance.md (a few minutes).
bench:
	$(GO) run ./cmd/coffer bench --connections 16,1 --runs 3 --duration 5s
	$(GO) run ./cmd/coffer bench --op put --connections 16 --runs 3 --duration 5s
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1s ./...

# Every benchmark, briefly: each Go benchmark 100 times, each coffer bench op for a second.
bench-smoke:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=100x ./...
	$(GO) run ./cmd/coffer bench --connections 16,1 --duration 1s --warmup 200ms
	$(GO) run ./cmd/coffer bench --op put --connections 16 --duration 1s --warmup 200ms
	$(GO) run ./cmd/coffer bench --op describe --connections 16 --duration 1s --warmup 200ms
	$(GO) run ./cmd/coffer bench --op create --connections 16 --duration 1s --warmup 200ms
	$(GO) run ./cmd/coffer bench --op list --populate 2000 --list-filter bench/pop/0000001 --connections 1 --duration 1s --warmup 0

clean:
	rm -rf bin
