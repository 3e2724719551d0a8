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
# the backend's commands (ingest, fleet, open) and its database drivers. `make build` (also the backend's binary), `make
# demo` and the tests keep the full build. Drivers can be trimmed too:
# PRODTAGS=nodemo,custom,drivers.bme280,drivers.modbusmeter
PRODTAGS ?= nodemo

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

# Debian packages for amd64 (labs), arm64 and armhf. The armhf package
# carries the GOARMv6 build so that it also runs on Pi Zero and Pi 1.
deb: build-arm
	$(GOFLAGS_STATIC) GOOS=linux GOARCH=amd64 go build -trimpath -ldflags "$(LDFLAGS)" -o dist/edgegw-linux-amd64 ./cmd/edgegw
	go run ./scripts/mkdeb --arch amd64 --binary dist/edgegw-linux-amd64 --version $(VERSION) --out dist/
	go run ./scripts/mkdeb --arch arm64 --binary dist/edgegw-linux-arm64 --version $(VERSION) --out dist/
	go run ./scripts/mkdeb --arch armhf --binary dist/edgegw-linux-armv6 --version $(VERSION) --out dist/

# Packaging: installs into a throwaway root, needs root and dpkg (CI has both).
test-deb:
	EDGEGW_PACKAGING_TEST=1 go test -count=1 -run 'TestDebVersion|TestIntegrationDeb|TestIntegrationInstallScript' ./scripts/mkdeb

clean:
	rm -rf dist
