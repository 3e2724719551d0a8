package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
)

// brokerURL checks a broker URL and returns it in the form paho dials
// ("ssl://host:port") along with the host name TLS verifies. Only TLS schemes
// are accepted: ssl, tls and mqtts. The port defaults to 8883.
func BrokerURL(raw string) (dial, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("mqtt: broker %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "ssl", "tls", "mqtts":
	default:
		return "", "", fmt.Errorf("mqtt: broker %q: scheme %q not supported, want ssl://, tls:// or mqtts://", raw, u.Scheme)
	}
	host = u.Hostname()
	if host == "" {
		return "", "", fmt.Errorf("mqtt: broker %q: no host", raw)
	}
	port := u.Port()
	if port == "" {
		port = "8883"
	}
	if u.Path != "" && u.Path != "/" {
		return "", "", fmt.Errorf("mqtt: broker %q: unexpected path %q", raw, u.Path)
	}
	hp := host
	if strings.Contains(host, ":") {
		hp = "[" + host + "]"
	}
	return "ssl://" + hp + ":" + port, host, nil
}

// tlsConfig builds the client TLS configuration: the CA file as the only
// root, the client certificate and key, TLS 1.2 or later, and the broker's
// host name as ServerName.
func TLSConfig(broker, host, caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, fmt.Errorf("mqtt: broker %s: ca, cert and key files are required", broker)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("mqtt: broker %s: read ca: %w", broker, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("mqtt: broker %s: no pem certificate in ca file %s", broker, caFile)
	}
	if err := checkKeyMode(keyFile); err != nil {
		return nil, fmt.Errorf("mqtt: broker %s: %w", broker, err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("mqtt: broker %s: load client certificate: %w", broker, err)
	}
	return &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		ServerName:   host,
	}, nil
}

// checkKeyMode refuses a private key file that group or others may access.
func checkKeyMode(keyFile string) error {
	fi, err := os.Stat(keyFile)
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, run chmod 600 %s", ErrKeyPermissions, keyFile, m, keyFile)
	}
	return nil
}

// DefaultKeepAlive is the MQTT keep-alive interval of every edgegw client
// that does not set its own.
const DefaultKeepAlive = 30 * time.Second

// Timeouts shared by every edgegw MQTT client.
const (
	// ConnectTimeout bounds one TCP+TLS+CONNECT attempt.
	ConnectTimeout = 10 * time.Second
	// WriteTimeout bounds a write to the connection and paho's wait to
	// queue a publish.
	WriteTimeout = 10 * time.Second
	// Quiesce is how long Disconnect lets paho finish its work, in ms.
	Quiesce = 250
)
