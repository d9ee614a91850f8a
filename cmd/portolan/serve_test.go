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
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/web"
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

// TestServeRulesMatchCLI: the rules a page writes are what the command
// line it shows writes: the web interface and the CLI read a form and
// flags alike. Only the time and the command lines themselves (flags in
// another order) differ.
func TestServeRulesMatchCLI(t *testing.T) {
	dir := t.TempDir()
	pins := filepath.Join(dir, "pins.txt")
	os.WriteFile(pins, []byte("203.0.113.10 acme.call.sl\n203.0.113.11 config.starleaf.com\n2001:db8:5::10 acme.call.sl\n"), 0o644)
	opt := web.Options{Version: version}
	if err := serveResolvers(&globals{}, &planFlags{hosts: pins, noResolve: true}, &opt); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, form := range []string{
		"param.company=acme&target=nftables",
		"sel=1&feature=webrtc&param.company=acme&target=iptables&lan=192.0.2.0/24,2001:db8:1::/64&lan_if=lan0&wan_if=wan0",
		"sel=1&param.company=acme&target=nftables&chain_only=1&table=inet+filter&alternatives=all",
		"mode=host&target=firewalld&tf.zone=trusted&required_only=1",
		"sel=1&feature=scenario-1&param.pbx_address=192.0.2.10&param.sip_provider=198.51.100.0/24&target=nftables&optional=1",
		"mode=host&target=kubernetes&tf.selector=app%3Dpbx&tf.namespace=voip",
		"param.company=acme&target=squid",
		"param.company=acme&target=windows&mode=host&tf.dynamic-keywords=true",
	} {
		t.Run(form, func(t *testing.T) {
			v, _ := url.ParseQuery(form)
			slug := "tw-solutions"
			switch {
			case v.Get("param.company") != "":
				slug = "starleaf"
			case v.Get("param.pbx_address") != "":
				slug = "starface"
			}
			req := httptest.NewRequest("GET", "/services/"+slug+"/rules?"+form+"&dl=1", nil)
			req.Host = "localhost"
			w := httptest.NewRecorder()
			srv.Handler().ServeHTTP(w, req)
			if w.Code != 200 {
				t.Fatalf("%d: %.300s", w.Code, w.Body.String())
			}
			page := w.Body.String()
			m := regexp.MustCompile(`(?m)^(?:# |// |<!-- )?command: (portolan .*?)(?: -->)?$`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no command line in\n%.600s", page)
			}
			stages, _, err := shellSplit(strings.TrimPrefix(m[1], "portolan "))
			if err != nil || len(stages) != 1 {
				t.Fatalf("%s: %v", m[1], err)
			}
			args := stages[0]
			out, stderr, code := portolan(args...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", m[1], code, stderr)
			}
			if a, b := comparable(page), comparable(out); a != b {
				t.Errorf("%s: the page's rules and the CLI's differ:\n%s", m[1], firstDiff(a, b))
			}
		})
	}
}

// comparable drops what differs between two runs: the time, and the
// command lines (the CLI writes its flags in another order).
func comparable(s string) string {
	var out []string
	today := time.Now().UTC().Format("2006-01-02")
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, today) || strings.Contains(l, "command: portolan") || strings.Contains(l, "portolan sync ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n web: %s\n cli: %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(al), len(bl))
}
