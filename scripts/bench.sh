#!/usr/bin/env bash
# Runs the performance benchmarks and prints one table of the figures the
# project is measured by, with their targets, and writes it with the machine
# and commit to docs/benchmarks.md. Needs mosquitto (the drain, footprint,
# start-up, ingest and receipt benchmarks start their own broker),
# PostgreSQL (the ingest, receipt and drain-with-receipts benchmarks start a
# throwaway cluster) and qemu-aarch64-static (the arm64 start-up). Figures
# come from this run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin"
load=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews the figures
commit=$(git describe --always --dirty 2>/dev/null || echo unknown) # before docs/benchmarks.md is rewritten

make -s build build-arm build-prod >&2

out=$(mktemp)      # benchmark output on the host
qemu_out=$(mktemp) # the start-up benchmark of the arm64 build under qemu-user
table=$(mktemp)
trap 'rm -f "$out" "$qemu_out" "$table"' EXIT
startups=5 # start-up runs, of which the median is reported
go test -run '^$' -bench '^BenchmarkPipeline$' -benchtime 50000x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkPoll$' ./drivers/modbusmeter/ | tee -a "$out" >&2
EDGEGW_FOOTPRINT=${FOOTPRINT:-10m} go test -run '^$' -bench '^BenchmarkIntegration(Drain|DrainReceipts|DrainReceiptsKeepsUp|Footprint|MeterCPU)$' -benchtime 1x -timeout 60m ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegration(Ingest|ReceiptLatency)$' -benchtime 1x ./backend/ingest/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegrationStartup$' -benchtime ${startups}x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegrationHealthTraffic$' -benchtime 1x ./gateway/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkFleetStatus$' -benchtime 3x ./backend/fleet/fleetsim/ | tee -a "$out" >&2
go test -run '^$' -bench '^BenchmarkIntegrationFleetSim$' -benchtime 1x -timeout 30m ./backend/fleet/fleetsim/ | tee -a "$out" >&2
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
row "drain of the backlog with receipts, to a backend that keeps up" "$(metric BenchmarkIntegrationDrainReceiptsKeepsUp readings/s) /s" ">= 200,000 /s"
row "drain of the backlog with receipts from a real ingest (PostgreSQL)" "$(metric BenchmarkIntegrationDrainReceipts readings/s) /s" "(same machine)"
row "  gateway side: readings drained per gateway CPU-second" "$(metric BenchmarkIntegrationDrainReceipts readings/gateway-cpu-s) /s" ""
row "  ingest side: readings per ingest CPU-second" "$(metric BenchmarkIntegrationDrainReceipts readings/ingest-cpu-s) /s" ""
row "ingest into PostgreSQL: verified+opened+committed, per ingest core" "$(metric BenchmarkIntegrationIngest/db=postgres readings/ingest-cpu-s) /s" ">= 50,000 /s"
row "  readings/s, end to end on this machine" "$(metric BenchmarkIntegrationIngest/db=postgres readings/s) /s" ""
row "  readings per PostgreSQL server CPU-second" "$(metric BenchmarkIntegrationIngest/db=postgres readings/db-cpu-s) /s" ""
row "ingest into SQLite: verified+opened+committed, end to end" "$(metric BenchmarkIntegrationIngest/db=sqlite readings/s) /s" ">= 30,000 /s"
row "  per ingest core (SQLite runs inside the ingest)" "$(metric BenchmarkIntegrationIngest/db=sqlite readings/ingest-cpu-s) /s" ""
row "receipt latency p50 / p99, $(metric BenchmarkIntegrationReceiptLatency gateways) gateways, a batch each every 10 s" \
	"$(metric BenchmarkIntegrationReceiptLatency p50-ms) / $(metric BenchmarkIntegrationReceiptLatency p99-ms) ms" "p99 < 2,000 ms"
row "  ingest CPU at $(printf %.0f "$(metric BenchmarkIntegrationReceiptLatency readings/s)") readings/s (PostgreSQL)" "$(metric BenchmarkIntegrationReceiptLatency ingest-CPU-%) %" ""
row "agent peak RSS, 5 sim devices, after ${FOOTPRINT:-10m} (gateway build)" "$(metric BenchmarkIntegrationFootprint RSS-MB) MB" "<= 14 MB"
row "  at the end: the agent's own memory / the binary's pages" "$(metric BenchmarkIntegrationFootprint anon-MB) / $(metric BenchmarkIntegrationFootprint file-MB) MB" ""
row "agent CPU at $(metric BenchmarkIntegrationFootprint readings/s) readings/s" "$(metric BenchmarkIntegrationFootprint CPU-%) %" "<= 1 % of a core"
row "agent CPU, one SDM630, 14 values at 1 s, production build (Telegraf: 0.19-0.23 %)" "$(metric BenchmarkIntegrationMeterCPU CPU-%) %" "< Telegraf"
row "  its peak RSS" "$(metric BenchmarkIntegrationMeterCPU RSS-MB) MB" "Telegraf: ~25 MB"
for p in sdm630 sdm120 pm5300 mfm383a; do
	row "Modbus $p: requests and wire time per poll (9600 8N1)" \
		"$(metric "BenchmarkPoll/$p" req/poll) / $(metric "BenchmarkPoll/$p" wire-ms/poll) ms" \
		"min $(metric "BenchmarkPoll/$p" req/poll-min) / $(metric "BenchmarkPoll/$p" wire-ms/poll-min) ms, bound $(metric "BenchmarkPoll/$p" wire-ms/poll-bound) ms"
