# wacht — see README.md. `make help` lists the targets.
GO ?= go
# Build with the toolchain go.mod names (go1.26.11: fixes in the standard
# library that govulncheck reports for 1.26.8); fetched from the module proxy.
export GOTOOLCHAIN := auto
export WACHT_SHARED ?= $(abspath ../shared)

.PHONY: help demo test check build web bench fuzz clean

help: ## list targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: web ## build bin/wacht (with the console's bundle)
	$(GO) build -o bin/wacht ./cmd/wacht

web: ## bundle the console's pinned npm libraries into web/dist (embedded by the build)
	cd web && npm ci --no-audit --no-fund --ignore-scripts && node bundle.mjs

demo: build ## serve on embedded defaults and replay a generated attack story
	./bin/wacht demo

test: ## run every test (installs PostgreSQL, rsyslog, syslog-ng as needed)
	./scripts/test.sh

check: ## gofmt, go vet, staticcheck, govulncheck (offline database)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	./scripts/govulncheck.sh

bench: ## run the benchmarks (bench/ module, peers side by side)
	cd bench && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...

clean: ## remove build output and demo data
	rm -rf bin wacht-demo wacht-data
