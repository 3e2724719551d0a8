#!/usr/bin/env bash
# Runs the performance benchmarks and prints one table of the figures the
# project is measured by, with their targets, and writes it with the machine
# and commit to docs/benchmarks.md. Needs mosquitto (the drain, footprint and
# start-up benchmarks start their own broker) and qemu-aarch64-static (the
# arm64 start-up). Figures come from this run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
load=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews the figures

make -s build build-arm build-prod >&2

out=$(mktemp)      # benchmark output on the host
qemu_out=$(mktemp) # the start-up benchmark of the arm64 build under qemu-user
table=$(mktemp)
trap 'rm -f "$out" "$qemu_out" "$table"' EXIT
startups=5 # start-up runs, of which the median is reported
go test -run '^$' -bench '^BenchmarkPipeline$' -benchtime 50000x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkPoll$' ./drivers/modbusmeter/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegration(Drain|Footprint)$' -benchtime 1x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegrationStartup$' -benchtime ${startups}x ./gateway/ | tee -a "$out" >&2
EDGEGW_BENCH_CMD="qemu-aarch64-static $PWD/dist/edgegw-linux-arm64" \
	go test -run '^$' -bench '^BenchmarkIntegrationStartup$' -benchtime ${startups}x ./gateway/ | tee "$qemu_out" >&2

# metric NAME UNIT [FILE]: the figure in UNIT of the benchmark line NAME in
# FILE, by default the host's output
metric() { awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i + 0 }' "${3:-$out}"; }

# row MEASURE MEASURED TARGET: one line of the table
row() { printf '%-66s %14s  %s\n' "$@"; }

{
row "measure" "measured" "target"
row "CPU per reading: encode+seal+sign+append, batch 100" "$(metric BenchmarkPipeline µs/reading) µs" "<= 5 µs"
row "bytes on the wire per reading, sim meter, batch 100" "$(metric BenchmarkPipeline mqtt-B/reading) B" "<= 20 B"
row "  of which the envelope (header, chunks, signature)" "$(metric BenchmarkPipeline envelope-B/reading) B" ""
row "drain of a 1,000,000-reading backlog to Mosquitto (TLS)" "$(metric BenchmarkIntegrationDrain readings/s) /s" ">= 100,000 /s"
row "agent peak RSS, 5 sim devices, steady state" "$(metric BenchmarkIntegrationFootprint RSS-MB) MB" "<= 20 MB"
row "agent CPU at $(metric BenchmarkIntegrationFootprint readings/s) readings/s" "$(metric BenchmarkIntegrationFootprint CPU-%) %" "<= 1 % of a core"
for p in sdm630 sdm120 pm5300 mfm383a; do
	row "Modbus $p: requests and wire time per poll (9600 8N1)" \
		"$(metric "BenchmarkPoll/$p" req/poll) / $(metric "BenchmarkPoll/$p" wire-ms/poll) ms" \
		"min $(metric "BenchmarkPoll/$p" req/poll-min) / $(metric "BenchmarkPoll/$p" wire-ms/poll-min) ms, bound $(metric "BenchmarkPoll/$p" wire-ms/poll-bound) ms"
done
row "start-up to first publish, max_delay 100ms, median of $startups" "$(metric BenchmarkIntegrationStartup startup-ms) ms" ""
row "start-up to first publish, arm64 under qemu-user, max_delay 100ms" "$(metric BenchmarkIntegrationStartup startup-ms "$qemu_out") ms" ""
for bin in dist/edgegw dist/edgegw-linux-arm64 dist/edgegw-linux-armv7 dist/edgegw-linux-armv6; do
	row "binary size, static, stripped: ${bin#dist/}" "$(( $(stat -c %s "$bin") / 1024 )) KiB" ""
done
row "binary size, production build (make build-prod): edgegw-prod-linux-arm64" "$(( $(stat -c %s dist/edgegw-prod-linux-arm64) / 1024 )) KiB" "<= 9216 KiB"
} | tee "$table"

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) from its own run; do not edit by hand."
	echo
	echo "- commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3-)"
	echo "- load average (1, 5, 15 min) at the start: $load"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo '```'
	cat "$table"
	echo '```'
} > docs/benchmarks.md