done
row "fleet status, $(metric BenchmarkFleetStatus gateways) gateways in SQLite: edgegw fleet status, wall / CPU" \
	"$(metric BenchmarkFleetStatus cli-ms) / $(metric BenchmarkFleetStatus cli-cpu-ms) ms" "< 1,000 ms"
row "  the overview page (GET /, gzip), wall / CPU" "$(metric BenchmarkFleetStatus page-ms) / $(metric BenchmarkFleetStatus page-cpu-ms) ms" "< 1,000 ms"
row "fleet simulator, $(metric BenchmarkIntegrationFleetSim gateways) gateways, real MQTT and ingest: wall per sim. s" \
	"$(metric BenchmarkIntegrationFleetSim wall-ms/sim-s) ms" ""
row "  box offline shown OFFLINE: connection closed / died silently" \
	"$(metric BenchmarkIntegrationFleetSim offline-s) / $(awk -v s="$(metric BenchmarkIntegrationFleetSim offline-s)" 'BEGIN { print s + 45 }') s" "<= 90 s"
row "  stale device shown DEGRADED, from its last good reading" "$(metric BenchmarkIntegrationFleetSim stale-intervals) intervals" "<= 2 intervals"
row "  SILENT box shown, from its last committed batch" "$(metric BenchmarkIntegrationFleetSim silent-delays) batch delays" "<= 3 batch delays"
row "  fleet status of the simulated fleet" "$(metric BenchmarkIntegrationFleetSim status-ms) ms" ""
row "health traffic per gateway per minute (real agent, 5 devices)" "$(metric BenchmarkIntegrationHealthTraffic health-B/min) B" "<= 1,024 B"
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
	echo "- commit: $commit"
	echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3-)"
	echo "- load average (1, 5, 15 min) at the start: $load; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo '```'
	cat "$table"
	echo '```'
	cat <<'NOTES'

## What the rows measure

The machine may be shared: other work raises the load average above, and
every process of a benchmark (simulated gateways, Mosquitto, the ingest, the
database) runs on its cores. Rates per CPU-second count only the process
named and depend little on that; rates per second of wall time do.

**Ingest** (`BenchmarkIntegrationIngest`, backend/ingest): the real binary
`edgegw ingest run` on a fresh database. 20 simulated gateways, each with its
own client certificate and TLS connection to a local Mosquitto, publish
1,000,000 readings: 10,000 signed batches of 100 readings sealed in 10 chunks,
as a gateway with the default `batch.max_readings` sends them, at most 100
unacknowledged publishes each. The ingest verifies each signature, opens each
chunk, commits the readings and publishes signed receipts, which the gateways
verify; the run ends at the receipt that covers the last batch, and the
database must then hold every reading. "Per ingest core" divides the readings
by the CPU time of the ingest process (utime + stime of /proc/PID/stat): the
target is per core because replicas on a shared subscription add cores.
SQLite runs inside the ingest process, so its figure per core includes the
database; PostgreSQL's server has a row of its own.

**Receipt latency** (`BenchmarkIntegrationReceiptLatency`, backend/ingest):
1,000 simulated gateways, each with its own client certificate and TLS
connection, publish a batch of 100 readings every 10 s each, spread evenly
(100 batches/s), into the real ingest on PostgreSQL with the default
`receipt_interval` of 200 ms. A batch's latency runs from the gateway's
publish to the verified receipt that covers it. One round of warm-up is left
out; the next three rounds (3,000 batches) are measured. Receipts are
coalesced per gateway for up to one `receipt_interval`, which alone adds
about half of it to the median.

