package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgegw/edgegw/backend/fleet"
	"github.com/edgegw/edgegw/backend/fleetweb"
	"github.com/edgegw/edgegw/backend/store"
	"github.com/edgegw/edgegw/crypto/keys"
	"github.com/edgegw/edgegw/mqtt"
	"github.com/edgegw/edgegw/mqtt/topic"
)

// Defaults applied by LoadConfig to fields the file leaves out.
const (
	DefaultShareGroup      = "edgegw-ingest"
	DefaultReceiptInterval = 200 * time.Millisecond
	DefaultMaxBatch        = 256
	DefaultTopicPrefix     = "city"
)

// maxConfigSize bounds the configuration file read.
const maxConfigSize = 1 << 20

// Config is the configuration file of `edgegw ingest`, YAML:
//
//	broker: ssl://broker.city.example:8883
//	ca: /etc/edgegw-ingest/ca.pem
//	cert: /etc/edgegw-ingest/ingest.pem      # the ingest's broker identity
//	key: /etc/edgegw-ingest/ingest.key
//	client_id: ingest-1                      # unique per replica
//	topic_prefix: city
//	share_group: edgegw-ingest               # replicas in one group share the load
//	identity: /var/lib/edgegw-ingest/identity  # signs receipts (edgegw keys init)
//	trust: [/etc/edgegw-ingest/gateways.pub] # pinned gateway identities
//	recipient_keys: [/etc/edgegw-ingest/ops.recipient.key]
//	database: sqlite:/var/lib/edgegw-ingest/ingest.db  # or postgres://...
//	receipt_interval: 200ms
//	fleet: {batch_delay: 10s}                # fleet state thresholds (fleet.Thresholds)
//	http: {listen: 127.0.0.1:8480}           # the fleet page and /metrics (fleetweb.Config); off by default
type Config struct {
	Broker          string        `yaml:"broker"`
	CA              string        `yaml:"ca"`
	Cert            string        `yaml:"cert"`
	Key             string        `yaml:"key"`
	ClientID        string        `yaml:"client_id"`
	TopicPrefix     string        `yaml:"topic_prefix"`
	ShareGroup      string        `yaml:"share_group"`
	Identity        string        `yaml:"identity"`
	Trust           []string      `yaml:"trust"`
	RecipientKeys   []string      `yaml:"recipient_keys"`
	Database        string        `yaml:"database"`
	ReceiptInterval time.Duration `yaml:"receipt_interval"`
	MaxBatch        int           `yaml:"max_batch"`
	// Fleet holds the thresholds of the fleet states (see fleet.Thresholds).
	Fleet fleet.Thresholds `yaml:"fleet"`
	// HTTP is where the fleet page and the metrics are served; nowhere
	// when its Listen is empty.
	HTTP fleetweb.Config `yaml:"http"`
}

// LoadConfig reads and checks a configuration file. Unknown fields, a
// missing required field and values out of range are errors naming the file,
// the line where the parser knows it, and the field.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("ingest config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("ingest config: %w", err)
	}
	if len(data) > maxConfigSize {
		return Config{}, fmt.Errorf("ingest config: %s: larger than %d bytes", path, maxConfigSize)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("ingest config: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and checks a configuration document.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("empty document")
		}
		return Config{}, errors.New(strings.TrimPrefix(fmtYAML(err), "yaml: "))
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.ShareGroup == "" {
		c.ShareGroup = DefaultShareGroup
	}
	if c.ReceiptInterval == 0 {
		c.ReceiptInterval = DefaultReceiptInterval
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	c.Fleet.Defaults()
	return c, c.check()
}

// fmtYAML turns a yaml.v3 error into one line per problem.
func fmtYAML(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

// check validates the fields after defaults.
func (c Config) check() error {
	var errs []error
	need := func(field, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s: required", field))
		}
	}
	need("broker", c.Broker)
	need("ca", c.CA)
	need("cert", c.Cert)
	need("key", c.Key)
	need("client_id", c.ClientID)
	need("identity", c.Identity)
	need("database", c.Database)
	if c.Broker != "" {
		if _, _, err := mqtt.BrokerURL(c.Broker); err != nil {
			errs = append(errs, fmt.Errorf("broker: %w", err))
		}
	}
	if err := topic.CheckPrefix(c.TopicPrefix); err != nil {
		errs = append(errs, fmt.Errorf("topic_prefix: %w", err))
	}
	if c.ShareGroup != "-" {
		if err := keys.ValidateID(c.ShareGroup); err != nil {
			errs = append(errs, fmt.Errorf("share_group: %w (or \"-\" for no shared subscription)", err))
		}
	}
	if len(c.Trust) == 0 {
		errs = append(errs, errors.New("trust: at least one file of pinned gateway identities"))
	}
	if len(c.RecipientKeys) == 0 {
		errs = append(errs, errors.New("recipient_keys: at least one recipient private key file"))
	}
	if c.ReceiptInterval < 10*time.Millisecond || c.ReceiptInterval > time.Minute {
		errs = append(errs, fmt.Errorf("receipt_interval: %v outside 10ms..1m", c.ReceiptInterval))
	}
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		errs = append(errs, fmt.Errorf("max_batch: %d outside 1..10000", c.MaxBatch))
	}
	if err := c.Fleet.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := c.HTTP.Check(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Topics returns the subscription filters: data, audit, health and
// configuration status of every gateway, through the shared subscription
// group unless it is "-".
func (c Config) Topics() []string {
	group := c.ShareGroup
	if group == "-" {
		group = ""
	}
	return topic.Filters(c.TopicPrefix, group, topic.KindData, topic.KindAudit, topic.KindHealth, topic.KindConfigStatus)
}

// docTopic tells whether t is a gateway's health or configuration status
// topic, and which gateway's.
func (c Config) docTopic(t string) (gateway, kind string, ok bool) {
	p, err := topic.ParseUnder(c.TopicPrefix, t)
	if err != nil {
		return "", "", false
	}
	switch p.Kind {
	case topic.KindHealth:
		return p.Gateway, store.DocHealth, true
	case topic.KindConfigStatus:
		return p.Gateway, store.DocConfigStatus, true
	}
	return "", "", false
}
