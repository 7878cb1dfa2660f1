SHELL := /bin/bash
# runw: build, demo, test, bench, install.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   = -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) $(if $(filter 1,$(STATIC)),-linkmode external -extldflags -static)
TAGS      = urfave_cli_no_docs $(if $(filter 1,$(STATIC)),netgo osusergo)
# STATIC=1 links runw statically, the default where the C library's and
# libseccomp's static archives are installed (Debian: libc6-dev,
# libseccomp-dev). Every runw process, the container's init included, then
# starts without the dynamic loader: no libraries to find, map and
# relocate, 2 to 4 ms a process on the VMs of docs/PERFORMANCE.md, where
# page faults are dear. netgo and osusergo keep Go's net and os/user off
# glibc's NSS, which a static binary cannot load. STATIC=0 links
# dynamically. Asked when the build runs, after deps-build has installed
# libseccomp-dev on a new machine.
STATIC   ?= $(shell test -f "$$(gcc -print-file-name=libc.a)" && test -f "$$(gcc -print-file-name=libseccomp.a)" && echo 1)
# A static link warns of the calls in wasmtime's library that need glibc's
# shared libraries at run time: getpwuid_r (its own cache directory),
# getaddrinfo (its socket name lookups) and dlopen (VTune's JIT API). runw
# never makes them (it uses neither wasmtime's cache nor its sockets nor
# VTune), so the build leaves those warnings out: each is a line naming
# the function and a line with this text.
STATICWARN := in statically linked applications requires at runtime
BIN      := bin/runw
BUILD    := $(CURDIR)/build
PREFIX   ?= /usr/local
# A count of executions, not a duration: with a duration, Go's fuzzing
# coordinator can fail a run that found nothing with "context deadline
# exceeded" when a worker is mid-call as the time runs out (a known race in
# the coordinator; seen once in a fresh-clone run here). 120,000 calls take
# about 10 s on this machine.
FUZZTIME ?= 120000x

.PHONY: all build demo test unit integration bench deps deps-build install clean guests lint

all: build

build: $(BIN)

# deps-build: the seccomp filter is built with libseccomp (cgo, found by
# pkg-config). As root, install Debian's libseccomp-dev and pkg-config when
# they are missing, before anything is compiled; otherwise say what is
# missing and let the build fail on it.
deps-build:
	@if ! pkg-config --exists libseccomp 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps-build: installing libseccomp-dev pkg-config"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libseccomp-dev pkg-config >/dev/null; \
		else \
			echo "deps-build: libseccomp-dev and pkg-config are needed (Debian: apt-get install libseccomp-dev pkg-config)"; \
		fi; \
	fi

$(BIN): $(shell find . -name '*.go' -not -path './integration/*' -not -path './build/*') go.mod go.sum | deps-build
	@set -o pipefail; CGO_ENABLED=1 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $@ . 2>&1 | \
	awk -v w='$(STATICWARN)' '$$0 == "\043 github.com/runw/runw" { hdr = $$0; next } \
		index($$0, w) { held = ""; next } \
		{ if (held != "") { if (hdr != "") { print hdr; hdr = "" } print held } held = $$0 } \
		END { if (held != "") { if (hdr != "") print hdr; print held } }' >&2
	@echo "built $@ ($(if $(filter 1,$(STATIC)),static,dynamic), $(VERSION))"
	@$(if $(filter 1,$(STATIC)),true,echo "note: a dynamic runw maps the host's libc into each container's init, which a sidecar sharing its pid namespace with CAP_CHECKPOINT_RESTORE can reopen for writing; install libc6-dev and libseccomp-dev for a static build (docs/ARCHITECTURE.md)" >&2)

# Guests are real programs: Go for GOOS=wasip1, plus WAT files read as-is.
guests: $(BUILD)/guests/hello.wasm $(BUILD)/guests/probe.wasm

