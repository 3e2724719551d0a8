package fleetweb

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Config is the `http:` block of the ingest configuration. An empty Listen
// (the default) serves nothing.
//
//	http:
//	  listen: 127.0.0.1:8480            # loopback: plain HTTP allowed, token optional
//	  cert: /etc/edgegw-ingest/web.pem  # TLS; required (with key) when listen is not loopback
//	  key: /etc/edgegw-ingest/web.key
//	  token_file: /etc/edgegw-ingest/web.token  # bearer token; required when listen is not loopback
type Config struct {
	Listen    string `yaml:"listen"`
	Cert      string `yaml:"cert"`
	Key       string `yaml:"key"`
	TokenFile string `yaml:"token_file"`
}

// Enabled tells whether the configuration asks for the web server.
func (c Config) Enabled() bool { return c.Listen != "" }

// Check returns an error naming each field that is wrong, as http.<field>:
// an address that is not host:port, a certificate without its key, and a
// listen address other than loopback without TLS and a bearer token. It
// does no I/O: a host name other than localhost counts as not loopback.
func (c Config) Check() error {
	if !c.Enabled() {
		if c.Cert != "" || c.Key != "" || c.TokenFile != "" {
			return errors.New("http.listen: required when http.cert, http.key or http.token_file is set")
		}
		return nil
	}
	var errs []error
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %q: %w (want host:port, e.g. 127.0.0.1:8480)", c.Listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, fmt.Errorf("http.listen: port %q is not a number 0..65535", port))
	}
	if (c.Cert == "") != (c.Key == "") {
		errs = append(errs, errors.New("http.cert and http.key: both or neither"))
	}
	if !Loopback(host) {
		if c.Cert == "" || c.Key == "" {
			errs = append(errs, fmt.Errorf("http.listen: %s is not a loopback address: http.cert and http.key (TLS) are required", c.Listen))
		}
		if c.TokenFile == "" {
			errs = append(errs, fmt.Errorf("http.listen: %s is not a loopback address: http.token_file (a bearer token) is required", c.Listen))
		}
	}
	return errors.Join(errs...)
}

// Loopback tells whether host (of a listen address) names only the loopback
// interface: localhost, 127.0.0.0/8 or ::1. An empty host (every interface)
// is not loopback.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
