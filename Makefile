# vserver + vinit. `make demo` and `make test` are the two commands of the README;
# both install what they need on a fresh Debian machine (as root).

GO        ?= go
BIN       := bin
GOFLAGS_B := -trimpath -ldflags '-s -w'
PKGS      := ./...
DEB_PKGS  := busybox-static iproute2 tini dumb-init catatonit s6 runit systemd-container systemd hyperfine util-linux procps binutils
FUZZTIME  ?= 3s
BENCHTIME ?= 

export CGO_ENABLED := 0

.PHONY: all build test check bench demo fuzz soak deps clean staticcheck

all: build

# deps installs the Debian packages the tests, the demo and the benchmarks use.
# It only calls apt when something is missing, so it costs nothing afterwards.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build:
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS_B) -o $(BIN)/vinit ./cmd/vinit
	$(GO) build $(GOFLAGS_B) -o $(BIN)/vserver ./cmd/vserver
	@command -v readelf >/dev/null || { echo "readelf is missing: apt-get install binutils (make deps does)" >&2; exit 1; }
	@for b in $(BIN)/vinit $(BIN)/vserver; do \
		readelf -l $$b >/dev/null || exit 1; \
		if readelf -l $$b | grep -q INTERP; then echo "$$b is not static (it has an ELF interpreter)" >&2; exit 1; fi; \
		if readelf -d $$b 2>/dev/null | grep -q NEEDED; then echo "$$b is not static (it needs shared libraries)" >&2; exit 1; fi; \
	done
	@ls -l $(BIN)/vinit $(BIN)/vserver | awk '{print $$5, $$9}'

# test runs everything: unit tests, PID-1 tests in real PID namespaces, launcher
# and network tests. As root (CI is root); not root, the privileged tests skip.
test: deps build
	VINIT_BIN=$(CURDIR)/$(BIN)/vinit VSERVER_BIN=$(CURDIR)/$(BIN)/vserver \
		$(GO) test -count=1 -timeout 12m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=2s

check: staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$$($(GO) env GOPATH)/bin/staticcheck $(PKGS)

staticcheck:
	@test -x $$($(GO) env GOPATH)/bin/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@latest

# fuzz runs every fuzz target for FUZZTIME each (CI: a few seconds; `make fuzz FUZZTIME=5m` for real).
# A run that ends in "context deadline exceeded" without a failing input is Go's
# fuzzer racing its own -fuzztime deadline, not a finding: it is run again (twice
# at most). A real failure always writes "Failing input written to ..." and fails.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			log=/tmp/fuzz.$$$$.log; ok=0; \
			for try in 1 2 3; do \
				if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1; then ok=1; break; fi; \
				if grep -q 'Failing input written' $$log || ! grep -q 'context deadline exceeded' $$log; then break; fi; \
				echo "  (fuzzer hit its own deadline, no failing input: again)"; \
			done; \
			if [ $$ok -ne 1 ]; then cat $$log; rm -f $$log; exit 1; fi; \
			rm -f $$log; \
		done; \
	done

bench: deps build
	VINIT_BIN=$(CURDIR)/$(BIN)/vinit VSERVER_BIN=$(CURDIR)/$(BIN)/vserver $(GO) run ./bench/cmd/bench -out bench/RESULTS.md

# soak keeps one guest busy for minutes at the issue's numbers (1,000,000
# orphans, 10,000 crash-restarts, 1,000 execs, 100 reboots); make test runs a
# short variant. SOAK_ORPHANS, SOAK_CRASHES, SOAK_EXECS, SOAK_REBOOTS override.
soak: deps build
	SOAK=full VINIT_BIN=$(CURDIR)/$(BIN)/vinit VSERVER_BIN=$(CURDIR)/$(BIN)/vserver \
		$(GO) test -count=1 -v -timeout 60m -run '^TestSoak$$' ./soak/

demo: deps build
	./demo/run.sh

clean:
	rm -rf $(BIN)