$(BUILD)/guests/%.wasm: $(wildcard integration/testdata/*/*.go)
	@mkdir -p $(@D)
	cd integration/testdata/$* && GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -o $@ .

# demo: build runw and a hello-world guest, lay out a bundle, `runw run` it.
demo: build $(BUILD)/guests/hello.wasm
	@rm -rf $(BUILD)/demo && mkdir -p $(BUILD)/demo/bundle/rootfs
	@cp $(BUILD)/guests/hello.wasm $(BUILD)/demo/bundle/rootfs/hello.wasm
	@# Without root, a bundle with a user namespace, as runc's rootless spec.
	@$(BIN) spec $$([ "$$(id -u)" = 0 ] || echo --rootless) --bundle $(BUILD)/demo/bundle
	@sed -i 's#"/app.wasm"#"/hello.wasm", "and", "its", "arguments"#' $(BUILD)/demo/bundle/config.json
	$(BIN) --root $(BUILD)/demo/state --cache-dir $(BUILD)/demo/cache run --bundle $(BUILD)/demo/bundle demo-$$$$

# test: every test: unit tests, then end-to-end tests against bin/runw, real
# guests and (as root, installing them when missing) podman and containerd.
test: build
	@mkdir -p $(BUILD)
	@if [ "$$(id -u)" = 0 ]; then sh integration/deps.sh; else echo "not root: engine tests will skip"; fi
	@# CRI-O, which Debian 12 lacks, from the Go module proxy (once; TestCRIO skips without it).
	@if [ "$$(id -u)" = 0 ]; then sh integration/crio.sh; fi
	$(MAKE) --no-print-directory lint
	@# The WASI host's fuzz test, briefly (longer by hand: FUZZTIME=10m or 10000000x).
	$(GO) test -run '^$$' -fuzz FuzzHostCalls -fuzztime $(FUZZTIME) ./wasi/preview1/
	@set -o pipefail; RUNW_TEST_BINARY=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -timeout 40m ./... > $(BUILD)/test.log 2>&1; rc=$$?; \
	grep -E -- '^(ok|FAIL|\?) |--- FAIL' $(BUILD)/test.log; \
	grep -E -- '--- SKIP' $(BUILD)/test.log; \
	echo "full log, with each skip's reason: $(BUILD)/test.log"; \
	echo "tests: $$(grep -cE -- '--- PASS' $(BUILD)/test.log) passed, $$(grep -cE -- '--- FAIL' $(BUILD)/test.log) failed, $$(grep -cE -- '--- SKIP' $(BUILD)/test.log) skipped"; \
	exit $$rc

unit:
	$(GO) test -count=1 ./spec/ ./state/ ./wasi/ ./runtime/

# gofmt, go vet and staticcheck (a pinned version, from the module proxy).
# runtime/ again with the test build's tag, so that sandbox_probe.go,
# which the plain build leaves out, is checked too.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) vet -tags runw_sandboxprobe ./runtime/
	$(GO) run $(STATICCHECK) -tags runw_sandboxprobe ./runtime/

integration: build
	$(GO) test -count=1 -v -timeout 40m ./integration/

bench: build
	@if [ "$$(id -u)" = 0 ]; then sh integration/deps.sh; fi
	@mkdir -p $(BUILD)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 30m ./integration/ \
		-args -bench-table -bench-runw $(CURDIR)/$(BIN) $(BENCHFLAGS) 2>&1 | tee $(BUILD)/bench.log; exit $${PIPESTATUS[0]}
	@# runw's WASI host against wasmtime's built-in preview1, same module, same run.
	$(GO) test -count=1 -run '^$$' -bench 'WASILayer|WASICall|WASIClock' -benchtime 3x -timeout 30m ./wasi/ 2>&1 | tee -a $(BUILD)/bench.log; exit $${PIPESTATUS[0]}
	@# poll_oneoff naming many idle sockets: the kept epoll set against poll(2), same run; and a descriptor number for an accept among 10,000 open.
	$(GO) test -count=1 -run '^$$' -bench 'PollManyIdle|TableAcceptClose' -benchtime 2000x -timeout 10m ./wasi/preview1/ 2>&1 | tee -a $(BUILD)/bench.log; exit $${PIPESTATUS[0]}

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/runw

clean:
	rm -rf bin build
