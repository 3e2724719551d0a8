package demo

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/edgegw/edgegw/drivers/all" // the drivers the demo runs
	"github.com/edgegw/edgegw/internal/must"
)

// TestIntegrationDemo runs a short demo: every reading the simulated devices
// produced must be verified at the backend, across the broker outage, and
// the buffer check must have found sealed batches and opened none.
func TestIntegrationDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	var out bytes.Buffer
	err := Run(context.Background(), Options{
		Duration: 10 * time.Second, Outage: 3 * time.Second, Out: &out,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	t.Logf("demo output:\n%s", out.String())
	must.NoError(t, err)
	sum := regexp.MustCompile(`demo: sent=(\d+) stored=(\d+) lost=0 duplicates=\d+\n`).FindStringSubmatch(out.String())
	if sum == nil || sum[1] != sum[2] || sum[1] == "0" {
		t.Errorf("no summary line with sent = stored > 0 and lost=0")
	}
	if !regexp.MustCompile(`buffer file \(snapshot during the outage: [1-9]\d* sealed batches, \d+ chunks\): 0 of [1-9]\d* decryption attempts`).MatchString(out.String()) {
		t.Errorf("no buffer check line showing failed decryption attempts")
	}
	if !regexp.MustCompile(`demo: fleet page and metrics while the demo runs: http://127\.0\.0\.1:\d+/ `).MatchString(out.String()) {
		t.Errorf("no line with the fleet page's URL")
	}
	// The closing lines: the fleet summary as `edgegw fleet status` prints
	// it, the demo's one gateway counted once and listed with its reason.
	fl := regexp.MustCompile("demo: the fleet, as `edgegw fleet status --config \\S+` prints it:\n1 gateways at \\S+\n((?:[A-Z-]+ +\\d+\n)+)").FindStringSubmatch(out.String())
	if fl == nil {
		t.Fatalf("no fleet summary in the closing lines")
	}
	counts, total := regexp.MustCompile(`([A-Z-]+) +(\d+)\n`).FindAllStringSubmatch(fl[1], -1), 0
	for _, c := range counts {
		n, _ := strconv.Atoi(c[2])
		total += n
	}
	if len(counts) != 7 || total != 1 {
		t.Errorf("fleet summary counts %q: want the 7 states adding up to 1 gateway", fl[1])
	}
	if !regexp.MustCompile(`\n` + gatewayID + ` +\S+ +[A-Z-]+ +\S+ +\S.*\n`).MatchString(out.String()) {
		t.Errorf("fleet summary does not list gateway %s with its state and reason", gatewayID)
	}
	for _, want := range []string{"broker stopped", "broker restarted", " down "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
