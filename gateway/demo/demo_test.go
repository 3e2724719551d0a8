package demo

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/edgegw/edgegw/drivers/all" // the drivers the demo runs
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
	if err != nil {
		t.Fatal(err)
	}
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
	for _, want := range []string{"broker stopped", "broker restarted", " down "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
