#!/usr/bin/env bash
# Runs the performance benchmarks and prints one table of the figures the
# project is measured by, with their targets, and writes it with the machine
# and commit to docs/benchmarks.md. Needs mosquitto (the drain and footprint
# benchmarks start their own broker). Figures come from this run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench '^BenchmarkPipeline$' -benchtime 50000x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegration(Drain|Footprint)$' -benchtime 1x ./gateway/ | tee -a "$out" >&2

# metric UNIT from the benchmark line NAME
metric() { awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$out"; }

make -s build build-arm >&2

table=$(mktemp)
trap 'rm -f "$out" "$table"' EXIT
{
printf '%-58s %14s  %s\n' "measure" "measured" "target"
printf '%-58s %14s  %s\n' "CPU per reading: encode+seal+sign+append, batch 100" "$(metric BenchmarkPipeline µs/reading) µs" "<= 5 µs"
printf '%-58s %14s  %s\n' "bytes on the wire per reading, sim meter, batch 100" "$(metric BenchmarkPipeline mqtt-B/reading) B" "<= 20 B"
printf '%-58s %14s  %s\n' "  of which the envelope (header, chunks, signature)" "$(metric BenchmarkPipeline envelope-B/reading) B" ""
printf '%-58s %14s  %s\n' "drain of a 1,000,000-reading backlog to Mosquitto (TLS)" "$(metric BenchmarkIntegrationDrain readings/s) /s" ">= 100,000 /s"
printf '%-58s %14s  %s\n' "agent peak RSS, 5 sim devices, steady state" "$(metric BenchmarkIntegrationFootprint RSS-MB) MB" "<= 20 MB"
printf '%-58s %14s  %s\n' "agent CPU at $(metric BenchmarkIntegrationFootprint readings/s) readings/s" "$(metric BenchmarkIntegrationFootprint CPU-%) %" "<= 1 % of a core"
for bin in dist/edgegw dist/edgegw-linux-arm64 dist/edgegw-linux-armv7 dist/edgegw-linux-armv6; do
	printf '%-58s %14s  %s\n' "binary size, static, stripped: ${bin#dist/}" "$(( $(stat -c %s "$bin") / 1024 )) KiB" ""
done
} | tee "$table"

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) from its own run; do not edit by hand."
	echo
	echo "- commit: $(git describe --always --dirty 2>/dev/null || echo unknown)"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3-)"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo '```'
	cat "$table"
	echo '```'
} > docs/benchmarks.md
