package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/gateway/fleet"
	"github.com/edgegw/edgegw/internal/must"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/mqtttest"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// TestIntegrationCollectStatus: the retained statuses of three gateways on
// a real Mosquitto (one valid, one that is not a status, one claiming
// another gateway) are collected by the ops identity: all of them when no
// gateway is named, and the named ones with a row for one that sent none.
func TestIntegrationCollectStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	br := mqtttest.Start(t, mqtttest.Options{Prefix: "city"})
	publish := func(gw string, payload []byte) {
		cert, key := br.Client(t, gw)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errs, err := mqtt.PublishRetained(ctx, mqtt.ClientConfig{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key},
			[]mqtt.Message{{Topic: topic.ConfigStatus("city", gw), Payload: payload}})
		if err == nil {
			err = errs[0]
		}
		must.NoError(t, err)
	}
	status := func(gw string) []byte {
		b, err := json.Marshal(fleet.Status{Gateway: gw, Version: 7, State: fleet.StateCommitted, Time: time.Now().UTC()})
		must.NoError(t, err)
		return b
	}
	publish("gw-001", status("gw-001"))
	publish("gw-002", []byte("not a status"))
	publish("gw-003", status("gw-001"))

	cert, key := br.Client(t, br.Ops)
	collect := func(gateways []string, timeout time.Duration) []fleet.StatusRow {
		rows, err := fleet.CollectStatus(context.Background(), fleet.Collect{
			Client: mqtt.SubscribeConfig{Broker: br.URL, CA: br.CAFile, Cert: cert, Key: key, ClientID: "ops-collect"},
			Prefix: "city", Gateways: gateways, Timeout: timeout,
		})
		must.NoError(t, err)
		return rows
	}
	check := func(rows []fleet.StatusRow, want ...string) {
		t.Helper()
		if len(rows) != len(want) {
			t.Fatalf("rows %+v, want %d", rows, len(want))
		}
		for i, r := range rows {
			var got string
			switch {
			case r.Status != nil:
				got = fmt.Sprintf("%s v%d", r.Gateway, r.Status.Version)
			case r.Error != "":
				got = r.Gateway + " error"
				if strings.Contains(r.Error, "claims gateway") {
					got += " claims"
				}
			default:
				got = r.Gateway + " none"
			}
			if got != want[i] {
				t.Errorf("row %d = %s (%+v), want %s", i, got, r, want[i])
			}
		}
	}
	check(collect(nil, 2*time.Second), "gw-001 v7", "gw-002 error", "gw-003 error claims")
	start := time.Now()
	check(collect([]string{"gw-001", "gw-002"}, 30*time.Second), "gw-001 v7", "gw-002 error")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("collecting two gateways that answered took %v: it should return when both answered", d)
	}
	check(collect([]string{"gw-001", "gw-004"}, time.Second), "gw-001 v7", "gw-004 none")
}
