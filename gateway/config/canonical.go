package config

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The canonical form's types list their fields in sorted key order.

type canonConfig struct {
	Batch      canonBatch    `yaml:"batch"`
	Buffer     canonBuffer   `yaml:"buffer"`
	Control    canonControl  `yaml:"control"`
	Devices    []canonDevice `yaml:"devices"`
	Fleet      canonFleet    `yaml:"fleet"`
	Gateway    canonGateway  `yaml:"gateway"`
	Log        canonLog      `yaml:"log"`
	Quality    canonQuality  `yaml:"quality"`
	Recipients canonStrings  `yaml:"recipients"`
	Uplink     canonUplink   `yaml:"uplink"`
	Version    uint64        `yaml:"version"`
}

type canonBatch struct {
	Durability  string `yaml:"durability"`
	MaxDelay    string `yaml:"max_delay"`
	MaxReadings int    `yaml:"max_readings"`
}

type canonBuffer struct {
	MaxAge   string `yaml:"max_age"`
	MaxBytes int64  `yaml:"max_bytes"`
}

type canonDevice struct {
	Class    string       `yaml:"class"`
	Driver   string       `yaml:"driver"`
	Interval string       `yaml:"interval"`
	Model    string       `yaml:"model"`
	Name     string       `yaml:"name"`
	Options  canonOptions `yaml:"options,omitempty"`
}

type canonGateway struct {
	ID    string `yaml:"id"`
	Keys  string `yaml:"keys"`
	State string `yaml:"state"`
}

type canonFleet struct {
	Group     string `yaml:"group"`
	Probation string `yaml:"probation"`
	Trust     string `yaml:"trust"`
}

type canonControl struct {
	AdminGroup      string `yaml:"admin_group"`
	Socket          string `yaml:"socket"`
	TechnicianGroup string `yaml:"technician_group"`
	ViewerGroup     string `yaml:"viewer_group"`
}

type canonQuality struct {
	HumidRH int `yaml:"humid_rh"`
}

type canonLog struct {
	Level string `yaml:"level"`
}

type canonUplink struct {
	BackoffMax     string   `yaml:"backoff_max"`
	BackoffMin     string   `yaml:"backoff_min"`
	Broker         string   `yaml:"broker"`
	CA             string   `yaml:"ca"`
	Cert           string   `yaml:"cert"`
	ClientID       string   `yaml:"client_id"`
	HealthInterval string   `yaml:"health_interval"`
	Inflight       int      `yaml:"inflight"`
	Keepalive      string   `yaml:"keepalive"`
	Key            string   `yaml:"key"`
	ReceiptTimeout string   `yaml:"receipt_timeout"`
	Receipts       []string `yaml:"receipts"`
	TopicPrefix    string   `yaml:"topic_prefix"`
	Unreceipted    int      `yaml:"unreceipted"`
}

// canonStrings encodes a string map with keys in byte order.
type canonStrings map[string]string

// MarshalYAML implements yaml.Marshaler.
func (m canonStrings) MarshalYAML() (any, error) {
	v := make(map[string]any, len(m))
	for k, s := range m {
		v[k] = s
	}
	return optionNode(v)
}

// canonOptions encodes device options with sorted keys and floats that stay
// floats when parsed again (1000.0, not 1000).
type canonOptions map[string]any

// IsZero lets omitempty leave out empty options.
func (o canonOptions) IsZero() bool { return len(o) == 0 }

// MarshalYAML implements yaml.Marshaler.
func (o canonOptions) MarshalYAML() (any, error) {
	return optionNode(map[string]any(o))
}

func optionNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			kn, err := optionNode(k)
			if err != nil {
				return nil, err
			}
			vn, err := optionNode(v[k])
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, kn, vn)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range v {
			in, err := optionNode(item)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, in)
		}
		return n, nil
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		switch {
		case math.IsNaN(v):
			s = ".nan"
		case math.IsInf(v, 1):
			s = ".inf"
		case math.IsInf(v, -1):
			s = "-.inf"
		case !strings.ContainsAny(s, ".e"):
			s += ".0"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}, nil
	case nil, string, bool, int, int64, uint64:
		n := &yaml.Node{}
		if err := n.Encode(v); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported option value of type %T", v)
}

// Canonical returns c re-encoded deterministically as YAML: every field
// written out with its value (defaults included), mapping keys in sorted
// order, durations in Go syntax, sizes in bytes, no comments, 2-space
// indentation. Parsing the result gives a Config equal to c except for File
// and line numbers. It is the form fleet operations sign.
func (c *Config) Canonical() ([]byte, error) {
	cc := canonConfig{
		Batch: canonBatch{
			Durability:  c.Batch.Durability.String(),
			MaxDelay:    c.Batch.MaxDelay.String(),
			MaxReadings: c.Batch.MaxReadings,
		},
		Buffer:  canonBuffer{MaxAge: c.Buffer.MaxAge.String(), MaxBytes: c.Buffer.MaxBytes},
		Devices: make([]canonDevice, len(c.Devices)),
		Gateway: canonGateway{ID: c.Gateway.ID, Keys: c.Gateway.Keys, State: c.Gateway.State},
		Log:     canonLog{Level: c.Log.Level},
		Quality: canonQuality{HumidRH: c.Quality.HumidRH},
		Fleet:   canonFleet{Group: c.Fleet.Group, Probation: c.Fleet.Probation.String(), Trust: c.Fleet.Trust},
		Control: canonControl{AdminGroup: c.Control.AdminGroup, Socket: c.Control.Socket,
			TechnicianGroup: c.Control.TechnicianGroup, ViewerGroup: c.Control.ViewerGroup},
		Recipients: canonStrings(c.Recipients),
		Uplink: canonUplink{
			BackoffMax:     c.Uplink.BackoffMax.String(),
			BackoffMin:     c.Uplink.BackoffMin.String(),
			Broker:         c.Uplink.Broker,
			CA:             c.Uplink.CA,
			Cert:           c.Uplink.Cert,
			ClientID:       c.Uplink.ClientID,
			HealthInterval: c.Uplink.HealthInterval.String(),
			Inflight:       c.Uplink.Inflight,
			Keepalive:      c.Uplink.Keepalive.String(),
			Key:            c.Uplink.Key,
			ReceiptTimeout: c.Uplink.ReceiptTimeout.String(),
			Receipts:       c.Uplink.Receipts,
			TopicPrefix:    c.Uplink.TopicPrefix,
			Unreceipted:    c.Uplink.Unreceipted,
		},
		Version: c.Version,
	}
	for i, d := range c.Devices {
		cc.Devices[i] = canonDevice{
			Class:    d.Class,
			Driver:   d.Driver,
			Interval: d.Interval.String(),
			Model:    d.Model,
			Name:     d.Name,
			Options:  d.Options,
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cc); err != nil {
		return nil, fmt.Errorf("encode canonical config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode canonical config: %w", err)
	}
	return b.Bytes(), nil
}
