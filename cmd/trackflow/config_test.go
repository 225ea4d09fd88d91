package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
)

// envMap is an environment for loadTemporal, isolated from the machine's (no config file).
type envMap map[string]string

func (e envMap) LookupEnv(k string) (string, bool) { v, ok := e[k]; return v, ok }
func (e envMap) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func isolated(t *testing.T, kv ...string) envMap {
	e := envMap{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "absent.toml")}
	for i := 0; i+1 < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

func TestTemporalSettingsFromEnvconfig(t *testing.T) {
	o, err := loadTemporal(isolated(t))
	if err != nil || o.HostPort != "127.0.0.1:7233" || o.Namespace != "default" || o.ConnectionOptions.TLS != nil || o.Credentials != nil {
		t.Fatalf("defaults: %+v, %v", o, err)
	}

	// Temporal Cloud with an API key: TLS on (system roots), the key as credentials.
	o, err = loadTemporal(isolated(t, "TEMPORAL_ADDRESS", "eu-west-1.aws.api.temporal.io:7233",
		"TEMPORAL_NAMESPACE", "trackflow.a1b2c", "TEMPORAL_API_KEY", "secret-key"))
	if err != nil || o.HostPort != "eu-west-1.aws.api.temporal.io:7233" || o.Namespace != "trackflow.a1b2c" ||
		o.Credentials == nil || o.ConnectionOptions.TLS == nil {
		t.Fatalf("API key: %+v, %v", o, err)
	}

	// A profile of a config file, with an environment variable over it.
	file := filepath.Join(t.TempDir(), "temporal.toml")
	if err := os.WriteFile(file, []byte(`
[profile.prod]
address = "prod.example:7233"
namespace = "prod"
[profile.prod.tls]
server_name = "temporal.prod.example"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = loadTemporal(envMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "prod", "TEMPORAL_NAMESPACE": "other"})
	if err != nil || o.HostPort != "prod.example:7233" || o.Namespace != "other" || o.ConnectionOptions.TLS == nil ||
		o.ConnectionOptions.TLS.ServerName != "temporal.prod.example" {
		t.Fatalf("profile: %+v, %v", o, err)
	}
	if _, err := loadTemporal(envMap{"TEMPORAL_CONFIG_FILE": file, "TEMPORAL_PROFILE": "missing"}); err == nil {
		t.Fatal("an unknown profile loaded")
	}
	if _, err := loadTemporal(isolated(t, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", "/nonexistent/ca.pem")); err == nil {
		t.Fatal("a missing CA file loaded")
	}
}

// TestTemporalOverTLS connects, with settings from envconfig, to the test Temporal server behind
// a TLS endpoint with a self-signed certificate. The pinned CLI's dev server (v1.5.1) has no TLS
// flags, so a TLS terminator in front of it stands in for a TLS cluster: the handshake, the
// certificate check against TEMPORAL_TLS_SERVER_CA_CERT_PATH and the server name are the client's
// real ones.
func TestTemporalOverTLS(t *testing.T) {
	backend := os.Getenv("TRACKFLOW_TEST_TEMPORAL_ADDRESS")
	if backend == "" {
		t.Fatal("TRACKFLOW_TEST_TEMPORAL_ADDRESS is not set: run the suite with `make test`")
	}
	certPEM, keyPEM := selfSigned(t, "temporal.test")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, handshakes := tlsTerminator(t, certPEM, keyPEM, backend)

	dial := func(env envMap) error {
		o, err := loadTemporal(env)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, temporalOptions(Config{Temporal: o}, slog.Default(), nil))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
	if err := dial(isolated(t, "TEMPORAL_ADDRESS", addr, "TEMPORAL_TLS_SERVER_CA_CERT_PATH", caFile,
		"TEMPORAL_TLS_SERVER_NAME", "temporal.test")); err != nil {
		t.Fatalf("over TLS with the CA: %v", err)
	}
	if handshakes.Load() == 0 {
		t.Fatal("no TLS handshake reached the terminator")
	}
	// Without the CA the self-signed certificate is refused: TLS is really checked.
	err := dial(isolated(t, "TEMPORAL_ADDRESS", addr, "TEMPORAL_TLS", "true", "TEMPORAL_TLS_SERVER_NAME", "temporal.test"))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}
}

func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// tlsTerminator accepts TLS (HTTP/2 by ALPN, as gRPC requires) on a loopback port and pipes each
// connection's plaintext to backend. It counts completed handshakes.
func tlsTerminator(t *testing.T, certPEM, keyPEM []byte, backend string) (string, *atomic.Int32) {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var handshakes atomic.Int32
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					return
				}
				handshakes.Add(1)
				up, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, conn) }()
				_, _ = io.Copy(conn, up)
			}()
		}
	}()
	return ln.Addr().String(), &handshakes
}

// TestConfigRefusesBadCodecSettings: a malformed key or UI origin stops the start, naming the
// variable (and never quoting the key).
func TestConfigRefusesBadCodecSettings(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://unused")
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "absent.toml"))
	t.Setenv("TEMPORAL_CODEC_KEYS", "c2hvcnQta2V5")
	t.Setenv("TEMPORAL_UI_ORIGIN", "http://127.0.0.1:8233/path")
	_, err := loadConfig()
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_CODEC_KEYS: key 1 must be") ||
		!strings.Contains(err.Error(), "TEMPORAL_UI_ORIGIN: ") || strings.Contains(err.Error(), "c2hvcnQta2V5") {
		t.Fatalf("loadConfig: %v", err)
	}
	t.Setenv("TEMPORAL_CODEC_KEYS", "ZGV2LW9ubHkta2V5LW5vdC1zZWNyZXQtMzItYnl0ZXM=")
	t.Setenv("TEMPORAL_UI_ORIGIN", "http://127.0.0.1:8233, http://localhost:8233/")
	c, err := loadConfig()
	if err != nil || c.Codec == nil || len(c.UIOrigins) != 2 || c.UIOrigins[1] != "http://localhost:8233" {
		t.Fatalf("loadConfig: %+v, %v", c, err)
	}
}
