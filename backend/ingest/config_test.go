package ingest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegw/edgegw/backend/ingest"
	"github.com/edgegw/edgegw/internal/must"
)

const goodConfig = `broker: ssl://broker.example:8883
ca: ca.pem
cert: ingest.pem
key: ingest.key
client_id: ingest-1
identity: /var/lib/edgegw-ingest/identity
trust: [gateways.pub]
recipient_keys: [telemetry.key]
database: sqlite:/var/lib/edgegw-ingest/ingest.db
`

func TestParseConfig(t *testing.T) {
	c, err := ingest.ParseConfig([]byte(goodConfig))
	must.NoError(t, err)
	if c.TopicPrefix != "city" || c.ShareGroup != "edgegw-ingest" || c.ReceiptInterval != 200*time.Millisecond {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.Topics(); len(got) != 4 || got[0] != "$share/edgegw-ingest/city/+/data/#" || got[1] != "$share/edgegw-ingest/city/+/audit" || got[2] != "$share/edgegw-ingest/city/+/health" || got[3] != "$share/edgegw-ingest/city/+/config/status" {
		t.Errorf("topics %v", got)
	}
	c2, err := ingest.ParseConfig([]byte(goodConfig + "share_group: \"-\"\ntopic_prefix: town/a\n"))
	must.NoError(t, err)
	if got := c2.Topics(); got[0] != "town/a/+/data/#" || got[3] != "town/a/+/config/status" {
		t.Errorf("no share group: %v", got)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"unknown field": {goodConfig + "databse: x\n", "line 10: field databse not found"},
		"wrong type":    {goodConfig + "max_batch: many\n", "line 10: cannot unmarshal"},
		"missing":       {strings.Replace(goodConfig, "database: sqlite:/var/lib/edgegw-ingest/ingest.db\n", "", 1), "database: required"},
		"plain tcp":     {strings.Replace(goodConfig, "ssl://", "tcp://", 1), "broker:"},
		"interval":      {goodConfig + "receipt_interval: 1h\n", "receipt_interval: 1h0m0s outside"},
		"share group":   {goodConfig + "share_group: a/b\n", "share_group:"},
		"prefix level":  {goodConfig + "topic_prefix: a//b\n", `topic_prefix: topic prefix "a//b" must not have an empty level`},
		"prefix +":      {goodConfig + "topic_prefix: a/+\n", `topic_prefix: topic prefix "a/+" must not contain '+'`},
		"empty":         {"", "empty document"},
	} {
		if _, err := ingest.ParseConfig([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ingest.yaml")
	must.NoError(t, os.WriteFile(p, []byte(goodConfig+"bogus: 1\n"), 0o600))
	if _, err := ingest.LoadConfig(p); err == nil || !strings.Contains(err.Error(), p+": line 10: field bogus") {
		t.Errorf("error %v", err)
	}
	if _, err := ingest.LoadConfig(p + ".missing"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
