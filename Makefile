# edgegw — see README.md. Every target works on a fresh Debian machine with Go;
# `make test` needs mosquitto, postgresql and qemu-user-static (.ci/run installs
# them).

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
GOFLAGS_STATIC := CGO_ENABLED=0
FUZZTIME ?= 30s
DURATION ?= 30s
CHAOS    ?= 15m
DISKFULL ?= 2m
SOAK     ?= 15m
SEED     ?= 0
SUITE    := go test -count=1 -v -timeout 90m ./gateway/

# The production build (build-prod) has the tag nodemo: the drivers of real
# hardware (drivers/all), without `edgegw demo`, its embedded MQTT broker,
# the sim driver, "sim:" buses and --sim flags of drivers/sim, and without
# the backend's commands (ingest, fleet, open) and its database drivers.
# The tag nobackend leaves out the backend and the packaging tool gendocs
# (the gateway's build with the emulators, which make bench measures the
# footprint of); the tag gendocs adds gendocs back (make deb's generator of
# the box's man pages). `make build` (also the backend's binary, packaged
# as edgegw-backend), `make demo` and the tests keep the full build. Drivers can be trimmed too:
# PRODTAGS=nodemo,custom,drivers.bme280,drivers.modbusmeter
PRODTAGS ?= nodemo
# The backend's build (the package edgegw-backend): the production build
# plus the backend's commands ingest, fleet and open.
BACKENDTAGS ?= nodemo,backend

.PHONY: deps build build-prod build-arm test demo check bench fuzz chaos chaos-arm64 soak deb test-deb clean

build:
	$(GOFLAGS_STATIC) go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw ./cmd/edgegw

# Production binaries for amd64 and arm64, and the size of each.
build-prod:
	$(GOFLAGS_STATIC) go build -tags $(PRODTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-prod ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 go build -tags $(PRODTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-prod-linux-arm64 ./cmd/edgegw
	@for b in dist/edgegw-prod dist/edgegw-prod-linux-arm64; do echo "$$b: $$(stat -c %s $$b) bytes (tags $(PRODTAGS), static, stripped)"; done

build-arm:
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-linux-arm64 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=7 go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-linux-armv7 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=6 go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-linux-armv6 ./cmd/edgegw

# The Debian packages the tests need: installed when run as root, otherwise
# the one apt-get command is printed.
deps:
	@scripts/deps.sh

# All tests: unit, integration against a real Mosquitto, short fuzz runs of
# the seed corpora, and the ARM binaries' self test under qemu-user.
test: deps build-arm
	go test -race -count=1 -timeout 20m ./...
	scripts/fuzz.sh 20000x
	scripts/arm-smoke.sh
	$(MAKE) test-deb

demo:
	go run ./cmd/edgegw demo --duration $(DURATION)

check:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	go run ./scripts/binarycheck
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	go test -race -short -count=1 ./...

bench:
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The reliability suites (docs/reliability.md): the real binary under seeded
# faults, with a report. `make test` runs a short version of each. SEED=N
# replays a schedule; CHAOS/SOAK set the duration.
chaos:
	$(SUITE) -run '^TestIntegrationChaos(DiskFull)?$$' -args -chaos.duration $(CHAOS) -chaos.diskfull $(DISKFULL) -chaos.seed $(SEED)

chaos-arm64: build-arm
	$(SUITE) -run '^TestIntegrationChaos$$' -args -chaos.duration 5m -chaos.seed $(SEED) \
		-chaos.cmd "qemu-aarch64-static $(CURDIR)/dist/edgegw-linux-arm64"

soak:
	$(SUITE) -run '^TestIntegrationSoak$$' -args -soak.duration $(SOAK) -chaos.seed $(SEED)

# Debian packages. edgegw, for junction boxes (amd64 for labs, arm64,
# armhf): the production build (-tags $(PRODTAGS)); the armhf package carries
# the GOARMv6 build so that it also runs on Pi Zero and Pi 1. edgegw-backend,
# for the city's servers (amd64, arm64): the backend's build (-tags
# $(BACKENDTAGS)), with `edgegw ingest`, `fleet` and `open` and, like the
# box's, no demo and no emulators. The man pages and completions are
# generated from the command tree of the build packaged, by this machine's
# build of the same tags plus gendocs (dist/edgegw-gendocs,
# dist/edgegw-backend-gendocs); mkdeb checks that each generator is a build
# of the packaged binary's kind.
MKDEB := go run ./scripts/mkdeb --version $(VERSION) --out dist/
deb:
	$(GOFLAGS_STATIC) go build -tags $(PRODTAGS),gendocs -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-gendocs ./cmd/edgegw
	$(GOFLAGS_STATIC) go build -tags $(BACKENDTAGS),gendocs -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-backend-gendocs ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=amd64 go build -tags $(PRODTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-prod-linux-amd64 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 go build -tags $(PRODTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-prod-linux-arm64 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm GOARM=6 go build -tags $(PRODTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-prod-linux-armv6 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=amd64 go build -tags $(BACKENDTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-backend-linux-amd64 ./cmd/edgegw
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=arm64 go build -tags $(BACKENDTAGS) -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-backend-linux-arm64 ./cmd/edgegw
	rm -f dist/*.deb
	$(MKDEB) --package edgegw --arch amd64 --binary dist/edgegw-prod-linux-amd64 --generator dist/edgegw-gendocs
	$(MKDEB) --package edgegw --arch arm64 --binary dist/edgegw-prod-linux-arm64 --generator dist/edgegw-gendocs
	$(MKDEB) --package edgegw --arch armhf --binary dist/edgegw-prod-linux-armv6 --generator dist/edgegw-gendocs
	$(MKDEB) --package edgegw-backend --arch amd64 --binary dist/edgegw-backend-linux-amd64 --generator dist/edgegw-backend-gendocs
	$(MKDEB) --package edgegw-backend --arch arm64 --binary dist/edgegw-backend-linux-arm64 --generator dist/edgegw-backend-gendocs
	@for d in dist/*.deb; do echo "$$d: $$(stat -c %s $$d) bytes, /usr/bin/edgegw $$(dpkg-deb --fsys-tarfile $$d | tar -xOf - ./usr/bin/edgegw | wc -c) bytes"; done

# Packaging: installs into a throwaway root, needs root and dpkg (CI has both).
test-deb:
	EDGEGW_PACKAGING_TEST=1 go test -count=1 -run 'TestDebVersion|TestIntegrationDeb|TestIntegrationBackendDeb|TestIntegrationInstallScript' ./scripts/mkdeb

clean:
	rm -rf dist
