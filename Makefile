# xrayd: the few commands people run. `make help` lists them.
# Sections belong to different parts of the project; add new targets in a section of your own.

SHELL      := /bin/bash
GO         ?= go
PODMAN     ?= podman
VERSION    ?= $(shell git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//')
override VERSION := $(or $(VERSION),0.0.0-dev)
DIST       ?= dist
ARCHES     ?= amd64 arm64
IMAGE      ?= localhost/xrayd
LDFLAGS    := -s -w -X main.version=$(VERSION)
PKGS       ?= ./...
BENCHPKGS  ?= ./internal/...
TESTFLAGS  ?=
export VERSION DIST

.DEFAULT_GOAL := build
.PHONY: help build build-linux test test-packaging bench packages image image-debian image-amazonlinux scorekeep clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

# ---- build, test, bench ------------------------------------------------------------------

build: ## bin/xray for this machine (static, version $(VERSION))
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/xray ./cmd/xray

build-linux: ## dist/linux-<arch>/xray for ARCHES (cross-compiled, CGO_ENABLED=0)
	LINUX_ARCHES='$(ARCHES)' packaging/package.sh linux-binaries

test: ## go test $(PKGS) (PKGS=./... by default; TESTFLAGS=-race ...)
	$(GO) test $(TESTFLAGS) $(PKGS)

test-packaging: ## packaging, images, task definitions, sample app (CI=true: missing tools fail)
	$(GO) test -count=1 -v -timeout 10m ./test/packaging ./examples/...

bench: ## benchmarks with allocations, BENCHPKGS=./internal/... by default
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHPKGS)

# ---- packages and images (packaging/) ------------------------------------------------------

packages: ## dist/: .deb + .rpm (linux amd64, arm64), .zip (linux, darwin, windows), image context
	LINUX_ARCHES='$(ARCHES)' packaging/package.sh packages
	@ls -l $(DIST)/*.deb $(DIST)/*.rpm $(DIST)/*.zip

image: ## scratch image per arch ($(IMAGE):$(VERSION)-<arch>) + manifest list $(IMAGE):$(VERSION)
	LINUX_ARCHES='$(ARCHES)' packaging/package.sh context
	-$(PODMAN) manifest rm $(IMAGE):$(VERSION) >/dev/null 2>&1
	$(PODMAN) manifest create $(IMAGE):$(VERSION)
	set -e; for a in $(ARCHES); do \
	  $(PODMAN) build --format docker --layers=false --no-cache --platform linux/$$a \
	    --build-arg VERSION=$(VERSION) -f packaging/Dockerfile.scratch -t $(IMAGE):$(VERSION)-$$a $(DIST); \
	  $(PODMAN) manifest add $(IMAGE):$(VERSION) containers-storage:$(IMAGE):$(VERSION)-$$a; \
	done
	$(PODMAN) images --filter reference='$(IMAGE):$(VERSION)*'

image-debian: ## $(IMAGE):$(VERSION)-debian from the amd64 .deb (BASE=... to use a local base image)
	LINUX_ARCHES=amd64 packaging/package.sh linux-packages
	$(PODMAN) build --format docker --layers=false --build-arg VERSION=$(VERSION) $(if $(BASE),--build-arg BASE=$(BASE)) \
	  -f packaging/Dockerfile.debian -t $(IMAGE):$(VERSION)-debian $(DIST)

image-amazonlinux: ## $(IMAGE):$(VERSION)-amazonlinux from the amd64 .zip (BASE=... as above)
	PLATFORMS=linux/amd64 packaging/package.sh zips
	$(PODMAN) build --format docker --layers=false --build-arg VERSION=$(VERSION) $(if $(BASE),--build-arg BASE=$(BASE)) \
	  -f packaging/Dockerfile.amazonlinux -t $(IMAGE):$(VERSION)-amazonlinux $(DIST)

# ---- examples --------------------------------------------------------------------------------

scorekeep: ## bin/scorekeep, the instrumented sample app (examples/scorekeep)
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/scorekeep ./examples/scorekeep

clean: ## remove bin/ and dist/
	rm -rf bin $(DIST)
