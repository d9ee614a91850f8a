package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeRefuses: serve refuses to start where it would expose itself
// or cannot, with exit 2 and a message that says what to give.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("0123456789abcdef0123\n"), 0o600)
	badAuth := filepath.Join(dir, "users")
	os.WriteFile(badAuth, []byte("alice:$apr1$x$y\n"), 0o600)
	cert, key := selfSigned(t, dir)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"all addresses, no auth", []string{"--listen", "0.0.0.0:8478"}, "--listen 0.0.0.0:8478 is not a loopback address: serving others needs --auth FILE"},
		{"all addresses, auth without TLS", []string{"--listen", "[::]:8478", "--auth", token}, "needs --auth FILE (htpasswd -B, or a token) and --tls-cert/--tls-key"},
		{"all addresses, TLS without auth", []string{"--listen", ":8478", "--tls-cert", cert, "--tls-key", key}, "is not a loopback address"},
		{"a name", []string{"--listen", "portolan.example.com:8478"}, "is not a loopback address"},
		{"no port", []string{"--listen", "127.0.0.1"}, "write HOST:PORT"},
		{"cert without key", []string{"--tls-cert", cert}, "--tls-cert and --tls-key go together"},
		{"not bcrypt", []string{"--auth", badAuth}, "line 1: user \"alice\": not a bcrypt hash"},
		{"missing auth file", []string{"--auth", filepath.Join(dir, "nope")}, "--auth: "},
		{"bad key", []string{"--tls-cert", cert, "--tls-key", cert}, "--tls-cert/--tls-key: "},
		{"an argument", []string{"starleaf"}, "unknown command"},
		{"no runs", []string{"--max-runs", "0"}, "--max-upload, --max-runs and --keep-runs must be above 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := portolan(append([]string{"serve", "--no-resolve"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// TestServe starts serve on a loopback port, once plain and once with a
// token and TLS, asks for the catalog and stops it as an interrupt would.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("0123456789abcdef0123\n"), 0o600)
	cert, key := selfSigned(t, dir)
	for _, tc := range []struct {
		name   string
		args   []string
		scheme string
		auth   bool
	}{
		{"plain", nil, "http", false},
		{"token and TLS", []string{"--auth", token, "--tls-cert", cert, "--tls-key", key}, "https", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan int, 1)
			go func() {
				done <- runContext(ctx, append([]string{"serve", "--no-resolve", "--listen", "127.0.0.1:0"}, tc.args...), io.Discard, pw)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("serve said %q: %v", line, err)
			}
			go io.Copy(io.Discard, pr)
			base := strings.TrimSpace(strings.TrimPrefix(line, "portolan serve: listening on "))
			if !strings.HasPrefix(base, tc.scheme+"://127.0.0.1:") {
				t.Fatalf("serve said %q", line)
			}
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificate
				Proxy:           nil,
			}}
			get := func(auth string) int {
				req, _ := http.NewRequest("GET", base, nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res.StatusCode
			}
			if tc.auth {
				if code := get(""); code != 401 {
					t.Errorf("without the token: %d", code)
				}
				if code := get("Bearer 0123456789abcdef0123"); code != 200 {
					t.Errorf("with the token: %d", code)
				}
			} else if code := get(""); code != 200 {
				t.Errorf("GET /: %d", code)
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d after the interrupt", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("serve did not stop")
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "portolan test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}