**Drain with receipts** (`BenchmarkIntegrationDrainReceipts`, gateway): the
drain row's backlog, but the uplink pins the key of a real ingest (the binary,
on PostgreSQL, on the same machine) and deletes a batch only when a verified
receipt covers it, with the default windows (100 batches in flight, 1,000
unreceipted). A drain with receipts cannot outrun the backend: its rate is
that of the slower of the gateway and the ingest with its database, here on
the same cores. The gateway side divides the readings by the CPU time of the
benchmark process, which runs the uplink and the buffer and nothing of the
backend; the ingest side by the ingest process's. The drain row above it
deletes on PUBACK.

**Fleet status** (`BenchmarkFleetStatus`, backend/fleet/fleetsim): 10,000
gateways in an SQLite database, each with two committed batches, its newest
readings and five health documents a minute apart (some stuck, quiet or with
a sequence gap). `edgegw fleet status` is `ingest.FleetStatus`: it opens the
database, computes every gateway's state and prints the table; the page is
the overview, rendered and gzip-compressed from the states the ingest
recorded last (it records them every `fleet.interval`, 10 s by default, and
the page says their time), so the page does not pay the CLI's computation
again for each request. Wall time suffers from other work on the machine;
CPU is this process's, on both processors.

**Fleet simulator** (`BenchmarkIntegrationFleetSim`, backend/fleet/fleetsim):
2,000 gateways in one process, each with its own identity, client
certificate and TLS connection to a local Mosquitto, publish signed and
sealed batches (every 10 s) and health documents (every 60 s) into the real
ingest service on SQLite; 5 % of them start a fault between the 2nd and the
4th minute (seeded). Time is simulated: the ingest and the fleet states read
a clock the simulator advances a second at a time, once the ingest stored
everything of the second before, so the figures are in simulated time, to
the second, and the thresholds are the defaults. OFFLINE: the box's
connection closes (as when its process or kernel goes) and the broker
publishes its last will at once; a box that dies silently is declared dead
by the broker after 1.5 keep-alives (45 s at the default 30 s), which the
second figure adds. DEGRADED: a device stops answering (read-error readings
from its next poll on); the state reads the time of its newest good
committed reading and its newest read error, and counts the poll due after
a read error as failed until its batch arrives, so it shows `stale_intervals`
(2) of its intervals after its last good reading, between health documents.
SILENT: the box signs with an identity the ingest does
not pin, so nothing is committed while its health arrives.

**Health traffic** (`BenchmarkIntegrationHealthTraffic`, gateway): the real
agent with 5 simulated devices publishes its health document every second;
the documents a backend receives are measured, and one PUBLISH (with its
header, topic and packet identifier) and its PUBACK a minute, at the default
`health_interval`, make the figure.

**Drain with receipts to a backend that keeps up**
(`BenchmarkIntegrationDrainReceiptsKeepsUp`, gateway): the same drain, but a
stand-in ingest (mqtttest.Receipter) takes each envelope's sequence number
from its header and receipts it every 200 ms, without opening it or writing a
database. This is the gateway's side of the receipt protocol on its own: the
in-flight and unreceipted windows, receipt verification and deletion. The
target applies here; the real-ingest row shows what one 2-core machine that
also runs the gateway, the broker and PostgreSQL gives.

**One meter, as Telegraf would poll it** (`BenchmarkIntegrationMeterCPU`,
gateway): the production build polls the 14 values of Telegraf's
comparison (voltage, current and active power of each phase, total power,
power factor, frequency, imported and exported energy: a profile file with
those points of the shipped `sdm630`, 2 Modbus requests a poll) from one
SDM630 emulated on a pseudo-terminal (9600 8N1) every second and forwards
them sealed, signed and buffered to a local Mosquitto, for `FOOTPRINT`.
Polling all 44 values of the shipped profile (5 requests) took 0.26–0.28 %. Telegraf's figure (modbus input and MQTT output, the same meter
and broker) is the one measured when the work was specified; Telegraf is not
packaged for this machine, so it is not run here.

**Agent footprint** (`BenchmarkIntegrationFootprint`, gateway): the gateway's
build (`-tags nobackend`: the production build plus the emulators its five
simulated devices need, without the backend's database drivers) runs for
`FOOTPRINT` (10 minutes by default) after a 5 s warm-up against a local
Mosquitto. RSS is the peak (VmHWM). Most of it is the binary's own pages,
mapped from the page cache and shared with it; the agent's own memory (heap,
stacks, bbolt's state) is the smaller figure. The agent runs with the
environment the installed unit gives it (scripts/edgegw.service:
GOMEMLIMIT=9MiB). Without it the agent's own memory grows from 5 to about
7 MB over ten minutes (the collector lets the heap reach twice what is
live), for a peak of 17.6 MB; with it, about 4 MB, for 0.06 % of a core
more. The binary's pages (about 10 MB) do not depend on it.
NOTES
} > docs/benchmarks.md
